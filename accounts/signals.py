"""Signals of the accounts app.

``device_revoked`` is sent after a device (and all its tokens) is revoked, with
``sender=Device`` and ``device``.

``device_signed_out`` is sent whenever a device loses its right to act: one of its tokens
is revoked or deleted (logout, the admin), the device is revoked or deleted (API, admin, the
ORM), or its user's password changed. It carries ``device``, ``device_key``
(``device.persistent_id``, the key qrlogin records on the sessions a device scanned),
``user`` and ``reason`` (one of :data:`REASONS`). qrlogin uses it to cancel the live QR logins
that device scanned or approved, so a login set in motion by a device cannot finish after the
device was cut off.
Both are sent inside the transaction that revokes, so what receivers undo commits with it.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

device_revoked = Signal()
device_signed_out = Signal()

TOKEN_REVOKED = "token_revoked"  # noqa: S105  (a revocation reason)
TOKEN_DELETED = "token_deleted"  # noqa: S105  (a revocation reason)
DEVICE_REVOKED = "device_revoked"
DEVICE_DELETED = "device_deleted"
PASSWORD_CHANGED = "password_changed"  # noqa: S105  (a revocation reason)
REASONS = (TOKEN_REVOKED, TOKEN_DELETED, DEVICE_REVOKED, DEVICE_DELETED, PASSWORD_CHANGED)


def end_device_logins(device: Any, reason: str) -> None:
    """Tell listeners that ``device`` was cut off: the one call every revocation path makes.

    A receiver that raises rolls the revocation back with it (``send``, not ``send_robust``):
    a revocation that could not cancel the logins in flight must not look like it worked.
    """
    if reason not in REASONS:
        raise ValueError(f"Unknown reason {reason!r}.")
    device_signed_out.send(
        sender=type(device),
        device=device,
        device_key=device.persistent_id,
        user=device.user,
        reason=reason,
    )
