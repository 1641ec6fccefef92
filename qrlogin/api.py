"""The qrlogin JSON API: thin views that parse, call one model method, and answer.

Errors of every kind are mapped to ``{"detail", "code"}`` and their status codes in
``exception_handler``, the one place that knows the contract's error table.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from . import proof, serializers, throttling
from .client_info import client_ip, describe_user_agent, pc_actor, phone_actor, same_network
from .conf import qrlogin_settings
from .exceptions import TransitionError
from .models import QRLoginSession, StartedSession, Status
from .qr import qr_svg
from .schema import PC_SECRET, errors, example
from .tokens import SESSION_ID_RE, format_user_code


class TokenIssuerUnavailable(drf_exceptions.APIException):
    status_code = 400
    default_code = "token_issuer_unavailable"
    default_detail = _("This site does not issue device tokens; complete from a browser.")


class CSRFFailed(drf_exceptions.PermissionDenied):
    default_code = "csrf_failed"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Every error as ``{"detail": <sentence>, "code": <machine code>}``."""
    if isinstance(exc, TransitionError):
        return Response({"detail": str(exc.detail), "code": exc.code}, status=exc.status_code)
    if isinstance(exc, Http404 | QRLoginSession.DoesNotExist):
        exc = drf_exceptions.NotFound(_("No such login request."), code="not_found")
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, drf_exceptions.APIException):
        return response
    if isinstance(exc, drf_exceptions.ValidationError | drf_exceptions.ParseError):
        response.data = {"detail": _validation_sentence(exc.detail), "code": "invalid"}
        if isinstance(exc.detail, dict):
            response.data["errors"] = exc.detail
    else:
        codes = exc.get_codes()
        response.data = {
            "detail": str(exc.detail),
            "code": codes if isinstance(codes, str) else exc.default_code,
        }
    return response


def _validation_sentence(detail: Any) -> str:
    if isinstance(detail, dict):
        parts = []
        for field, errors in detail.items():
            message = _validation_sentence(errors)
            parts.append(message if field == "non_field_errors" else f"{field}: {message}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(_validation_sentence(d) for d in detail)
    return str(detail)


class QRLoginAPIView(APIView):
    """Base view: our error shape, and no caching of anything we answer."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_exception_handler(self):
        return exception_handler

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def validated(self, serializer_class: type, data: Any) -> dict:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class PhoneAPIView(QRLoginAPIView):
    """Phone side: authenticated by the site's mobile authentication classes."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self) -> list:
        return [import_string(path)() for path in qrlogin_settings.MOBILE_AUTHENTICATION_CLASSES]

    def get_authenticate_header(self, request: Request) -> str:
        """Always a 401 for a missing or bad credential, as the contract says.

        DRF answers 403 when the first authenticator names no scheme (session auth does not);
        a phone app must be able to tell "log in again" (401) from "not allowed" (403).
        """
        return super().get_authenticate_header(request) or 'Session realm="api"'


def get_session(public_id: str) -> QRLoginSession:
    if not SESSION_ID_RE.match(public_id or ""):
        raise Http404
    return QRLoginSession.objects.select_related("user").get(public_id=public_id)


def get_pc_session(request: Request, public_id: str) -> QRLoginSession:
    """The session, only for its PC: anyone else gets the same 404 as an unknown id."""
    session = get_session(public_id)
    if not proof.has_pc_proof(request, session):
        raise Http404
    if proof.needs_csrf(request):
        reason = proof.csrf_failure_reason(request._request)
        if reason:
            raise CSRFFailed(_("CSRF failed: %(reason)s") % {"reason": reason})
    return session


def qr_url(request: HttpRequest, public_id: str) -> str:
    path = reverse("qrlogin:phone", args=[public_id])
    base = qrlogin_settings.SITE_URL
    return f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)


def safe_next(request: HttpRequest, next_url: str) -> str:
    """``next`` if it stays on this site, else the login redirect default."""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return qrlogin_settings.LOGIN_REDIRECT_URL or "/"


def start_session(request: HttpRequest, next_url: str = "") -> StartedSession:
    return QRLoginSession.objects.start(
        pc_ip=client_ip(request),
        pc_user_agent=request.META.get("HTTP_USER_AGENT", ""),
        next_url=next_url if safe_next(request, next_url) == next_url else "",
    )


def created_payload(request: HttpRequest, started: StartedSession) -> dict:
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


def status_payload(session: QRLoginSession) -> dict:
    data: dict[str, Any] = {
        "id": session.public_id,
        "status": session.status,
        "expires_at": session.expires_at,
    }
    if session.user_id and session.status in (Status.SCANNED, Status.CONFIRMED, Status.COMPLETED):
        data["scanned_by"] = {"display_name": mask_name(session.user.get_username())}
    if session.status == Status.SCANNED and session.verification_code:
        data["verification_code"] = session.verification_code
    return data


