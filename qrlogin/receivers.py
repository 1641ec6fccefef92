"""Reactions to other apps' events (connected in ``QRLoginConfig.ready`` when they exist)."""

from typing import Any

from .actors import Actor
from .models import QRLoginSession

# What the cancel event's device name says, so the session's trail tells why it ended.
REASON_LABELS = {
    "token_revoked": "token revoked",
    "token_deleted": "token deleted",
    "device_revoked": "device revoked",
    "device_deleted": "device deleted",
    "password_changed": "password changed",
}


def cancel_logins_of_signed_out_device(
    sender: Any, device_key: str, user: Any = None, reason: str = "", **kwargs: Any
) -> None:
    """Cancel the live sessions a device that was just cut off scanned or approved.

    ``device_key`` is the key the phone's requests were recorded under (the accounts device's
    ``persistent_id``, ``device:<pk>``, the same one ``actors.phone_actor`` uses).
    """
    label = REASON_LABELS.get(reason, reason or "revoked")
    revoker = Actor(user=user, device_key=device_key, device_name=f"revoked: {label}")
    QRLoginSession.objects.cancel_for_device(device_key, revoker)
