"""The status endpoint under ASGI: long polls that hold no thread while they wait.

Wrap the site's ASGI application::

    from qrlogin.asgi import QRLoginASGIMiddleware
    application = QRLoginASGIMiddleware(get_asgi_application())

or, for a site without async views, Django's WSGI handler on a pool of threads, which costs
a short request about a third of the CPU (``QRLoginASGIMiddleware(a2wsgi.WSGIMiddleware(
get_wsgi_application()))``, as the demo's ``config/asgi.py`` does; docs/deploy.md).

It bypasses the site's whole middleware stack for that one URL (sessions, CSRF,
authentication, locale, security headers, WhiteNoise, anything the host added): what the
endpoint needs from them it does itself, with the same helpers the DRF view uses: the host
check (``ALLOWED_HOSTS``), the language choice (cookie, Accept-Language), the PC's proof
(``proof.session_for_secret``, reading the browser's session store for a browser PC), the
query (``polling``), the body (``payloads``) and every error (``errors``), with no-store
headers. A site whose middleware must see every request (auditing, IP blocking) should do
that in front of the ASGI app (the proxy) or leave this middleware out (then the DRF view
answers with ``X-QRLogin-Poll-After`` instead of holding the request).

Why not a Django async view: under ASGI, Django runs every synchronous middleware hook and
``request_started``/``request_finished`` receiver through ``sync_to_async`` in a per-request
thread that lives as long as the request. Stock middleware (sessions, CSRF, auth, WhiteNoise)
is synchronous, so 2,000 parked polls would mean 2,000 threads. This middleware answers
``GET <qrlogin>/api/sessions/<id>/`` itself, before Django's handler. In the common case a
poll reads the session's status snapshot (``snapshot``: one ``redis.asyncio`` round trip on
the event loop) and touches neither a thread nor the database; when the snapshot cannot be
trusted, a short database read borrows a thread from the event loop's shared pool and gives
it back. While parked, a poll is a future in the notifier's table and a task waiting for the
client to hang up, counted against the waiting limits (``WaitingRoom``). Every other request
goes to Django unchanged.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import (
    NoReverseMatch,
    Resolver404,
    get_script_prefix,
    resolve,
    reverse,
    set_script_prefix,
)
from django.utils import translation
from django.utils.cache import add_never_cache_headers

from . import proof, snapshot
from .client_info import address_behind_proxies, network_key
from .conf import qrlogin_settings
from .errors import qrlogin_error_body
from .exceptions import QRLoginError, SessionNotFound, TooManyWaiting, Unavailable
from .models import QRLoginSession
from .notify import notifier
from .payloads import render_json
from .polling import parse_status_query

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


def _no_store_headers() -> list[tuple[bytes, bytes]]:
    """Django's own never-cache headers (what the DRF views add), as raw ASGI headers."""
    response = HttpResponse(content_type="application/json")
    add_never_cache_headers(response)
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]


NO_STORE = _no_store_headers()


