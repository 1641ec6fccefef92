"""qrlogin alone, end to end: Chromium shows the QR, a phone on a DRF token confirms."""

import json
import urllib.request
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from qrlogin.models import QRLoginSession
from tests.e2e.conftest import TIMEOUT_MS, read_qr, session_id_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post(url: str, body: dict, token: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    # Straight to the loopback server, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=TIMEOUT_MS / 1000) as response:
        return json.load(response)


def test_pc_browser_is_logged_in_by_a_phone_with_a_drf_token(
    live_server, new_context, user, phone_token
):
    page = new_context().new_page()
    page.goto(f"{live_server.url}/qrlogin/?next={quote('/')}")
    expect(page.locator("[data-qrlogin-state]")).to_have_text("Scan with your phone")
    qr_text = read_qr(page)
    session_id = session_id_of(qr_text, live_server.url)

    scanned = post(f"{live_server.url}/qrlogin/api/scan/", {"qr": qr_text}, phone_token)
    assert scanned["session"] == session_id
    expect(page.locator("[data-qrlogin-state]")).to_contain_text("Scanned by")
    confirmed = post(
        f"{live_server.url}/qrlogin/api/confirm/",
        {"session": session_id, "temp_token": scanned["temp_token"]},
        phone_token,
    )
    assert confirmed == {"status": "confirmed"}

    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("username")).to_have_text(user.username)
    assert QRLoginSession.objects.get(public_id=session_id).status == "completed"
