from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import DeviceFactory, UserFactory, auth_headers, make_device_token

pytestmark = pytest.mark.django_db

ME = "/accounts/api/me/"
DEVICES = "/accounts/api/devices/"


def test_me(authed_client, user, device):
    response = authed_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "user": {"id": user.pk, "username": user.username},
        "device": {
            "id": device.pk,
            "device_id": device.device_id,
            "device_type": device.device_type,
            "name": device.name,
        },
    }


def test_me_requires_auth(api_client):
    response = api_client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_me_ignores_session_auth(api_client, user):
    # The app's views accept device tokens only, whatever the host's DRF defaults.
    api_client.force_login(user)
    assert api_client.get(ME).status_code == 401


def test_devices_lists_only_own_newest_first(api_client, user, device, issued):
    _token, raw = issued
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(created_at=now - timedelta(days=2))
    newer = DeviceFactory(user=user, device_type="pc", created_at=now - timedelta(days=1))
    revoked = DeviceFactory(user=user, device_type="android", created_at=now)
    revoked.revoke()
    DeviceFactory()  # someone else's

    response = api_client.get(DEVICES, **auth_headers(raw, device))
    assert response.status_code == 200
    items = response.json()
    assert [item["id"] for item in items] == [revoked.pk, newer.pk, device.pk]
    assert set(items[0]) == {
        "id",
        "device_id",
        "device_type",
        "name",
        "created_at",
        "last_seen_at",
        "revoked",
        "current",
        "dpop",
    }
    assert [item["revoked"] for item in items] == [True, False, False]
    assert [item["current"] for item in items] == [False, False, True]


def test_revoke_own_device(authed_client, user):
    other = DeviceFactory(user=user)
    _t1, raw1 = make_device_token(other)
    make_device_token(other)
    response = authed_client.delete(f"{DEVICES}{other.pk}/")
    assert response.status_code == 204
    other.refresh_from_db()
    assert other.revoked_at is not None
    assert not DeviceToken.objects.filter(device=other, revoked_at__isnull=True).exists()
    # Its tokens are dead.
    dead = APIClient().get(ME, **auth_headers(raw1, other))
    assert dead.status_code == 401
    # Revoking again is idempotent.
    assert authed_client.delete(f"{DEVICES}{other.pk}/").status_code == 204


def test_revoke_current_device_logs_out(authed_client, device):
    assert authed_client.delete(f"{DEVICES}{device.pk}/").status_code == 204
    response = authed_client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("pk", ["someone", "missing", "huge"])
def test_revoke_not_own_device_is_404(authed_client, pk):
    victim = DeviceFactory(user=UserFactory())
    target = {"someone": victim.pk, "missing": 999_999_999, "huge": 10**30}[pk]
    response = authed_client.delete(f"{DEVICES}{target}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    victim.refresh_from_db()
    assert victim.revoked_at is None


def test_devices_requires_matching_device(api_client, device, issued):
    _token, raw = issued
    response = api_client.get(DEVICES, **auth_headers(raw, "other"))
    assert response.status_code == 401
    assert response.json()["code"] == "device_mismatch"


def test_last_seen_reported(api_client, device, issued):
    _token, raw = issued
    response = api_client.get(DEVICES, **auth_headers(raw, device))
    item = response.json()[0]
    assert item["last_seen_at"] is not None
