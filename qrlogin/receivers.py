"""Reactions to other apps' events (connected in ``QRLoginConfig.ready`` when they exist)."""

from typing import Any

from .actors import Actor
from .exceptions import TransitionError
from .models import QRLoginSession


def cancel_logins_of_revoked_device(sender: Any, device: Any, **kwargs: Any) -> None:
    """Cancel the live sessions a just-revoked accounts device scanned or approved."""
    key = device.persistent_id  # the device key qrlogin.actors.phone_actor records
    revoker = Actor(user=device.user, device_key=key, device_name="revoked device")
    for session in QRLoginSession.objects.live().filter(phone_device_key=key):
        try:
            session.cancel(revoker)
        except TransitionError:
            continue  # finished meanwhile
