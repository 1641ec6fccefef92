"""Threat 6: login CSRF and session fixation.

Login CSRF, PC side: a page on another site makes the victim's browser complete a login the
attacker prepared (the attacker's own QR, approved by the attacker's phone), so the victim ends
up working in the attacker's account. Phone side, worse: a page makes the victim's *phone
browser* confirm the attacker's QR, logging the attacker's computer in as the victim.

Session fixation: the attacker plants a session key in the victim's browser before the login
and rides it afterwards.

Defences: completion is a POST that needs the CSRF token (browser) or the secret in a header
(which a cross-site form cannot set); the secret is never read from a form body or a query
string; the phone page and the phone API (session authentication) check CSRF; Django's
``login()`` rotates the session key and the CSRF token.
"""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from rest_framework.test import APIClient

from tests.security.support import (
    ATTACKER_IP,
    PCBrowser,
    PhoneBrowser,
    assert_error,
    logged_in_sessions,
    session_row,
    unchanged,
)

pytestmark = pytest.mark.django_db


def confirm_with(phone, public_id: str) -> None:
    temp = phone.scan(public_id).json()["temp_token"]
    assert phone.confirm(public_id, temp).status_code == 200


class TestBrowserCompletionNeedsCSRF:
    def test_without_the_token(self, phone):
        browser = PCBrowser()
        confirm_with(phone, browser.id)
        with unchanged():
            response = browser.complete(csrf=False)
        assert_error(response, 403, "csrf_failed")
        assert session_row(browser.id).status == "confirmed"

    def test_with_a_wrong_token(self, phone):
        browser = PCBrowser()
        confirm_with(phone, browser.id)
        with unchanged():
            response = browser.client.post(
                browser.complete_url,
                {},
                content_type="application/json",
                HTTP_X_CSRFTOKEN="x" * 64,
            )
        assert_error(response, 403, "csrf_failed")

    def test_from_another_origin(self, phone):
        browser = PCBrowser()
        confirm_with(phone, browser.id)
        with unchanged():
            response = browser.client.post(
                browser.complete_url,
                {},
                content_type="application/json",
                HTTP_X_CSRFTOKEN=browser.csrf,
                HTTP_ORIGIN="https://evil.example",
            )
        assert_error(response, 403, "csrf_failed")

    def test_a_cancel_needs_it_too(self, phone):
        browser = PCBrowser()
        with unchanged():
            response = browser.client.delete(browser.status_url)
        assert_error(response, 403, "csrf_failed")

    def test_a_plain_get_of_the_completion_url_does_nothing(self, phone):
        browser = PCBrowser()
        confirm_with(phone, browser.id)
        with unchanged():
            response = browser.client.get(browser.complete_url)
        assert response.status_code == 405


class TestLoginIntoTheAttackersAccount:
    """The attacker prepares a confirmed login of their own account and hands its secret to
    the victim's browser in every way a cross-site page can: form body, query string."""

    @pytest.fixture
    def prepared(self, make_phone):
        attacker_phone = make_phone()
        attacker_pc = APIClient(REMOTE_ADDR=ATTACKER_IP)
        data = attacker_pc.post("/qrlogin/api/sessions/", {}, format="json").json()
        confirm_with(attacker_phone, data["id"])
        return data

    def test_secret_in_a_form_body(self, prepared):
        victim = Client()  # any browser, cookies and all; a form cannot add headers
        url = f"/qrlogin/api/sessions/{prepared['id']}/complete/"
        for body in (
            {"secret": prepared["secret"]},
            {"X-QRLogin-Secret": prepared["secret"]},
            {"HTTP_X_QRLOGIN_SECRET": prepared["secret"]},
        ):
            with unchanged():
                response = victim.post(url, body)
            assert_error(response, 404, "not_found")

    def test_secret_in_the_query_string(self, prepared):
        victim = Client()
        url = f"/qrlogin/api/sessions/{prepared['id']}/complete/"
        with unchanged():
            response = victim.post(f"{url}?secret={prepared['secret']}")
            response2 = victim.post(f"{url}?X-QRLogin-Secret={prepared['secret']}")
        assert_error(response, 404, "not_found")
        assert_error(response2, 404, "not_found")

    def test_even_with_the_victims_own_csrf_token(self, prepared):
        victim = PCBrowser()  # the victim is on the QR page: a session and a CSRF token
        with unchanged():
            response = victim.client.post(
                f"/qrlogin/api/sessions/{prepared['id']}/complete/",
                {"secret": prepared["secret"]},
                content_type="application/json",
                HTTP_X_CSRFTOKEN=victim.csrf,
            )
        assert_error(response, 404, "not_found")
        assert session_row(prepared["id"]).status == "confirmed"


