"""Threat 1: QR-jacking, the phishing relay.

The attacker opens the login page on their own computer and relays its live QR (or pairing
code) to the victim ("scan this to get your prize"). If the victim scans and confirms, the
attacker's computer is logged in as the victim.

Defences attacked here: the phone is shown who is asking (browser, OS, IP, time,
``same_network``); ``REQUIRE_SAME_NETWORK`` refuses a scan from another network; QRs are
short-lived and renewed; number matching makes a guess deny the session. ``same_network`` is
only as good as the client address, so the X-Forwarded-For handling is attacked too.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from qrlogin.models import QRLoginSession
from qrlogin_accounts.models import DeviceToken
from tests.conftest import FAR_IP, PC_IP, PHONE_IP
from tests.security.support import (
    ATTACKER_IP,
    PROXY_IP,
    PCBrowser,
    PhoneBrowser,
    assert_error,
    session_row,
    unchanged,
)

pytestmark = pytest.mark.django_db

ATTACKER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def attacker_pc(ip: str = ATTACKER_IP, **headers) -> dict:
    """The attacker's computer starts a QR login (the API way; the page works the same)."""
    client = APIClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=ATTACKER_UA, **headers)
    response = client.post("/qrlogin/api/sessions/", {}, format="json")
    assert response.status_code == 201
    data = response.json()
    data["client"] = client
    return data


class TestThePhoneSeesWhoIsAsking:
    def test_scan_of_a_relayed_qr_shows_the_attackers_computer(self, phone):
        relayed = attacker_pc()
        response = phone.scan(relayed["qr_url"])
        assert response.status_code == 200
        pc = response.json()["pc"]
        assert pc["ip"] == ATTACKER_IP
        assert (pc["browser"], pc["os"]) == ("Firefox 128", "Linux")
        assert pc["user_agent"] == ATTACKER_UA
        assert pc["created_at"]
        assert pc["same_network"] is False
        # The number of number matching is for the PC's screen only, never for the phone.
        assert "verification_code" not in response.json()

    def test_phone_page_warns_about_another_network(self, phone):
        relayed = attacker_pc()
        browser = PhoneBrowser(phone.user)
        with unchanged():  # looking is free: a GET changes nothing
            page = browser.page(relayed["id"])
        html = page.content.decode()
        assert page.status_code == 200
        assert ATTACKER_IP in html and "Firefox" in html
        assert "different network" in html

    def test_same_network_is_true_only_for_the_same_network(self, phone):
        near = phone.scan(attacker_pc(ip=PC_IP)["id"], ip=PHONE_IP).json()["pc"]
        assert near["same_network"] is True


class TestRequireSameNetwork:
    @pytest.fixture(autouse=True)
    def _required(self, settings):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True}

    def test_api_scan_from_another_network_is_refused(self, phone):
        relayed = attacker_pc()
        with unchanged():
            response = phone.scan(relayed["qr_url"], ip=PHONE_IP)
        assert_error(response, 403, "different_network")
        assert session_row(relayed["id"]).status == "pending"

    def test_pairing_code_from_another_network_is_refused(self, phone):
        relayed = attacker_pc()
        with unchanged():
            response = phone.post("/qrlogin/api/scan/", {"code": relayed["user_code"]})
        assert_error(response, 403, "different_network")

    def test_phone_page_from_another_network_is_refused(self, phone):
        relayed = attacker_pc()
        browser = PhoneBrowser(phone.user, ip=PHONE_IP)
        with unchanged():
            response = browser.post(relayed["id"], {"action": "confirm"})
        assert response.status_code == 403
        assert "same network" in response.content.decode()

    def test_same_network_still_works(self, phone):
        near = attacker_pc(ip=PC_IP)
        assert phone.scan(near["id"], ip=PHONE_IP).status_code == 200


class TestShortLivedQR:
    def test_a_relayed_qr_dies_after_qr_ttl(self, clock, phone):
        relayed = attacker_pc()
        clock.shift(120)  # QR_TTL
        response = phone.scan(relayed["qr_url"])
        assert_error(response, 410, "expired")
        row = session_row(relayed["id"])
        assert row.status == "expired" and row.user_id is None and not row.temp_token_digest

    def test_the_page_renews_with_a_new_id(self, clock):
        browser = PCBrowser()
        clock.shift(120)
        assert browser.status().json()["status"] == "expired"
        renewed = browser.client.post(
            "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
        )
        assert renewed.status_code == 200
        fresh = renewed.json()
        assert fresh["id"] != browser.id and fresh["status"] == "pending"
        assert browser.client.get(fresh["status_url"]).json()["status"] == "pending"


