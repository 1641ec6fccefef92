"""Throttles that hold under races and outages (issue 10, rows 1 and 2).

Row 1: DRF's throttle read the request history, then wrote it back, so parallel requests all
saw the same history: 50 parallel pairing-code lookups against a limit of 5 let 6 to 19
through. Now one atomic count per request: exactly the limit gets through, on Redis (a Lua
script) and on the local-memory cache (``add`` + ``incr`` under a lock). And a request is
counted in all of its scopes or in none: counted one scope after another, a lookup let through
per phone but refused per network had spent one of the phone's 5, and a burst got fewer.

Row 2: with the demo's ``IGNORE_EXCEPTIONS`` a dead Redis read as "no history": every
pairing-code guess, password guess and create went through, and each logged a traceback.
Now the counts go on per process at the same rates, and the outage is logged once.
"""

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.cache.backends.locmem import LocMemCache
from django.test import RequestFactory
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from qrlogin import ratelimit
from qrlogin.ratelimit import ThrottlesCountedTogether, longest_wait, refusing
from qrlogin.throttling import (
    CreateThrottle,
    ScanIPThrottle,
    ScanThrottle,
    UserCodeIPThrottle,
    UserCodeThrottle,
)
from qrlogin_accounts.throttling import TokenLoginIPThrottle, TokenLoginUsernameThrottle
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import Server, needs_postgres_and_redis, phone_headers
from tests.security.support import ATTACKER_IP, assert_error

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("REDIS_URL")
PARALLEL = 50


def redis_cache(url: str) -> dict:
    """The demo's cache settings (config/settings.py) for a Redis at ``url``."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }


@pytest.fixture(autouse=True)
def _fresh_ratelimit_state(monkeypatch):
    """Every test starts with a healthy shared cache and an empty per-process fallback."""
    monkeypatch.setattr(ratelimit, "_health", ratelimit._Health())
    fallback = LocMemCache("test-ratelimit-fallback", {})
    fallback.clear()
    monkeypatch.setattr(ratelimit, "_fallback", fallback)


@pytest.fixture(params=["local memory", "django-redis", "django's redis"])
def counting_cache(request, settings):
    """Local memory (the SQLite run's cache), and real Redis through django-redis (the PG+Redis
    run's, with the demo's settings) and through Django's own backend."""
    if request.param == "local memory":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    else:
        if not REDIS_URL:
            pytest.skip("needs Redis (set REDIS_URL)")
        settings.CACHES = redis_cache(REDIS_URL)
    if request.param == "django's redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        }
    from django.core.cache import cache

    cache.clear()
    yield request.param
    cache.clear()


def phone_request(device_pk: int = 7, ip: str = "203.0.113.77"):
    """What the phone throttles read of a request: the device behind its token, its address."""
    user = SimpleNamespace(pk=1, is_authenticated=True)
    device = SimpleNamespace(pk=device_pk, persistent_id=f"device:{device_pk}", name="phone")
    return SimpleNamespace(
        user=user,
        auth=SimpleNamespace(device=device),
        session=None,
        META={"REMOTE_ADDR": ip},
    )


def ip_request(ip: str):
    return RequestFactory().post("/", REMOTE_ADDR=ip)


def login_request(username: str, ip: str = "203.0.113.5"):
    return SimpleNamespace(data={"username": username}, META={"REMOTE_ADDR": ip})


SCOPES = {
    "user_code (per phone, 5/min)": (UserCodeThrottle, phone_request, 5),
    "user_code_ip (10/min)": (UserCodeIPThrottle, lambda: ip_request(ATTACKER_IP), 10),
    "create (per IP, 20/min)": (CreateThrottle, lambda: ip_request(ATTACKER_IP), 20),
    "token_login_username (5/min)": (
        TokenLoginUsernameThrottle,
        lambda: login_request("victim"),
        5,
    ),
    "token_login_ip (20/min)": (TokenLoginIPThrottle, lambda: login_request("x", ATTACKER_IP), 20),
}


def in_parallel(count: int, call) -> list:
    """``call(i)`` for i in ``range(count)`` from as many threads, released together (a barrier,
    not a sleep)."""
    start = threading.Barrier(count)

    def worker(i: int):
        start.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return [f.result() for f in [pool.submit(worker, i) for i in range(count)]]


@pytest.mark.parametrize("scope", list(SCOPES))
def test_parallel_requests_get_exactly_the_limit(counting_cache, scope):
    throttle_class, make_request, limit = SCOPES[scope]
    request = make_request()
    allowed = in_parallel(PARALLEL, lambda _: throttle_class().allow_request(request, None))
    assert allowed.count(True) == limit
    # And the next one, alone, is refused with a wait within the window.
    refused = throttle_class()
    assert not refused.allow_request(request, None)
    assert 0 < refused.wait() <= 60


