"""The qrlogin JSON API: thin views that parse, call one model method, and answer.

What they answer is built in ``payloads``; every error body in ``errors``; the PC's proof in
``proof``; the OpenAPI description of each operation in ``schema``.
"""

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.cache import add_never_cache_headers
from django.utils.module_loading import import_string
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import proof, schema, serializers, throttling
from .actors import pc_actor, phone_actor
from .conf import qrlogin_settings
from .errors import exception_handler
from .issuing import load_token_issuer, login_browser
from .models import QRLoginSession
from .parsers import PARSER_CLASSES, ParseErrorsMixin
from .payloads import created_payload, safe_next, scan_payload, status_payload
from .polling import POLL_AFTER_HEADER, SHORT_POLL_SECONDS, parse_status_query
from .ratelimit import ThrottlesCountedTogether


class QRLoginJSONRenderer(JSONRenderer):
    """Dates as the ASGI status path writes them (Django's encoder), so both paths agree."""

    encoder_class = DjangoJSONEncoder


class QRLoginAPIView(ParseErrorsMixin, ThrottlesCountedTogether, APIView):
    """Base view: our error shape, no caching of anything we answer, and a request counted in
    all of its throttle scopes or in none."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    renderer_classes = [QRLoginJSONRenderer]
    parser_classes = PARSER_CLASSES

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


class SessionCreateView(QRLoginAPIView):
    """POST: a desktop/API client starts a QR login and gets its secret, once."""

    throttle_classes = [throttling.CreateThrottle]

    @schema.create_session
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.CreateSessionSerializer, request.data or {})
        started = proof.start_session(request, data["next"])
        payload = created_payload(request, started)
        payload["secret"] = started.secret
        return Response(payload, status=status.HTTP_201_CREATED)


class SessionDetailView(QRLoginAPIView):
    """GET: the status; DELETE: the PC cancels.

    Under ASGI with ``QRLoginASGIMiddleware`` this view never sees a GET: the middleware
    answers it and holds ``?wait=`` polls without a thread. Here a sync worker must not be
    held, so a client that asked to wait is told when to ask again (``X-QRLogin-Poll-After``).
    """

    @schema.session_status
    def get(self, request: Request, public_id: str) -> Response:
        query = parse_status_query(request.query_params)
        session = proof.pc_session(request, public_id)
        session.refresh_status()
        response = Response(status_payload(session))
        if query.wait:
            response[POLL_AFTER_HEADER] = str(SHORT_POLL_SECONDS)
        return response

    @schema.cancel_session
    def delete(self, request: Request, public_id: str) -> Response:
        session = proof.pc_session(request, public_id)
        session.cancel(pc_actor(request))
        proof.forget_secret(request, public_id)
        return Response({"status": session.status})


class SessionCompleteView(QRLoginAPIView):
    """POST: the PC turns a confirmed session into a login, once."""

    @schema.complete_session
    def post(self, request: Request, public_id: str) -> Response:
        data = self.validated(serializers.CompleteSerializer, request.data or {})
        session = proof.pc_session(request, public_id)
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
        session.complete(pc_actor(request), lambda user: login_browser(request._request, user))
        proof.forget_secret(request, public_id)
        return Response(
            {"status": session.status, "redirect_url": safe_next(request, session.next_url)}
        )


class ScanView(PhoneAPIView):
    """POST: the phone read the QR (or typed the pairing code)."""

    def get_throttles(self) -> list:
        throttles = [throttling.ScanThrottle(), throttling.ScanIPThrottle()]
        if isinstance(self.request.data, dict) and "code" in self.request.data:
            throttles += [throttling.UserCodeThrottle(), throttling.UserCodeIPThrottle()]
        return throttles

    @schema.scan
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.ScanSerializer, request.data)
        if "code" in data:
            session = QRLoginSession.objects.get_by_user_code(data["code"])
        else:
            session = QRLoginSession.objects.get_by_public_id(data["session_id"])
        scan = session.scan(phone_actor(request))
        return Response(scan_payload(request, session, scan.temp_token))


class ConfirmView(PhoneAPIView):
    throttle_classes = [throttling.ConfirmThrottle]

    @schema.confirm
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.ConfirmSerializer, request.data)
        session = QRLoginSession.objects.get_by_public_id(data["session"])
        session.confirm(phone_actor(request), data["temp_token"], data.get("verification_code"))
        return Response({"status": session.status})


class DenyView(PhoneAPIView):
    throttle_classes = [throttling.ConfirmThrottle]

    @schema.deny
    def post(self, request: Request) -> Response:
        data = self.validated(serializers.PhoneDecisionSerializer, request.data)
        session = QRLoginSession.objects.get_by_public_id(data["session"])
        session.deny(phone_actor(request), data["temp_token"])
        return Response({"status": session.status})
