from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIRequestFactory

from qrlogin_accounts.authentication import DeviceTokenAuthentication
from qrlogin_accounts.models import DeviceToken
from tests.factories import DeviceFactory, auth_headers, make_device_token

pytestmark = pytest.mark.django_db

ME = "/accounts/api/me/"


def assert_401(response, code):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == "Token"


def test_valid_token_and_device(api_client, device, issued):
    _token, raw = issued
    response = api_client.get(ME, **auth_headers(raw, device))
    assert response.status_code == 200


def test_authenticate_returns_user_and_token(device, issued):
    token, raw = issued
    request = APIRequestFactory().get(ME, **auth_headers(raw, device))
    user, auth = DeviceTokenAuthentication().authenticate(request)
    assert user == device.user
    assert auth == token
    assert auth.device == device


@pytest.mark.parametrize("header", [None, "Bearer abc", "Basic dXNlcjpwYXNz", ""])
def test_no_token_header_returns_none(header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    request = APIRequestFactory().get(ME, **extra)
    assert DeviceTokenAuthentication().authenticate(request) is None


def test_no_credentials_is_not_authenticated(api_client):
    assert_401(api_client.get(ME), "not_authenticated")


@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Token " + "x" * 43, "Token \u00e9\u00e9\u00e9", "token short"],
)
def test_bad_token_header(api_client, device, header):
    response = api_client.get(ME, HTTP_AUTHORIZATION=header, HTTP_X_DEVICE_ID=device.device_id)
    assert_401(response, "authentication_failed")


def test_token_keyword_is_case_insensitive(api_client, device, issued):
    _token, raw = issued
    response = api_client.get(
        ME, HTTP_AUTHORIZATION=f"token {raw}", HTTP_X_DEVICE_ID=device.device_id
    )
    assert response.status_code == 200


def test_missing_device_header(api_client, issued):
    _token, raw = issued
    response = api_client.get(ME, HTTP_AUTHORIZATION=f"Token {raw}")
    assert_401(response, "device_mismatch")


def test_wrong_device_header(api_client, issued):
    _token, raw = issued
    assert_401(api_client.get(ME, **auth_headers(raw, "someone-else")), "device_mismatch")


def test_token_of_another_device_of_same_user(api_client, user, issued):
    _token, raw = issued
    other = DeviceFactory(user=user)
    assert_401(api_client.get(ME, **auth_headers(raw, other)), "device_mismatch")


def test_expired_token(api_client, device, issued):
    token, raw = issued
    with time_machine.travel(token.expires_at - timedelta(seconds=1)):
        assert api_client.get(ME, **auth_headers(raw, device)).status_code == 200
    with time_machine.travel(token.expires_at + timedelta(seconds=1)):
        assert_401(api_client.get(ME, **auth_headers(raw, device)), "authentication_failed")


def test_ttl_setting_controls_expiry(api_client, device, settings):
    settings.ACCOUNTS = {"TOKEN_TTL": 60}
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _token, raw = make_device_token(device)
        traveller.shift(timedelta(seconds=61))
        assert_401(api_client.get(ME, **auth_headers(raw, device)), "authentication_failed")


def test_revoked_token(api_client, device, issued):
    token, raw = issued
    token.revoke()
    response = api_client.get(ME, **auth_headers(raw, device))
    assert_401(response, "authentication_failed")
    assert "revoked" in response.json()["detail"]


def test_revoked_device(api_client, device, issued):
    _token, raw = issued
    device.revoke()
    assert_401(api_client.get(ME, **auth_headers(raw, device)), "authentication_failed")


def test_revoked_device_with_unrevoked_token_row(api_client, device, issued):
    # Defence in depth: a revoked device refuses even a token row left unrevoked.
    token, raw = issued
    device.revoke()
    DeviceToken.objects.filter(pk=token.pk).update(revoked_at=None)
    assert_401(api_client.get(ME, **auth_headers(raw, device)), "authentication_failed")


def test_inactive_user(api_client, user, device, issued):
    _token, raw = issued
    user.is_active = False
    user.save()
    assert_401(api_client.get(ME, **auth_headers(raw, device)), "authentication_failed")


def test_invalid_token_with_wrong_device_is_authentication_failed(api_client):
    response = api_client.get(ME, **auth_headers("y" * 43, "whatever"))
    assert_401(response, "authentication_failed")


def test_last_used_written_at_most_once_a_minute(api_client, device, issued):
    token, raw = issued
    headers = auth_headers(raw, device)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        start = timezone.now()
        assert api_client.get(ME, **headers).status_code == 200
        token.refresh_from_db()
        device.refresh_from_db()
        assert token.last_used_at == start
        assert device.last_seen_at == start

        traveller.shift(timedelta(seconds=30))
        with CaptureQueriesContext(connection) as ctx:
            assert api_client.get(ME, **headers).status_code == 200
        assert not [q for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
        token.refresh_from_db()
        assert token.last_used_at == start

        traveller.shift(timedelta(seconds=31))
        assert api_client.get(ME, **headers).status_code == 200
        token.refresh_from_db()
        device.refresh_from_db()
        assert token.last_used_at == start + timedelta(seconds=61)
        assert device.last_seen_at == start + timedelta(seconds=61)