def test_parallel_counts_are_per_ident(counting_cache):
    """Two phones racing each get their own 5, no more, no less."""
    results = in_parallel(
        PARALLEL,
        lambda i: (i % 2, UserCodeThrottle().allow_request(phone_request(device_pk=i % 2), None)),
    )
    for device in (0, 1):
        outcomes = [ok for d, ok in results if d == device]
        assert outcomes.count(True) == min(5, len(outcomes))


def test_the_window_ends_when_the_clock_says(counting_cache, clock):
    request = phone_request()
    for _ in range(5):
        assert UserCodeThrottle().allow_request(request, None)
    refused = UserCodeThrottle()
    assert not refused.allow_request(request, None)
    assert refused.wait() == 60
    clock.shift(45)
    refused = UserCodeThrottle()
    assert not refused.allow_request(request, None)
    assert refused.wait() == 15
    clock.shift(15)
    assert UserCodeThrottle().allow_request(request, None)


def lookup_throttles() -> list:
    """The scopes of a pairing-code lookup, as the scan view lists them."""
    return [ScanThrottle(), ScanIPThrottle(), UserCodeThrottle(), UserCodeIPThrottle()]


def test_a_request_refused_by_one_scope_spends_nothing_of_the_others(counting_cache, settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"user_code": "2/min", "user_code_ip": "5/min"}}

    def lookup(device_pk: int) -> list:
        return [type(t) for t in refusing(lookup_throttles(), phone_request(device_pk), None)]

    assert [lookup(1) for _ in range(2)] == [[], []]
    # Phone 1 is refused per phone, again and again: the network's count stays at 2.
    assert [lookup(1) for _ in range(10)] == [[UserCodeThrottle]] * 10
    assert [lookup(2) for _ in range(2)] + [lookup(3)] == [[], [], []]
    # The network's 5 are spent; a new phone is refused, and keeps its own 2.
    assert lookup(4) == [UserCodeIPThrottle]
    assert [UserCodeThrottle().allow_request(phone_request(4), None) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    # Nor did the refusals spend the scan scopes (30 per phone): phone 1 scanned twice.
    scans = [ScanThrottle().allow_request(phone_request(1), None) for _ in range(29)]
    assert scans == [True] * 28 + [False]


def test_parallel_requests_through_several_scopes_spend_exactly_what_got_through(
    counting_cache,
):
    """50 parallel lookups from one phone: 5 get through, and every scope counted only those
    5 (the network still has 5 of its 10 for other phones)."""
    request = phone_request(device_pk=1)
    allowed = in_parallel(PARALLEL, lambda _: not refusing(lookup_throttles(), request, None))
    assert allowed.count(True) == 5
    others = [not refusing(lookup_throttles(), phone_request(device_pk=i), None) for i in (2, 3)]
    assert others == [True, True]
    network = [UserCodeIPThrottle().allow_request(request, None) for _ in range(4)]
    assert network == [True, True, True, False]


def test_the_wait_is_the_latest_end_of_the_full_scopes(counting_cache, settings, clock):
    settings.QRLOGIN = {"THROTTLE_RATES": {"user_code": "1/min", "user_code_ip": "2/min"}}
    assert not refusing(lookup_throttles(), phone_request(1), None)  # the network's window opens
    clock.shift(45)
    assert not refusing(lookup_throttles(), phone_request(2), None)  # phone 2's opens
    clock.shift(1)
    refused = refusing(lookup_throttles(), phone_request(2), None)
    assert sorted(t.wait() for t in refused) == [14, 59]
    assert longest_wait(refused) == 59


def test_a_window_filled_by_another_process_meanwhile_takes_the_count_back(monkeypatch):
    """Memcached is shared by processes, so between the read of the counts and the increments
    another process can fill a window: the request is refused and takes its increments back."""
    cache = LocMemCache("test-ratelimit-race", {})
    limits = [ratelimit.Limit("a", 5, 60), ratelimit.Limit("b", 1, 60)]
    assert ratelimit._cache_count(cache, threading.Lock(), limits, now=1000.0) == [None, None]
    peek = ratelimit._cache_peek
    monkeypatch.setattr(ratelimit, "_cache_peek", lambda cache, key: (None, 0))  # a stale read
    ends = ratelimit._cache_count(cache, threading.Lock(), limits, now=1001.0)
    assert ends == [None, 1060.0]
    assert [peek(cache, key) for key in "ab"] == [(1000.0, 1), (1000.0, 1)]


class RefuseAll(BaseThrottle):
    """A host's own throttle, not a ``RateThrottle``."""

    def allow_request(self, request, view) -> bool:
        return False

    def wait(self) -> float:
        return 7


class HostView(ThrottlesCountedTogether, APIView):
    throttle_classes = [RefuseAll, CreateThrottle]

    def post(self, request):
        raise AssertionError("throttled before the view")


def test_a_view_refused_by_a_host_throttle_spends_no_rate_scope(settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "1/min"}}
    request = APIRequestFactory().post("/", REMOTE_ADDR=ATTACKER_IP)
    response = HostView.as_view()(request)
    assert response.status_code == 429
    assert response["Retry-After"] == "7"
    assert CreateThrottle().allow_request(ip_request(ATTACKER_IP), None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@needs_postgres_and_redis
def test_parallel_http_requests_on_two_server_processes_get_exactly_the_limit():
    """The attack as it was run: 50 parallel pairing-code lookups from one phone, 50 parallel
    creates from one address, over HTTP, spread over two uvicorn processes sharing Redis."""
    url = django_settings.CACHES["default"]["LOCATION"]
    servers = [Server(url, throttles=True), Server(url, throttles=True)]
    try:
        phone = phone_headers(servers[0], "racer")
        lookups = in_parallel(
            PARALLEL,
            lambda i: servers[i % 2].call(
                "POST", "/qrlogin/api/scan/", {"code": "ABCD-EFGH"}, phone
            )[0],
        )
        # Exactly the phone's 5 (the race let 6 to 19 through). A lookup passes four scopes
        # (scan and pairing code, per phone and per IP), counted all at once: counted one
        # after another, a lookup among the first 5 on the phone's count could come 11th on
        # the IP's when others overtook it, and was refused having spent one of the 5.
        assert sorted(lookups) == [404] * 5 + [429] * (PARALLEL - 5)
        creates = in_parallel(
            PARALLEL,
            lambda i: servers[i % 2].call("POST", "/qrlogin/api/sessions/", {})[0],
        )
        assert sorted(creates) == [201] * 20 + [429] * (PARALLEL - 20)
    finally:
        for server in servers:
            server.stop()


class TestRedisDown:
    """The demo's cache settings, pointed at a port where no Redis listens."""

    @pytest.fixture(autouse=True)
    def dead_redis(self, settings):
        settings.CACHES = redis_cache("redis://127.0.0.1:1/0")
        settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

    def outage_warnings(self, caplog) -> list:
        return [
            r
            for r in caplog.records
            if r.name == "qrlogin.ratelimit" and r.levelno == logging.WARNING
        ]

    def test_pairing_code_guesses_are_still_limited_per_phone(self, phone, caplog):
        caplog.set_level(logging.INFO)
        answers = [
            phone.post("/qrlogin/api/scan/", {"code": f"ABCD-EFG{i}"}).status_code
            for i in range(30)
        ]
        assert answers == [404] * 5 + [429] * 25
        assert len(self.outage_warnings(caplog)) == 1  # not once per request
        assert "counting per process" in self.outage_warnings(caplog)[0].getMessage()
        # The throttles no longer go through the cache calls that django-redis logs as
        # ignored (~360 tracebacks in seconds, before).
        assert not [r for r in caplog.records if r.name.startswith("django_redis")]

    def test_pairing_code_guesses_are_still_limited_per_ip(self, make_phone):
        answers = [
            make_phone().post("/qrlogin/api/scan/", {"code": "ABCD-EFGH"}, ip=ATTACKER_IP)
            for _ in range(12)
        ]
        assert [a.status_code for a in answers] == [404] * 10 + [429] * 2
        assert int(answers[-1]["Retry-After"]) > 0

    def test_password_guesses_are_still_limited(self):
        victim = UserFactory()
        body = {"username": victim.username, "device_id": "d", "device_type": "ios"}
        answers = [
            APIClient(REMOTE_ADDR=f"198.51.100.{i}").post(
                "/accounts/api/token/", {**body, "password": "wrong"}, format="json"
            )
            for i in range(12)
        ]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 7
        right = APIClient().post(
            "/accounts/api/token/", {**body, "password": DEFAULT_PASSWORD}, format="json"
        )
        assert_error(right, 429, "throttled")

    def test_creates_are_still_limited(self):
        client = APIClient(REMOTE_ADDR=ATTACKER_IP)
        answers = [client.post("/qrlogin/api/sessions/").status_code for _ in range(30)]
        assert answers == [201] * 20 + [429] * 10


def test_a_private_redis_stops_and_comes_back(settings, private_redis, monkeypatch, caplog):
    """Counts are shared while Redis runs, per process while it is gone, shared again after;
    one warning when it goes, one note when it is back."""
    caplog.set_level(logging.INFO, logger="qrlogin.ratelimit")
    monkeypatch.setattr(ratelimit, "RETRY_SHARED_AFTER", 0)

    def guess() -> bool:
        return UserCodeThrottle().allow_request(phone_request(), None)

    settings.CACHES = redis_cache(private_redis.url)
    assert [guess() for _ in range(3)] == [True] * 3  # counted in Redis
    private_redis.stop()
    # Redis is gone: a fresh per-process budget, but a budget.
    assert [guess() for _ in range(7)] == [True] * 5 + [False] * 2
    private_redis.start()  # empty: the Redis count is lost with its data
    assert [guess() for _ in range(7)] == [True] * 5 + [False] * 2
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in messages] == ["WARNING", "INFO"], messages
    assert "answers again" in messages[1][1]
