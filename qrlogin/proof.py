"""Proof that a request comes from the PC that created a session.

An API client shows the secret it got at creation in the ``X-QRLogin-Secret`` header. A browser
never sees the secret: the PC page keeps it in the browser's Django session, and unsafe
requests must also pass Django's CSRF check. The secret is never read from a query string or a
form body, where it would leak into logs and allow login CSRF.
"""

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware

from .models import QRLoginSession

HEADER = "X-QRLogin-Secret"
SESSION_KEY = "qrlogin_pc_secrets"
MAX_REMEMBERED = 5


def remember_secret(request: HttpRequest, session_id: str, secret: str) -> None:
    """Keep the secret of a QR this browser created (the newest few only)."""
    secrets = dict(request.session.get(SESSION_KEY, {}))
    secrets[session_id] = secret
    request.session[SESSION_KEY] = dict(list(secrets.items())[-MAX_REMEMBERED:])


def forget_secret(request: HttpRequest, session_id: str) -> None:
    secrets = dict(request.session.get(SESSION_KEY, {}))
    if secrets.pop(session_id, None) is not None:
        request.session[SESSION_KEY] = secrets


def header_secret(request: HttpRequest) -> str | None:
    return request.headers.get(HEADER)


def session_secret(request: HttpRequest, session_id: str) -> str | None:
    session = getattr(request, "session", None)
    if session is None:
        return None
    return session.get(SESSION_KEY, {}).get(session_id)


def has_pc_proof(request: HttpRequest, session: QRLoginSession) -> bool:
    """True when the request proves it is this session's PC (header, or browser session)."""
    secret = header_secret(request)
    if secret is None:
        secret = session_secret(request, session.public_id)
    return session.check_secret(secret)


def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Django's own CSRF check, for the browser PC (which is not logged in yet)."""

    class _Check(CsrfViewMiddleware):
        def _reject(self, request: HttpRequest, reason: str) -> str:
            return reason

    check = _Check(lambda req: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def needs_csrf(request: HttpRequest) -> bool:
    """Browser proof on an unsafe method: only then can a cross-site form ride the cookies."""
    return header_secret(request) is None and request.method not in ("GET", "HEAD", "OPTIONS")
