"""Pages: the PC login page and the phone-browser confirm page.

Both are refused to frames (clickjacking would let another site dress them up), and a plain
GET of the phone page changes nothing: link previews and prefetchers must not scan.
"""

import math
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from . import proof, serializers, throttling
from .actors import phone_actor
from .errors import error_body
from .exceptions import SessionNotFound, TransitionError
from .models import QRLoginSession, Status
from .payloads import code_page_url, created_payload, pc_payload
from .ratelimit import longest_wait, refusing


def protected_page(view: Any) -> Any:
    """No framing (X-Frame-Options and CSP), no caching, CSRF on every POST."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        add_never_cache_headers(response)
        return response

    return xframe_options_deny(csrf_protect(wrapper))


def throttled_response(request: HttpRequest) -> HttpResponse | None:
    """429 (JSON for the script, a page for a person) once this IP made too many QRs."""
    throttle = throttling.CreateThrottle()
    if throttle.allow_request(request, None):
        return None
    if request.method == "GET":
        response = render(request, "qrlogin/throttled.html", status=429)
    else:
        detail = _("Too many login codes requested; try again shortly.")
        response = JsonResponse(error_body(detail, "throttled"), status=429)
    return _with_retry_after(response, throttle.wait())


def _with_retry_after(response: HttpResponse, wait: float | None) -> HttpResponse:
    """``Retry-After`` in whole seconds, at least 1 (``0`` would invite a tight loop)."""
    if wait is not None:
        response["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


@protected_page
@require_http_methods(["GET", "POST"])
def pc_login(request: HttpRequest) -> HttpResponse:
    """GET: the QR page. POST (from its script): a fresh QR when the old one is over."""
    next_url = page_next(request.GET.get("next", ""))
    if (refused := throttled_response(request)) is not None:
        return refused
    payload = new_qr_for_browser(request, next_url)
    if request.method == "POST":
        payload["expires_at"] = payload["expires_at"].isoformat()
        return JsonResponse(payload)
    return render(
        request,
        "qrlogin/login.html",
        {
            "qr": payload,
            "next": next_url,
            "renew_url": request.get_full_path(),
            "password_login_url": resolve_url(settings.LOGIN_URL),
        },
    )


def page_next(value: str) -> str:
    """``next`` if the API would accept it (at most 2,000 characters, no NUL), else "".

    A page's ``next`` comes from a link: a mangled one (too long, a NUL byte) should still
    log the person in, to the default redirect, not answer an error page (or a database
    error, as an unchecked NUL did on PostgreSQL).
    """
    checked = serializers.CreateSessionSerializer(data={"next": value})
    return checked.validated_data["next"] if checked.is_valid() else ""


def new_qr_for_browser(request: HttpRequest, next_url: str = "") -> dict:
    """Start a session whose proof is this browser's Django session (the secret stays here)."""
    started = proof.start_session(request, page_next(next_url))
    proof.remember_secret(request, started.session, started.secret)
    payload = created_payload(request, started)
    payload.update(client_urls(started.session.public_id))
    payload.update(page_extras(request, started.session))
    return payload


def page_extras(request: HttpRequest, session: QRLoginSession) -> dict:
    """What the page shows beside the QR: the site to open, where to type the code, and the
    seconds left (counted from the server's clock, so a PC whose clock is off still counts
    down right)."""
    code_url = code_page_url(request)
    return {
        "site": urlsplit(code_url).netloc,
        "code_url": code_url,
        "code_url_text": code_url.removeprefix("https://"),
        "expires_in": max(0, math.ceil((session.expires_at - timezone.now()).total_seconds())),
    }


def client_urls(public_id: str) -> dict:
    return {
        "status_url": reverse("qrlogin:api-session", args=[public_id]),
        "complete_url": reverse("qrlogin:api-complete", args=[public_id]),
    }


