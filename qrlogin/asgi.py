"""The status endpoint under ASGI: long polls that hold no thread while they wait.

Wrap the site's ASGI application::

    from qrlogin.asgi import QRLoginASGIMiddleware
    application = QRLoginASGIMiddleware(get_asgi_application())

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
``GET <qrlogin>/api/sessions/<id>/`` itself, before Django's handler: the two short database
reads (proof + status, and the re-read after a wake-up) borrow a thread from the event loop's
shared pool and give it back; while parked, a poll is a future in the notifier's table and a
task waiting for the client to hang up. Every other request goes to Django unchanged.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from . import proof
from .errors import error_body, qrlogin_error_body
from .exceptions import QRLoginError, SessionNotFound
from .models import QRLoginSession
from .notify import notifier
from .payloads import status_payload
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        public_id = self._status_request(scope)
        if public_id is None:
            await self.app(scope, receive, send)
            return
        request = StatusRequest(scope, receive, send, public_id)
        # Error details in the language LocaleMiddleware would pick for this request.
        with translation.override(request.language()):
            await request.answer()

    @staticmethod
    def _status_request(scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return None
        path = scope["path"]
        if "/api/sessions/" not in path:
            return None
        root = scope.get("root_path", "")
        try:
            match = resolve(path[len(root) :] if root and path.startswith(root) else path)
        except Resolver404:
            return None
        if "qrlogin" not in match.app_names or match.url_name != "api-session":
            return None
        if not _host_allowed(scope):
            return None  # Django answers it: 400 DisallowedHost, as for every other URL
        return match.kwargs["public_id"]


class StatusRequest:
    def __init__(self, scope: Scope, receive: Receive, send: Send, public_id: str) -> None:
        self.scope, self.receive, self.send, self.public_id = scope, receive, send, public_id
        self.headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        self.cookies = parse_cookie(self.headers.get("cookie", ""))

    def language(self) -> str:
        """Django's choice from the language cookie, then Accept-Language, then LANGUAGE_CODE."""
        request = HttpRequest()
        request.COOKIES = self.cookies
        request.META["HTTP_ACCEPT_LANGUAGE"] = self.headers.get("accept-language", "")
        return translation.get_language_from_request(request)

    async def answer(self) -> None:
        try:
            query = parse_status_query(self._query())
        except QRLoginError as exc:
            await self._respond(exc.status_code, qrlogin_error_body(exc))
            return
        # Listen before the first read: a phone acting between the read and the park would
        # otherwise go unheard until the wait ran out.
        with notifier.listen(self.public_id) as listener:
            try:
                session = await _in_pool(self._load_for_pc)
            except SessionNotFound as exc:
                await self._respond(exc.status_code, qrlogin_error_body(exc))
                return
            except Exception:
                await self._respond(503, _unavailable())
                return
            since = query.since or session.status
            if not (query.wait and session.status == since):
                await self._respond(200, status_payload(session))
                return
            # Headers now, body when something changes: the client (and a test) can tell a
            # parked poll from one still on its way. Every error was answered above.
            await self._start(200)
            session = await self._park(session, since, query.wait, listener)
        if session is not None:  # None: the client went away
            await self._body(status_payload(session))

    def _query(self) -> dict[str, str]:
        raw = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return {k: v[-1] for k, v in raw.items()}

    def _load_for_pc(self) -> QRLoginSession:
        """The session if this request proves it is the PC (``proof``'s one check)."""
        header_value = self.headers.get(proof.HEADER.lower())
        browser_session = self._browser_session() if header_value is None else None
        secret = proof.presented_secret(header_value, browser_session, self.public_id)
        session = proof.session_for_secret(self.public_id, secret)
        session.refresh_status()
        return session

    def _browser_session(self) -> Any:
        session_key = self.cookies.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            return {}
        engine = import_module(settings.SESSION_ENGINE)
        return engine.SessionStore(session_key)

    def _reload(self, session: QRLoginSession) -> QRLoginSession:
        fresh = QRLoginSession.objects.select_related("user").get(pk=session.pk)
        fresh.refresh_status()
        return fresh

    async def _park(
        self, session: QRLoginSession, since: str, wait: float, listener: Any
    ) -> QRLoginSession | None:
        """Wait, holding no thread, until the status differs from ``since`` or time is up.

        The database is read again only when it may say something new: after a wake-up,
        at the session's deadline (it expires on that read), or every few seconds while
        Redis is down. A wait that simply runs out answers the status it already has.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait
        hang_up = asyncio.ensure_future(self._wait_for_disconnect())
        try:
            while session.status == since:
                to_deadline = max((session.expires_at - timezone.now()).total_seconds() + 0.05, 0)
                deadline_first = to_deadline <= give_up - loop.time()
                left = min(give_up - loop.time(), to_deadline)
                if left <= 0:
                    break
                woken = asyncio.ensure_future(listener.wait(left))
                await asyncio.wait({woken, hang_up}, return_when=asyncio.FIRST_COMPLETED)
                if hang_up.done():
                    woken.cancel()
                    return None
                if not (woken.result() or listener.degraded or deadline_first):
                    break
                listener.close()
                listener = notifier.listen(self.public_id)  # before the read, as above
                try:
                    session = await _in_pool(self._reload, session)
                except Exception:
                    break  # answer what we know; the client asks again
        finally:
            hang_up.cancel()
            listener.close()
        return session

    async def _wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def _respond(self, status: int, data: dict) -> None:
        body = _render(data)
        await self._start(status, [(b"content-length", str(len(body)).encode())])
        await self._body(data, body)

    async def _start(self, status: int, extra: list | None = None) -> None:
        headers = [*NO_STORE, *(extra or [])]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def _body(self, data: dict, body: bytes | None = None) -> None:
        if self.scope["method"] == "HEAD":
            body = b""
        elif body is None:
            body = _render(data)
        await self.send({"type": "http.response.body", "body": body})


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


def _render(data: dict) -> bytes:
    """JSON as the qrlogin API views render it (``api.QRLoginAPIView``: same encoder)."""
    return json.dumps(
        data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")
    ).encode()


def _unavailable() -> dict:
    return error_body(_("The service is busy; try again."), "unavailable")
