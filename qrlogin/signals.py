"""One signal per transition, sent after the transaction commits.

Every signal is sent with ``sender=QRLoginSession`` and the keyword arguments below; a
receiver that raises is logged and the others still run:

- ``session``: the ``QRLoginSession`` after the transition;
- ``event``: the ``QRLoginEvent`` recording who did it (user, device, IP, time).

Use them to tell a user "new login from Chrome on Windows", or to feed an audit log.
"""

import logging
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger(__name__)

session_scanned = Signal()
session_confirmed = Signal()
session_denied = Signal()
session_cancelled = Signal()
session_completed = Signal()
session_expired = Signal()


def send(signal: Signal, *, session: Any, event: Any) -> None:
    """Send to every receiver; one that fails is logged and stops neither the others nor us."""
    for receiver, result in signal.send_robust(sender=type(session), session=session, event=event):
        if isinstance(result, Exception):
            logger.error("qrlogin: signal receiver %r failed", receiver, exc_info=result)