@protected_page
@login_required
@require_http_methods(["GET", "POST"])
def phone_confirm(request: HttpRequest, public_id: str) -> HttpResponse:
    """The page behind the QR's URL, for a phone browser logged in with a Django session.

    GET shows who is asking and changes nothing; the page's script then scans with a POST
    "scan" (answered in JSON: the temp token for the buttons), so the PC shows "scanned"
    while the person reads. POST "confirm" confirms (scanning first without a temp token;
    with number matching on, it asks for the number); POST "deny" denies. Only the phone
    that scanned (or anyone, before a scan) sees the computer's details and the buttons; a
    finished request only says it is over.
    """
    try:
        session = QRLoginSession.objects.get_by_public_id(public_id)
    except SessionNotFound:
        return render(request, "qrlogin/phone.html", {"missing": True}, status=404)
    session.refresh_status()
    if request.method == "POST" and request.POST.get("action") == "scan":
        return phone_scan(request, session)
    # Every name the template tests is set: a missing one makes Django's template logger
    # print the whole context at DEBUG, which would include the temp token.
    context: dict[str, Any] = {
        "session": session,
        "pc": {},
        "missing": False,
        "state": "",
        "done": "",
        "error": "",
        "ask_number": False,
        "temp_token": "",
    }
    status = 200
    if request.method == "POST":
        if request.POST.get("action") not in ("confirm", "deny"):
            context["error"] = _("Choose Confirm or Deny.")
            status = 400
        else:
            try:
                context.update(phone_decide(request, session))
            except TransitionError as exc:
                context["error"] = exc.detail
                status = exc.status_code
                session.refresh_from_db()
    context["state"] = page_state(request, session)
    if context["state"] in ("ask", "approved"):
        context["pc"] = pc_payload(request, session)
    return render(request, "qrlogin/phone.html", context, status=status)


def page_state(request: HttpRequest, session: QRLoginSession) -> str:
    """What this phone may see: ``ask``, ``approved`` (by it), ``taken`` (by another), ``over``.

    The computer's IP, browser and system are for the phone that scanned (or is about to):
    anyone else holding the URL learns nothing about that computer.
    """
    if not session.is_live:
        return "over"
    if session.status == Status.PENDING:
        return "ask"
    mine = session.scanned_by(phone_actor(request)) and session.user_id == request.user.pk
    if not mine:
        return "taken"
    return "approved" if session.status == Status.CONFIRMED else "ask"


def phone_scan(request: HttpRequest, session: QRLoginSession) -> JsonResponse:
    """The page's own scan (its script's CSRF-protected POST): the temp token, in JSON."""
    try:
        scan = session.scan(phone_actor(request))
    except TransitionError as exc:
        return JsonResponse(error_body(exc.detail, exc.code), status=exc.status_code)
    verification = "number" if session.verification_code else "none"
    return JsonResponse(
        {"status": session.status, "temp_token": scan.temp_token, "verification": verification}
    )


def phone_decide(request: HttpRequest, session: QRLoginSession) -> dict:
    phone = phone_actor(request)
    action = request.POST.get("action")
    temp_token = request.POST.get("temp_token", "")
    if not temp_token:
        temp_token = session.scan(phone).temp_token
    if action == "deny":
        session.deny(phone, temp_token)
        return {"done": "denied"}
    if session.verification_code and "verification_code" not in request.POST:
        return {"ask_number": True, "temp_token": temp_token}
    session.confirm(phone, temp_token, request.POST.get("verification_code"))
    return {"done": "confirmed"}


@protected_page
@login_required
@require_http_methods(["GET", "POST"])
def phone_code(request: HttpRequest) -> HttpResponse:
    """For a phone browser without a camera: type the pairing code shown under the QR.

    It only finds the session and goes to its confirm page (nothing changes state here);
    lookups are throttled per phone and per IP, as in the API, so codes cannot be guessed.
    """
    if request.method == "GET":
        return render(request, "qrlogin/code.html")
    refused = refusing(
        [throttling.UserCodeThrottle(), throttling.UserCodeIPThrottle()], request, None
    )
    if refused:
        context = {"error": _("Too many attempts. Wait a minute, then try again.")}
        response = render(request, "qrlogin/code.html", context, status=429)
        return _with_retry_after(response, longest_wait(refused) or 1)
    try:
        session = QRLoginSession.objects.get_by_user_code(request.POST.get("code", ""))
    except SessionNotFound:
        context = {"error": _("No login request shows this code. Check it and try again.")}
        return render(request, "qrlogin/code.html", context, status=404)
    return redirect("qrlogin:phone", public_id=session.public_id)
