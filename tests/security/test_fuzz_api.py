"""OpenAPI-driven fuzzing of the whole API with schemathesis, in process, bounded in time.

The schema is the project's own (drf-spectacular, ``/api/schema/``), loaded from the WSGI
application; every operation is called with generated input, valid and invalid, and each
answer is checked: never a 5xx (``not_a_server_error``), a body that matches the schema
(``response_schema_conformance``), a documented status code and content type.

In CI the run is derandomized (the same examples every time, so it cannot flake), small and
not shrunk. To explore, run it random and bigger, with shrinking::

    QRLOGIN_FUZZ_EXPLORE=1 QRLOGIN_FUZZ_EXAMPLES=200 pytest tests/security/test_fuzz_api.py

Findings (since fixed) are replayed deterministically at the end of this module.

The requests carry real credentials so the fuzzer gets past authentication: a live device
token with its ``X-Device-ID`` (a fresh phone each example, since the fuzzer may revoke it),
and for the PC endpoints, in three examples out of four, the id of a real session (pending,
scanned or confirmed) with its ``X-QRLogin-Secret``; confirm/deny bodies then get that session
and its temp token, scan bodies its id or pairing code, device paths the phone's own device.
Everything else stays as generated.
"""

import itertools
import os
from collections import defaultdict

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qrlogin.actors import Actor
from qrlogin.models import QRLoginSession
from qrlogin_accounts.models import DeviceToken
from tests.factories import DeviceFactory, auth_headers

EXPLORE = os.environ.get("QRLOGIN_FUZZ_EXPLORE") == "1"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
turns = itertools.count()
seen: dict[str, set[int]] = defaultdict(set)


def phone() -> tuple[object, str, Actor]:
    device = DeviceFactory()
    _token, raw = DeviceToken.objects.issue(device)
    return device, raw, Actor(user=device.user, device_key=device.persistent_id, ip="127.0.0.1")


def real_session(state: str, actor: Actor):
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1", pc_user_agent="fuzz")
    temp = None
    if state in ("scanned", "confirmed"):
        temp = started.session.scan(actor).temp_token
    if state == "confirmed":
        started.session.confirm(actor, temp)
    return started, temp


@pytest.fixture
def fuzz_db(db):
    """The database for the whole run of one operation (examples share it).

    The requests go through the bare WSGI handler, whose request_started/request_finished
    signals close "old" database connections. Inside the test's transaction that would close
    it under our feet (PostgreSQL; SQLite ignores closing an in-memory database), so, like
    Django's own test client, keep the connection for the duration.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("QRLOGIN_FUZZ_EXAMPLES", 25)),
    derandomize=not EXPLORE,
    # No shrinking in CI: a failure is reported as found (with its curl line), in bounded time.
    phases=list(Phase) if EXPLORE else [Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api(case, fuzz_db):
    device, raw, actor = phone()
    headers = {"Authorization": f"Token {raw}", "X-Device-ID": device.device_id}
    turn = next(turns)
    state = ["generated", "pending", "scanned", "confirmed"][turn % 4]
    if state != "generated":
        started, temp = real_session(state, actor)
        public_id = started.session.public_id
        if "public_id" in (case.path_parameters or {}):
            case.path_parameters["public_id"] = public_id
            headers["X-QRLogin-Secret"] = started.secret
        if "id" in (case.path_parameters or {}):
            case.path_parameters["id"] = device.pk
        if isinstance(case.body, dict):
            for key, value in {
                "session": public_id,
                "temp_token": temp,
                "qr": public_id,
                "code": started.user_code,
            }.items():
                if key in case.body and value:
                    case.body[key] = value
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    seen[case.operation.label].add(response.status_code)


def test_every_operation_was_reached_with_valid_credentials():
    """The fuzz run above got past authentication everywhere (else it proved little)."""
    if not seen:
        pytest.skip("runs after test_api, in the same session")
    operations = {op.ok().label for op in schema.get_all_operations()}
    assert set(seen) == operations
    for label, statuses in seen.items():
        assert any(200 <= s < 300 for s in statuses), (label, sorted(statuses))


@pytest.mark.django_db
def test_a_malformed_device_id_gets_the_json_404():
    device = DeviceFactory()
    _token, raw = DeviceToken.objects.issue(device)
    client = APIClient()
    client.credentials(**auth_headers(raw, device))
    response = client.delete("/accounts/api/devices/true/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


UNDOCUMENTED = {
    "415 for a body that is not JSON or a form": (
        "post",
        "/qrlogin/api/sessions/",
        {"data": b"next=/", "content_type": "text/plain"},
        "415",
    ),
    "406 for an Accept the API cannot serve": (
        "post",
        "/qrlogin/api/sessions/",
        {"data": {}, "format": "json", "HTTP_ACCEPT": "text/csv"},
        "406",
    ),
    "429 from the confirm throttle": ("post", "/qrlogin/api/confirm/", None, "429"),
    "429 from the deny throttle": ("post", "/qrlogin/api/deny/", None, "429"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(UNDOCUMENTED))
def test_every_status_the_api_answers_is_in_the_schema(settings, name):
    method, path, kwargs, status = UNDOCUMENTED[name]
    client = APIClient()
    if status == "429":
        settings.QRLOGIN = {"THROTTLE_RATES": {"confirm": "0/min"}}
        device = DeviceFactory()
        _token, raw = DeviceToken.objects.issue(device)
        client.credentials(**auth_headers(raw, device))
        kwargs = {"data": {"session": "A" * 32, "temp_token": "x" * 43}, "format": "json"}
    if "content_type" in kwargs:
        response = client.generic(method.upper(), path, kwargs["data"], kwargs["content_type"])
    else:
        response = getattr(client, method)(path, **kwargs)
    assert response.status_code == int(status)
    documented = schema[path][method.upper()].definition.raw["responses"]
    assert status in documented
