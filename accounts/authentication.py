"""Device-token authentication for DRF: ``Authorization: Token <token>`` (a bearer token) or
``Authorization: DPoP <token>`` with a ``DPoP`` proof (a key-bound token), plus
``X-Device-ID: <device_id>``."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from . import dpop
from .conf import accounts_settings
from .exceptions import DeviceMismatch
from .models import Device, DeviceToken

DEVICE_ID_HEADER = "HTTP_X_DEVICE_ID"


def user_is_active(user: object) -> bool:
    """Like ModelBackend: a user model without ``is_active`` counts as active."""
    is_active = getattr(user, "is_active", None)
    return bool(is_active) or is_active is None


class DeviceTokenAuthentication(BaseAuthentication):
    """Authenticate with a device token, valid only from the device it was issued to.

    On success ``request.user`` is the user and ``request.auth`` the :class:`DeviceToken`
    (``request.auth.device`` is the :class:`Device`). Without an ``Authorization: Token`` or
    ``Authorization: DPoP`` header it returns None, so other authentication classes can run.

    A token bound to a key (issued to a request with a DPoP proof) is accepted only under the
    ``DPoP`` scheme with a valid proof of this request signed by that key: copied without the
    key, it authenticates nothing. The X-Device-ID check stays for both schemes.
    """

    keyword = "Token"
    dpop_keyword = dpop.HEADER

    def authenticate(self, request: Request) -> tuple[object, DeviceToken] | None:
        auth = get_authorization_header(request).split()
        if not auth:
            return None
        scheme = auth[0].lower()
        if scheme not in (self.keyword.lower().encode(), self.dpop_keyword.lower().encode()):
            return None
        label = self.keyword if scheme == self.keyword.lower().encode() else self.dpop_keyword
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Expected '%(scheme)s <token>'.") % {"scheme": label}
            )
        try:
            raw = auth[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        user, token = self.authenticate_credentials(raw, request)
        self.check_possession(token, raw, request, with_proof=label == self.dpop_keyword)
        self.touch(token, timezone.now())
        return user, token

    def authenticate_credentials(self, raw: str, request: Request) -> tuple[object, DeviceToken]:
        token = DeviceToken.objects.lookup(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Token has been revoked."))
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("Token has expired."))
        device = token.device
        if device.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Device has been revoked."))
        user = device.user
        if not user_is_active(user):
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        claimed = request.META.get(DEVICE_ID_HEADER)
        if not claimed:
            raise DeviceMismatch(_("The X-Device-ID header is required with a device token."))
        if not constant_time_compare(claimed, device.device_id):
            raise DeviceMismatch()
        return user, token

    def check_possession(
        self, token: DeviceToken, raw: str, request: Request, *, with_proof: bool
    ) -> None:
        """Refuse a bound token without a proof of its key, and a bearer token as DPoP."""
        if not with_proof:
            if token.is_key_bound:
                raise dpop.InvalidDPoPProof(
                    _("This token is bound to a key: send it as 'DPoP <token>' with a proof.")
                )
            if dpop.mode() == "required":
                raise dpop.DPoPRequired(http_status=401)
            return
        if not token.is_key_bound:
            # A bearer token dressed as DPoP: accepting it would let a thief's proof from any
            # key look like possession.
            raise dpop.InvalidDPoPProof(
                _("This token is not bound to a key: send it as 'Token <token>'.")
            )
        value = dpop.proof_header(request)
        if value is None:
            raise dpop.InvalidDPoPProof(_("A DPoP proof is required with this token."))
        dpop.verify_request(request, value, access_token=raw, jkt=token.jkt)

    def touch(self, token: DeviceToken, now: datetime) -> None:
        """Record use, writing at most once per ``LAST_USED_UPDATE_INTERVAL`` per token.

        The UPDATE is conditional, so concurrent requests of one token write once.
        """
        cutoff = now - timedelta(seconds=accounts_settings.LAST_USED_UPDATE_INTERVAL)
        if token.last_used_at is not None and token.last_used_at > cutoff:
            return
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff)
        if DeviceToken.objects.filter(stale, pk=token.pk).update(last_used_at=now):
            token.last_used_at = now
            Device.objects.filter(pk=token.device_id).update(last_seen_at=now)
            token.device.last_seen_at = now

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
