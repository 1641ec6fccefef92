"""The PC page (browser proof by session + CSRF) and the phone-browser confirm page."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from qrlogin.models import QRLoginSession
from tests.conftest import PC_UA
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Browser:
    """A PC browser on the QR page, speaking to the API the way qrlogin.js does."""

    def __init__(self, next_url: str = "") -> None:
        self.client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=PC_UA)
        path = "/qrlogin/" + (f"?next={next_url}" if next_url else "")
        self.page = self.client.get(path)
        html = self.page.content.decode()
        self.status_url = re.search(r'data-status-url="([^"]+)"', html)[1]
        self.complete_url = re.search(r'data-complete-url="([^"]+)"', html)[1]
        self.csrf = re.search(r'data-csrf-token="([^"]+)"', html)[1]
        self.id = self.status_url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def session(self) -> QRLoginSession:
        return QRLoginSession.objects.get(public_id=self.id)

    def complete(self, csrf: bool = True):
        headers = {"HTTP_X_CSRFTOKEN": self.csrf} if csrf else {}
        return self.client.post(self.complete_url, {}, content_type="application/json", **headers)


def confirm_via_api(browser: Browser, phone) -> None:
    temp = phone.scan(browser.id).json()["temp_token"]
    assert phone.confirm(browser.id, temp).status_code == 200


def test_pc_page_shows_qr_and_code_and_refuses_frames():
    browser = Browser()
    page = browser.page
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", html)
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "no-store" in page["Cache-Control"]
    assert browser.session.status == "pending"
    # The browser never sees the PC secret.
    assert "secret" not in html.lower()


def test_browser_polls_with_its_session_only():
    browser = Browser()
    assert browser.client.get(browser.status_url).json()["status"] == "pending"
    assert Client().get(browser.status_url).status_code == 404


def test_browser_login_end_to_end(phone):
    browser = Browser(next_url="/dashboard/?tab=1")
    old_key = browser.client.session.session_key
    confirm_via_api(browser, phone)
    assert browser.client.get(browser.status_url).json()["status"] == "confirmed"
    response = browser.complete()
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "completed", "redirect_url": "/dashboard/?tab=1"}
    assert browser.client.session[SESSION_KEY] == str(phone.user.pk)
    assert browser.client.session.session_key != old_key
    assert browser.session.status == "completed"
    home = browser.client.get("/")
    assert phone.user.get_username() in home.content.decode()


def test_browser_completion_needs_csrf(phone):
    browser = Browser()
    confirm_via_api(browser, phone)
    response = browser.complete(csrf=False)
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert browser.session.status == "confirmed"
    assert SESSION_KEY not in browser.client.session


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil"]
)
def test_unsafe_next_goes_home(phone, next_url):
    browser = Browser(next_url=next_url)
    confirm_via_api(browser, phone)
    assert browser.complete().json()["redirect_url"] == "/"


def test_renewal_gives_a_new_qr_without_secret():
    browser = Browser()
    response = browser.client.post(
        "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
    )
    assert response.status_code == 200
    data = response.json()
    assert "secret" not in data
    assert data["id"] != browser.id
    assert browser.client.get(data["status_url"]).json()["status"] == "pending"


def test_pc_page_is_throttled_per_ip(settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "1/min"}}
    assert Client().get("/qrlogin/").status_code == 200
    refused = Client().get("/qrlogin/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert QRLoginSession.objects.count() == 1


class TestPhonePage:
    @pytest.fixture
    def phone_browser(self):
        client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile Safari")
        user = UserFactory(username="dario")
        client.force_login(user)
        return client

    def test_needs_login(self):
        browser = Browser()
        response = Client().get(f"/qrlogin/s/{browser.id}/")
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")

    def test_get_shows_who_asks_and_changes_nothing(self, phone_browser):
        browser = Browser()
        response = phone_browser.get(f"/qrlogin/s/{browser.id}/")
        html = response.content.decode()
        assert response.status_code == 200
        assert "Chrome 120" in html and "Windows 10" in html and "127.0.0.1" in html
        assert response["X-Frame-Options"] == "DENY"
        assert browser.session.status == "pending"

    def test_confirm(self, phone_browser):
        browser = Browser()
        response = phone_browser.post(f"/qrlogin/s/{browser.id}/", {"action": "confirm"})
        assert response.status_code == 200
        assert browser.session.status == "confirmed"
        assert browser.client.get(browser.status_url).json()["scanned_by"] == {
            "display_name": "d***o"
        }
        assert browser.complete().json()["status"] == "completed"

    def test_deny(self, phone_browser):
        browser = Browser()
        phone_browser.post(f"/qrlogin/s/{browser.id}/", {"action": "deny"})
        assert browser.session.status == "denied"

    def test_unknown_action_and_unknown_id(self, phone_browser):
        browser = Browser()
        assert phone_browser.post(f"/qrlogin/s/{browser.id}/", {"action": "x"}).status_code == 400
        assert browser.session.status == "pending"
        assert phone_browser.get("/qrlogin/s/" + "A" * 32 + "/").status_code == 404

    def test_second_phone_browser_is_refused(self, phone_browser, phone):
        browser = Browser()
        phone.scan(browser.id)
        response = phone_browser.post(f"/qrlogin/s/{browser.id}/", {"action": "confirm"})
        assert response.status_code == 409
        assert browser.session.status == "scanned"

    def test_number_matching(self, phone_browser, settings):
        settings.QRLOGIN = {"VERIFICATION": "number"}
        browser = Browser()
        url = f"/qrlogin/s/{browser.id}/"
        step = phone_browser.post(url, {"action": "confirm"})
        assert browser.session.status == "scanned"
        temp = re.search(r'name="temp_token" value="([^"]+)"', step.content.decode())[1]
        number = browser.client.get(browser.status_url).json()["verification_code"]
        done = phone_browser.post(
            url, {"action": "confirm", "temp_token": temp, "verification_code": number}
        )
        assert done.status_code == 200
        assert browser.session.status == "confirmed"


class TestPairingCodePage:
    @pytest.fixture
    def phone_browser(self):
        client = Client()
        client.force_login(UserFactory())
        return client

    def test_code_leads_to_the_confirm_page_and_changes_nothing(self, phone_browser, make_pc):
        pc = make_pc()
        code = pc.data["user_code"].replace("-", "").lower()
        response = phone_browser.post("/qrlogin/code/", {"code": code})
        assert response.status_code == 302
        assert response["Location"] == f"/qrlogin/s/{pc.id}/"
        assert QRLoginSession.objects.get(public_id=pc.id).status == "pending"

    def test_unknown_code_and_throttle(self, phone_browser, settings):
        settings.QRLOGIN = {"THROTTLE_RATES": {"user_code": "2/min"}}
        for _ in range(2):
            assert phone_browser.post("/qrlogin/code/", {"code": "ABCD-EFGH"}).status_code == 404
        assert phone_browser.post("/qrlogin/code/", {"code": "ABCD-EFGH"}).status_code == 429

    def test_needs_login(self):
        assert Client().get("/qrlogin/code/").status_code == 302
