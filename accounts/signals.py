"""Signals of the accounts app.

``device_revoked`` is sent after a device (and all its tokens) is revoked, with
``sender=Device`` and ``device``. qrlogin uses it to cancel the live QR logins that device
scanned or approved, so a stolen phone cannot finish a login after its owner revoked it.
"""

from django.dispatch import Signal

device_revoked = Signal()
