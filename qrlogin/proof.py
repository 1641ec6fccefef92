"""Proof that a request comes from the PC that created a session.

An API client shows the secret it got at creation in the ``X-QRLogin-Secret`` header. A browser
never sees the secret: the PC page keeps it in the browser's Django session, and unsafe
requests must also pass Django's CSRF check. The secret is never read from a query string or a
form body, where it would leak into logs and allow login CSRF.

:func:`session_for_secret` is the one check; the DRF views (through :func:`pc_session`) and
the ASGI status path (which reads the header and the browser session itself) both call it.
"""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from . import snapshot, tokens
from .client_info import client_ip, user_agent
from .exceptions import CSRFFailed, SessionNotFound
from .models import QRLoginSession, StartedSession
from .payloads import safe_next

HEADER = "X-QRLogin-Secret"
SESSION_KEY = "qrlogin_pc_secrets"
MAX_REMEMBERED = 5

# Compared against when the id is unknown, so an unknown id costs what a wrong secret costs.
_NO_SESSION_DIGEST = tokens.digest(tokens.new_secret())


def start_session(request: HttpRequest, next_url: str = "") -> StartedSession:
    """A new session for the PC behind ``request``; ``next`` is kept only if it is safe."""
    return QRLoginSession.objects.start(
        pc_ip=client_ip(request),
        pc_user_agent=user_agent(request),
        next_url=next_url if safe_next(request, next_url) == next_url else "",
    )


def remember_secret(request: HttpRequest, session: QRLoginSession, secret: str) -> None:
    """Keep the secret of a QR this browser created (the newest few only).

    The status snapshot learns this browser's session key (as a digest), so its polls are
    proven without reading the session store: holding the key is holding the secret.
    """
    secrets = dict(request.session.get(SESSION_KEY, {}))
    secrets[session.public_id] = secret
    request.session[SESSION_KEY] = dict(list(secrets.items())[-MAX_REMEMBERED:])
    if request.session.session_key is None:
        request.session.save()  # a first visit: the key the cookie will carry, now
    key = request.session.session_key
    transaction.on_commit(lambda: snapshot.write(session, browser_key=key), robust=True)


def forget_secret(request: HttpRequest, session_id: str) -> None:
    secrets = dict(request.session.get(SESSION_KEY, {}))
    if secrets.pop(session_id, None) is not None:
        request.session[SESSION_KEY] = secrets
        snapshot.forget_browser(session_id)


def presented_secret(
    header_value: str | None, browser_session: Mapping[str, Any] | None, session_id: str
) -> str | None:
    """The header's secret, else the one this browser's Django session keeps for the QR."""
    if header_value is not None:
        return header_value
    if browser_session is None:
        return None
    return browser_session.get(SESSION_KEY, {}).get(session_id)


def session_for_secret(public_id: str, secret: str | None) -> QRLoginSession:
    """The session, only for its PC: anyone else gets the same ``SessionNotFound`` as an
    unknown id, in body and in time (one digest comparison either way)."""
    try:
        session = QRLoginSession.objects.get_by_public_id(public_id)
    except SessionNotFound:
        tokens.matches(secret or "-", _NO_SESSION_DIGEST)
        raise
    if not session.check_secret(secret):
        raise SessionNotFound()
    return session


def pc_session(request: HttpRequest, public_id: str) -> QRLoginSession:
    """The session for a Django request from its PC; unsafe browser requests pass CSRF too."""
    header_value = request.headers.get(HEADER)
    secret = presented_secret(header_value, getattr(request, "session", None), public_id)
    session = session_for_secret(public_id, secret)
    if header_value is None and request.method not in ("GET", "HEAD", "OPTIONS"):
        # Browser proof on an unsafe method: only then can a cross-site form ride the cookies.
        reason = csrf_failure_reason(request)
        if reason:
            raise CSRFFailed(_("CSRF failed: %(reason)s") % {"reason": reason})
    return session


def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Django's own CSRF check, for the browser PC (which is not logged in yet)."""

    class _Check(CsrfViewMiddleware):
        def _reject(self, request: HttpRequest, reason: str) -> str:
            return reason

    check = _Check(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})
