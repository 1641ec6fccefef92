"""Status snapshots: what the status hot path needs to answer its PC without the database.

A snapshot holds a session's status, deadline, secret digest, the digest of the browser
session that created it (for a browser PC), and the status body the PC is sent. Transitions
write it after commit, before they publish the wake-up, so a PC woken for a change reads
that change. The ASGI status path reads it from the event loop (``redis.asyncio``, or this
process's memory without Redis): an unchanged poll costs its share of one Redis round trip
(the reads that arrive together go as one pipeline), no thread and no database.

The database stays the truth; the path goes to it whenever the snapshot cannot be trusted:
no snapshot (or Redis unreachable), a proof the snapshot does not confirm (so an unknown id
and a wrong secret cost the same), a deadline that has passed (the read expires the
session), or a wake-up after which the snapshot shows no change. Writes never move a snapshot
back (``pending`` < ``scanned`` < ``confirmed`` < terminal), so two processes writing out of
order cannot undo a transition. Each snapshot lives until its session's deadline (plus a
margin), so even a write lost to a Redis outage can be stale for at most that long.

Without Redis the snapshots live in this process only: right for one process, the same
assumption as the in-process notifier (``check --deploy`` warns ``qrlogin.W002``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import caches

from . import tokens
from .conf import notify_backend, qrlogin_settings

if TYPE_CHECKING:
    from .models import QRLoginSession

logger = logging.getLogger(__name__)

KEY_PREFIX = "qrlogin:snap:"
# Kept this long past the session's deadline (a terminal session: this long after its end),
# for the PC's last polls and a page that reloads.
AFTER_DEADLINE = 60
LOCAL_MAX = 50_000  # sessions kept in this process without Redis (oldest dropped first)
ASYNC_CONNECTIONS = 2  # Redis connections per event loop for the reads (one pipeline at a time)
BATCH_MAX = 500  # snapshot reads per pipeline

_RANK = {"pending": 0, "scanned": 1, "confirmed": 2}
TERMINAL_RANK = 3
FIELDS = ("rank", "status", "expires", "secret", "browser", "body")

# One round trip; never moves a snapshot back; keeps the browser digest a transition lacks.
_WRITE = """
local rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
if tonumber(ARGV[1]) < rank then return 0 end
redis.call('HSET', KEYS[1], 'rank', ARGV[1], 'status', ARGV[2], 'expires', ARGV[3],
  'secret', ARGV[4], 'body', ARGV[6])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'browser', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[7])
return 1
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    status: str
    expires_at: float
    """The deadline, in seconds since the epoch."""
    secret_digest: str
    browser_digest: str
    """Digest of the Django session key of the browser PC that created it ("" if none)."""
    body: bytes
    """The status body as the PC is sent it (``payloads.status_payload``, rendered)."""

    @property
    def is_live(self) -> bool:
        return self.status in _RANK

    def is_past_deadline(self, now: float | None = None) -> bool:
        """Live but due: only a database read may say what it is now (it expires it)."""
        return self.is_live and (now if now is not None else time.time()) >= self.expires_at

    def proves(self, secret: str | None, browser_key: str | None) -> bool:
        """The PC's proof, in constant time, as ``proof.session_for_secret`` checks it."""
        if secret is not None:
            return tokens.matches(secret, self.secret_digest)
        return bool(browser_key) and tokens.matches(browser_key, self.browser_digest)


def browser_digest(session_key: str | None) -> str:
    return tokens.digest(session_key) if session_key else ""


def snapshot_of(session: QRLoginSession, browser_key: str | None = None) -> Snapshot:
    from .payloads import render_json, status_payload  # payloads imports the models

    return Snapshot(
        status=session.status,
        expires_at=session.expires_at.timestamp(),
        secret_digest=session.secret_digest,
        browser_digest=browser_digest(browser_key),
        body=render_json(status_payload(session)),
    )


def write(session: QRLoginSession, browser_key: str | None = None) -> None:
    """Store the session's snapshot (never older than the stored one). Failures are logged:
    the status path then reads the database, and the deadline bounds a stale entry."""
    store().write(session.public_id, snapshot_of(session, browser_key))


async def read(public_id: str) -> Snapshot | None:
    """The snapshot, from the event loop without a thread; None: ask the database."""
    return await store().read(public_id)


def forget_browser(public_id: str) -> None:
    """The browser gave up its proof (it cancelled or completed): it no longer proves."""
    store().forget_browser(public_id)


def _rank(status: str) -> int:
    return _RANK.get(status, TERMINAL_RANK)


def _ttl(snapshot: Snapshot) -> int:
    return max(1, int(snapshot.expires_at - time.time()) + AFTER_DEADLINE)


