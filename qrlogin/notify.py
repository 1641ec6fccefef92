"""Waking the PCs that wait on a session's status.

Transitions call ``publish_on_commit``; a long poll holds a ``notifier.listen()``
registration and awaits it. Each process keeps one table of local waiters, woken by one of
two backends:

- in-process (no Redis configured): publishing wakes this process's waiters directly;
- Redis pub/sub (the default cache is django-redis): publishing sends one PUBLISH, and one
  subscriber thread per process wakes the local waiters of the sessions that changed, so a PC
  waiting on process A hears a phone that acted on process B.

A wake-up carries no data: the waiter re-reads the session from the database. A lost message
therefore costs only latency, never correctness, and while Redis is unreachable waiters are
woken every ``NOTIFY_FALLBACK_INTERVAL`` seconds to re-read the database instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction

from . import snapshot
from .conf import notify_backend, qrlogin_settings

if TYPE_CHECKING:
    from .models import QRLoginSession

logger = logging.getLogger(__name__)

CHANNEL = "qrlogin:status"
RECONNECT_BACKOFF_MAX = 5.0


class _Waiters:
    """session id -> callbacks of the requests waiting on it, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, set[Callable[[], None]]] = defaultdict(set)

    def add(self, session_id: str, wake: Callable[[], None]) -> None:
        with self._lock:
            self._by_session[session_id].add(wake)

    def discard(self, session_id: str, wake: Callable[[], None]) -> None:
        with self._lock:
            waiters = self._by_session.get(session_id)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._by_session[session_id]

    def wake(self, session_id: str) -> None:
        with self._lock:
            waiters = self._by_session.pop(session_id, ())
        for wake in waiters:
            wake()

    def wake_all(self) -> None:
        with self._lock:
            everyone = [w for ws in self._by_session.values() for w in ws]
            self._by_session.clear()
        for wake in everyone:
            wake()

    def count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._by_session.values())


class InProcessBackend:
    """Wakes waiters in this process only: right for one process (the embedded default)."""

    healthy = True

    def __init__(self, waiters: _Waiters) -> None:
        self.waiters = waiters

    def publish(self, session_id: str) -> None:
        self.waiters.wake(session_id)

    def ensure_listening(self) -> None:
        pass


class RedisBackend:
    """One PUBLISH per transition; one subscriber thread per process wakes local waiters."""

    def __init__(self, waiters: _Waiters, cache_alias: str = "default") -> None:
        self.waiters = waiters
        self.cache_alias = cache_alias
        self.healthy = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()

    def _redis(self):
        from django_redis import get_redis_connection

        return get_redis_connection(self.cache_alias)

    def publish(self, session_id: str) -> None:
        try:
            self._redis().publish(CHANNEL, session_id)
        except Exception:  # Redis down: waiters fall back to reading the database.
            logger.warning("qrlogin: could not publish to Redis", exc_info=True)
            self.healthy = False
            # Still wake this process's own waiters at once.
            self.waiters.wake(session_id)

    def ensure_listening(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(
                    target=self._listen, name="qrlogin-notify", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _listen(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            pubsub = None
            try:
                pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.healthy = True
                backoff = 0.1
                # Anything that changed while we were not subscribed is re-read now.
                self.waiters.wake_all()
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        self.waiters.wake(data.decode() if isinstance(data, bytes) else data)
            except Exception:
                if self.healthy:
                    logger.warning("qrlogin: lost the Redis subscription", exc_info=True)
                self.healthy = False
                self.waiters.wake_all()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):  # closing a dead connection
                        pubsub.close()


class Notifier:
    def __init__(self) -> None:
        self.waiters = _Waiters()
        self._backend: InProcessBackend | RedisBackend | None = None
        self._backend_key: object = None

    @property
    def backend(self) -> InProcessBackend | RedisBackend:
        """As ``conf.notify_backend`` says: Redis when the cache is django-redis."""
        wanted = notify_backend()
        if self._backend is None or self._backend_key != wanted:
            if isinstance(self._backend, RedisBackend):
                self._backend.stop()
            self._backend = (
                RedisBackend(self.waiters) if wanted == "redis" else InProcessBackend(self.waiters)
            )
            self._backend_key = wanted
        return self._backend

    def publish(self, session_id: str) -> None:
        self.backend.publish(session_id)

    def listen(self, session_id: str) -> Listener:
        """Start listening now, before reading the state, so no change can slip in between."""
        backend = self.backend
        backend.ensure_listening()
        return Listener(self.waiters, backend, session_id, asyncio.get_running_loop())


class Listener:
    """One waiting request's registration: a future resolved by a wake-up, no thread."""

    def __init__(self, waiters: _Waiters, backend: object, session_id: str, loop: object) -> None:
        self.waiters, self.backend, self.session_id = waiters, backend, session_id
        self.future: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        waiters.add(session_id, self._wake)

    def _wake(self) -> None:
        self._loop.call_soon_threadsafe(_resolve, self.future)

    @property
    def degraded(self) -> bool:
        """No push right now (Redis unreachable): waiters must re-read on their own."""
        return not self.backend.healthy

    async def wait(self, timeout: float, hang_up: asyncio.Future) -> bool:
        """True once woken; False when ``timeout`` (shortened while degraded) passes or
        ``hang_up`` is done. No task of its own: a parked poll is cheap to hold."""
        if self.degraded:
            timeout = min(timeout, qrlogin_settings.NOTIFY_FALLBACK_INTERVAL)
        await asyncio.wait((self.future, hang_up), timeout=timeout, return_when="FIRST_COMPLETED")
        return self.future.done()

    def close(self) -> None:
        self.waiters.discard(self.session_id, self._wake)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


notifier = Notifier()


def publish_on_commit(session: QRLoginSession) -> None:
    """Once the transition is visible to database reads: store the session's status snapshot,
    then wake its waiting PCs (in that order, so a woken PC reads the change)."""

    def announce() -> None:
        snapshot.write(session)
        notifier.publish(session.public_id)

    transaction.on_commit(announce, robust=True)
