"""Threat 7: clickjacking.

Another site frames the phone confirm page (invisible, under a "Play" button) so the victim's
tap lands on Confirm; or frames the QR page to dress up a relay (threat 1).

Defence: every qrlogin page, whatever its status code, answers ``X-Frame-Options: DENY`` and
``Content-Security-Policy: frame-ancestors 'none'``, set by the views themselves so a host
site's middleware settings cannot weaken them.
"""

import pytest
from django.test import Client

from tests.security.support import PCBrowser, PhoneBrowser, unchanged

pytestmark = pytest.mark.django_db


def assert_unframeable(response) -> None:
    where = (response.status_code, response.request["PATH_INFO"])
    assert response.get("X-Frame-Options") == "DENY", where
    assert "frame-ancestors 'none'" in response.get("Content-Security-Policy", ""), where


def pc_page_responses() -> list:
    browser = PCBrowser()
    renewal = browser.client.post(
        "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
    )
    return [browser.page, renewal]


def phone_page_responses(user, other_phone) -> list:
    phone = PhoneBrowser(user)
    pending = PCBrowser()
    scanned_elsewhere = PCBrowser()
    other_phone.scan(scanned_elsewhere.id)
    responses = [
        phone.page(pending.id),  # 200, shows who asks
        phone.post(pending.id, {"action": "nonsense"}),  # 400
        phone.post(scanned_elsewhere.id, {"action": "confirm"}),  # 409
        phone.client.get("/qrlogin/s/" + "A" * 32 + "/"),  # 404
        Client().get(f"/qrlogin/s/{pending.id}/"),  # 302 to the login page
        phone.post(pending.id, {"action": "confirm"}),  # 200, confirmed
        phone.client.get("/qrlogin/code/"),  # 200, the pairing-code page
    ]
    csrf = responses[-1].cookies.get("csrftoken") or phone.client.cookies["csrftoken"]
    responses.append(
        phone.client.post(
            "/qrlogin/code/", {"code": "ABCD-EFGH", "csrfmiddlewaretoken": csrf.value}
        )
    )  # 404, no such code
    assert [r.status_code for r in responses] == [200, 400, 409, 404, 302, 200, 200, 404]
    # Left out: the 403 of a failed CSRF check. Django's CsrfViewMiddleware answers it before
    # the view runs, so it carries only what the host's middleware adds; it has no control to
    # click (see test_the_csrf_failure_page_has_nothing_to_click).
    return responses


def test_the_qr_page(phone):
    for response in pc_page_responses():
        assert_unframeable(response)


def test_the_throttled_qr_page(settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "1/min"}}
    Client().get("/qrlogin/")
    with unchanged():
        refused = Client().get("/qrlogin/")
    assert refused.status_code == 429
    assert_unframeable(refused)


def test_the_phone_confirm_page_in_every_outcome(phone, make_phone):
    for response in phone_page_responses(phone.user, make_phone()):
        assert_unframeable(response)


def test_a_lax_host_setting_does_not_weaken_it(settings, phone, make_phone):
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "django.middleware.clickjacking.XFrameOptionsMiddleware"
    ]
    for response in [*pc_page_responses(), *phone_page_responses(phone.user, make_phone())]:
        assert_unframeable(response)


def test_looking_at_a_framed_page_changes_nothing(phone):
    pc, browser = PCBrowser(), PhoneBrowser(phone.user)
    with unchanged():
        browser.page(pc.id)


def test_the_csrf_failure_page_has_nothing_to_click(phone):
    pending, browser = PCBrowser(), PhoneBrowser(phone.user)
    with unchanged():
        refused = browser.post(pending.id, {"action": "confirm"}, csrf=False)
    assert refused.status_code == 403
    html = refused.content.decode().lower()
    assert "<form" not in html and "<button" not in html
    assert refused["X-Frame-Options"] == "DENY"  # from the demo's XFrameOptionsMiddleware
