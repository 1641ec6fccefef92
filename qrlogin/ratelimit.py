"""Atomic rate-limit counters and the DRF throttle base class of qrlogin and qrlogin_accounts.

DRF's ``SimpleRateThrottle`` reads a list of timestamps from the cache, then writes it back:
parallel requests all read the same history, so 50 parallel pairing-code guesses against a
limit of 5 let 6 to 19 through. And with django-redis' ``IGNORE_EXCEPTIONS`` a dead Redis
reads as an empty history: no limit at all. This module counts instead:

- **Fixed windows, anchored at the first hit.** A key's window opens with its first request
  and lasts the rate's period; each request adds one to the window's count, and those past
  the limit are refused until the window ends (``Retry-After`` says when). Refused requests
  are counted too, which changes nothing (the window's end is fixed) but keeps the counter a
  single atomic increment. Over any period at most ``limit`` requests start a window's count,
  so the long-run rate is the configured one; a burst straddling two windows can reach twice
  the limit, a trade for one atomic operation per check.
- **Redis** (django-redis or Django's own backend): one small Lua script does "reset the window
  if it is over, increment, return the count and the window start" atomically. The script
  is given the app's clock (so ``time-machine`` moves windows in tests, as it does for every
  other deadline) and sets a real expiry on the key, so idle keys vanish.
- **Any other cache**: ``cache.add`` opens the window (only one racer wins), ``cache.incr``
  counts in it; both are atomic on local memory and memcached (Django's database and file
  caches increment with a read then a write: not for shared counts).
- **When the shared cache fails** (Redis down, a timeout, an error the backend would otherwise
  swallow), counting goes on in a per-process local-memory cache at the same rates: with N
  processes a client gets at most N times the limit, never an unlimited number of guesses.
  The first failure is logged once as a warning, the recovery once as info; the shared cache
  is retried every ``RETRY_SHARED_AFTER`` seconds, not on every request (a blackholed Redis
  would otherwise cost its connect timeout on every throttled request).

This module needs no installed app and imports no models, so qrlogin_accounts uses it even when
qrlogin itself is not in ``INSTALLED_APPS``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)

# Seconds between two attempts to reach a shared cache that failed. Monotonic time, so a test's
# frozen clock does not keep a recovered Redis unused.
RETRY_SHARED_AFTER = 5.0

# The per-process fallback: Django's local-memory cache, big enough for every active client of
# one process during an outage. It culls its least recently used keys when full (an attacker
# would need this many distinct phones or networks in one window to push their own count out).
FALLBACK_MAX_ENTRIES = 100_000

# KEYS[1]: the window's hash. ARGV: now (seconds, a decimal string), the period (seconds),
# the key's lifetime (milliseconds). Returns {count, window start}.
WINDOW_SCRIPT = """
local start = redis.call('HGET', KEYS[1], 's')
if (not start) or tonumber(ARGV[1]) >= tonumber(start) + tonumber(ARGV[2]) then
  start = ARGV[1]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', start)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {redis.call('HINCRBY', KEYS[1], 'n', 1), start}
"""


@dataclass(frozen=True)
class Hit:
    """One request counted: its number in the window, and when the window started."""

    count: int
    start: float


class CounterUnavailable(Exception):
    """The cache did not count (it failed, or swallowed a failure and answered nothing)."""


class _Health:
    """Per cache alias: is the shared cache failing, and when to try it again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failing: dict[str, float] = {}  # alias -> monotonic time of the next attempt

    def should_skip(self, alias: str) -> bool:
        retry_at = self.failing.get(alias)
        return retry_at is not None and time.monotonic() < retry_at

    def failed(self, alias: str, exc: BaseException) -> None:
        with self.lock:
            first = alias not in self.failing
            self.failing[alias] = time.monotonic() + RETRY_SHARED_AFTER
        if first:
            logger.warning(
                "Rate limits: the %r cache failed (%s: %s); counting per process at the same "
                "rates until it answers again.",
                alias,
                type(exc).__name__,
                exc,
            )

    def recovered(self, alias: str) -> None:
        if alias not in self.failing:
            return
        with self.lock:
            was_failing = self.failing.pop(alias, None) is not None
        if was_failing:
            logger.info("Rate limits: the %r cache answers again; counting is shared.", alias)


