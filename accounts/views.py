"""The accounts API: token login/logout, the current identity, and device management."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import authenticate
from django.db.models import Exists, OuterRef
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from qrlogin.errors import exception_handler
from qrlogin.parsers import PARSER_CLASSES, ParseErrorsMixin
from qrlogin.ratelimit import ThrottlesCountedTogether
from qrlogin.schema import dpop_nonce

from . import dpop
from .authentication import DeviceTokenAuthentication, user_is_active
from .exceptions import InvalidCredentials
from .issuers import issue_bound_device_token
from .models import Device, DeviceToken
from .schema import DPOP_PROOF, error_responses
from .serializers import (
    DeviceListItemSerializer,
    MeSerializer,
    TokenLoginSerializer,
    TokenPayloadSerializer,
)
from .throttling import DeviceCreateThrottle, TokenLoginIPThrottle, TokenLoginUsernameThrottle

DEVICE_ID_HEADER = OpenApiParameter(
    "X-Device-ID",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The device_id the token was issued to.",
)

# A 401 names the scheme to log in with; a 429 says when to try again.
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    str,
    OpenApiParameter.HEADER,
    response=[401],
    description='`Token` (or `DPoP error="..."` for a key-bound token): the token is '
    "missing, unknown, expired or revoked, or sent without its device's `X-Device-ID`, or its "
    "DPoP proof is wrong. Log in again (POST /accounts/api/token/); with `use_dpop_nonce`, "
    "send a new proof with the `DPoP-Nonce` value instead.",
)


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)

# Largest value of a BigAutoField; a bigger path id would overflow the database driver.
MAX_PK = 2**63 - 1


class AccountsAPIView(ParseErrorsMixin, ThrottlesCountedTogether, APIView):
    """Base of the app's views: its own policies, independent of the host's DRF defaults.

    Errors use :func:`qrlogin.errors.exception_handler`; responses are JSON and never
    cached (they carry tokens or personal data); a request is counted in all of its throttle
    scopes or in none.
    """

    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list[type[BaseThrottle]] = []
    renderer_classes = [JSONRenderer]
    parser_classes = PARSER_CLASSES

    def get_exception_handler(self) -> Callable[..., Response | None]:
        return exception_handler

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response


class TokenView(AccountsAPIView):
    """``POST``: exchange credentials for a device token. ``DELETE``: revoke the current one."""

    throttle_classes = [TokenLoginIPThrottle, TokenLoginUsernameThrottle]

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [AllowAny()]
        return super().get_permissions()

    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method == "POST":
            return super().get_throttles()
        return []

    def perform_authentication(self, request: Request) -> None:
        # Logging in ignores any Authorization header: a client holding a stale token must
        # still be able to get a new one.
        if request.method != "POST":
            super().perform_authentication(request)

    @extend_schema(
        operation_id="accounts_token_create",
        summary="Log in with a password; get a token for this device",
        description="The app's sign-in screen calls this once. Send a `device_id` the app "
        "generated at install and keeps (a random string, not a hardware id), the platform "
        "as `device_type` and a name the user recognises. Store `token` in the platform's "
        "secure storage (Keychain, Keystore) and send it on every call as `Authorization: "
        "Token <token>` together with `X-Device-ID: <device_id>`, until `expires_at`. On 401 "
        "`invalid_credentials`, let the user retry; on 429, wait `Retry-After` seconds.",
        auth=[],
        parameters=[DPOP_PROOF, RETRY_AFTER, dpop_nonce(400)],
        request=TokenLoginSerializer,
        responses={201: TokenPayloadSerializer, **error_responses(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = TokenLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user_is_active(user):
            raise InvalidCredentials()
        # The proof first: a refused one, or the nonce round trip, spends no device budget.
        jkt = dpop.binding_for_token_request(request)
        self.check_device_budget(request, user, data["device_id"])
        payload = issue_bound_device_token(
            user=user,
            device_id=data["device_id"],
            device_type=data["device_type"],
            device_name=data["device_name"],
            jkt=jkt,
            reuse_live_device=True,  # the password was proved here, by this device
        )
        return Response(payload, status=status.HTTP_201_CREATED)

    def check_device_budget(self, request: Request, user: Any, device_id: str) -> None:
        """429 once this login would make one new device too many for the user today."""
        if Device.objects.active().filter(user=user, device_id=device_id).exists():
            return
        throttle = DeviceCreateThrottle(user)
        if not throttle.allow_request(request, self):
            raise exceptions.Throttled(
                throttle.wait(),
                detail=str(_("Too many new devices signed in to this account; try again later.")),
            )

    @extend_schema(
        operation_id="accounts_token_revoke",
        summary="Log out: revoke this token",
        description="The app's Log out button: the token stops working at once. Forget the "
        "stored token whatever the answer (a 401 means it was already dead).",
        parameters=[DEVICE_ID_HEADER, DPOP_PROOF, WWW_AUTHENTICATE, dpop_nonce(401)],
        request=None,
        responses={204: None, **error_responses(401)},
    )
    def delete(self, request: Request) -> Response:
        request.auth.revoke()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(AccountsAPIView):
    """The authenticated user and the device the token belongs to."""

    @extend_schema(
        operation_id="accounts_me",
        summary="The current user and device",
        description="Check at start-up that the stored token still works and show whose "
        "account the app is signed in to. On 401, forget the token and show the sign-in "
        "screen.",
        parameters=[DEVICE_ID_HEADER, DPOP_PROOF, WWW_AUTHENTICATE, dpop_nonce(401)],
        responses={200: MeSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(MeSerializer({"user": request.user, "device": request.auth.device}).data)


class DeviceListView(AccountsAPIView):
    """The user's devices, revoked ones included, newest first."""

    @extend_schema(
        operation_id="accounts_devices_list",
        summary="The user's devices",
        description='A "Your devices" screen: every device signed in to the account, newest '
        "first, revoked ones included; `current` marks this one. Offer to sign out the others "
        "with DELETE /accounts/api/devices/{id}/.",
        parameters=[DEVICE_ID_HEADER, DPOP_PROOF, WWW_AUTHENTICATE, dpop_nonce(401)],
        responses={200: DeviceListItemSerializer(many=True), **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        bound = DeviceToken.objects.live().filter(device=OuterRef("pk")).exclude(jkt="")
        devices = (
            Device.objects.filter(user=request.user)
            .annotate(key_bound=Exists(bound))
            .order_by("-created_at", "-pk")
        )
        serializer = DeviceListItemSerializer(
            devices, many=True, context={"current_device": request.auth.device}
        )
        return Response(serializer.data)


class DeviceDetailView(AccountsAPIView):
    """``DELETE``: revoke one of the user's devices and all its tokens (idempotent)."""

    @extend_schema(
        operation_id="accounts_device_revoke",
        summary="Revoke a device and all its tokens",
        description="Sign out a lost or old device from the devices screen: its tokens stop "
        "working at once. Revoking an already revoked device succeeds too (204). Revoking "
        "this phone's own device logs the app out.",
        parameters=[DEVICE_ID_HEADER, DPOP_PROOF, WWW_AUTHENTICATE, dpop_nonce(401)],
        request=None,
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request: Request, pk: str) -> Response:
        # The path takes any text, so a malformed id gets this API's JSON 404, not Django's.
        device = None
        if pk.isascii() and pk.isdigit() and int(pk) <= MAX_PK:
            device = Device.objects.filter(user=request.user, pk=int(pk)).first()
        if device is None:
            raise exceptions.NotFound(_("No such device."))
        device.revoke()
        return Response(status=status.HTTP_204_NO_CONTENT)
