"""The OpenAPI schema: complete, warning-free, served with local interactive docs."""

import pytest
from django.core.management import call_command

from config import settings as demo_settings

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


# The response headers a client acts on, per operation and status.
HEADERS = {
    ("/qrlogin/api/sessions/", "post"): {"429": {"Retry-After"}},
    ("/qrlogin/api/sessions/{public_id}/", "get"): {
        "200": {"X-QRLogin-Poll-After"},
        "429": {"Retry-After"},
        "503": {"Retry-After"},
    },
    ("/qrlogin/api/sessions/{public_id}/complete/", "post"): {"400": {"DPoP-Nonce"}},
    **{
        (path, "post"): {"401": {"WWW-Authenticate", "DPoP-Nonce"}, "429": {"Retry-After"}}
        for path in ["/qrlogin/api/scan/", "/qrlogin/api/confirm/", "/qrlogin/api/deny/"]
    },
    ("/accounts/api/token/", "post"): {"400": {"DPoP-Nonce"}, "429": {"Retry-After"}},
    **{
        operation: {"401": {"WWW-Authenticate", "DPoP-Nonce"}}
        for operation in [
            ("/accounts/api/token/", "delete"),
            ("/accounts/api/me/", "get"),
            ("/accounts/api/devices/", "get"),
            ("/accounts/api/devices/{id}/", "delete"),
        ]
    },
}
# Statuses every client must handle, per operation (besides 200/201/204).
STATUSES = {
    ("/qrlogin/api/sessions/", "post"): {"201", "400", "429"},
    ("/qrlogin/api/sessions/{public_id}/", "get"): {"200", "400", "404", "429", "503"},
    ("/qrlogin/api/sessions/{public_id}/", "delete"): {"200", "404", "409", "410"},
    ("/qrlogin/api/sessions/{public_id}/complete/", "post"): {"200", "400", "403", "409", "410"},
    ("/qrlogin/api/confirm/", "post"): {"200", "401", "403", "404", "409", "410", "429"},
    ("/qrlogin/api/deny/", "post"): {"200", "401", "403", "404", "409", "410", "429"},
    ("/accounts/api/token/", "post"): {"201", "400", "401", "429"},
    ("/accounts/api/devices/{id}/", "delete"): {"204", "401", "404"},
}


@pytest.fixture
def schema(client):
    raw = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    raw["paths"] = {p.replace("{pk}", "{id}"): ops for p, ops in raw["paths"].items()}
    return raw


@pytest.mark.parametrize(("path", "method"), list(HEADERS), ids="{0[1]} {0[0]}".format)
def test_every_response_header_is_declared(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    for status, headers in HEADERS[(path, method)].items():
        declared = set(responses[status].get("headers", {}))
        assert headers <= declared, f"{method} {path} {status}: {declared}"


@pytest.mark.parametrize(("path", "method"), list(STATUSES), ids="{0[1]} {0[0]}".format)
def test_every_status_is_declared(schema, path, method):
    assert STATUSES[(path, method)] <= set(schema["paths"][path][method]["responses"])


def test_descriptions_are_written_for_client_developers(schema):
    # The demo's schema description (the suite may run with settings of its own).
    top = demo_settings.SPECTACULAR_SETTINGS["DESCRIPTION"]
    assert "README" not in top and "Retry-After" in top and "X-Device-ID" in top
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            text = operation.get("description", "")
            assert len(text) > 80, f"{method} {path} has no description for clients"
            # What to do, not how the server does it.
            for internal in ("README", "snapshot", "per process", "event loop", "Redis"):
                assert internal not in text, f"{method} {path} mentions {internal!r}"


def test_the_declared_headers_are_the_ones_sent(client, settings, pc):
    scan = client.post("/qrlogin/api/scan/", {"qr": pc.id}, content_type="application/json")
    assert scan.status_code == 401 and scan["WWW-Authenticate"]
    me = client.get("/accounts/api/me/")
    assert me.status_code == 401 and me["WWW-Authenticate"] == "Token"
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "1/min"}}
    client.post("/qrlogin/api/sessions/", {}, content_type="application/json")
    throttled = client.post("/qrlogin/api/sessions/", {}, content_type="application/json")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1


def test_interactive_docs_use_local_files(client):
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html
