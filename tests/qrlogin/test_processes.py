"""Real server processes sharing PostgreSQL and Redis: push across processes, Redis faults.

A PC parked on process A must hear a phone that acted on process B; with Redis gone, answers
stay correct (read from the database at a bounded, slower rate) and nothing is a 5xx; when
Redis returns, push resumes without a restart.
"""

import http.client
import json
import time

import pytest
from django.conf import settings

from tests.processes import Server, needs_postgres_and_redis, phone_headers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    needs_postgres_and_redis,
]


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


def test_redis_going_away_and_coming_back(private_redis):
    a, b = Server(private_redis.url, fallback=1), Server(private_redis.url, fallback=1)
    try:
        phone = phone_headers(b, "phone-2")
        assert timed_login_step(a, b, phone)[0] == "200:scanned"

        private_redis.stop()
        # No Redis: still correct, via the database, within the fallback interval; no 5xx.
        answer, delay = timed_login_step(a, b, phone)
        assert answer == "200:scanned"
        assert delay < 1 + 1.5

        private_redis.start()
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