class TestNumberMatching:
    @pytest.fixture(autouse=True)
    def _number(self, settings):
        settings.QRLOGIN = {"VERIFICATION": "number"}

    def scan(self, phone, relayed) -> str:
        response = phone.scan(relayed["qr_url"])
        assert response.status_code == 200
        assert "verification_code" not in response.json()
        return response.json()["temp_token"]

    def test_a_wrong_number_denies_the_session_for_good(self, phone):
        relayed = attacker_pc()
        temp = self.scan(phone, relayed)
        shown = relayed["client"].get(
            f"/qrlogin/api/sessions/{relayed['id']}/",
            HTTP_X_QRLOGIN_SECRET=relayed["secret"],
        )
        number = shown.json()["verification_code"]
        wrong = f"{(int(number) + 1) % 100:02d}"
        response = phone.confirm(relayed["id"], temp, verification_code=wrong)
        assert_error(response, 403, "wrong_verification_code")
        assert session_row(relayed["id"]).status == "denied"
        # No second guess, and nothing for the attacker's computer.
        with unchanged():
            again = phone.confirm(relayed["id"], temp, verification_code=number)
            complete = relayed["client"].post(
                f"/qrlogin/api/sessions/{relayed['id']}/complete/",
                {"device_id": "attacker-pc"},
                format="json",
                HTTP_X_QRLOGIN_SECRET=relayed["secret"],
            )
        assert_error(again, 409, "invalid_state")
        assert_error(complete, 409, "invalid_state")
        assert not DeviceToken.objects.filter(device__device_id="attacker-pc").exists()

    @pytest.mark.parametrize("sent", [None, "", " ", "100", "-1", "4 2", "ab"])
    def test_a_missing_or_malformed_number_denies(self, phone, sent):
        relayed = attacker_pc()
        temp = self.scan(phone, relayed)
        body = {} if sent is None else {"verification_code": sent}
        response = phone.confirm(relayed["id"], temp, **body)
        assert_error(response, 403, "wrong_verification_code")
        assert session_row(relayed["id"]).status == "denied"

    def test_the_phone_page_asks_for_the_number_without_showing_it(self, phone):
        relayed = attacker_pc()
        browser = PhoneBrowser(phone.user)
        step = browser.post(relayed["id"], {"action": "confirm"})
        assert step.status_code == 200
        html = step.content.decode()
        assert 'name="verification_code"' in html
        number = QRLoginSession.objects.get(public_id=relayed["id"]).verification_code
        assert f'value="{number}"' not in html
        assert session_row(relayed["id"]).status == "scanned"


class TestClientAddress:
    """``same_network`` and the per-IP throttles are only as good as the client address."""

    @pytest.fixture(autouse=True)
    def _required(self, settings):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True}

    @pytest.mark.parametrize("trusted", [[], [PROXY_IP], ["10.0.0.0/8"]])
    def test_forged_forwarded_for_from_an_untrusted_client_is_ignored(
        self, settings, phone, trusted
    ):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": trusted}
        victim_pc = attacker_pc(ip=PC_IP)
        with unchanged():
            # A phone far away claims to be next to the PC.
            response = phone.scan(victim_pc["id"], ip=FAR_IP, HTTP_X_FORWARDED_FOR=PHONE_IP)
        assert_error(response, 403, "different_network")

    def test_forged_forwarded_for_cannot_disguise_the_attackers_pc(self, settings, phone):
        settings.QRLOGIN = {"TRUSTED_PROXIES": [PROXY_IP]}
        # The attacker's computer claims to be on the victim's network.
        relayed = attacker_pc(HTTP_X_FORWARDED_FOR=PHONE_IP)
        assert session_row(relayed["id"]).pc_ip == ATTACKER_IP
        pc = phone.scan(relayed["id"]).json()["pc"]
        assert pc["ip"] == ATTACKER_IP and pc["same_network"] is False

    def test_forwarded_for_from_a_trusted_proxy_is_honoured(self, settings, phone):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": [PROXY_IP]}
        pc = attacker_pc(ip=PROXY_IP, HTTP_X_FORWARDED_FOR=PC_IP)
        assert session_row(pc["id"]).pc_ip == PC_IP
        response = phone.scan(pc["id"], ip=PROXY_IP, HTTP_X_FORWARDED_FOR=PHONE_IP)
        assert response.status_code == 200, response.content
        assert response.json()["pc"] == {**response.json()["pc"], "ip": PC_IP, "same_network": True}

    def test_a_far_phone_behind_the_trusted_proxy_is_refused(self, settings, phone):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": [PROXY_IP]}
        pc = attacker_pc(ip=PROXY_IP, HTTP_X_FORWARDED_FOR=PC_IP)
        with unchanged():
            response = phone.scan(pc["id"], ip=PROXY_IP, HTTP_X_FORWARDED_FOR=FAR_IP)
        assert_error(response, 403, "different_network")

    def test_the_header_is_walked_from_the_right(self, settings, phone):
        """The left-most entry is whatever the client wrote; the proxy appends the truth."""
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
        pc = attacker_pc(ip=PC_IP)
        forged_then_real = f"{PHONE_IP}, {FAR_IP}"
        with unchanged():
            response = phone.scan(pc["id"], ip=PROXY_IP, HTTP_X_FORWARDED_FOR=forged_then_real)
        assert_error(response, 403, "different_network")
        # Two trusted hops (10.0.0.2 then 10.0.0.1) in front of the real phone: believed.
        through_two = f"{PHONE_IP}, 10.0.0.2"
        response = phone.scan(pc["id"], ip=PROXY_IP, HTTP_X_FORWARDED_FOR=through_two)
        assert response.status_code == 200, response.content
        assert session_row(pc["id"]).phone_ip == PHONE_IP

    def test_garbage_in_the_header_does_not_help(self, settings, phone):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": [PROXY_IP]}
        pc = attacker_pc(ip=PC_IP)
        for forged in (f"{PHONE_IP}, not-an-ip", "", ",,,", f"{PHONE_IP} {PHONE_IP}"):
            with unchanged():
                response = phone.scan(pc["id"], ip=PROXY_IP, HTTP_X_FORWARDED_FOR=forged)
            assert_error(response, 403, "different_network")


class TestDeployCheck:
    """``manage.py check --deploy`` warns when same-network checks read an untrusted address."""

    def run_check(self) -> str:
        out, err = StringIO(), StringIO()
        call_command("check", "--deploy", stdout=out, stderr=err)
        return out.getvalue() + err.getvalue()

    def test_w003_without_trusted_proxies(self, settings):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True}
        assert "qrlogin.W003" in self.run_check()

    def test_no_w003_with_trusted_proxies_or_without_the_requirement(self, settings):
        settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": [PROXY_IP]}
        assert "qrlogin.W003" not in self.run_check()
        settings.QRLOGIN = {}
        assert "qrlogin.W003" not in self.run_check()
