"""Issue 10, row 8: the phone page shows too much.

The attack: any logged-in user who opens the URL of a QR that another phone already scanned
saw the PC's IP, browser and OS and a "log in as <you>" prompt with Confirm and Deny (which
could only answer 409). A finished request still showed the approval heading, the details
and the red warning. Now only the phone that scanned sees the computer; everyone else, and
everyone once the request is over, sees one plain sentence and no buttons.
"""

import pytest
from django.test import Client

from tests.conftest import FAR_IP, PC_IP
from tests.factories import UserFactory
from tests.security.support import unchanged

pytestmark = pytest.mark.django_db

# What the page must not show to anyone but the phone that scanned.
PC_DETAILS = (PC_IP, "Chrome", "Windows", "Log in on a computer?", "qrlogin-facts",
              "qrlogin-warning", 'name="action"', "temp_token")  # fmt: skip


def browser_of(user=None) -> Client:
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile Safari", REMOTE_ADDR=FAR_IP)
    client.force_login(user or UserFactory())
    return client


def shows_nothing_about_the_pc(html: str) -> None:
    for detail in PC_DETAILS:
        assert detail not in html, detail


def test_a_qr_another_phone_scanned(phone, make_pc):
    pc = make_pc()
    phone.scan(pc.id)
    stranger = browser_of()
    with unchanged():
        page = stranger.get(f"/qrlogin/s/{pc.id}/")
        pressed = stranger.post(f"/qrlogin/s/{pc.id}/", {"action": "confirm"})
        scanned = stranger.post(f"/qrlogin/s/{pc.id}/", {"action": "scan"})
    assert page.status_code == 200
    shows_nothing_about_the_pc(page.content.decode())
    assert "Another device has already scanned this code." in page.content.decode()
    assert pressed.status_code == 409
    shows_nothing_about_the_pc(pressed.content.decode())
    assert scanned.status_code == 409 and scanned.json()["code"] == "invalid_state"
    assert "pc" not in scanned.json() and "temp_token" not in scanned.json()


def test_a_qr_another_phone_confirmed_even_for_the_same_account(phone, make_pc):
    pc = make_pc()
    temp = phone.scan(pc.id).json()["temp_token"]
    phone.confirm(pc.id, temp)
    page = browser_of(phone.user).get(f"/qrlogin/s/{pc.id}/")
    shows_nothing_about_the_pc(page.content.decode())


@pytest.mark.parametrize("ending", ["completed", "denied", "cancelled", "expired"])
def test_a_finished_request_only_says_it_is_over(ending, phone, make_pc, clock):
    pc = make_pc()
    temp = phone.scan(pc.id).json()["temp_token"]
    if ending == "completed":
        phone.confirm(pc.id, temp)
        assert pc.complete({"device_id": "laptop", "device_type": "pc"}).status_code == 200
    elif ending == "denied":
        phone.deny(pc.id, temp)
    elif ending == "cancelled":
        pc.cancel()
    else:
        clock.shift(3600)
    for viewer in (browser_of(phone.user), browser_of()):
        page = viewer.get(f"/qrlogin/s/{pc.id}/")
        html = page.content.decode()
        assert page.status_code == 200
        assert "This login request is over" in html
        shows_nothing_about_the_pc(html)
