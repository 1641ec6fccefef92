import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

URL = "/accounts/api/token/"


def attempt(client, username, password="wrong", ip="10.0.0.1"):  # noqa: S107  (a wrong password)
    body = {
        "username": username,
        "password": password,
        "device_id": "dev",
        "device_type": "android",
    }
    return client.post(URL, body, format="json", REMOTE_ADDR=ip)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_per_username_across_ips_and_case(api_client, settings):
    settings.ACCOUNTS = {
        "THROTTLE_RATES": {"token_login_ip": None, "token_login_username": "3/min"}
    }
    user = UserFactory(username="Alice")
    for i, name in enumerate(["alice", "ALICE", "Alice"]):
        assert attempt(api_client, name, ip=f"10.0.0.{i}").status_code == 401
    # Even the right password is refused now, from a new IP.
    assert_throttled(attempt(api_client, "aLiCe", DEFAULT_PASSWORD, ip="10.9.9.9"))
    # Another username is not affected.
    assert attempt(api_client, "bob").status_code == 401
    assert user.devices.count() == 0


def test_per_ip(api_client, settings):
    settings.ACCOUNTS = {
        "THROTTLE_RATES": {"token_login_ip": "3/min", "token_login_username": None}
    }
    for i in range(3):
        assert attempt(api_client, f"user{i}", ip="10.1.1.1").status_code == 401
    assert_throttled(attempt(api_client, "someone-new", ip="10.1.1.1"))
    assert attempt(api_client, "someone-new", ip="10.1.1.2").status_code == 401


def test_window_expires(api_client, settings):
    import time_machine

    settings.ACCOUNTS = {"THROTTLE_RATES": {"token_login_username": "1/min"}}
    with time_machine.travel("2030-01-01 00:00:00Z", tick=False) as traveller:
        assert attempt(api_client, "carol").status_code == 401
        assert_throttled(attempt(api_client, "carol"))
        traveller.shift(61)
        assert attempt(api_client, "carol").status_code == 401


def test_default_username_rate_is_5_per_minute(api_client):
    for _ in range(5):
        assert attempt(api_client, "dave").status_code == 401
    assert_throttled(attempt(api_client, "dave"))


def test_throttling_off(api_client, settings):
    settings.ACCOUNTS = {"THROTTLE_RATES": None}
    for _ in range(8):
        assert attempt(api_client, "erin").status_code == 401


def test_only_login_is_throttled(authed_client, settings):
    settings.ACCOUNTS = {"THROTTLE_RATES": {"token_login_ip": "1/min"}}
    for _ in range(3):
        assert authed_client.get("/accounts/api/me/").status_code == 200


def test_malformed_body_still_400_under_throttles(api_client):
    response = api_client.post(URL, data="{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
