"""Real processes for the tests: uvicorn servers sharing PostgreSQL and Redis, a private Redis.

``needs_postgres_and_redis`` skips where the services are absent: in the SQLite run, always.
The PostgreSQL + Redis run is required under CI (``REQUIRE_SERVICES=1``: nox fails when the
services do not answer), so there these tests run. ``RedisServer`` is what the
``private_redis`` fixture (tests/conftest.py) starts; without redis-server it skips.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[1]

needs_postgres_and_redis = pytest.mark.skipif(
    connection.vendor != "postgresql" or "redis" not in settings.CACHES["default"]["BACKEND"],
    reason="needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20) -> None:
    """Until the process accepts connections (it is starting up; bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)  # a process starting, not application state
    raise RuntimeError(f"server on {port} did not start")


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Server:
    def __init__(self, redis_url: str, fallback: float = 2, throttles: bool = False) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.server_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "TEST_NOTIFY_FALLBACK": str(fallback),
            "TEST_THROTTLES": "1" if throttles else "0",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(self.port),
             "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        wait_for_port(self.port, self.proc)

    def call(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
             timeout: float = 40) -> tuple[int, dict]:  # fmt: skip
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def phone_headers(server: Server, device_id: str) -> dict:
    user = UserFactory()
    status, body = server.call(
        "POST", "/accounts/api/token/",
        {"username": user.username, "password": DEFAULT_PASSWORD, "device_id": device_id,
         "device_type": "android"},
    )  # fmt: skip
    assert status == 201, body
    return {"Authorization": f"Token {body['token']}", "X-Device-ID": device_id}


class RedisServer:
    """A redis-server of the test's own on a free port, for outages: ``stop()``, ``start()``.

    Nothing is saved to disk, so a restarted one comes back empty (its counts are lost).
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
