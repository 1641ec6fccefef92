"""Issue 10, row 6: a desktop's token on a phone's device.

The attack: a QR-jacked completion (the victim approved the attacker's QR) names the victim's
phone, ``{"device_id": "<the victim's phone id>", "device_type": "ios"}``. Before, the 30-day
token was attached to the phone's row: the victim's device list still showed one device, so
revoking "the other login" was impossible without revoking the phone. Now the completion gets
409 ``device_conflict`` and the session stays confirmed (protocol.md, "Revocation"), so the PC
(the real one, after a mistake) can retry with a device id of its own.
"""

import pytest
from rest_framework.test import APIClient

from qrlogin.models import QRLoginSession
from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import DEFAULT_PASSWORD
from tests.security.support import assert_error, unchanged

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(phone, make_pc):
    pc = make_pc()
    temp = phone.scan(pc.id).json()["temp_token"]
    assert phone.confirm(pc.id, temp).status_code == 200
    return pc


def listed_devices(phone) -> list[tuple[str, str]]:
    body = phone.client.get("/accounts/api/devices/").json()
    return sorted((d["device_id"], d["device_type"]) for d in body)


@pytest.mark.parametrize("device_type", ["ios", "pc", "android"])
def test_the_victims_phone_id_is_refused_whatever_the_type(phone, approved, device_type):
    before = listed_devices(phone)
    with unchanged():
        response = approved.complete(
            {"device_id": phone.device.device_id, "device_type": device_type}
        )
    assert_error(response, 409, "device_conflict")
    assert QRLoginSession.objects.get(public_id=approved.id).status == "confirmed"
    assert listed_devices(phone) == before
    assert DeviceToken.objects.filter(device=phone.device).count() == 1
    # Nothing lost: the same completion with a device id of its own goes through.
    retry = approved.complete({"device_id": "laptop-7f3a", "device_type": "pc"})
    assert retry.status_code == 200, retry.content
    assert listed_devices(phone) == sorted([*before, ("laptop-7f3a", "pc")])


def test_a_device_of_another_type_without_a_live_token_is_refused(phone, approved):
    DeviceToken.objects.filter(device=phone.device).update(revoked_at=phone.device.created_at)
    response = approved.complete({"device_id": phone.device.device_id, "device_type": "pc"})
    assert_error(response, 409, "device_conflict")
    assert Device.objects.get(pk=phone.device.pk).device_type == "ios"


def test_a_desktop_logging_in_again_after_dropping_its_token(phone, make_pc):
    def login(device_id: str = "desk-1"):
        pc = make_pc()
        temp = phone.scan(pc.id).json()["temp_token"]
        phone.confirm(pc.id, temp)
        return pc.complete({"device_id": device_id, "device_type": "pc"})

    first = login()
    assert first.status_code == 200
    assert_error(login(), 409, "device_conflict")  # its old token is still live
    desk = APIClient()
    desk.credentials(HTTP_AUTHORIZATION=f"Token {first.json()['token']}", HTTP_X_DEVICE_ID="desk-1")
    assert desk.delete("/accounts/api/token/").status_code == 204  # the desktop logs out
    again = login()
    assert again.status_code == 200, again.content
    assert again.json()["device"]["id"] == first.json()["device"]["id"]


def test_a_token_login_with_its_password_still_renews_its_device(phone):
    """The password proved on the device itself: the app may renew its own token."""
    response = phone.client.post(
        "/accounts/api/token/",
        {
            "username": phone.user.username,
            "password": DEFAULT_PASSWORD,
            "device_id": phone.device.device_id,
            "device_type": phone.device.device_type,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["device"]["id"] == phone.device.pk
