"""Threat 10: denial of service.

Floods of QR sessions (rows, QR renders), scans, pairing-code lookups and password guesses;
an attacker who locks a victim's account out of token login; a table that grows forever.

Defences: throttles counted atomically in the shared cache (``qrlogin.ratelimit``), each
answering 429 ``throttled`` with ``Retry-After``: session creation per client network (the API
and the PC page share the scope), scans per device and per network, pairing codes per device
and per network, confirms per device, token login per username and per network, new devices
per user. ``manage.py qrlogin_purge`` deletes sessions that are over and idle devices. Races,
outages and /64s: ``test_throttle_counting.py``, ``test_budgets_per_network.py``.
``manage.py check --deploy`` warns (qrlogin.W002) when throttles are counted per process.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from qrlogin.actors import Actor
from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.models import Device
from tests.conftest import PC_IP
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.security.support import (
    ATTACKER_IP,
    PROXY_IP,
    PCBrowser,
    PhoneBrowser,
    assert_error,
    unchanged,
)

pytestmark = pytest.mark.django_db

SESSIONS = "/qrlogin/api/sessions/"
UNKNOWN_ID = "B" * 32


def assert_throttled(response) -> None:
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert "no-store" in response["Cache-Control"]


class TestSessionCreation:
    """Default: 20 new QR sessions a minute per client IP."""

    def test_api_per_ip(self, clock):
        attacker = APIClient(REMOTE_ADDR=ATTACKER_IP)
        for _ in range(20):
            assert attacker.post(SESSIONS, {}, format="json").status_code == 201
        with unchanged():
            refused = attacker.post(SESSIONS, {}, format="json")
        assert_throttled(refused)
        assert QRLoginSession.objects.count() == 20
        # Others are not locked out, and the attacker is back after the window.
        assert APIClient(REMOTE_ADDR=PC_IP).post(SESSIONS, {}, format="json").status_code == 201
        clock.shift(60)
        assert attacker.post(SESSIONS, {}, format="json").status_code == 201

    def test_the_page_and_the_api_share_the_budget(self):
        for _ in range(10):
            assert APIClient(REMOTE_ADDR=ATTACKER_IP).post(SESSIONS).status_code == 201
        for _ in range(9):
            PCBrowser(ip=ATTACKER_IP)
        browser = PCBrowser(ip=ATTACKER_IP)  # the 20th
        with unchanged():
            page = Client(REMOTE_ADDR=ATTACKER_IP).get("/qrlogin/")
            renewal = browser.client.post(
                "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
            )
        assert page.status_code == 429 and int(page["Retry-After"]) > 0
        assert "Too many" in page.content.decode()
        assert_throttled(renewal)

    @pytest.mark.parametrize("trusted", [[], [PROXY_IP]])
    def test_forged_forwarded_for_gets_no_fresh_budget(self, settings, trusted):
        settings.QRLOGIN = {"TRUSTED_PROXIES": trusted}
        for i in range(20):
            forged = APIClient(REMOTE_ADDR=ATTACKER_IP, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
            assert forged.post(SESSIONS).status_code == 201
        forged = APIClient(REMOTE_ADDR=ATTACKER_IP, HTTP_X_FORWARDED_FOR="198.51.100.200")
        with unchanged():
            refused = forged.post(SESSIONS)
        assert_throttled(refused)

    def test_an_unknown_client_address_is_still_throttled(self):
        unix_socket = APIClient(REMOTE_ADDR="")
        codes = [unix_socket.post(SESSIONS).status_code for _ in range(21)]
        assert codes[-1] == 429
        assert QRLoginSession.objects.count() == 20


class TestPhoneSide:
    def test_scans_per_phone(self, phone):
        for _ in range(30):
            assert_error(phone.scan(UNKNOWN_ID), 404, "not_found")
        with unchanged():
            refused = phone.scan(UNKNOWN_ID)
        assert_throttled(refused)

    def test_scans_per_ip(self, make_phone):
        for _ in range(2):
            flooder = make_phone()
            for _ in range(30):
                assert_error(flooder.scan(UNKNOWN_ID, ip=ATTACKER_IP), 404, "not_found")
        fresh = make_phone()
        with unchanged():
            refused = fresh.scan(UNKNOWN_ID, ip=ATTACKER_IP)
        assert_throttled(refused)

    def test_confirms_per_phone(self, phone, pc):
        phone.scan(pc.id)
        for _ in range(30):
            assert_error(phone.confirm(pc.id, "x" * 43), 403, "invalid_temp_token")
        with unchanged():
            refused = phone.confirm(pc.id, "x" * 43)
            refused_deny = phone.deny(pc.id, "x" * 43)
        assert_throttled(refused)
        assert_throttled(refused_deny)

    # Pairing codes per phone and per IP: test_03_guessing.py::TestPairingCodes (API and page).

    def test_the_pairing_code_page_says_when_to_retry(self, settings, phone):
        settings.QRLOGIN = {"THROTTLE_RATES": {"user_code": "0/min"}}
        browser = PhoneBrowser(phone.user)
        csrf = browser.client.get("/qrlogin/code/").cookies["csrftoken"].value
        with unchanged():
            refused = browser.client.post(
                "/qrlogin/code/", {"code": "ABCD-EFGH", "csrfmiddlewaretoken": csrf}
            )
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) > 0


class TestTokenLogin:
    """Default: 5 password attempts a minute per username, 20 per IP."""

    TOKEN = "/accounts/api/token/"  # noqa: S105  (a URL)

    def attempt(self, username: str, password: str, ip: str):
        body = {
            "username": username,
            "password": password,
            "device_id": "d-1",
            "device_type": "ios",
        }
        return APIClient(REMOTE_ADDR=ip).post(self.TOKEN, body, format="json")

    def test_per_username_from_a_botnet(self):
        victim = UserFactory()
        for i in range(5):
            response = self.attempt(victim.username, "wrong", f"198.51.100.{i}")
            assert_error(response, 401, "invalid_credentials")
        with unchanged():
            refused = self.attempt(victim.username, DEFAULT_PASSWORD, "198.51.100.99")
        assert_throttled(refused)
        assert not Device.objects.filter(user=victim).exists()

    def test_per_ip_across_usernames(self):
        for i in range(20):
            assert self.attempt(f"nobody{i}", "wrong", ATTACKER_IP).status_code == 401
        user = UserFactory()
        with unchanged():
            refused = self.attempt(user.username, DEFAULT_PASSWORD, ATTACKER_IP)
        assert_throttled(refused)

    def test_behind_a_trusted_proxy_one_client_does_not_lock_out_the_rest(self, settings):
        settings.QRLOGIN = {"TRUSTED_PROXIES": [PROXY_IP]}
        for i in range(20):
            body = {
                "username": f"nobody{i}",
                "password": "x",
                "device_id": "d",
                "device_type": "ios",
            }
            APIClient(REMOTE_ADDR=PROXY_IP, HTTP_X_FORWARDED_FOR=ATTACKER_IP).post(
                self.TOKEN, body, format="json"
            )
        user = UserFactory()
        login = {
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "device_id": "d",
            "device_type": "ios",
        }
        honest = APIClient(REMOTE_ADDR=PROXY_IP, HTTP_X_FORWARDED_FOR=PC_IP).post(
            self.TOKEN, login, format="json"
        )
        assert honest.status_code == 201


class TestPurge:
    def test_ended_sessions_and_their_events_go(self, clock, phone):
        over = QRLoginSession.objects.start(pc_ip=PC_IP).session
        over.cancel(Actor(device_key="pc"))
        never_read = QRLoginSession.objects.start(pc_ip=PC_IP).session  # expires unseen
        clock.shift(timedelta(days=31))
        live = QRLoginSession.objects.start(pc_ip=PC_IP).session
        out = StringIO()
        call_command("qrlogin_purge", "--days", "30", stdout=out)
        assert "Deleted 2 session(s)" in out.getvalue()
        assert list(QRLoginSession.objects.all()) == [live]
        assert not QRLoginEvent.objects.filter(session_id__in=[over.pk, never_read.pk]).exists()

    def test_recent_and_live_sessions_stay(self, clock, pc):
        clock.shift(timedelta(days=1))
        with unchanged():
            call_command("qrlogin_purge", "--days", "30", stdout=StringIO())


class TestDeployCheck:
    def run_check(self) -> str:
        out, err = StringIO(), StringIO()
        call_command("check", "--deploy", stdout=out, stderr=err)
        return out.getvalue() + err.getvalue()

    def test_w002_with_a_per_process_cache(self, settings):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        assert "qrlogin.W002" in self.run_check()

    def test_no_w002_with_redis(self, settings):
        settings.CACHES = {
            "default": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": "redis://127.0.0.1:6379/15",
            }
        }
        assert "qrlogin.W002" not in self.run_check()
