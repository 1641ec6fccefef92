"""Threat 8: open redirect through ``next``.

The attacker sends the victim a link to the real login page with ``next`` pointing at their
own site (a copy of this one asking to "confirm your password"). After a genuine QR login the
victim lands there, trusting it because the login just worked.

Defence: ``next`` is kept only if ``url_has_allowed_host_and_scheme`` accepts it for this
host (and https when the request is secure), both when the QR is created and when the login
completes; otherwise the redirect is ``LOGIN_REDIRECT_URL``.
"""

import pytest
from rest_framework.test import APIClient

from tests.security.support import PCBrowser, session_row

pytestmark = pytest.mark.django_db

UNSAFE = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example/",
    "///evil.example/",
    "////evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "\\/evil.example/",
    "/\t/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "https:evil.example",
    "http:/evil.example",
    "https:///evil.example",
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://testserver/",
    "http://testserver@evil.example/",
    "http://evil.example\\@testserver/",
    "https://testserver.evil.example/",
    "http://evil.example#@testserver",
    "http://[::ffff:7f00:1]/",
]
SAFE = ["/dashboard/?tab=1", "/a/b/c/#x", "http://testserver/inside/", "?only=query"]


def login_through_the_page(phone, next_url: str, **client_kwargs):
    browser = PCBrowser(next_url=next_url, **client_kwargs)
    temp = phone.scan(browser.id).json()["temp_token"]
    assert phone.confirm(browser.id, temp).status_code == 200
    done = browser.complete()
    assert done.status_code == 200, done.content
    return browser, done.json()["redirect_url"]


@pytest.mark.parametrize("next_url", UNSAFE)
def test_unsafe_next_from_the_page_goes_home(phone, next_url):
    browser, redirect = login_through_the_page(phone, next_url)
    assert redirect == "/"
    assert session_row(browser.id).next_url == ""  # never even stored


@pytest.mark.parametrize("next_url", UNSAFE)
def test_unsafe_next_from_the_api_goes_home(phone, next_url):
    client = APIClient()
    created = client.post("/qrlogin/api/sessions/", {"next": next_url}, format="json").json()
    assert session_row(created["id"]).next_url == ""
    temp = phone.scan(created["id"]).json()["temp_token"]
    phone.confirm(created["id"], temp)
    done = client.post(
        f"/qrlogin/api/sessions/{created['id']}/complete/",
        {},
        format="json",
        HTTP_X_QRLOGIN_SECRET=created["secret"],
    )
    assert done.json() == {"status": "completed", "redirect_url": "/"}


@pytest.mark.parametrize("next_url", SAFE)
def test_safe_next_is_kept(phone, next_url):
    _browser, redirect = login_through_the_page(phone, next_url)
    assert redirect == next_url


def test_no_downgrade_from_https(phone):
    # Browsers send a Referer; Django's CSRF check insists on it over https.
    https = {"secure": True, "HTTP_REFERER": "https://testserver/qrlogin/"}
    _browser, redirect = login_through_the_page(phone, "http://testserver/inside/", **https)
    assert redirect == "/"
    _browser, redirect = login_through_the_page(phone, "https://testserver/inside/", **https)
    assert redirect == "https://testserver/inside/"


def test_the_fallback_is_the_configured_one(phone, settings):
    settings.QRLOGIN = {"LOGIN_REDIRECT_URL": "/welcome/"}
    _browser, redirect = login_through_the_page(phone, "https://evil.example/")
    assert redirect == "/welcome/"


def test_a_forged_host_header_cannot_make_evil_the_same_host(settings):
    """ "Same host" is the request's host, so the host must be validated: with ALLOWED_HOSTS
    set (as in production), a request for another host is refused outright."""
    settings.ALLOWED_HOSTS = ["testserver"]
    client = APIClient(HTTP_HOST="evil.example")
    response = client.post(
        "/qrlogin/api/sessions/", {"next": "http://evil.example/"}, format="json"
    )
    assert response.status_code == 400
