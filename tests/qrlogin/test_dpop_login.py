"""A full QR login with key-bound tokens on both ends (RFC 9449 DPoP).

The phone logs in with a proof, scans and confirms with proofs; the desktop completes with a
proof of its own key and then uses its bound token. Run on PostgreSQL + Redis by the PG run.
"""

import pytest
from rest_framework.test import APIClient

from qrlogin.models import QRLoginSession, Status
from qrlogin_accounts.models import DeviceToken
from qrlogin_accounts.tokens import BEARER_SCHEME, DPOP_SCHEME
from tests.dpop import DeviceKey, dpop_headers
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN_PATH = "/accounts/api/token/"
ME = "/accounts/api/me/"
DESKTOP = {"device_id": "laptop-7f3a", "device_type": "pc", "device_name": "Work laptop"}


def phone_login(user, key):
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    response = client.post(
        LOGIN_PATH,
        {
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "device_id": "iphone-1",
            "device_type": "ios",
        },
        format="json",
        HTTP_DPOP=key.proof("POST", LOGIN_PATH),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token_type"] == DPOP_SCHEME
    return client, body["token"]


def phone_post(client, key, token, path, data):
    headers = dpop_headers(key, "POST", path, token, "iphone-1")
    return client.post(path, data, format="json", **headers)


def scan_and_confirm(pc, phone_key):
    user = UserFactory()
    client, token = phone_login(user, phone_key)
    scanned = phone_post(client, phone_key, token, "/qrlogin/api/scan/", {"qr": pc.data["qr_url"]})
    assert scanned.status_code == 200, scanned.content
    confirmed = phone_post(
        client,
        phone_key,
        token,
        "/qrlogin/api/confirm/",
        {"session": pc.id, "temp_token": scanned.json()["temp_token"]},
    )
    assert confirmed.status_code == 200, confirmed.content
    return user


def complete(pc, proof=None):
    extra = {"HTTP_DPOP": proof} if proof else {}
    return pc.client.post(f"{pc.url}complete/", DESKTOP, format="json", **pc.headers(), **extra)


def test_full_login_with_dpop_on_both_devices(pc):
    phone_key, desktop_key = DeviceKey(), DeviceKey("ed25519")
    user = scan_and_confirm(pc, phone_key)

    response = complete(pc, desktop_key.proof("POST", f"{pc.url}complete/"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed"
    assert body["token_type"] == DPOP_SCHEME
    assert body["user"]["id"] == user.pk
    desktop_token = DeviceToken.objects.get(device__device_id="laptop-7f3a")
    assert desktop_token.jkt == desktop_key.thumbprint != phone_key.thumbprint

    me = pc.client.get(ME, **dpop_headers(desktop_key, "GET", ME, body["token"], "laptop-7f3a"))
    assert me.status_code == 200, me.content
    assert me.json()["device"]["device_id"] == "laptop-7f3a"
    # The desktop's token without its key is nothing.
    stolen = pc.client.get(ME, **dpop_headers(phone_key, "GET", ME, body["token"], "laptop-7f3a"))
    assert stolen.status_code == 401
    assert stolen.json()["code"] == "invalid_dpop_proof"


def test_completion_with_a_bad_proof_leaves_the_session_confirmed(pc):
    scan_and_confirm(pc, DeviceKey())
    response = complete(pc, DeviceKey().proof("POST", "/qrlogin/api/sessions/other/complete/"))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_dpop_proof"
    assert QRLoginSession.objects.get(public_id=pc.id).status == Status.CONFIRMED
    assert complete(pc, DeviceKey().proof("POST", f"{pc.url}complete/")).status_code == 200


def test_required_mode_completion_without_proof(pc, settings):
    settings.ACCOUNTS = {"DPOP": "required"}
    scan_and_confirm(pc, DeviceKey())
    response = complete(pc)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "dpop_required"
    assert QRLoginSession.objects.get(public_id=pc.id).status == Status.CONFIRMED
    assert not DeviceToken.objects.filter(device__device_id="laptop-7f3a").exists()
    response = complete(pc, DeviceKey().proof("POST", f"{pc.url}complete/"))
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == DPOP_SCHEME


def test_nonce_at_completion_is_a_400_and_the_session_stays_confirmed(pc, settings):
    key = DeviceKey()
    scan_and_confirm(pc, DeviceKey())
    settings.ACCOUNTS = {"DPOP_NONCE": True}
    response = complete(pc, key.proof("POST", f"{pc.url}complete/"))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "use_dpop_nonce"
    assert response["WWW-Authenticate"] == 'DPoP error="use_dpop_nonce"'
    assert QRLoginSession.objects.get(public_id=pc.id).status == Status.CONFIRMED
    nonce = response["DPoP-Nonce"]
    response = complete(pc, key.proof("POST", f"{pc.url}complete/", nonce=nonce))
    assert response.status_code == 200, response.content


def test_completion_without_proof_is_a_bearer_token_by_default(pc):
    scan_and_confirm(pc, DeviceKey())
    response = complete(pc)
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == BEARER_SCHEME
