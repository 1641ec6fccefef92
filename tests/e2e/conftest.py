"""Fixtures for the browser tests: one headless Chromium per module, a fresh context per page.

The machine has no network, so Chromium is started with everything that would phone home
turned off (without these flags it hangs on connections). Playwright's sync API runs an event
loop in the test thread, which makes Django's ORM refuse to run there (SynchronousOnlyOperation);
as Django's docs suggest for exactly this case, DJANGO_ALLOW_ASYNC_UNSAFE is set while the
browser is alive.

The live server must not share an in-memory SQLite database with the test thread: pytest-django
then hands every server thread the one shared connection, and the PC's long poll reading the
session while the phone writes it fails with "database table is locked" (and their transactions
interleave). So when these tests are collected, an in-memory SQLite test database becomes a
temporary file, which each server thread opens on its own connection. PostgreSQL is untouched.
"""

import os
import tempfile
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


def pytest_configure(config: pytest.Config) -> None:
    """Put an in-memory SQLite test database in a file (see the module docstring)."""
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        test = connection.settings_dict.setdefault("TEST", {})
        name = str(test.get("NAME") or "")
        if not name or name == ":memory:" or "mode=memory" in name:
            test["NAME"] = os.path.join(
                tempfile.gettempdir(), f"qrlogin-e2e-{os.getpid()}-{alias}.sqlite3"
            )


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
