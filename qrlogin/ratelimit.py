"""Atomic rate-limit counters and the DRF throttle base class of qrlogin and qrlogin_accounts.

DRF's ``SimpleRateThrottle`` reads a list of timestamps from the cache, then writes it back:
parallel requests all read the same history, so 50 parallel pairing-code guesses against a
limit of 5 let 6 to 19 through. And with django-redis' ``IGNORE_EXCEPTIONS`` a dead Redis
reads as an empty history: no limit at all. This module counts instead:

- **All of a request's scopes in one step.** A pairing-code lookup is limited per phone and
  per network (and as a scan, twice more): it is counted in every one of its windows, or, when
  one of them is full, in none. Counted one scope after another, a lookup refused by its
  second scope would have spent a unit of its first, and a burst would be refused early.
- **Fixed windows, anchored at the first hit.** A key's window opens with its first counted
  request and lasts the rate's period; each request let through adds one to the window's
  count, and once it reaches the limit requests are refused until the window ends
  (``Retry-After`` says when; with several full scopes, the latest end). Over any period at
  most ``limit`` requests start a window's count, so the long-run rate is the configured one;
  a burst straddling two windows can reach twice the limit, a trade for one atomic operation
  per check.
- **Redis** (django-redis or Django's own backend): one small Lua script over all the
  request's keys does "for each key, forget the window if it is over; if every one has room,
  count the request in each" atomically. The script is given the app's clock (so
  ``time-machine`` moves windows in tests, as it does for every other deadline) and sets a
  real expiry on each key, so idle keys vanish. With django-redis' sharded client every
  counter lives on one shard, so that one script can see all of a request's keys.
- **Any other cache**: under a per-process lock, the counts are read and, when every scope has
  room, ``cache.add`` opens each window (only one racer wins) and ``cache.incr`` counts in it.
  On local memory the lock makes the step atomic. On memcached, shared by processes, each
  ``add`` and ``incr`` is atomic but the step is not: a request that another process's
  increment pushed over a limit takes its own increments back (Django's database and file
  caches increment with a read then a write: not for shared counts).
- **When the shared cache fails** (Redis down, a timeout, an error the backend would otherwise
  swallow), counting goes on in a per-process local-memory cache at the same rates: with N
  processes a client gets at most N times the limit, never an unlimited number of guesses.
  The first failure is logged once as a warning, the recovery once as info; the shared cache
  is retried every ``RETRY_SHARED_AFTER`` seconds, not on every request (a blackholed Redis
  would otherwise cost its connect timeout on every throttled request).

DRF asks a view's throttles one by one; :class:`ThrottlesCountedTogether` makes a view count
its :class:`RateThrottle` scopes with :func:`refusing` instead, as the pages do.

This module needs no installed app and imports no models, so qrlogin_accounts uses it even when
qrlogin itself is not in ``INSTALLED_APPS``.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
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

# The key django-redis' sharded client places every counter by (see _redis_client).
SHARD_ROUTING_KEY = "ratelimit"

# KEYS: one hash per scope ('s': the window's start, 'n': its count). ARGV[1]: now (seconds, a
# decimal string); then per key, at 3i-1, 3i and 3i+1: its limit, its period (seconds) and its
# lifetime (milliseconds). Counts the request in every window if each has room, else in none.
# Returns {1 if counted else 0, then per key its count and its window's start}.
WINDOWS_SCRIPT = """
local now = ARGV[1]
local found, room = {}, true
for i, key in ipairs(KEYS) do
  local window = redis.call('HMGET', key, 's', 'n')
  local start, count = window[1], tonumber(window[2]) or 0
  if (not start) or tonumber(now) >= tonumber(start) + tonumber(ARGV[3 * i]) then
    start, count = false, 0
  end
  found[i] = {start, count}
  if count >= tonumber(ARGV[3 * i - 1]) then room = false end
