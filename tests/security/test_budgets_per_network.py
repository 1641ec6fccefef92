"""Budgets per network, not per address (issue 10, row 3).

Each of 50 source addresses got a fresh budget, and one IPv6 /64 (any home line) is 2**64
addresses. Now every per-IP scope counts an IPv4 address or an IPv6 /64, with the client
address qrlogin and accounts share (``TRUSTED_PROXIES`` included). Devices made by token
login have their own budget per user, and a device unused for ``DEVICE_IDLE_TTL`` is purged.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from qrlogin.client_info import client_network_key, network_key
from qrlogin_accounts.models import Device, DeviceToken
from tests.factories import DEFAULT_PASSWORD, DeviceFactory, UserFactory, make_device_token
from tests.security.support import PROXY_IP, assert_error

pytestmark = pytest.mark.django_db

HOME = "2001:db8:1:2::1"
SAME_HOME = "2001:db8:1:2:ffff:ffff:ffff:fffe"  # another address of the same /64
NEIGHBOUR = "2001:db8:1:3::1"  # the next /64


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client on a dual-stack socket
        (HOME, "2001:db8:1:2::/64"),
        (SAME_HOME, "2001:db8:1:2::/64"),
        (NEIGHBOUR, "2001:db8:1:3::/64"),
        ("", None),
        ("not an address", None),
    ],
)
def test_network_key(ip, key):
    assert network_key(ip) == key


def test_the_network_key_follows_trusted_proxies(settings):
    settings.QRLOGIN = {"TRUSTED_PROXIES": [PROXY_IP]}
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY_IP, HTTP_X_FORWARDED_FOR=HOME)
    assert client_network_key(request) == "2001:db8:1:2::/64"


def scan_code(make_phone, ip):
    return make_phone().post("/qrlogin/api/scan/", {"code": "ABCD-EFGH"}, ip=ip)


def create(ip):
    return APIClient(REMOTE_ADDR=ip).post("/qrlogin/api/sessions/")


def token_login(ip, username="nobody", password="wrong", device_id="d"):  # noqa: S107
    body = {"username": username, "password": password, "device_id": device_id}
    return APIClient(REMOTE_ADDR=ip).post(
        "/accounts/api/token/", {**body, "device_type": "ios"}, format="json"
    )


SCOPES = {
    "create": (lambda make_phone, ip: create(ip), 201),
    "user_code_ip": (scan_code, 404),
    "scan_ip": (
        lambda make_phone, ip: make_phone().post("/qrlogin/api/scan/", {"qr": "B" * 32}, ip=ip),
        404,
    ),
    "token_login_ip": (lambda make_phone, ip: token_login(ip), 401),
}


@pytest.mark.parametrize("scope", list(SCOPES))
def test_one_ipv6_64_shares_one_budget(settings, make_phone, scope):
    if scope == "token_login_ip":
        settings.ACCOUNTS = {"THROTTLE_RATES": {scope: "3/min", "token_login_username": None}}
    else:
        settings.QRLOGIN = {"THROTTLE_RATES": {scope: "3/min"}}
    call, answer = SCOPES[scope]
    assert call(make_phone, HOME).status_code == answer
    assert call(make_phone, SAME_HOME).status_code == answer
    assert call(make_phone, "2001:db8:1:2::abcd").status_code == answer
    assert_error(call(make_phone, "2001:db8:1:2:1:2:3:4"), 429, "throttled")
    # Another /64 has its own budget.
    assert call(make_phone, NEIGHBOUR).status_code == answer


class TestDeviceCreation:
    """``ACCOUNTS["THROTTLE_RATES"]["device_create"]``: new devices per user (default 10/day)."""

    @pytest.fixture(autouse=True)
    def rates(self, settings):
        settings.ACCOUNTS = {
            "THROTTLE_RATES": {
                "token_login_ip": None,
                "token_login_username": None,
                "device_create": "2/day",
            }
        }

    def login(self, user, device_id):
        return token_login("203.0.113.5", user.username, DEFAULT_PASSWORD, device_id)

    def test_new_devices_per_user_are_limited(self, clock):
        user = UserFactory()
        assert self.login(user, "phone-1").status_code == 201
        assert self.login(user, "phone-2").status_code == 201
        refused = self.login(user, "phone-3")
        body = assert_error(refused, 429, "throttled")
        assert body["detail"].startswith("Too many new devices")
        assert int(refused["Retry-After"]) == 86400
        assert sorted(user.devices.values_list("device_id", flat=True)) == ["phone-1", "phone-2"]
        # A known device logs in again: no new device, no budget needed.
        assert self.login(user, "phone-1").status_code == 201
        # Someone else is not affected; the user is back the next day.
        assert self.login(UserFactory(), "phone-3").status_code == 201
        clock.shift(timedelta(days=1))
        assert self.login(user, "phone-3").status_code == 201

    def test_wrong_passwords_spend_no_device_budget(self):
        user = UserFactory()
        for _ in range(3):
            assert token_login("203.0.113.5", user.username, "wrong", "x").status_code == 401
        assert self.login(user, "phone-1").status_code == 201

    def test_the_default_is_ten_a_day(self, settings):
        settings.ACCOUNTS = {"THROTTLE_RATES": {"token_login_username": None}}
        user = UserFactory()
        for i in range(10):
            assert self.login(user, f"phone-{i}").status_code == 201
        assert_error(self.login(user, "phone-10"), 429, "throttled")


class TestIdleDevices:
    """``ACCOUNTS["DEVICE_IDLE_TTL"]`` (default 90 days): unused devices are purged."""

    def purge(self) -> str:
        out = StringIO()
        call_command("qrlogin_purge", stdout=out)
        return out.getvalue()

    def test_devices_unused_for_the_ttl_go_with_their_tokens(self, clock):
        user = UserFactory()
        never_seen = DeviceFactory(user=user, last_seen_at=None)
        seen_long_ago = DeviceFactory(user=user)
        make_device_token(seen_long_ago)
        clock.shift(timedelta(days=89))
        recent = DeviceFactory(user=user)  # registered later, seen now
        Device.objects.filter(pk=recent.pk).update(last_seen_at=timezone.now())
        clock.shift(timedelta(days=2))  # 91 days after the first two
        assert "Deleted 2 idle device(s)" in self.purge()
        assert list(Device.objects.all()) == [recent]
        assert not DeviceToken.objects.filter(device_id=seen_long_ago.pk).exists()
        assert not Device.objects.filter(pk=never_seen.pk).exists()

    def test_use_keeps_a_device(self, clock, make_phone, settings):
        settings.ACCOUNTS = {"TOKEN_TTL": timedelta(days=365)}
        phone = make_phone()
        clock.shift(timedelta(days=80))
        assert phone.client.get("/accounts/api/me/").status_code == 200  # seen now
        clock.shift(timedelta(days=80))
        assert "Deleted 0 idle device(s)" in self.purge()
        assert Device.objects.filter(pk=phone.device.pk).exists()

    def test_the_ttl_is_a_setting_and_none_keeps_all(self, clock, settings):
        device = DeviceFactory()
        clock.shift(timedelta(days=8))
        settings.ACCOUNTS = {"DEVICE_IDLE_TTL": None}
        assert "Deleted 0 idle device(s)" in self.purge()
        settings.ACCOUNTS = {"DEVICE_IDLE_TTL": timedelta(days=7)}
        assert "Deleted 1 idle device(s)" in self.purge()
        assert not Device.objects.filter(pk=device.pk).exists()
