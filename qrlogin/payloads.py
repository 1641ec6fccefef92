"""What the PC and the phone are shown: the JSON bodies of the API, the pages and the ASGI path.

Plain dicts from models, with no DRF: the pages and the status hot path import this module.
"""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .client_info import client_ip, describe_user_agent, same_network
from .conf import qrlogin_settings
from .display import scanned_by
from .models import QRLoginSession, StartedSession, Status
from .qr import qr_svg
from .tokens import format_user_code


def qr_url(request: HttpRequest, public_id: str) -> str:
    """The URL in the QR: the phone page, on ``SITE_URL`` when set (the host behind a proxy)."""
    path = reverse("qrlogin:phone", args=[public_id])
    base = qrlogin_settings.SITE_URL
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


def code_page_url(request: HttpRequest) -> str:
    """Where a phone types the pairing code, absolute like ``qr_url`` (shown under the code)."""
    path = reverse("qrlogin:code")
    base = qrlogin_settings.SITE_URL
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


def safe_next(request: HttpRequest, next_url: str) -> str:
    """``next`` if it stays on this site, else the login redirect default."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return qrlogin_settings.LOGIN_REDIRECT_URL or "/"


def created_payload(request: HttpRequest, started: StartedSession) -> dict[str, Any]:
    """The new session as the PC sees it (without the secret)."""
    session = started.session
    url = qr_url(request, session.public_id)
    return {
        "id": session.public_id,
        "status": session.status,
        "qr_url": url,
        "qr_svg": qr_svg(url),
        "user_code": format_user_code(started.user_code),
        "expires_at": session.expires_at,
    }


def mask_name(name: str) -> str:
    """``d***o``: enough for the owner to recognise, too little for a shoulder-surfer."""
    if len(name) <= 2:
        return name[:1] + "***"
    return f"{name[0]}***{name[-1]}"


def status_payload(session: QRLoginSession) -> dict[str, Any]:
    """The status as the waiting PC sees it."""
    data: dict[str, Any] = {
        "id": session.public_id,
        "status": session.status,
        "expires_at": session.expires_at,
    }
    if session.user_id and session.status in (Status.SCANNED, Status.CONFIRMED, Status.COMPLETED):
        data["scanned_by"] = scanned_by(session.user)
    if session.status == Status.SCANNED and session.verification_code:
        data["verification_code"] = session.verification_code
    return data


def pc_payload(request: HttpRequest, session: QRLoginSession) -> dict[str, Any]:
    """What the phone is shown about the computer asking to log in."""
    info = describe_user_agent(session.pc_user_agent)
    return {
        "ip": session.pc_ip,
        "user_agent": session.pc_user_agent,
        "browser": info.browser,
        "os": info.os,
        "created_at": session.created_at,
        "same_network": same_network(session.pc_ip, client_ip(request)),
    }


def scan_payload(request: HttpRequest, session: QRLoginSession, temp_token: str) -> dict:
    """The phone's answer to a scan: the single-use temp token and who is asking."""
    return {
        "session": session.public_id,
        "temp_token": temp_token,
        "expires_at": session.expires_at,
        "verification": "number" if session.verification_code else "none",
        "pc": pc_payload(request, session),
    }


def render_json(data: dict[str, Any]) -> bytes:
    """A body as the qrlogin API renders it (``api.QRLoginJSONRenderer``: Django's encoder,
    compact, UTF-8), for the ASGI path and the status snapshots."""
    return json.dumps(
        data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")
    ).encode()
