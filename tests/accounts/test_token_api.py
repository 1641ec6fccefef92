import pytest
from django.urls import reverse

from qrlogin_accounts.models import Device, DeviceToken
from qrlogin_accounts.tokens import BEARER_SCHEME
from tests.factories import DEFAULT_PASSWORD, UserFactory, auth_headers

pytestmark = pytest.mark.django_db

URL = "/accounts/api/token/"


def login_body(user, **overrides):
    body = {
        "username": user.username,
        "password": DEFAULT_PASSWORD,
        "device_id": "phone-1",
        "device_type": "ios",
        "device_name": "Alice's iPhone",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_url_name():
    assert reverse("qrlogin_accounts:api-token") == URL


def test_login_success(api_client, user):
    response = api_client.post(URL, login_body(user), format="json")
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"token", "token_type", "expires_at", "user", "device"}
    assert body["token_type"] == BEARER_SCHEME
    assert body["user"] == {"id": user.pk, "username": user.username}
    device = Device.objects.get(user=user)
    assert body["device"] == {
        "id": device.pk,
        "device_id": "phone-1",
        "device_type": "ios",
        "name": "Alice's iPhone",
    }
    token = DeviceToken.objects.get(device=device)
    assert body["expires_at"].replace("Z", "+00:00") == token.expires_at.isoformat()
    # The returned token works with the device it was issued to.
    me = api_client.get("/accounts/api/me/", **auth_headers(body["token"], "phone-1"))
    assert me.status_code == 200


def test_login_without_device_name(api_client, user):
    response = api_client.post(URL, login_body(user, device_name=...), format="json")
    assert response.status_code == 201
    assert response.json()["device"]["name"] == ""


def test_login_with_form_encoding(api_client, user):
    response = api_client.post(URL, login_body(user))
    assert response.status_code == 201


def test_login_again_reuses_device(api_client, user):
    first = api_client.post(URL, login_body(user), format="json").json()
    second = api_client.post(URL, login_body(user, device_type="android"), format="json").json()
    assert first["device"]["id"] == second["device"]["id"]
    assert second["device"]["device_type"] == "android"
    assert first["token"] != second["token"]


def test_login_ignores_stale_authorization_header(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "x" * 43, HTTP_X_DEVICE_ID="phone-1")
    response = api_client.post(URL, login_body(user), format="json")
    assert response.status_code == 201


def test_wrong_password(api_client, user):
    response = api_client.post(URL, login_body(user, password="nope"), format="json")  # noqa: S106  (a wrong password)
    body = assert_error(response, 401, "invalid_credentials")
    assert response["WWW-Authenticate"] == "Token"
    assert "token" not in body
    assert not Device.objects.exists()


def test_unknown_user(api_client):
    user = UserFactory.build(username="ghost")
    response = api_client.post(URL, login_body(user), format="json")
    assert_error(response, 401, "invalid_credentials")


def test_inactive_user(api_client):
    user = UserFactory(is_active=False)
    response = api_client.post(URL, login_body(user), format="json")
    assert_error(response, 401, "invalid_credentials")


@pytest.mark.parametrize("missing", ["username", "password", "device_id", "device_type"])
def test_missing_field(api_client, user, missing):
    response = api_client.post(URL, login_body(user, **{missing: ...}), format="json")
    body = assert_error(response, 400, "invalid")
    assert body["detail"] == f"{missing}: This field is required."
    assert missing in body["errors"]


def test_bad_device_type(api_client, user):
    response = api_client.post(URL, login_body(user, device_type="xyz"), format="json")
    body = assert_error(response, 400, "invalid")
    assert body["detail"] == 'device_type: "xyz" is not a valid choice.'


def test_device_id_too_long(api_client, user):
    response = api_client.post(URL, login_body(user, device_id="d" * 129), format="json")
    body = assert_error(response, 400, "invalid")
    assert body["detail"].startswith("device_id:")
    ok = api_client.post(URL, login_body(user, device_id="d" * 128), format="json")
    assert ok.status_code == 201


@pytest.mark.parametrize(
    "data",
    ["{not json", "", "null", "[]", '"a string"', "[1, 2]", "123"],
)
def test_non_json_or_non_object_body(api_client, user, data):
    response = api_client.post(URL, data=data, content_type="application/json")
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    "overrides",
    [
        {"username": {"a": 1}},
        {"username": ["a"]},
        {"password": None},
        {"device_id": ""},
        {"device_id": "   "},
        {"device_id": "caf\u00e9"},
        {"device_id": "a\x00b"},
        {"device_id": "line\nbreak"},
        {"device_type": ["ios"]},
        {"device_type": None},
        {"device_name": "n" * 129},
        {"device_name": "a\x00b"},
        {"username": "u" * 5000},
        {"password": "p" * 5000},
        {"username": "a\x00b"},
    ],
)
def test_malformed_values_are_400(api_client, user, overrides):
    response = api_client.post(URL, login_body(user, **overrides), format="json")
    assert_error(response, 400, "invalid")


def test_unicode_username_not_found_is_401(api_client):
    user = UserFactory.build(username="\u00fcnic\u00f8de\U0001f600")
    response = api_client.post(URL, login_body(user), format="json")
    assert_error(response, 401, "invalid_credentials")


def test_method_not_allowed(authed_client):
    assert_error(authed_client.put(URL, {}, format="json"), 405, "method_not_allowed")


def test_logout_revokes_token(authed_client, issued):
    token, _raw = issued
    response = authed_client.delete(URL)
    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    again = authed_client.get("/accounts/api/me/")
    assert_error(again, 401, "authentication_failed")
    assert_error(authed_client.delete(URL), 401, "authentication_failed")


def test_logout_keeps_other_tokens_of_the_device(authed_client, device):
    other, _ = DeviceToken.objects.issue(device)
    assert authed_client.delete(URL).status_code == 204
    other.refresh_from_db()
    assert other.revoked_at is None


def test_logout_requires_token(api_client):
    response = api_client.delete(URL)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