end
local result = {room and 1 or 0}
for i, key in ipairs(KEYS) do
  local start, count = found[i][1], found[i][2]
  if room then
    if not start then
      start = now
      redis.call('DEL', key)
      redis.call('HSET', key, 's', start)
      redis.call('PEXPIRE', key, ARGV[3 * i + 1])
    end
    count = redis.call('HINCRBY', key, 'n', 1)
  end
  result[#result + 1] = count
  result[#result + 1] = start or now
end
return result
"""


@dataclass(frozen=True)
class Limit:
    """One scope of a request: at most ``count`` requests under ``key`` per ``period`` seconds."""

    key: str
    count: int
    period: int


@dataclass(frozen=True)
class _Counted:
    """One key's window after a request was counted in it, on a cache that is not Redis."""

    count: int
    start: float
    count_key: str


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
# One lock per cache alias (and the fallback's): a request's reads and writes of a cache that
# is not Redis are one step for the threads of this process.
_locks: dict[str, threading.Lock] = {}
_fallback_lock = threading.Lock()


def _redis_client(cache: BaseCache) -> Any:
    """The redis-py client that holds ``cache``'s counters, or None for a cache that is not Redis.

    One client for all of them, whatever their keys: the script reads all of a request's keys.
    """
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient, ShardClient
    except ImportError:
        DjangoRedisCache = None
    if DjangoRedisCache is not None and isinstance(cache, DjangoRedisCache):
        client = cache.client
        if isinstance(client, ShardClient):
            return client.get_server(SHARD_ROUTING_KEY)
        if isinstance(client, DefaultClient):
            return client.get_client(write=True)
        return None
    from django.core.cache.backends.redis import RedisCache

    if isinstance(cache, RedisCache):
        return cache._cache.get_client(write=True)  # the primary, whatever the key
    return None


def _redis_count(client: Any, cache: BaseCache, limits: Sequence[Limit], now: float) -> list:
    script = client.register_script(WINDOWS_SCRIPT)
    args: list = [repr(now)]
    for limit in limits:
        args += [limit.count, limit.period, limit.period * 1000 + 1000]
    keys = [cache.make_and_validate_key(limit.key) for limit in limits]
    counted, *windows = script(keys=keys, args=args)
    if counted:
        return [None] * len(limits)
    return [
        float(start) + limit.period if int(count) >= limit.count else None
        for limit, count, start in zip(limits, windows[::2], windows[1::2], strict=True)
    ]


def _cache_peek(cache: BaseCache, key: str) -> tuple[float | None, int]:
    """The start of ``key``'s open window (None: none is open) and its count."""
    start = cache.get(f"{key}:start")
    if not isinstance(start, int | float):
        return None, 0
    count = cache.get(f"{key}:{start!r}")
    return float(start), count if isinstance(count, int) else 0


def _cache_hit(cache: BaseCache, key: str, period: int, now: float) -> _Counted:
    """add() opens the window (one racer wins), incr() counts in it: both atomic."""
    start_key = f"{key}:start"
    start = now if cache.add(start_key, now, period) else cache.get(start_key)
    if start is None:  # the window ended between add() and get(): open the next one
        start = now if cache.add(start_key, now, period) else cache.get(start_key)
    if not isinstance(start, int | float):
        raise CounterUnavailable(f"no window start for {key!r}")
    count_key = f"{key}:{start!r}"
    for _attempt in range(2):
        cache.add(count_key, 0, period + 1)
        try:
            count = cache.incr(count_key)
        except ValueError:  # expired between add() and incr()
            continue
        if isinstance(count, int):
            return _Counted(count=count, start=float(start), count_key=count_key)
    raise CounterUnavailable(f"the cache did not count {count_key!r}")


def _cache_uncount(cache: BaseCache, counted: list[_Counted]) -> None:
    """Take back increments of a request that is refused after all."""
    for window in counted:
        try:
            cache.decr(window.count_key)
        except Exception:  # noqa: S112 (the window expired, or the cache failed: nothing to undo)
            continue


def _cache_count(
    cache: BaseCache, lock: threading.Lock, limits: Sequence[Limit], now: float
) -> list[float | None]:
    with lock:
        ends: list[float | None] = []
        for limit in limits:
            start, count = _cache_peek(cache, limit.key)
            full = count >= limit.count
            ends.append((now if start is None else start) + limit.period if full else None)
        if any(end is not None for end in ends):
            return ends
        counted: list[_Counted] = []
        try:
            for limit in limits:
                counted.append(_cache_hit(cache, limit.key, limit.period, now))
        except Exception:
            _cache_uncount(cache, counted)
            raise
        # Only another process sharing the cache (memcached) can have filled a window since.
        ends = [
            window.start + limit.period if window.count > limit.count else None
            for limit, window in zip(limits, counted, strict=True)
        ]
        if any(end is not None for end in ends):
            _cache_uncount(cache, counted)
        return ends


def count_together(
    limits: Sequence[Limit], now: float | None = None, alias: str = "default"
) -> list[float | None]:
    """Count one request under every limit, or under none when one of them is full.

    Per limit: None when it had room, else when its window ends (seconds since the epoch).
    The request was counted iff every answer is None. Atomic in the shared cache ``alias``
    (see the module docstring); per process while that cache fails. ``now`` defaults to
    ``time.time()``.
    """
    now = time.time() if now is None else now
    limits = [Limit(limit.key, limit.count, max(1, math.ceil(limit.period))) for limit in limits]
    if not limits:
        return []
    if not _health.should_skip(alias):
        cache = caches[alias]
        try:
            client = _redis_client(cache)
            if client is not None:
                result = _redis_count(client, cache, limits, now)
            else:
                result = _cache_count(
                    cache, _locks.setdefault(alias, threading.Lock()), limits, now
                )
        except Exception as exc:  # whatever the failure, never count nothing
            _health.failed(alias, exc)
        else:
            _health.recovered(alias)
            return result
    return _cache_count(_fallback, _fallback_lock, limits, now)


class RateThrottle(BaseThrottle):
    """DRF throttle counting with :func:`count_together`: ``scope`` names the rate, subclasses
    the key.

    Subclasses implement :meth:`get_rate` (the rate string for ``scope``, or None: not
    throttled) and :meth:`get_cache_key` (what is counted, or None: not throttled). The
    interface is DRF's (``allow_request``, ``wait``), so a host can swap in its own class;
    :func:`refusing` counts several at once.
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

    def get_limit(self, request: Any, view: Any) -> Limit | None:
        """What ``request`` counts under here, or None: this throttle lets it through."""
        rate = self.get_rate()
        if rate is None:
            return None
        self.num_requests, self.duration = self.parse_rate(rate)
        if self.num_requests is None or self.duration is None:
            return None
        key = self.get_cache_key(request, view)
        if key is None:
            return None
        return Limit(key=key, count=self.num_requests, period=self.duration)

    def allow_request(self, request: Any, view: Any) -> bool:
        return not refusing([self], request, view)

    def wait(self) -> float | None:
        """Seconds until the full window ends (at least 1: ``Retry-After: 0`` invites a loop)."""
        if self.window_end is None or self.now is None:
            return None
        return max(1.0, self.window_end - self.now)


def refusing(throttles: Sequence[RateThrottle], request: Any, view: Any) -> list[RateThrottle]:
    """Count ``request`` against all ``throttles`` at once; the ones that refuse it.

    Either every throttle has room and each counts the request (the answer is empty), or none
    counts it and the full ones are returned, each one's ``wait()`` saying when it has room
    again. Throttles of one cache alias are counted in one atomic step; those of several
    aliases (none of this project's) alias by alias, stopping at the first that refuses.
    """
    by_alias: dict[str, list[tuple[RateThrottle, Limit]]] = {}
    for throttle in throttles:
        throttle.window_end = throttle.now = None
        limit = throttle.get_limit(request, view)
        if limit is not None:
            by_alias.setdefault(throttle.cache_alias, []).append((throttle, limit))
    for alias, group in by_alias.items():
        now = group[0][0].timer()
        ends = count_together([limit for _, limit in group], now, alias)
        refused = []
        for (throttle, _), end in zip(group, ends, strict=True):
            throttle.now, throttle.window_end = now, end
            if end is not None:
                refused.append(throttle)
        if refused:
            return refused
    return []


def longest_wait(throttles: Sequence[BaseThrottle]) -> float | None:
    """Seconds until all of ``throttles`` (the refusing ones) have room: the longest of their
    waits, None when none says (DRF's rule for ``Retry-After``)."""
    return max((wait for t in throttles if (wait := t.wait()) is not None), default=None)


class ThrottlesCountedTogether:
    """For an ``APIView``: its :class:`RateThrottle` scopes count a request all or none.

    DRF asks each throttle in turn, so a request let through by one scope and refused by the
    next would have spent the first one's unit. Throttles of other classes (a host's) are
    asked first, one by one as DRF does; when one refuses, the rate throttles count nothing.
    """

    def check_throttles(self, request: Any) -> None:
        throttles = self.get_throttles()  # type: ignore[attr-defined]
        ours = [t for t in throttles if isinstance(t, RateThrottle)]
        others = [t for t in throttles if not isinstance(t, RateThrottle)]
        refused = [t for t in others if not t.allow_request(request, self)]
        if not refused:
            refused = refusing(ours, request, self)
        if refused:
            self.throttled(request, longest_wait(refused))  # type: ignore[attr-defined]
