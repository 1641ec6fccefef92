"""The PC page's next poll after a failed one: the server's ``Retry-After``, else its own backoff.

A status poll past the limits on waiting polls gets 429 ``too_many_waiting`` or 503
``unavailable`` with ``Retry-After`` (docs/protocol.md, "Waiting PCs: limits"); the page waits
that long (1 to 120 s) instead of its own 2, 4 ... 30 s. The page's clock is Playwright's,
paused: it moves only when the test says, so "not before 7 s, at 7 s" is exact, not slept.
"""

import json
from datetime import datetime

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each status poll the page starts, at the page's (fake) time, recorded as the script calls fetch.
RECORD_POLLS = """
window.statusPolls = [];
var realFetch = window.fetch;
window.fetch = function (url) {
  if (String(url).indexOf("wait=") !== -1) window.statusPolls.push(Date.now());
  return realFetch.apply(this, arguments);
};
"""
ERROR = "Connection problem; retrying…"
REFUSALS = {"too_many_waiting": 429, "unavailable": 503}  # code: status (qrlogin/exceptions.py)


def is_status_poll(url: str) -> bool:
    return "/qrlogin/api/sessions/" in url and "wait=" in url


@pytest.fixture
def paused_page(new_context, settings) -> Page:
    """A page whose clock stands still until ``page.clock.run_for``; its code outlives the
    longest wait here (at 0:00 the page renews the code, and that polls too)."""
    settings.QRLOGIN = {"QR_TTL": 600}
    page = new_context().new_page()
    page.clock.install(time=datetime(2026, 11, 26, 12, 0))
    page.clock.pause_at(datetime(2026, 11, 26, 12, 0, 1))
    page.add_init_script(RECORD_POLLS)
    return page


def refuse_first_poll(page: Page, code: str, retry_after: str | None) -> None:
    """The first status poll is refused as the waiting limits refuse it; the rest go through."""
    refused = []

    def answer(route: Route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        route.fulfill(
            status=REFUSALS[code],
            headers=headers,
            content_type="application/json",
            body=json.dumps({"detail": "Try again shortly.", "code": code}),
        )

    page.route(is_status_poll, answer)


def polls(page: Page) -> list[float]:
    return page.evaluate("window.statusPolls")


def next_poll_after(page: Page, expected_ms: int) -> None:
    """Nothing before ``expected_ms`` of the page's time has passed, the next poll at it."""
    expect(page.locator("[data-qrlogin-state]")).to_have_text(ERROR)  # the refusal is handled
    page.clock.run_for(expected_ms - 1)
    assert len(polls(page)) == 1, "polled again too early"
    page.clock.run_for(1)
    first, second = polls(page)
    assert second - first == expected_ms


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
@pytest.mark.parametrize(("retry_after", "expected_ms"), [("7", 7_000), ("90", 90_000)])
def test_a_refused_poll_waits_the_servers_retry_after(
    paused_page, live_server, refusal, retry_after, expected_ms
):
    refuse_first_poll(paused_page, refusal, retry_after)
    paused_page.goto(f"{live_server.url}/qrlogin/")
    next_poll_after(paused_page, expected_ms)


@pytest.mark.parametrize(
    ("retry_after", "expected_ms"),
    [("3600", 120_000), ("0", 1_000)],
    ids=["an-hour-is-two-minutes", "zero-is-one-second"],
)
def test_retry_after_is_kept_within_one_second_and_two_minutes(
    paused_page, live_server, retry_after, expected_ms
):
    refuse_first_poll(paused_page, "too_many_waiting", retry_after)
    paused_page.goto(f"{live_server.url}/qrlogin/")
    next_poll_after(paused_page, expected_ms)


@pytest.mark.parametrize(
    "retry_after", [None, "Wed, 21 Oct 2026 07:28:00 GMT"], ids=["none", "an-http-date"]
)
def test_without_retry_after_in_seconds_the_page_backs_off_on_its_own(
    paused_page, live_server, retry_after
):
    refuse_first_poll(paused_page, "unavailable", retry_after)
    paused_page.goto(f"{live_server.url}/qrlogin/")
    next_poll_after(paused_page, 2_000)  # the first failure's pause (then 4, 8, 16, 30 s)


def test_the_poll_after_the_wait_goes_on_as_before(paused_page, live_server):
    """Once the retried poll is answered, the page is back to "scan with your phone"."""
    refuse_first_poll(paused_page, "too_many_waiting", "5")
    paused_page.goto(f"{live_server.url}/qrlogin/")
    next_poll_after(paused_page, 5_000)
    expect(paused_page.locator("[data-qrlogin-state]")).to_have_text("Scan with your phone")