class LocalStore:
    """This process's memory: the embedded default (one process, no Redis)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Snapshot, float]] = OrderedDict()

    def write(self, public_id: str, snapshot: Snapshot) -> None:
        with self._lock:
            old = self._items.get(public_id)
            if old is not None and _rank(snapshot.status) < _rank(old[0].status):
                return
            if old is not None and not snapshot.browser_digest:
                snapshot = _with_browser(snapshot, old[0].browser_digest)
            self._items[public_id] = (snapshot, time.time() + _ttl(snapshot))
            self._items.move_to_end(public_id)
            while len(self._items) > LOCAL_MAX:
                self._items.popitem(last=False)

    async def read(self, public_id: str) -> Snapshot | None:
        return self.get(public_id)

    def get(self, public_id: str) -> Snapshot | None:
        with self._lock:
            item = self._items.get(public_id)
            if item is None:
                return None
            if item[1] <= time.time():
                del self._items[public_id]
                return None
            return item[0]

    def forget_browser(self, public_id: str) -> None:
        with self._lock:
            item = self._items.get(public_id)
            if item is not None:
                self._items[public_id] = (_with_browser(item[0], ""), item[1])

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class RedisStore:
    """Redis, shared by every process: written with django-redis' client, read with
    ``redis.asyncio`` on each event loop. After a failure Redis is left alone for
    ``NOTIFY_FALLBACK_INTERVAL`` seconds, so an outage costs no timeout per poll."""

    def __init__(self, cache_alias: str = "default") -> None:
        self.cache_alias = cache_alias
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ReadBatcher] = (
            weakref.WeakKeyDictionary()
        )
        self._down_until = 0.0

    def _sync(self) -> Any:
        from django_redis import get_redis_connection

        return get_redis_connection(self.cache_alias)

    def _async(self) -> ReadBatcher:
        """This event loop's reader (a redis.asyncio client belongs to the loop it was made on)."""
        loop = asyncio.get_running_loop()
        reader = self._clients.get(loop)
        if reader is None:
            import redis.asyncio

            location = caches[self.cache_alias]._server  # django-redis: the LOCATION list
            url = location[0] if isinstance(location, list | tuple) else location.split(",")[0]
            # Few connections, however many polls arrive: a socket and buffers per poll
            # would cost more than the reads themselves.
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url,
                max_connections=ASYNC_CONNECTIONS,
                timeout=1,
                socket_timeout=1,
                socket_connect_timeout=1,
            )
            reader = ReadBatcher(redis.asyncio.Redis(connection_pool=pool))
            self._clients[loop] = reader
        return reader

    def _failed(self, what: str) -> None:
        if time.monotonic() >= self._down_until:
            logger.warning("qrlogin: status snapshots unavailable (%s); reading the database", what)
        self._down_until = time.monotonic() + qrlogin_settings.NOTIFY_FALLBACK_INTERVAL

    def write(self, public_id: str, snapshot: Snapshot) -> None:
        try:
            self._sync().eval(
                _WRITE,
                1,
                KEY_PREFIX + public_id,
                _rank(snapshot.status),
                snapshot.status,
                repr(snapshot.expires_at),
                snapshot.secret_digest,
                snapshot.browser_digest,
                snapshot.body,
                _ttl(snapshot),
            )
        except Exception:
            self._failed("write")

    async def read(self, public_id: str) -> Snapshot | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            values = await self._async().hmget(KEY_PREFIX + public_id)
        except Exception:
            self._failed("read")
            return None
        if values[0] is None:
            return None
        _, status, expires, secret, browser, body = values
        return Snapshot(
            status=status.decode(),
            expires_at=float(expires),
            secret_digest=secret.decode(),
            browser_digest=(browser or b"").decode(),
            body=body,
        )

    def forget_browser(self, public_id: str) -> None:
        try:
            self._sync().hdel(KEY_PREFIX + public_id, "browser")
        except Exception:
            self._failed("write")


class ReadBatcher:
    """Snapshot reads that arrive together go to Redis as one pipeline.

    redis-py spends ~100-200 us of Python on each command it sends alone (a connection from
    the pool, timeouts, packing, parsing), ~25 us on each in a pipeline. A thousand PCs
    polling at once would otherwise cost a core for a fifth of a second in the client alone.
    One pipeline is in flight per event loop; the reads that arrive meanwhile go in the next,
    so a batch grows with the load and a lone read waits for nobody. A failed pipeline fails
    each of its reads (the status path then reads the database).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._pending: list[tuple[str, asyncio.Future]] = []
        self._flushing: asyncio.Future | None = None  # referenced, so it is not collected

    @property
    def connection_pool(self) -> Any:
        return self.client.connection_pool

    async def hmget(self, key: str) -> list[bytes | None]:
        """``HMGET key FIELDS``, in the next pipeline."""
        future = asyncio.get_running_loop().create_future()
        self._pending.append((key, future))
        if self._flushing is None:
            self._flushing = asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[str, asyncio.Future]] = []
        try:
            while self._pending:
                batch = self._pending[:BATCH_MAX]
                del self._pending[:BATCH_MAX]
                try:
                    async with self.client.pipeline(transaction=False) as pipe:
                        for key, _ in batch:
                            pipe.hmget(key, FIELDS)
                        results = await pipe.execute()
                except Exception as exc:
                    # The reads queued meanwhile would wait on the same dead Redis: they go
                    # to the database now, with this batch.
                    batch += self._pending
                    self._pending = []
                    _fail(batch, exc)
                    continue
                for (_, future), values in zip(batch, results, strict=True):
                    if not future.done():  # a poll whose client left is cancelled
                        future.set_result(values)
        finally:
            self._flushing = None
            # Never leave a read waiting: the loop is closing (or a reply did not match).
            _fail(batch + self._pending, ConnectionError("snapshot read abandoned"))
            self._pending = []


def _fail(reads: list[tuple[str, asyncio.Future]], exc: BaseException) -> None:
    for _, future in reads:
        if not future.done():
            future.set_exception(exc)


def _with_browser(snapshot: Snapshot, digest: str) -> Snapshot:
    return Snapshot(
        snapshot.status, snapshot.expires_at, snapshot.secret_digest, digest, snapshot.body
    )


_stores: dict[str, LocalStore | RedisStore] = {}


def store() -> LocalStore | RedisStore:
    """Redis when the notifier uses it (``conf.notify_backend``), else this process's memory."""
    backend = notify_backend()
    if backend not in _stores:
        _stores[backend] = RedisStore() if backend == "redis" else LocalStore()
    return _stores[backend]