class TestPhoneSideCSRF:
    """A page on another site, opened in the victim's logged-in phone browser, tries to make
    it approve the attacker's QR."""

    @pytest.fixture
    def attackers_qr(self) -> str:
        client = APIClient(REMOTE_ADDR=ATTACKER_IP)
        return client.post("/qrlogin/api/sessions/", {}, format="json").json()["id"]

    @pytest.fixture
    def victim(self, phone) -> PhoneBrowser:
        return PhoneBrowser(phone.user)

    def test_auto_submitted_form_to_the_phone_page(self, victim, attackers_qr):
        for action in ("confirm", "deny"):
            with unchanged():
                response = victim.post(attackers_qr, {"action": action}, csrf=False)
            assert response.status_code == 403
        assert session_row(attackers_qr).status == "pending"

    @pytest.mark.parametrize("endpoint", ["scan", "confirm", "deny"])
    def test_cross_site_requests_to_the_phone_api(self, victim, attackers_qr, endpoint):
        body = {"session": attackers_qr, "temp_token": "x" * 43}
        if endpoint == "scan":
            body = {"qr": attackers_qr}
        url = f"/qrlogin/api/{endpoint}/"
        with unchanged():
            as_json = victim.client.post(url, body, content_type="application/json")
            as_form = victim.client.post(url, body)
        for response in (as_json, as_form):
            assert response.status_code == 403, response.content
            assert "CSRF" in response.json()["detail"]


class TestSessionFixation:
    def test_login_rotates_the_session_key_and_the_csrf_token(self, phone):
        browser = PCBrowser()
        planted_key = browser.session_key  # what an attacker could have planted
        old_csrf = browser.client.cookies["csrftoken"].value
        confirm_with(phone, browser.id)
        assert browser.complete().status_code == 200
        assert browser.session_key != planted_key
        assert browser.client.cookies["csrftoken"].value != old_csrf
        assert not Session.objects.filter(session_key=planted_key).exists()
        assert logged_in_sessions() == [str(phone.user.pk)]

    def test_the_planted_key_is_worth_nothing_afterwards(self, phone):
        attacker = PCBrowser(ip=ATTACKER_IP)
        planted_key = attacker.session_key
        # The victim's browser runs with the attacker's key and shows its own QR.
        victim = Client(enforce_csrf_checks=True)
        victim.cookies["sessionid"] = planted_key
        page = victim.get("/qrlogin/")
        html = page.content.decode()
        status_url = html.split('data-status-url="')[1].split('"')[0]
        complete_url = html.split('data-complete-url="')[1].split('"')[0]
        csrf = html.split('data-csrf-token="')[1].split('"')[0]
        public_id = status_url.rstrip("/").rsplit("/", 1)[-1]
        confirm_with(phone, public_id)
        done = victim.post(complete_url, {}, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
        assert done.status_code == 200
        # The attacker still holds the planted key: not logged in, and no proof any more.
        with unchanged():
            ride = attacker.client.get(f"/qrlogin/s/{public_id}/")
            poll = attacker.client.get(status_url)
        assert ride.status_code == 302  # the phone page wants a login: anonymous
        assert_error(poll, 404, "not_found")
        assert victim.cookies["sessionid"].value != planted_key
