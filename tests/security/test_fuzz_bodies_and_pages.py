"""No 500 on any input, on any path (issue 10, row 4).

A 2 KB body of nested JSON (``[[[[…]]]]``, depth 1,000) answered an HTML 500
(``RecursionError``) on create, scan, confirm, complete and the token login; the PC page with
a ``next`` longer than 2,000 characters or holding a NUL byte answered 500 (a database error)
where the API answers 400. Now every body-reading endpoint answers 400 ``invalid`` for a body
it cannot read (``qrlogin.parsers``), the pages ignore a ``next`` the API would refuse, and
the pages and the accounts endpoints are fuzzed, not only the qrlogin API
(``test_fuzz_api.py``, ``tests/accounts/test_fuzz.py``).
"""

from urllib.parse import quote

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from qrlogin.models import QRLoginSession
from tests.factories import UserFactory
from tests.security.support import PCBrowser, PhoneBrowser, assert_error

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text a browser can put in a URL or a form (lone surrogates cannot be encoded at all).
url_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=2100)


@pytest.fixture(autouse=True)
def _no_throttles(settings):
    settings.QRLOGIN = {"THROTTLE_RATES": None}
    settings.ACCOUNTS = {"THROTTLE_RATES": None}


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BODIES = {
    "arrays nested 1,000 deep (2 KB)": (b"[" * 1000 + b"]" * 1000, JSON),
    "arrays nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, JSON),
    "objects nested 1,000 deep": (b'{"a":' * 1000 + b"1" + b"}" * 1000, JSON),
    "a field nested 40 deep": (b'{"next": ' + b"[" * 40 + b"]" * 40 + b"}", JSON),
    "unclosed nesting": (b"[" * 5000, JSON),
    "longer than DATA_UPLOAD_MAX_MEMORY_SIZE": (b'{"next": "' + b"a" * 20_000 + b'"}', JSON),
    "not UTF-8": (b'{"next": "\xff\xfe"}', JSON),
    "a 5,000-digit number": (b'{"next": ' + b"1" * 5000 + b"}", JSON),
    "NaN": (b'{"next": NaN}', JSON),
    "too many form fields": (b"&".join(b"f%d=1" % i for i in range(50)), FORM),
    "too many multipart fields": (
        encode_multipart(BOUNDARY, {f"f{i}": "1" for i in range(50)}),
        MULTIPART_CONTENT,
    ),
    "multipart without a boundary": (b"--x\r\ngarbage", "multipart/form-data"),
}


@pytest.fixture
def endpoints(phone, pc):
    """Every endpoint that reads a body, with the credentials that get it that far."""
    secret = pc.headers()
    return {
        "create": (APIClient(), "/qrlogin/api/sessions/", {}),
        "complete": (APIClient(), f"{pc.url}complete/", secret),
        "scan": (phone.client, "/qrlogin/api/scan/", {}),
        "confirm": (phone.client, "/qrlogin/api/confirm/", {}),
        "deny": (phone.client, "/qrlogin/api/deny/", {}),
        "token login": (APIClient(), "/accounts/api/token/", {}),
    }


ENDPOINTS = ["create", "complete", "scan", "confirm", "deny", "token login"]


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_unreadable_body_is_a_400_invalid(settings, endpoints, endpoint, body):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client, path, headers = endpoints[endpoint]
    raw, content_type = BODIES[body]
    response = client.generic("POST", path, raw, content_type, **headers)
    assert response["Content-Type"] == "application/json"
    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    ("language", "detail"),
    [("en", "The request body is nested too deeply."), ("zh-hans", "请求体嵌套层级过深。")],
)
def test_the_error_is_in_the_request_language(language, detail):
    body = b'{"next": ' + b"[" * 40 + b"]" * 40 + b"}"
    response = APIClient().generic(
        "POST", "/qrlogin/api/sessions/", body, JSON, HTTP_ACCEPT_LANGUAGE=language
    )
    assert assert_error(response, 400, "invalid")["detail"] == detail


