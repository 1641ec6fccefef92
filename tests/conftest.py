"""Shared fixtures: a controlled clock, phones with device tokens, PCs with QR sessions.

Two settings modules run this tree: ``tests.settings`` (the suite) and
``tests.settings_qrlogin_only`` (qrlogin installed without ``qrlogin_accounts``), which runs only
``tests/qrlogin_only/``. Nothing here imports ``qrlogin_accounts`` at module level, so this file
loads under both.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import time_machine
from django.apps import apps
from django.core.cache import cache
from rest_framework.test import APIClient

if TYPE_CHECKING:
    from qrlogin_accounts.models import Device
    from tests.processes import RedisServer

PC_IP = "203.0.113.10"
PHONE_IP = "203.0.113.77"  # same /24 as the PC
FAR_IP = "198.51.100.5"
PC_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)

QRLOGIN_ONLY_TESTS = Path(__file__).parent / "qrlogin_only"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Each settings module collects its own tests: the suite, or ``tests/qrlogin_only/``.

    Without ``qrlogin_accounts`` installed, importing the suite's modules fails (their models
    are not installed), so under ``tests.settings_qrlogin_only`` everything else is left out;
    under the suite's settings the qrlogin-only tests are left out (they need it absent).
    """
    inside = _in_qrlogin_only(collection_path)
    if apps.is_installed("qrlogin_accounts"):
        return True if inside else None
    leads_there = collection_path in QRLOGIN_ONLY_TESTS.parents
    return None if inside or leads_there else True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The same split for files named on the command line, which pytest collects regardless."""
    alone = not apps.is_installed("qrlogin_accounts")
    keep = [item for item in items if _in_qrlogin_only(item.path) == alone]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


def _in_qrlogin_only(path: Path) -> bool:
    return path == QRLOGIN_ONLY_TESTS or QRLOGIN_ONLY_TESTS in path.parents


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's server, started once the test database exists.

    Started before (a run of browser tests alone), it saw SQLite's ``:memory:`` name and handed
    every server thread the test thread's one connection, which then serves the file database
    (tests/settings.py) from several threads at once: a segfault in sqlite3.
    """
    return live_server


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    """Frozen time; ``clock.shift(seconds)`` moves it. Never sleep to wait for a deadline."""
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server of this test's own, for outage tests; skipped without one."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    from tests.processes import RedisServer

    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Phone:
    user: object
    device: Device
    token: str
    client: APIClient = field(default_factory=APIClient)

    def post(self, path: str, data: dict | None = None, ip: str = PHONE_IP, **extra):
        return self.client.post(path, data or {}, format="json", REMOTE_ADDR=ip, **extra)

    def scan(self, qr: str, **kw):
        return self.post("/qrlogin/api/scan/", {"qr": qr}, **kw)

    def confirm(self, session: str, temp_token: str, **body):
        return self.post(
            "/qrlogin/api/confirm/", {"session": session, "temp_token": temp_token, **body}
        )

    def deny(self, session: str, temp_token: str):
        return self.post("/qrlogin/api/deny/", {"session": session, "temp_token": temp_token})


@pytest.fixture
def make_phone(db):
    from tests.factories import DeviceFactory, UserFactory, auth_headers, make_device_token

    def make(user=None, **device_kwargs) -> Phone:
        device = DeviceFactory(user=user or UserFactory(), **device_kwargs)
        _, raw = make_device_token(device)
        phone = Phone(user=device.user, device=device, token=raw)
        phone.client.credentials(**auth_headers(raw, device))
        return phone

    return make


@pytest.fixture
def phone(make_phone) -> Phone:
    return make_phone()


@dataclass
class PC:
    client: APIClient
    data: dict

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def url(self) -> str:
        return f"/qrlogin/api/sessions/{self.id}/"

    def headers(self, secret: str | None = None) -> dict:
        return {"HTTP_X_QRLOGIN_SECRET": secret or self.data["secret"]}

    def status(self, query: str = "", secret: str | None = None):
        return self.client.get(f"{self.url}{query}", **self.headers(secret))

    def complete(self, body: dict | None = None, secret: str | None = None):
        return self.client.post(
            f"{self.url}complete/", body or {}, format="json", **self.headers(secret)
        )

    def cancel(self, secret: str | None = None):
        return self.client.delete(self.url, **self.headers(secret))


@pytest.fixture
def make_pc(db):
    def make(next_url: str = "", ip: str = PC_IP) -> PC:
        client = APIClient(REMOTE_ADDR=ip, HTTP_USER_AGENT=PC_UA)
        body = {"next": next_url} if next_url else {}
        response = client.post("/qrlogin/api/sessions/", body, format="json")
        assert response.status_code == 201, response.content
        return PC(client=client, data=response.json())

    return make


@pytest.fixture
def pc(make_pc) -> PC:
    return make_pc()