def pc_payload(request: HttpRequest, session: QRLoginSession) -> dict:
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


class SessionCreateView(QRLoginAPIView):
    """POST: a desktop/API client starts a QR login and gets its secret, once."""

    throttle_classes = [throttling.CreateThrottle]

    @extend_schema(
        operation_id="qrlogin_session_create",
        summary="PC: create a QR login session",
        request=serializers.CreateSessionSerializer,
        responses={201: serializers.SessionCreatedSerializer, **errors(400, 429)},
        examples=[
            example("create", {"next": "/dashboard/"}, request=True),
            example(
                "created",
                {
                    "id": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                    "status": "pending",
                    "qr_url": "https://example.com/qrlogin/s/hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd/",
                    "qr_svg": "<svg ...>...</svg>",
                    "user_code": "K7QX-M2PA",
                    "expires_at": "2026-11-26T12:02:00Z",
                    "secret": "q8Yb3m...(43 characters)",
                },
                status="201",
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.CreateSessionSerializer, request.data or {})
        started = start_session(request, data["next"])
        payload = created_payload(request, started)
        payload["secret"] = started.secret
        return Response(payload, status=status.HTTP_201_CREATED)


POLL_AFTER_HEADER = "X-QRLogin-Poll-After"
SHORT_POLL_SECONDS = 2


class SessionDetailView(QRLoginAPIView):
    """GET: the status (optionally a long poll); DELETE: the PC cancels."""

    @extend_schema(
        operation_id="qrlogin_session_status",
        summary="PC: the session's status (long poll with wait)",
        parameters=[
            PC_SECRET,
            OpenApiParameter(
                "wait", int, description="Hold up to this many seconds (0..30) for a change."
            ),
            OpenApiParameter(
                "since",
                str,
                enum=[c for c, _ in Status.choices],
                description="The status the PC knows (default: the current one).",
            ),
        ],
        responses={200: serializers.SessionStatusSerializer, **errors(400, 404)},
        examples=[
            example(
                "scanned",
                {
                    "id": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                    "status": "scanned",
                    "expires_at": "2026-11-26T12:01:30Z",
                    "scanned_by": {"display_name": "d***o"},
                },
            )
        ],
    )
    def get(self, request: Request, public_id: str) -> Response:
        """The status, at once: a sync worker must not be held by a long poll.

        Under ASGI with ``QRLoginASGIMiddleware`` this view never sees a GET: the middleware
        answers it and holds ``?wait=`` polls without a thread. Here a client that asked to
        wait is told when to ask again instead (``X-QRLogin-Poll-After``, in seconds).
        """
        query = self.validated(serializers.StatusQuerySerializer, request.query_params)
        session = get_pc_session(request, public_id)
        session.refresh_status()
        response = Response(status_payload(session))
        if query["wait"]:
            response[POLL_AFTER_HEADER] = str(SHORT_POLL_SECONDS)
        return response

    @extend_schema(
        operation_id="qrlogin_session_cancel",
        summary="PC: cancel the session",
        parameters=[PC_SECRET],
        responses={200: serializers.StatusOnlySerializer, **errors(403, 404, 409, 410)},
        examples=[example("cancelled", {"status": "cancelled"})],
    )
    def delete(self, request: Request, public_id: str) -> Response:
        session = get_pc_session(request, public_id)
        session.cancel(pc_actor(request))
        proof.forget_secret(request, public_id)
        return Response({"status": session.status})


class SessionCompleteView(QRLoginAPIView):
    """POST: the PC turns a confirmed session into a login, once."""

    @extend_schema(
        operation_id="qrlogin_session_complete",
        summary="PC: complete the login (browser session, or a device token)",
        description="From `confirmed` only, once. With `device_id`, issues a device token to a "
        "desktop/API client; without it, logs the requesting browser's Django session in.",
        parameters=[PC_SECRET],
        request=serializers.CompleteSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="SessionCompleted",
                serializers=[
                    serializers.TokenCompletedSerializer,
                    serializers.BrowserCompletedSerializer,
                ],
                resource_type_field_name=None,
            ),
            **errors(400, 403, 404, 409, 410),
        },
        examples=[
            example(
                "desktop client",
                {"device_id": "laptop-7f3a", "device_type": "pc", "device_name": "Work laptop"},
                request=True,
            ),
            example(
                "token issued",
                {
                    "status": "completed",
                    "token": "Ab12Cd34...",
                    "expires_at": "2026-12-26T12:01:00Z",
                    "user": {"id": 1, "username": "demo"},
                    "device": {
                        "id": 7,
                        "device_id": "laptop-7f3a",
                        "device_type": "pc",
                        "name": "Work laptop",
                    },
                },
            ),
        ],
    )
    def post(self, request: Request, public_id: str) -> Response:
        data = self.validated(serializers.CompleteSerializer, request.data or {})
        session = get_pc_session(request, public_id)
        if "device_id" in data:
            issue = load_token_issuer()

            def issue_token(user: Any) -> dict:
                try:
                    return issue(
                        user=user,
                        device_id=data["device_id"],
                        device_type=data["device_type"],
                        device_name=data["device_name"],
                        request=request,
                    )
                except ValueError as exc:  # rolls the completion back: nothing is lost
                    raise drf_exceptions.ValidationError({"device_id": [str(exc)]}) from exc

            payload = session.complete(
                pc_actor(request), issue_token, pc_device_id=data["device_id"]
            )
            return Response({"status": session.status, **payload})
        session.complete(pc_actor(request), lambda user: login_browser(request, user))
        proof.forget_secret(request, public_id)
        return Response(
            {"status": session.status, "redirect_url": safe_next(request, session.next_url)}
        )


