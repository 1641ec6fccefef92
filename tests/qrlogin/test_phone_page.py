"""The phone-browser page scans itself (a CSRF-protected POST from its script) and shows the
computer only to the phone that scanned it."""

import re

import pytest
from django.test import Client

from qrlogin.models import QRLoginSession
from tests.conftest import PC_IP
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def phone_browser():
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Mobile Safari")
    client.force_login(UserFactory(username="dario"))
    return client


def csrf_of(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]


def status_of(pc) -> str:
    return QRLoginSession.objects.get(public_id=pc.id).status


def test_the_page_carries_its_scan_script_and_a_get_changes_nothing(phone_browser, make_pc):
    pc = make_pc()
    page = phone_browser.get(f"/qrlogin/s/{pc.id}/")
    html = page.content.decode()
    assert 'src="/static/qrlogin/phone.js"' in html
    assert PC_IP in html and "Confirm login" in html
    assert status_of(pc) == "pending"


def test_the_scripts_scan_then_confirm(phone_browser, make_pc):
    pc = make_pc()
    url = f"/qrlogin/s/{pc.id}/"
    csrf = csrf_of(phone_browser.get(url))
    scan = phone_browser.post(url, {"action": "scan", "csrfmiddlewaretoken": csrf})
    assert scan.status_code == 200
    body = scan.json()
    assert body["status"] == "scanned" and body["verification"] == "none"
    assert scan["Cache-Control"].startswith("max-age=0")
    assert pc.status().json()["status"] == "scanned"  # the PC knows while the person reads
    # The page reopened by the same phone still asks (and scans again, idempotently).
    again = phone_browser.get(url)
    assert PC_IP in again.content.decode()
    confirm = phone_browser.post(
        url, {"action": "confirm", "temp_token": body["temp_token"], "csrfmiddlewaretoken": csrf}
    )
    assert confirm.status_code == 200
    assert status_of(pc) == "confirmed"
    # Reopened after confirming: it says so, without buttons.
    done = phone_browser.get(url).content.decode()
    assert "Confirmed" in done and 'name="action"' not in done


def test_the_scan_needs_the_csrf_token(phone_browser, make_pc):
    pc = make_pc()
    refused = phone_browser.post(f"/qrlogin/s/{pc.id}/", {"action": "scan"})
    assert refused.status_code == 403
    assert status_of(pc) == "pending"


def test_the_scan_with_number_matching(phone_browser, make_pc, settings):
    settings.QRLOGIN = {"VERIFICATION": "number"}
    pc = make_pc()
    url = f"/qrlogin/s/{pc.id}/"
    csrf = csrf_of(phone_browser.get(url))
    temp = phone_browser.post(url, {"action": "scan", "csrfmiddlewaretoken": csrf}).json()
    assert temp["verification"] == "number"
    step = phone_browser.post(
        url, {"action": "confirm", "temp_token": temp["temp_token"], "csrfmiddlewaretoken": csrf}
    )
    assert 'name="verification_code"' in step.content.decode()
    number = pc.status().json()["verification_code"]
    done = phone_browser.post(
        url,
        {
            "action": "confirm",
            "temp_token": temp["temp_token"],
            "verification_code": number,
            "csrfmiddlewaretoken": csrf,
        },
    )
    assert done.status_code == 200 and status_of(pc) == "confirmed"


def test_a_refused_scan_answers_the_contracts_error(phone_browser, make_pc, settings):
    settings.QRLOGIN = {"REQUIRE_SAME_NETWORK": True}
    pc = make_pc()
    url = f"/qrlogin/s/{pc.id}/"
    csrf = csrf_of(phone_browser.get(url, REMOTE_ADDR="198.51.100.9"))
    refused = phone_browser.post(
        url, {"action": "scan", "csrfmiddlewaretoken": csrf}, REMOTE_ADDR="198.51.100.9"
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "different_network"
    assert status_of(pc) == "pending"
