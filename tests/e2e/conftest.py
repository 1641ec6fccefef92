"""Fixtures for the browser tests: one headless Chromium per module, a fresh context per page.

The machine has no network, so Chromium is started with everything that would phone home
turned off (without these flags it hangs on connections). Playwright's sync API runs an event
loop in the test thread, which makes Django's ORM refuse to run there (SynchronousOnlyOperation);
as Django's docs suggest for exactly this case, DJANGO_ALLOW_ASYNC_UNSAFE is set while the
browser is alive.

The SQLite test database is a file for live-server tests: see ``pytest_configure`` in
``tests/conftest.py``.
"""

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
REQUIRE_BROWSER_ENV = "QRLOGIN_REQUIRE_BROWSER"
QR_URL_RE = r"/qrlogin/s/(?P<id>[A-Za-z0-9_-]{22,64})/"


@pytest.fixture(scope="module")
def _allow_async_unsafe() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser(_allow_async_unsafe):
    """Debian's Chromium, headless; skipped when absent unless CI requires it."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get(REQUIRE_BROWSER_ENV):
            pytest.fail(f"{reason}, and {REQUIRE_BROWSER_ENV} is set", pytrace=False)
        pytest.skip(f"{reason}; set {REQUIRE_BROWSER_ENV}=1 to make this a failure")

    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(browser):
    """Factory of isolated browser contexts (own cookies), all closed after the test."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def log_in(page, base_url: str, user) -> None:
    """Log ``user`` in through the site's login form (the factories' password)."""
    from tests.factories import DEFAULT_PASSWORD

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{base_url}/")


def read_qr(page) -> str:
    """Screenshot the QR as rendered and decode it: exactly one QR code, its text."""
    import zxingcpp
    from PIL import Image

    png = page.locator("[data-qrlogin-svg] svg").screenshot()
    found = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(found) == 1, f"expected one QR code in the screenshot, found {len(found)}"
    return found[0].text


def session_id_of(qr_text: str, base_url: str) -> str:
    match = re.fullmatch(re.escape(base_url) + QR_URL_RE, qr_text)
    assert match, f"the QR does not hold {base_url}/qrlogin/s/<id>/: {qr_text!r}"
    return match["id"]


SCREENSHOTS_ENV = "QRLOGIN_SCREENSHOTS"
_screenshot_dirs: set[Path] = set()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """A folder a person opens to look at the pages the tests saw: ``$QRLOGIN_SCREENSHOTS``,
    else ``tests/e2e/screenshots/`` (ignored by git). Its path is printed at the end of the run."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or Path(__file__).parent / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    _screenshot_dirs.add(folder.resolve())
    return folder


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in sorted(_screenshot_dirs):
        terminalreporter.write_line(f"screenshots of the pages: {folder}")
