import pytest
from django.utils.dateparse import parse_datetime

from qrlogin_accounts.exceptions import DeviceConflict
from qrlogin_accounts.issuers import issue_device_token
from qrlogin_accounts.models import Device, DeviceToken
from qrlogin_accounts.serializers import UserSummarySerializer
from qrlogin_accounts.tokens import BEARER_SCHEME
from tests.factories import DeviceFactory, auth_headers

pytestmark = pytest.mark.django_db


def test_issue_device_token_payload(user, api_client):
    payload = issue_device_token(
        user=user, device_id="desk-1", device_type="pc", device_name="Work laptop"
    )
    assert set(payload) == {"token", "token_type", "expires_at", "user", "device"}
    assert payload["token_type"] == BEARER_SCHEME
    assert payload["user"] == {"id": user.pk, "username": user.username}
    device = Device.objects.get(user=user, device_id="desk-1")
    assert payload["device"] == {
        "id": device.pk,
        "device_id": "desk-1",
        "device_type": "pc",
        "name": "Work laptop",
    }
    token = DeviceToken.objects.get(device=device)
    assert parse_datetime(payload["expires_at"]) == token.expires_at
    assert DeviceToken.objects.lookup(payload["token"]) == token
    response = api_client.get("/accounts/api/me/", **auth_headers(payload["token"], "desk-1"))
    assert response.status_code == 200


def test_a_token_login_reuses_its_device(user):
    a = issue_device_token(user=user, device_id="d", device_type="web", reuse_live_device=True)
    b = issue_device_token(
        user=user, device_id="d", device_type="web", request=None, reuse_live_device=True
    )
    assert a["device"]["id"] == b["device"]["id"]
    assert a["token"] != b["token"]


class TestAnApprovedLoginTakesNoDeviceOver:
    """Without ``reuse_live_device`` (a QR completion) the device must be the caller's own."""

    def test_a_device_holding_a_live_token_is_refused(self, user):
        first = issue_device_token(user=user, device_id="d", device_type="pc")
        with pytest.raises(DeviceConflict) as refused:
            issue_device_token(user=user, device_id="d", device_type="pc", device_name="new")
        assert refused.value.status_code == 409
        assert refused.value.get_codes() == "device_conflict"
        device = Device.objects.get(user=user, device_id="d")
        assert device.name == "" and device.tokens.count() == 1
        assert DeviceToken.objects.lookup(first["token"]).is_active

    def test_a_device_of_another_type_is_refused_even_without_a_token(self, user):
        phone = DeviceFactory(user=user, device_id="victim-phone", device_type="ios")
        with pytest.raises(DeviceConflict):
            issue_device_token(user=user, device_id="victim-phone", device_type="pc")
        phone.refresh_from_db()
        assert phone.device_type == "ios" and not phone.tokens.exists()

    def test_after_dropping_its_token_the_same_device_id_works(self, user):
        first = issue_device_token(user=user, device_id="d", device_type="pc")
        DeviceToken.objects.lookup(first["token"]).revoke()
        again = issue_device_token(user=user, device_id="d", device_type="pc")
        assert again["device"]["id"] == first["device"]["id"]

    def test_an_expired_token_does_not_hold_the_device(self, user, clock):
        first = issue_device_token(user=user, device_id="d", device_type="pc")
        clock.shift(60 * 60 * 24 * 31)
        again = issue_device_token(user=user, device_id="d", device_type="pc")
        assert again["device"]["id"] == first["device"]["id"]

    def test_another_users_device_id_is_no_conflict(self, user):
        DeviceFactory(device_id="d", device_type="ios")
        payload = issue_device_token(user=user, device_id="d", device_type="pc")
        assert payload["device"]["device_type"] == "pc"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"device_type": "fridge"},
        {"device_id": ""},
        {"device_id": "x" * 129},
        {"device_id": "caf\u00e9"},
        {"device_name": "n" * 129},
    ],
)
def test_issue_device_token_rejects_bad_fields(user, kwargs):
    base = {"device_id": "d", "device_type": "pc", "device_name": ""}
    with pytest.raises(ValueError):
        issue_device_token(user=user, **{**base, **kwargs})
    assert not Device.objects.exists()


def test_user_summary_uses_get_username():
    class EmailUser:
        pk = 7

        def get_username(self):
            return "ann@example.com"

    assert UserSummarySerializer(EmailUser()).data == {"id": 7, "username": "ann@example.com"}
