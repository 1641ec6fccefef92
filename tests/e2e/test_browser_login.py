"""End to end: a real Chromium shows the QR page, a phone logs it in, the browser lands logged in.

The QR is read the way a phone reads it: a screenshot of the rendered code, decoded by a real
QR decoder (zxing-cpp). The phone is either the mobile app, played through the JSON API over
HTTP with a real device token, or a second browser logged in with a password.
"""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
from django.conf import settings
from playwright.sync_api import BrowserContext, Page, expect

from qrlogin.models import QRLoginSession
from qrlogin.payloads import mask_name
from tests.e2e.conftest import TIMEOUT_MS, log_in, read_qr, session_id_of
from tests.factories import DeviceFactory, UserFactory, make_device_token

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEXT = "/?from=qr"


def session_cookie(context: BrowserContext) -> str | None:
    for cookie in context.cookies():
        if cookie["name"] == settings.SESSION_COOKIE_NAME:
            return cookie["value"]
    return None


class PhoneApp:
    """The mobile app: JSON over HTTP to the live server, with its device token."""

    def __init__(self, base_url: str, raw_token: str, device_id: str) -> None:
        self.base_url = base_url
        self.headers = {
            "Authorization": f"Token {raw_token}",
            "X-Device-ID": device_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        # Straight to the loopback server, whatever proxy the environment names.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(body).encode(),
            headers=self.headers,
            method="POST",
        )
        try:
            with self.opener.open(request, timeout=TIMEOUT_MS / 1000) as response:
                status, data = response.status, json.load(response)
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read().decode(errors="replace")
        assert status == 200, f"POST {path} answered {status}: {data}"
        return data


def test_phone_app_scans_and_confirms_and_the_browser_is_logged_in(
    live_server, new_context, tmp_path
):
    user = UserFactory()
    device = DeviceFactory(user=user)
    _, raw_token = make_device_token(device)
    phone = PhoneApp(live_server.url, raw_token, device.device_id)

    context = new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/qrlogin/?next={quote(NEXT)}")
    state = page.locator("[data-qrlogin-state]")
    expect(state).to_have_text("Scan with your phone")
    cookie_before = session_cookie(context)
    assert cookie_before, "the QR page should give the browser a Django session"

    qr_text = read_qr(page)
    session_id = session_id_of(qr_text, live_server.url)

    scanned = phone.post("/qrlogin/api/scan/", {"qr": qr_text})
    assert scanned["session"] == session_id
    assert scanned["temp_token"]
    assert "Chrome" in scanned["pc"]["browser"]

    expect(state).to_contain_text(f"Scanned by {mask_name(user.username)}")

    confirmed = phone.post(
        "/qrlogin/api/confirm/", {"session": session_id, "temp_token": scanned["temp_token"]}
    )
    assert confirmed == {"status": "confirmed"}

    page.wait_for_url(f"{live_server.url}{NEXT}")
    expect(page.get_by_test_id("username")).to_have_text(user.username)
    cookie_after = session_cookie(context)
    assert cookie_after and cookie_after != cookie_before, "the session key was not rotated"
    assert QRLoginSession.objects.get(public_id=session_id).status == "completed"
    page.screenshot(path=tmp_path / "pc-logged-in.png", full_page=True)


def test_phone_browser_confirms_and_the_pc_browser_is_logged_in(live_server, new_context, tmp_path):
    user = UserFactory()

    phone_page = log_in_phone_browser(new_context, live_server, user)
    expect(phone_page.get_by_test_id("username")).to_have_text(user.username)

    pc_context = new_context()
    pc_page = pc_context.new_page()
    pc_page.goto(f"{live_server.url}/qrlogin/")
    expect(pc_page.locator("[data-qrlogin-state]")).to_have_text("Scan with your phone")
    cookie_before = session_cookie(pc_context)
    qr_text = read_qr(pc_page)
    session_id = session_id_of(qr_text, live_server.url)
    pc_ip = QRLoginSession.objects.get(public_id=session_id).pc_ip
    assert pc_ip

    phone_page.goto(qr_text)
    expect(phone_page.get_by_role("heading")).to_have_text("Log in on a computer?")
    facts = phone_page.locator(".qrlogin-facts")
    expect(facts).to_contain_text(re.compile(r"\bChrome\b|HeadlessChrome"))
    expect(facts).to_contain_text(pc_ip)
    expect(phone_page.locator("main")).to_contain_text(user.username)
    # The page scans itself once shown (a plain GET would not: see test_phone_page), so the
    # PC says "scanned" while the person reads.
    expect(pc_page.locator("[data-qrlogin-state]")).to_contain_text("Scanned by")
    assert QRLoginSession.objects.get(public_id=session_id).status == "scanned"

    phone_page.get_by_role("button", name="Confirm login").click()
    expect(phone_page.get_by_role("heading")).to_have_text("Confirmed")

    pc_page.wait_for_url(f"{live_server.url}/")
    expect(pc_page.get_by_test_id("username")).to_have_text(user.username)
    cookie_after = session_cookie(pc_context)
    assert cookie_after and cookie_after != cookie_before, "the session key was not rotated"
    assert QRLoginSession.objects.get(public_id=session_id).status == "completed"
    pc_page.screenshot(path=tmp_path / "pc-logged-in.png", full_page=True)


def log_in_phone_browser(new_context, live_server, user) -> Page:
    page = new_context(viewport={"width": 412, "height": 915}, is_mobile=True).new_page()
    log_in(page, live_server.url, user)
    return page


def test_a_phone_that_loses_the_race_to_scan_is_shown_nothing(live_server, new_context):
    """Another phone scans between this page's GET and its own scan: the details go away."""
    pc_page = new_context().new_page()
    pc_page.goto(f"{live_server.url}/qrlogin/")
    qr_text = read_qr(pc_page)
    session_id = session_id_of(qr_text, live_server.url)
    device = DeviceFactory()
    _token, raw = make_device_token(device)
    other_phone = PhoneApp(live_server.url, raw, device.device_id)

    late_page = log_in_phone_browser(new_context, live_server, UserFactory())

    def scan_first(route):
        if route.request.method == "POST":
            other_phone.post("/qrlogin/api/scan/", {"qr": qr_text})
        route.continue_()

    late_page.route(qr_text, scan_first)
    late_page.goto(qr_text)
    expect(late_page.get_by_role("alert")).to_have_text(
        "Another device has already scanned this code."
    )
    expect(late_page.locator(".qrlogin-facts")).to_be_hidden()
    expect(late_page.get_by_role("button", name="Confirm login")).to_be_hidden()
    session = QRLoginSession.objects.get(public_id=session_id)
    assert session.status == "scanned" and session.phone_device_key == device.persistent_id
    # Opened again, the page shows no details at all.
    late_page.unroute(qr_text)
    late_page.goto(qr_text)
    expect(late_page.get_by_role("heading")).to_have_text("Already scanned")
    expect(late_page.locator("main")).not_to_contain_text("IP address")
