"""The OpenAPI schema: complete, warning-free, served with local interactive docs."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PATHS = {
    "/accounts/api/token/": {"post", "delete"},
    "/accounts/api/me/": {"get"},
    "/accounts/api/devices/": {"get"},
    "/accounts/api/devices/{id}/": {"delete"},
    "/qrlogin/api/sessions/": {"post"},
    "/qrlogin/api/sessions/{public_id}/": {"get", "delete"},
    "/qrlogin/api/sessions/{public_id}/complete/": {"post"},
    "/qrlogin/api/scan/": {"post"},
    "/qrlogin/api/confirm/": {"post"},
    "/qrlogin/api/deny/": {"post"},
}


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def test_schema_covers_every_endpoint_with_errors(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = {p.replace("{pk}", "{id}"): ops for p, ops in schema["paths"].items()}
    for path, methods in PATHS.items():
        assert methods <= set(paths[path]), path
    scan = paths["/qrlogin/api/scan/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "410", "429"} <= set(scan["responses"])
    error = schema["components"]["schemas"]["Error"]
    assert {"detail", "code"} <= set(error["properties"])


def test_interactive_docs_use_local_files(client):
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html