def test_a_readable_body_still_works(endpoints):
    client, path, _headers = endpoints["create"]
    assert client.post(path, {"next": "/a/"}, format="json").status_code == 201


@pytest.mark.parametrize("content_type", [JSON, FORM, MULTIPART_CONTENT])
def test_an_unknown_charset_is_ignored_as_django_does(endpoints, content_type):
    client, path, _headers = endpoints["create"]
    response = client.generic("POST", path, b"", f"{content_type}; charset=no-such-charset")
    assert response.status_code == 201


@FUZZ
@given(next_url=url_text)
@example(next_url="a" * 2001)
@example(next_url="/\x00")
@example(next_url="/ok\x00/" + "b" * 3000)
def test_the_pc_page_takes_any_next(db, next_url):
    browser = PCBrowser(next_url=next_url)
    stored = QRLoginSession.objects.get(public_id=browser.id).next_url
    assert stored in ("", next_url.strip())
    if len(next_url) > 2000 or "\x00" in next_url:
        assert stored == ""


@pytest.mark.parametrize(
    "query", ["next=%00", "next=%ED%A0%80", "next=%FF%FE", "next=" + "%2F" * 3000, "next&next"]
)
def test_the_pc_page_takes_any_query_string(client, query):
    assert client.get(f"/qrlogin/?{query}").status_code == 200


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from([JSON, FORM, "text/plain"]))
def test_the_pc_page_renewal_takes_any_body(db, body, content_type):
    browser = PCBrowser()
    response = browser.client.generic(
        "POST", "/qrlogin/", body, content_type, HTTP_X_CSRFTOKEN=browser.csrf
    )
    assert response.status_code == 200, response.content[:300]


@pytest.fixture
def phone_browser(db):
    return PhoneBrowser(UserFactory(), csrf_checks=False)


@FUZZ
@given(code=url_text)
@example(code="ABCD\x00EFGH")
@example(code="\x00")
def test_the_code_page_takes_any_code(phone_browser, code):
    response = phone_browser.client.post("/qrlogin/code/", {"code": code})
    assert response.status_code in (302, 404), response.content[:300]


@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(["action", "temp_token", "verification_code"]), url_text, max_size=3
    ),
    state=st.sampled_from(["pending", "confirmed"]),
)
@example(fields={"action": "confirm", "temp_token": "\x00"}, state="confirmed")
@example(fields={"action": "confirm", "verification_code": "\x00" * 9}, state="pending")
@example(fields={"action": "deny", "temp_token": "x" * 3000}, state="confirmed")
def test_the_phone_page_takes_any_form(phone_browser, fields, state):
    browser = PCBrowser()
    if state == "confirmed":
        phone_browser.post(browser.id, {"action": "confirm", "temp_token": ""}, csrf=False)
    response = phone_browser.client.post(f"/qrlogin/s/{browser.id}/", fields)
    assert response.status_code in (200, 400, 403, 404, 409, 410), response.content[:300]


@FUZZ
@given(public_id=url_text.filter(lambda s: "/" not in s and s))
def test_the_phone_page_takes_any_id(phone_browser, public_id):
    response = phone_browser.client.get(f"/qrlogin/s/{quote(public_id, safe='')}/")
    assert response.status_code in (200, 404), response.content[:300]


@FUZZ
@given(
    depth=st.integers(min_value=33, max_value=3000),
    opener=st.sampled_from([b"[", b'{"a":']),
    path=st.sampled_from(["/accounts/api/token/", "/qrlogin/api/sessions/"]),
)
def test_nesting_of_any_depth(db, depth, opener, path):
    closer = b"]" if opener == b"[" else b"}"
    body = opener * depth + b"1" + closer * depth
    response = APIClient().generic("POST", path, body, JSON)
    assert_error(response, 400, "invalid")
