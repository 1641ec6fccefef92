"""Threat 12: secrets kept where they should not be: caches, logs, URLs.

A shared proxy or the browser's disk cache that keeps a response holding a secret (the PC
secret, a temp token, a device token, the status of somebody's login) serves it to the next
person; a log line or a URL with a secret in it travels to log files, monitoring, Referer
headers and browser history.

Defences: every qrlogin and accounts answer is ``Cache-Control: no-store`` (pages included,
errors and 429s included, and the ASGI long-poll path: test_02); secrets travel only in
bodies and headers, never in URLs; nothing logs a secret (the device-token issuer logs the
token's non-secret 8-character lookup prefix only).
"""

import logging
import re

import pytest
from django.core.signals import request_started
from django.test import Client, RequestFactory
from django.views.debug import SafeExceptionReporterFilter
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD
from tests.security.support import PCBrowser, PhoneBrowser, full_logins

pytestmark = pytest.mark.django_db


def answers_of_every_kind(phone, make_phone, pc, settings) -> dict:
    """One response of each kind a client can get, keyed by a readable name."""
    out = {}
    out["create 201"] = APIClient().post("/qrlogin/api/sessions/", {}, format="json")
    out["status 200"] = pc.status()
    out["status 404"] = pc.status(secret="wrong")  # noqa: S106  (a wrong secret)
    out["status 400"] = pc.status("?wait=99")
    scan = phone.scan(pc.id)
    out["scan 200"] = scan
    out["scan 404"] = phone.scan("D" * 32)
    out["scan 409"] = make_phone().scan(pc.id)
    out["scan 401"] = APIClient().post("/qrlogin/api/scan/", {"qr": pc.id}, format="json")
    out["confirm 403"] = phone.confirm(pc.id, "x" * 43)
    out["confirm 200"] = phone.confirm(pc.id, scan.json()["temp_token"])
    out["complete 200 token"] = pc.complete({"device_id": "laptop"})
    out["complete 409"] = pc.complete({"device_id": "laptop"})
    denied = APIClient().post("/qrlogin/api/sessions/", {}, format="json").json()
    out["deny 200"] = phone.deny(denied["id"], phone.scan(denied["id"]).json()["temp_token"])
    cancelled = APIClient().post("/qrlogin/api/sessions/", {}, format="json").json()
    out["cancel 200"] = APIClient().delete(
        f"/qrlogin/api/sessions/{cancelled['id']}/", HTTP_X_QRLOGIN_SECRET=cancelled["secret"]
    )
    browser = PCBrowser()
    out["qr page"] = browser.page
    out["qr renewal"] = browser.client.post(
        "/qrlogin/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=browser.csrf
    )
    out["browser status"] = browser.status()
    out["browser complete 403"] = browser.complete(csrf=False)
    phone_browser = PhoneBrowser(phone.user)
    out["phone page"] = phone_browser.page(browser.id)
    out["phone page confirmed"] = phone_browser.post(browser.id, {"action": "confirm"})
    out["browser complete 200"] = browser.complete()
    out["code page"] = phone_browser.client.get("/qrlogin/code/")
    login = {
        "username": phone.user.username,
        "password": DEFAULT_PASSWORD,
        "device_id": "phone-x",
        "device_type": "android",
    }
    out["token login 201"] = APIClient().post("/accounts/api/token/", login, format="json")
    out["token login 401"] = APIClient().post(
        "/accounts/api/token/", {**login, "password": "wrong"}, format="json"
    )
    out["me 200"] = phone.client.get("/accounts/api/me/")
    out["devices 200"] = phone.client.get("/accounts/api/devices/")
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "0/min", "scan": "0/min"}}
    out["create 429"] = APIClient().post("/qrlogin/api/sessions/", {}, format="json")
    out["qr page 429"] = Client().get("/qrlogin/")
    out["scan 429"] = phone.scan(pc.id)
    return out


def test_every_answer_is_no_store(phone, make_phone, pc, settings):
    answers = answers_of_every_kind(phone, make_phone, pc, settings)
    expected = {name: int(name.split()[-1]) for name in answers if name.split()[-1].isdigit()}
    assert {n: answers[n].status_code for n in expected} == expected
    for name, response in answers.items():
        assert "no-store" in response.get("Cache-Control", ""), name


@pytest.fixture
def debug_logs(settings, caplog):
    """Every logger at DEBUG, SQL included (django.db.backends logs it when DEBUG is on)."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "django.request", "qrlogin_accounts", "qrlogin"):
        caplog.set_level(logging.DEBUG, logger=name)

    def text() -> str:
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
        )

    return text


def test_no_secret_in_logs_at_debug_level(clock, debug_logs, recorded, phone):
    full_logins(clock)
    browser, phone_browser = PCBrowser(), PhoneBrowser(phone.user)
    assert phone_browser.post(browser.id, {"action": "confirm"}).status_code == 200
    # And some failures, which Django logs as warnings with their paths.
    browser.complete(csrf=False)
    phone.confirm(browser.id, "x" * 43)
    APIClient().get(f"/qrlogin/api/sessions/{browser.id}/", HTTP_X_QRLOGIN_SECRET="x" * 43)
    assert browser.complete().status_code == 200

    logged = debug_logs()
    assert "django.db.backends" in logged and "Not Found" in logged
    assert recorded.found_in(logged) == []


def test_the_number_step_of_the_phone_page_logs_no_temp_token(
    settings, debug_logs, recorded, phone
):
    settings.QRLOGIN = {"VERIFICATION": "number"}
    browser, phone_browser = PCBrowser(), PhoneBrowser(phone.user)
    step = phone_browser.post(browser.id, {"action": "confirm"})
    temp = re.search(r'name="temp_token" value="([^"]+)"', step.content.decode())[1]
    number = browser.status().json()["verification_code"]
    done = phone_browser.post(
        browser.id, {"action": "confirm", "temp_token": temp, "verification_code": number}
    )
    assert done.status_code == 200
    logged = debug_logs()
    assert temp not in logged
    assert recorded.found_in(logged) == []


def test_no_secret_in_any_url(clock, recorded, phone):
    urls: list[str] = []

    def remember(sender, environ, **kwargs):
        urls.append(f"{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")

    request_started.connect(remember, dispatch_uid="sec-urls")
    try:
        full_logins(clock)
        browser = PCBrowser(next_url="/after/")
        html = browser.page.content.decode()
        urls += re.findall(r'data-[a-z-]*url="([^"]+)"', html)
        urls += re.findall(r'href="([^"]+)"', html)
        temp = phone.scan(browser.id).json()["temp_token"]
        phone.confirm(browser.id, temp)
        urls.append(browser.complete().json()["redirect_url"])
        created = APIClient().post("/qrlogin/api/sessions/", {}, format="json").json()
        urls.append(created["qr_url"])
    finally:
        request_started.disconnect(dispatch_uid="sec-urls")
    assert len(urls) > 20
    assert recorded.found_in("\n".join(urls)) == []


def test_error_reports_hide_the_secret_headers():
    """A 500 mails the request's headers to ADMINS; Django's filter must blank ours."""
    request = RequestFactory().post(
        "/qrlogin/api/sessions/x/complete/",
        HTTP_X_QRLOGIN_SECRET="the-pc-secret",  # noqa: S106  (a made-up secret)
        HTTP_AUTHORIZATION="Token the-device-token",
    )
    meta = SafeExceptionReporterFilter().get_safe_request_meta(request)
    assert "the-pc-secret" not in repr(meta)
    assert "the-device-token" not in repr(meta)