class QRLoginASGIMiddleware:
    """Serves qrlogin's status endpoint (and its long poll) without Django's request cycle."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        prepare()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        public_id = self._status_request(scope)
        if public_id is None:
            await self.app(scope, receive, send)
            return
        request = StatusRequest(scope, receive, send, public_id)
        # Error details in the language LocaleMiddleware would pick for this request.
        with translation.override(request.language):
            await request.answer()

    @staticmethod
    def _status_request(scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        path = scope["path"]
        if "/api/sessions/" not in path:
            return None
        root = scope.get("root_path", "")
        local = path[len(root) :] if root and path.startswith(root) else path
        public_id = _status_url_id(local)
        if public_id is None:
            return None
        if not _host_allowed(scope):
            return None  # Django answers it: 400 DisallowedHost, as for every other URL
        return public_id


def prepare() -> None:
    """Do now what the first status poll would: load the URLconf, the cache and Redis client
    modules and the language catalogs, and subscribe to the wake-ups.

    A process starts when PCs are already waiting (a deploy, a restart): their polls arrive
    together, and each one-time cost on the first poll (a third of a second of imports, the
    subscriber's first wake-everyone) would hold up all of them. Redis need not be up: the
    subscriber retries on its own thread, and the status path copes. A broken URLconf or
    cache setting fails here, at start, rather than on the first poll.
    """
    _status_url_shape(settings.ROOT_URLCONF)
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            str(SessionNotFound.default_detail)  # loads the language's catalogs
    if isinstance(snapshot.store(), snapshot.RedisStore):
        import redis.asyncio  # noqa: F401  (what RedisStore's reads import on first use)
    notifier.backend.ensure_listening()


def _status_url_id(path: str) -> str | None:
    """The session id if ``path`` is qrlogin's status URL: by its shape when it has the
    canonical one (every poll: no URL resolving), else as Django's resolver says."""
    shape = _status_url_shape(settings.ROOT_URLCONF)
    if shape is not None:
        prefix, suffix = shape
        if path.startswith(prefix) and path.endswith(suffix):
            middle = path[len(prefix) : len(path) - len(suffix)]
            if middle and "/" not in middle:
                return middle
    try:
        match = resolve(path)
    except Resolver404:
        return None
    if "qrlogin" not in match.app_names or match.url_name != "api-session":
        return None
    return match.kwargs["public_id"]


_PLACEHOLDER = "qrloginplaceholder"


@lru_cache(maxsize=8)
def _status_url_shape(urlconf: str) -> tuple[str, str] | None:
    """(prefix, suffix) of the status URL around the id, as mounted (no script prefix)."""
    saved = get_script_prefix()
    set_script_prefix("/")
    try:
        url = reverse("qrlogin:api-session", args=[_PLACEHOLDER], urlconf=urlconf)
    except NoReverseMatch:
        return None
    finally:
        set_script_prefix(saved)
    prefix, _, suffix = url.partition(_PLACEHOLDER)
    return prefix, suffix


class WaitingRoom:
    """The polls parked in this process, counted per session, per client network and in all.

    A parked poll costs a socket (an open file) and memory for as long as it waits, so each
    count is bounded (``LONG_POLL_PER_SESSION``, ``LONG_POLL_PER_CLIENT``,
    ``LONG_POLL_PROCESS_MAX``); past one the poll is answered at once (429 or 503 with
    ``Retry-After``), never parked. The counts are this process's (one event loop, no lock):
    behind a load balancer each process enforces its own.
    """

    def __init__(self) -> None:
        self.total = 0
        self.by_session: Counter[str] = Counter()
        self.by_client: Counter[str] = Counter()

    def refusal(self, session_id: str, client: str | None) -> QRLoginError | None:
        """Why this poll may not park now, or None (then it is counted until ``leave``)."""
        per_process = qrlogin_settings.LONG_POLL_PROCESS_MAX
        if per_process is not None and self.total >= per_process:
            return Unavailable()
        per_session = qrlogin_settings.LONG_POLL_PER_SESSION
        if per_session is not None and self.by_session[session_id] >= per_session:
            return TooManyWaiting()
        per_client = qrlogin_settings.LONG_POLL_PER_CLIENT
        if client and per_client is not None and self.by_client[client] >= per_client:
            return TooManyWaiting()
        self.total += 1
        self.by_session[session_id] += 1
        if client:
            self.by_client[client] += 1
        return None

    def leave(self, session_id: str, client: str | None) -> None:
        self.total -= 1
        _decrement(self.by_session, session_id)
        if client:
            _decrement(self.by_client, client)


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


waiting_room = WaitingRoom()


@dataclass(frozen=True, slots=True)
class Known:
    """What a poll knows of its session: all a parked poll holds besides its socket."""

    status: str
    expires_at: float
    body: bytes


class StatusRequest:
    """One status request. It keeps only what it needs to answer, not the request headers."""

    __slots__ = (
        "browser_key",
        "client",
        "language",
        "method",
        "public_id",
        "query",
        "receive",
        "secret",
        "send",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, public_id: str) -> None:
        self.receive, self.send, self.public_id = receive, send, public_id
        self.method = scope["method"]
        self.query = scope.get("query_string", b"")
        secret_header = proof.HEADER.lower().encode()
        self.secret: str | None = None
        cookie = accept_language = forwarded_for = ""
        for name, value in scope["headers"]:
            if name == secret_header:
                self.secret = value.decode("latin-1")
            elif name == b"cookie":
                cookie = value.decode("latin-1")
            elif name == b"accept-language":
                accept_language = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1")
        cookies = parse_cookie(cookie) if cookie else {}
        self.browser_key: str | None = cookies.get(settings.SESSION_COOKIE_NAME) or None
        self.language = _language(cookies, accept_language)
        remote = (scope.get("client") or ("",))[0] or ""
        self.client = network_key(address_behind_proxies(remote, forwarded_for))

    async def answer(self) -> None:
        try:
            query = parse_status_query(self._query())
        except QRLoginError as exc:
            await self._respond(exc.status_code, qrlogin_error_body(exc))
            return
        # Listen before the first read: a phone acting between the read and the park would
        # otherwise go unheard until the wait ran out.
        with notifier.listen(self.public_id) as listener:
            known = await self._from_snapshot()
            if known is None:
                try:
                    known = await _in_pool(self._from_database)
                except SessionNotFound as exc:
                    await self._respond(exc.status_code, qrlogin_error_body(exc))
                    return
                except Exception:
                    await self._refuse(Unavailable())
                    return
            since = query.since or known.status
            if not (query.wait and known.status == since):
                await self._respond(200, known.body)
                return
            if refusal := waiting_room.refusal(self.public_id, self.client):
                await self._refuse(refusal)
                return
            try:
                # Headers now, body when something changes: the client (and a test) can tell
                # a parked poll from one still on its way. Every error was answered above.
                await self._start(200)
                known = await self._park(known, since, query.wait, listener)
            finally:
                waiting_room.leave(self.public_id, self.client)
        if known is not None:  # None: the client went away
            await self._body(known.body)

    def _query(self) -> dict[str, str]:
        raw = parse_qs(self.query.decode("latin-1"))
        return {k: v[-1] for k, v in raw.items()}

    async def _from_snapshot(self, *, changed_from: str | None = None) -> Known | None:
        """The snapshot, if it proves this PC and may be trusted now; None: read the database.

        ``changed_from``: after a wake-up, only a snapshot showing the change is trusted.
        """
        snap = await snapshot.read(self.public_id)
        if snap is None or snap.is_past_deadline() or snap.status == changed_from:
            return None
        if not snap.proves(self.secret, None if self.secret else self.browser_key):
            return None  # a wrong proof goes where an unknown id goes: the same cost
        return Known(snap.status, snap.expires_at, snap.body)

    def _from_database(self) -> Known:
        """The session if this request proves it is the PC (``proof``'s one check).

        Refreshes the snapshot, so the next poll (on any process) need not come here.
        """
        browser_session = None
        if self.secret is None and self.browser_key:
            engine = import_module(settings.SESSION_ENGINE)
            browser_session = engine.SessionStore(self.browser_key)
        secret = proof.presented_secret(self.secret, browser_session, self.public_id)
        session = proof.session_for_secret(self.public_id, secret)
        session.refresh_status()
        snap = snapshot.snapshot_of(session, self.browser_key if browser_session else None)
        snapshot.store().write(self.public_id, snap)
        return Known(snap.status, snap.expires_at, snap.body)

    def _reread(self) -> Known:
        session = QRLoginSession.objects.get_by_public_id(self.public_id)
        session.refresh_status()
        snap = snapshot.snapshot_of(session)
        snapshot.store().write(self.public_id, snap)
        return Known(snap.status, snap.expires_at, snap.body)

    async def _park(self, known: Known, since: str, wait: float, listener: Any) -> Known | None:
        """Wait, holding no thread, until the status differs from ``since`` or time is up.

        After a wake-up the snapshot says what changed; the database is read only when it
        does not show the change, at the session's deadline (it expires on that read), or
        every few seconds while Redis is down. A wait that simply runs out answers what it
        already has.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait
        hang_up = asyncio.ensure_future(self._wait_for_disconnect())
        try:
            while known.status == since:
                to_deadline = max(known.expires_at - time.time() + 0.05, 0)
                deadline_first = to_deadline <= give_up - loop.time()
                left = min(give_up - loop.time(), to_deadline)
                if left <= 0:
                    break
                woken = await listener.wait(left, hang_up)
                if hang_up.done():
                    return None
                if not (woken or listener.degraded or deadline_first):
                    break
                listener.close()
                listener = notifier.listen(self.public_id)  # before the read, as above
                fresh = None
                if woken and not deadline_first:
                    fresh = await self._from_snapshot(changed_from=since)
                if fresh is None:
                    try:
                        fresh = await _in_pool(self._reread)
                    except Exception:
                        break  # answer what we know; the client asks again
                known = fresh
        finally:
            hang_up.cancel()
            listener.close()
        return known

    async def _wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def _respond(self, status: int, body: dict | bytes, extra: list | None = None) -> None:
        if isinstance(body, dict):
            body = render_json(body)
        await self._start(status, [(b"content-length", str(len(body)).encode()), *(extra or [])])
        await self._body(body)

    async def _refuse(self, exc: QRLoginError) -> None:
        """An answer at once, with ``Retry-After`` for the refusals that have one."""
        retry = getattr(exc, "retry_after", None)
        extra = [(b"retry-after", str(retry).encode())] if retry else []
        await self._respond(exc.status_code, qrlogin_error_body(exc), extra)

    async def _start(self, status: int, extra: list | None = None) -> None:
        headers = [*NO_STORE, *(extra or [])]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def _body(self, body: bytes) -> None:
        if self.method == "HEAD":
            body = b""
        await self.send({"type": "http.response.body", "body": body})


def _language(cookies: dict[str, str], accept_language: str) -> str:
    """Django's choice from the language cookie, then Accept-Language, then LANGUAGE_CODE."""
    return _language_for(cookies.get(settings.LANGUAGE_COOKIE_NAME), accept_language[:256])


@lru_cache(maxsize=512)
def _language_for(cookie_language: str | None, accept_language: str) -> str:
    # Few distinct pairs, asked on every poll: Django's choice, once per pair.
    request = HttpRequest()
    if cookie_language is not None:
        request.COOKIES = {settings.LANGUAGE_COOKIE_NAME: cookie_language}
    request.META["HTTP_ACCEPT_LANGUAGE"] = accept_language
    return translation.get_language_from_request(request)


@receiver(setting_changed)
def _forget_cached_choices(*, setting: str, **kwargs: Any) -> None:
    if setting in ("ROOT_URLCONF", "LANGUAGES", "LANGUAGE_CODE", "LANGUAGE_COOKIE_NAME"):
        _status_url_shape.cache_clear()
        _language_for.cache_clear()


def _host_allowed(scope: Scope) -> bool:
    """The ALLOWED_HOSTS check that Django's request.get_host() would make."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


async def _in_pool(function: Callable, *args: Any) -> Any:
    """Run a short ORM read on a borrowed pool thread (not a per-request thread)."""

    def run() -> Any:
        # The same connection housekeeping as Django's request_started/request_finished.
        close_old_connections()
        try:
            return function(*args)
        finally:
            close_old_connections()

    return await sync_to_async(run, thread_sensitive=False)()