def load_token_issuer() -> Any:
    path = qrlogin_settings.TOKEN_ISSUER
    if not path:
        raise TokenIssuerUnavailable()
    try:
        return import_string(path)
    except (ImportError, RuntimeError) as exc:  # RuntimeError: its app is not installed
        raise TokenIssuerUnavailable() from exc


def login_browser(request: Request, user: Any) -> None:
    """A normal Django login: the session key is rotated, ``user_logged_in`` is sent."""
    login(request._request, user, backend=settings.AUTHENTICATION_BACKENDS[0])


class ScanView(PhoneAPIView):
    """POST: the phone read the QR (or typed the pairing code)."""

    def get_throttles(self) -> list:
        throttles = [throttling.ScanThrottle(), throttling.ScanIPThrottle()]
        if isinstance(self.request.data, dict) and "code" in self.request.data:
            throttles += [throttling.UserCodeThrottle(), throttling.UserCodeIPThrottle()]
        return throttles

    @extend_schema(
        operation_id="qrlogin_scan",
        summary="Phone: scan a QR (or type its pairing code)",
        request=serializers.ScanSerializer,
        responses={
            200: serializers.ScanResultSerializer,
            **errors(400, 401, 403, 404, 409, 410, 429),
        },
        examples=[
            example(
                "scan",
                {"qr": "https://example.com/qrlogin/s/hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd/"},
                request=True,
            ),
            example("pairing code", {"code": "K7QX-M2PA"}, request=True),
            example(
                "scanned",
                {
                    "session": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                    "temp_token": "Zp0c...(43 characters)",
                    "expires_at": "2026-11-26T12:01:30Z",
                    "verification": "none",
                    "pc": {
                        "ip": "203.0.113.10",
                        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ...",
                        "browser": "Chrome 120",
                        "os": "Windows 10",
                        "created_at": "2026-11-26T12:00:00Z",
                        "same_network": True,
                    },
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.ScanSerializer, request.data)
        if "code" in data:
            session = QRLoginSession.objects.select_related("user").get_by_user_code(data["code"])
        else:
            session = get_session(data["session_id"])
        scan = session.scan(phone_actor(request))
        return Response(
            {
                "session": session.public_id,
                "temp_token": scan.temp_token,
                "expires_at": session.expires_at,
                "verification": "number" if session.verification_code else "none",
                "pc": pc_payload(request, session),
            }
        )


class ConfirmView(PhoneAPIView):
    throttle_classes = [throttling.ConfirmThrottle]

    @extend_schema(
        operation_id="qrlogin_confirm",
        summary="Phone: confirm the login",
        request=serializers.ConfirmSerializer,
        responses={
            200: serializers.StatusOnlySerializer,
            **errors(400, 401, 403, 404, 409, 410, 429),
        },
        examples=[
            example(
                "confirm",
                {"session": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd", "temp_token": "Zp0c..."},
                request=True,
            ),
            example("confirmed", {"status": "confirmed"}),
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.ConfirmSerializer, request.data)
        session = get_session(data["session"])
        session.confirm(phone_actor(request), data["temp_token"], data.get("verification_code"))
        return Response({"status": session.status})


class DenyView(PhoneAPIView):
    throttle_classes = [throttling.ConfirmThrottle]

    @extend_schema(
        operation_id="qrlogin_deny",
        summary="Phone: deny the login",
        request=serializers.PhoneDecisionSerializer,
        responses={
            200: serializers.StatusOnlySerializer,
            **errors(400, 401, 403, 404, 409, 410, 429),
        },
        examples=[example("denied", {"status": "denied"})],
    )
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.PhoneDecisionSerializer, request.data)
        session = get_session(data["session"])
        session.deny(phone_actor(request), data["temp_token"])
        return Response({"status": session.status})
