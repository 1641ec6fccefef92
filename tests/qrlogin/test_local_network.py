"""The demo from a real phone: a PC on loopback and a phone on the server's LAN are one network.

A loopback client is on the server, so it counts as the server's own LAN addresses
(``qrlogin.local_network``, found with a UDP socket's route, no packet sent).
"""

import ipaddress
import json
import os
import socket
import subprocess
import sys

import pytest
from django.test import Client

from qrlogin import client_info, local_network
from qrlogin.client_info import same_network
from tests.factories import UserFactory

LAN = "192.168.1.5"  # this machine, as the tests pretend


@pytest.fixture
def on_lan(monkeypatch):
    monkeypatch.setattr(client_info, "server_addresses", lambda: (ipaddress.ip_address(LAN),))


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setattr(client_info, "server_addresses", lambda: ())


class TestSameNetwork:
    @pytest.mark.parametrize("pc", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "127.0.1.1"])
    def test_a_loopback_pc_and_a_phone_on_the_servers_lan(self, on_lan, pc):
        assert same_network(pc, "192.168.1.20") is True
        assert same_network("192.168.1.20", pc) is True  # either side

    def test_a_phone_on_another_network_is_still_another_network(self, on_lan):
        assert same_network("127.0.0.1", "192.168.2.20") is False
        assert same_network("127.0.0.1", "203.0.113.7") is False

    def test_loopback_is_loopback_even_offline(self, offline):
        assert same_network("127.0.0.1", "::1") is True
        assert same_network("127.0.0.1", "192.168.1.20") is False

    def test_two_outside_addresses_are_unchanged(self, on_lan):
        assert same_network("198.51.100.1", "198.51.100.200") is True
        assert same_network("198.51.100.1", "198.51.101.1") is False
        assert same_network("2001:db8:1::1", "2001:db8:1::ffff") is True
        assert same_network("198.51.100.1", None) is False
        assert same_network("not an ip", "198.51.100.1") is False


class FakeSocket:
    """A UDP socket whose route to any private address leaves from ``source``."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __call__(self, family, kind):
        self.family = family
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def connect(self, address):
        if self.source is None or (self.family == socket.AF_INET6) != (":" in self.source):
            raise OSError("Network is unreachable")

    def getsockname(self):
        return (self.source, 40000)


class TestServerAddresses:
    @pytest.fixture(autouse=True)
    def _uncached(self):
        local_network.server_addresses.cache_clear()
        yield
        local_network.server_addresses.cache_clear()

    def test_the_route_source_is_the_lan_address(self, monkeypatch):
        monkeypatch.setattr(local_network.socket, "socket", FakeSocket(LAN))
        assert local_network.server_addresses() == (ipaddress.ip_address(LAN),)
        assert local_network.lan_ipv4() == LAN

    # 0.0.0.0 here is a route lookup's answer, not an address anything binds to.
    @pytest.mark.parametrize("source", [None, "127.0.0.1", "0.0.0.0", "169.254.3.4"])  # noqa: S104
    def test_no_usable_route_means_no_lan_address(self, monkeypatch, source):
        monkeypatch.setattr(local_network.socket, "socket", FakeSocket(source))
        assert local_network.server_addresses() == ()
        assert local_network.lan_ipv4() is None

    def test_on_this_machine_it_answers_without_error(self):
        for address in local_network.server_addresses():
            assert not address.is_loopback


@pytest.mark.django_db
def test_the_phone_page_shows_no_warning_for_a_pc_on_loopback(on_lan, make_pc):
    pc = make_pc(ip="127.0.0.1")
    phone = Client(REMOTE_ADDR="192.168.1.20")
    phone.force_login(UserFactory())
    html = phone.get(f"/qrlogin/s/{pc.id}/").content.decode()
    assert "Confirm login" in html
    assert "different network" not in html
    elsewhere = Client(REMOTE_ADDR="192.168.77.20")
    elsewhere.force_login(UserFactory())
    assert "different network" in elsewhere.get(f"/qrlogin/s/{pc.id}/").content.decode()


@pytest.mark.django_db
def test_the_scan_answer_says_same_network(on_lan, make_pc, phone):
    pc = make_pc(ip="127.0.0.1")
    assert phone.scan(pc.id, ip="192.168.1.20").json()["pc"]["same_network"] is True


def demo_settings(**env) -> dict:
    """config.settings as a fresh process reads it from this environment."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "from qrlogin.conf import qrlogin_settings; "
        "print(json.dumps([settings.ALLOWED_HOSTS, qrlogin_settings.SITE_URL]))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("SITE_URL", "ALLOWED_HOSTS")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    hosts, site_url = json.loads(result.stdout)
    return {"hosts": hosts, "site_url": site_url}


def test_the_demos_site_url_is_in_the_qr_and_an_allowed_host():
    read = demo_settings(SITE_URL="http://192.168.1.5:8000/", DEBUG="0")
    assert read["site_url"] == "http://192.168.1.5:8000"
    assert "192.168.1.5" in read["hosts"] and "127.0.0.1" in read["hosts"]
    ipv6 = demo_settings(SITE_URL="http://[fd00::5]:8000", DEBUG="0")
    assert "[fd00::5]" in ipv6["hosts"]
    assert demo_settings(DEBUG="0")["site_url"] is None


@pytest.mark.django_db
def test_the_qr_holds_the_site_url(settings, client):
    settings.QRLOGIN = {"SITE_URL": "http://192.168.1.5:8000"}
    created = client.post("/qrlogin/api/sessions/", {}, content_type="application/json")
    assert created.json()["qr_url"].startswith("http://192.168.1.5:8000/qrlogin/s/")
