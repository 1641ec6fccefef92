"""Issuing device tokens; shared by the token login view and other apps (QR login).

The qrlogin app reaches :func:`issue_device_token` through a dotted-path setting, so its
keyword-only signature is part of the public API.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import dpop
from .exceptions import DeviceConflict
from .models import (
    DEVICE_ID_MAX_LENGTH,
    DEVICE_NAME_MAX_LENGTH,
    Device,
    DeviceToken,
    DeviceType,
    validate_device_id,
)
from .serializers import TokenPayloadSerializer
from .tokens import BEARER_SCHEME, DPOP_SCHEME

logger = logging.getLogger(__name__)


def issue_device_token(
    *,
    user: Any,
    device_id: str,
    device_type: str,
    device_name: str = "",
    request: Any = None,
    reuse_live_device: bool = False,
) -> dict[str, Any]:
    """Register (or reuse) the user's device and issue it a token.

    The caller is by default a login approved on another device (a desktop's QR completion):
    then an existing device of another type, or one that still holds a live token, is not
    taken over (:class:`DeviceConflict`, 409 ``device_conflict``); otherwise a QR-jacked
    completion naming the victim's phone would hide a 30-day token inside the phone's row.
    ``reuse_live_device=True`` is for a login that proved the password on this very device
    (the token login), which may renew the token of a device it names.

    Returns ``{token, token_type, expires_at, user: {id, username}, device: {id, device_id,
    device_type, name}}``, JSON-ready; the raw token exists only in this return value. The
    caller validates client input (``serializers.DeviceInputSerializer`` does it); a value that
    would break the database raises ValueError. Whoever sends the payload to a client must mark
    the response ``Cache-Control: no-store``.

    ``request`` (None from code) is where a ``DPoP`` proof header is read: with a valid proof
    the token is bound to the proof's key and ``token_type`` is ``"DPoP"``; an invalid proof,
    or none where ``ACCOUNTS["DPOP"]`` is "required", raises a 400 APIException
    (``dpop.InvalidDPoPProof``, ``dpop.UseDPoPNonce``, ``dpop.DPoPRequired``). Raised inside
    a QR completion's transaction, it leaves the session confirmed.
    """
    # The fields before the proof, so a call that would fail anyway spends no proof (jti).
    _check_device_fields(device_id, device_type, device_name or "")
    return issue_bound_device_token(
        user=user,
        device_id=device_id,
        device_type=device_type,
        device_name=device_name,
        jkt=dpop.binding_for_token_request(request),
        reuse_live_device=reuse_live_device,
    )


def issue_bound_device_token(
    *,
    user: Any,
    device_id: str,
    device_type: str,
    device_name: str = "",
    jkt: str | None = None,
    reuse_live_device: bool = False,
) -> dict[str, Any]:
    """:func:`issue_device_token` with the proof already verified: bound to ``jkt`` if given.

    For a caller that must check the proof before a step of its own (the token login view
    checks it before the new-device budget, so a refused proof or a nonce round trip spends
    none); ``jkt`` comes from ``dpop.binding_for_token_request`` on that request.
    """
    device_name = device_name or ""
    _check_device_fields(device_id, device_type, device_name)
    with transaction.atomic():
        if not reuse_live_device:
            _refuse_a_device_not_its_own(user, device_id, device_type)
        device = Device.objects.register(user, device_id, device_type, device_name)
        if not reuse_live_device and device.tokens.live().exists():
            raise DeviceConflict()  # a concurrent completion registered it first
        token, raw = DeviceToken.objects.issue(device, jkt=jkt or "")
    logger.info("Issued device token %s… to device %s of user %s", token.prefix, device.pk, user.pk)
    payload = TokenPayloadSerializer(
        {
            "token": raw,
            "token_type": DPOP_SCHEME if token.jkt else BEARER_SCHEME,
            "expires_at": token.expires_at,
            "user": user,
            "device": device,
        }
    ).data
    return {
        "token": payload["token"],
        "token_type": payload["token_type"],
        "expires_at": payload["expires_at"],
        "user": dict(payload["user"]),
        "device": dict(payload["device"]),
    }


def _refuse_a_device_not_its_own(user: Any, device_id: str, device_type: str) -> None:
    """409 for a live device of another type, or one holding a live token (row locked)."""
    existing = (
        Device.objects.select_for_update()
        .filter(user=user, device_id=device_id, revoked_at__isnull=True)
        .first()
    )
    if existing is None:
        return
    if existing.device_type != device_type or existing.tokens.live().exists():
        raise DeviceConflict()


def _check_device_fields(device_id: Any, device_type: Any, device_name: Any) -> None:
    if device_type not in DeviceType.values:
        raise ValueError(f"Unknown device_type {device_type!r}.")
    if not isinstance(device_id, str) or not 0 < len(device_id) <= DEVICE_ID_MAX_LENGTH:
        raise ValueError(f"device_id must be a string of 1 to {DEVICE_ID_MAX_LENGTH} characters.")
    try:
        validate_device_id(device_id)
    except ValidationError:
        raise ValueError(_("device_id must be printable ASCII.")) from None
    if not isinstance(device_name, str) or len(device_name) > DEVICE_NAME_MAX_LENGTH:
        raise ValueError(f"device_name must be a string of at most {DEVICE_NAME_MAX_LENGTH}.")
    if "\x00" in device_name:
        raise ValueError("device_name must not contain NUL characters.")
