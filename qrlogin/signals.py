"""One signal per transition, sent after the transaction commits.

Every signal is sent with ``sender=QRLoginSession`` and the keyword arguments:

- ``session``: the ``QRLoginSession`` after the transition;
- ``event``: the ``QRLoginEvent`` recording who did it (user, device, IP, time).

Use them to tell a user "new login from Chrome on Windows", or to feed an audit log.
"""

from django.dispatch import Signal

session_scanned = Signal()
session_confirmed = Signal()
session_denied = Signal()
session_cancelled = Signal()
session_completed = Signal()
session_expired = Signal()
