"""Shared fixtures: a controlled clock, phones with device tokens, PCs with QR sessions."""

import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.cache import cache
from rest_framework.test import APIClient

from qrlogin_accounts.models import Device
from tests.factories import DeviceFactory, UserFactory, auth_headers, make_device_token

PC_IP = "203.0.113.10"
PHONE_IP = "203.0.113.77"  # same /24 as the PC
FAR_IP = "198.51.100.5"
PC_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def pytest_configure(config: pytest.Config) -> None:
    """Put an in-memory SQLite test database in a file, for the live-server tests.

    pytest-django hands every live-server thread the test thread's one in-memory connection,
    so a PC's long poll reading while the phone writes fails with "database table is locked".
    A file lets each server thread open its own connection. PostgreSQL is left alone.
    """
    from django.db import connections

    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "sqlite":
            continue
        test = connection.settings_dict.setdefault("TEST", {})
        name = str(test.get("NAME") or "")
        if not name or name == ":memory:" or "mode=memory" in name:
            test["NAME"] = os.path.join(
                tempfile.gettempdir(), f"qrlogin-test-{os.getpid()}-{alias}.sqlite3"
            )


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Real hashing costs ~0.3 s a user by design; tests only need it to be correct."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
