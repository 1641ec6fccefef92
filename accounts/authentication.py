"""``Authorization: Token <token>`` + ``X-Device-ID: <device_id>`` authentication for DRF."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

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
    (``request.auth.device`` is the :class:`Device`). Without an ``Authorization: Token``
    header it returns None, so other authentication classes can still run.
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[object, DeviceToken] | None:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid token header. Expected 'Token <token>'.")
            )
        try:
            raw = auth[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return self.authenticate_credentials(raw, request)

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
        self.touch(token, now)
        return user, token

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
