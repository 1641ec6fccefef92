import pytest
from django.utils.dateparse import parse_datetime

from qrlogin_accounts.issuers import issue_device_token
from qrlogin_accounts.models import Device, DeviceToken
from qrlogin_accounts.serializers import UserSummarySerializer
from tests.factories import auth_headers

pytestmark = pytest.mark.django_db


def test_issue_device_token_payload(user, api_client):
    payload = issue_device_token(
        user=user, device_id="desk-1", device_type="pc", device_name="Work laptop"
    )
    assert set(payload) == {"token", "token_type", "expires_at", "user", "device"}
    assert payload["token_type"] == "Token"
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


def test_issue_device_token_reuses_device(user):
    a = issue_device_token(user=user, device_id="d", device_type="web")
    b = issue_device_token(user=user, device_id="d", device_type="web", request=None)
    assert a["device"]["id"] == b["device"]["id"]
    assert a["token"] != b["token"]


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