_health = _Health()
_fallback = LocMemCache(
    "qrlogin-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": FALLBACK_MAX_ENTRIES}}
)


def _redis_client(cache: BaseCache, key: str) -> Any:
    """The redis-py client behind ``cache`` for ``key``, or None for a cache that is not Redis."""
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient, ShardClient
    except ImportError:
        DjangoRedisCache = None
    if DjangoRedisCache is not None and isinstance(cache, DjangoRedisCache):
        client = cache.client
        if isinstance(client, ShardClient):
            return client.get_server(key)
        if isinstance(client, DefaultClient):
            return client.get_client(write=True)
        return None
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        return cache._cache.get_client(key, write=True)
    return None


def _redis_hit(client: Any, key: str, duration: int, now: float) -> Hit:
    script = client.register_script(WINDOW_SCRIPT)
    count, start = script(keys=[key], args=[repr(now), duration, duration * 1000 + 1000])
    return Hit(count=int(count), start=float(start))


def _cache_hit(cache: BaseCache, key: str, duration: int, now: float) -> Hit:
    """add() opens the window (one racer wins), incr() counts in it: both atomic."""
    start_key = f"{key}:start"
    start = now if cache.add(start_key, now, duration) else cache.get(start_key)
    if start is None:  # the window ended between add() and get(): open the next one
        start = now if cache.add(start_key, now, duration) else cache.get(start_key)
    if not isinstance(start, int | float):
        raise CounterUnavailable(f"no window start for {key!r}")
    count_key = f"{key}:{start!r}"
    for _attempt in range(2):
        cache.add(count_key, 0, duration + 1)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add() and incr()
            continue
        if isinstance(count, int):
            return Hit(count=count, start=float(start))
    raise CounterUnavailable(f"the cache did not count {count_key!r}")


def hit(key: str, duration: int, now: float | None = None, alias: str = "default") -> Hit:
    """Count one request under ``key`` in a window of ``duration`` seconds.

    Atomic in the shared cache ``alias``; per process while that cache fails (see the module
    docstring). ``now`` defaults to ``time.time()``.
    """
    now = time.time() if now is None else now
    duration = max(1, math.ceil(duration))
    if not _health.should_skip(alias):
        cache = caches[alias]
        try:
            client = _redis_client(cache, key)
            if client is not None:
                result = _redis_hit(client, cache.make_and_validate_key(key), duration, now)
            else:
                result = _cache_hit(cache, key, duration, now)
        except Exception as exc:  # whatever the failure, never count nothing
            _health.failed(alias, exc)
        else:
            _health.recovered(alias)
            return result
    return _cache_hit(_fallback, key, duration, now)


class RateThrottle(BaseThrottle):
    """DRF throttle counting with :func:`hit`: ``scope`` names the rate, subclasses the key.

    Subclasses implement :meth:`get_rate` (the rate string for ``scope``, or None: not
    throttled) and :meth:`get_cache_key` (what is counted, or None: not throttled). The
    interface is DRF's (``allow_request``, ``wait``), so a host can swap in its own class.
    """

    scope: str = ""
    cache_alias = "default"
    # Not DRF's "throttle_%(scope)s_%(ident)s": a DRF throttle of the host (or a process still
    # running the old code) keeps a list under those keys, which the script cannot count in.
    cache_format = "ratelimit:%(scope)s:%(ident)s"
    timer = time.time

    def __init__(self) -> None:
        self.num_requests: int | None = None
        self.duration: int | None = None
        self.window_end: float | None = None
        self.now: float | None = None

    def get_rate(self) -> str | None:
        raise NotImplementedError(".get_rate() must be overridden")

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        raise NotImplementedError(".get_cache_key() must be overridden")

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        return SimpleRateThrottle.parse_rate(self, rate)

    def allow_request(self, request: Any, view: Any) -> bool:
        rate = self.get_rate()
        if rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(rate)
        if self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        counted = hit(key, self.duration, self.now, self.cache_alias)
        self.window_end = counted.start + self.duration
        return counted.count <= self.num_requests

    def wait(self) -> float | None:
        """Seconds until the window ends (at least 1: ``Retry-After: 0`` invites a loop)."""
        if self.window_end is None or self.now is None:
            return None
        return max(1.0, self.window_end - self.now)
