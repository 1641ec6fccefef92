"""Real server processes sharing PostgreSQL and Redis: push across processes, Redis faults.

A PC parked on process A must hear a phone that acted on process B; with Redis gone, answers
stay correct (read from the database at a bounded, slower rate) and nothing is a 5xx; when
Redis returns, push resumes without a restart.
"""

import http.client
import json
import os
import shutil
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

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or "redis" not in settings.CACHES["default"]["BACKEND"],
        reason="needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)",
    ),
]


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


def timed_login_step(pc_server: Server, phone_server: Server, phone: dict) -> tuple[str, float]:
    """Park a poll on one server, scan on the other; the poll's answer and its delay.

    A parked long poll sends its headers at once and its body on a change, so "headers
    received" is the proof that the PC is waiting before the phone acts.
    """
    status, created = pc_server.call("POST", "/qrlogin/api/sessions/", {})
    assert status == 201, created
    poll = http.client.HTTPConnection("127.0.0.1", pc_server.port, timeout=30)
    poll.request(
        "GET", f"/qrlogin/api/sessions/{created['id']}/?wait=25&since=pending",
        headers={"X-QRLogin-Secret": created["secret"]},
    )  # fmt: skip
    response = poll.getresponse()  # returns once the poll is parked
    assert response.status == 200
    started = time.monotonic()
    status, scanned = phone_server.call("POST", "/qrlogin/api/scan/", {"qr": created["qr_url"]},
                                        phone)  # fmt: skip
    assert status == 200, scanned
    answer = json.loads(response.read())
    delay = time.monotonic() - started
    poll.close()
    return f"{response.status}:{answer.get('status')}", delay


@pytest.fixture
def redis_url():
    return settings.CACHES["default"]["LOCATION"]


def test_pc_on_one_process_hears_phone_on_another(redis_url):
    a, b = Server(redis_url), Server(redis_url)
    try:
        phone = phone_headers(b, "phone-1")
        answer, delay = timed_login_step(a, b, phone)
        assert answer == "200:scanned"
        assert delay < 1.5  # pushed, not found by a fallback re-read
    finally:
        a.stop()
        b.stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_going_away_and_coming_back(tmp_path):
    port = free_port()

    def start_redis() -> subprocess.Popen:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(port, proc)
        return proc

    redis_proc = start_redis()
    url = f"redis://127.0.0.1:{port}/0"
    a, b = Server(url, fallback=1), Server(url, fallback=1)
    try:
        phone = phone_headers(b, "phone-2")
        assert timed_login_step(a, b, phone)[0] == "200:scanned"

        redis_proc.terminate()
        redis_proc.wait(10)
        # No Redis: still correct, via the database, within the fallback interval; no 5xx.
        answer, delay = timed_login_step(a, b, phone)
        assert answer == "200:scanned"
        assert delay < 1 + 1.5

        redis_proc = start_redis()
        # Push resumes without a restart (the subscriber reconnects with a bounded backoff).
        deadline = time.monotonic() + 20
        while True:
            answer, delay = timed_login_step(a, b, phone)
            assert answer == "200:scanned"
            if delay < 0.5 or time.monotonic() > deadline:
                break
        assert delay < 0.5
    finally:
        a.stop()
        b.stop()
        redis_proc.terminate()
