"""Throttles for the token login endpoint, configured by ``ACCOUNTS["THROTTLE_RATES"]``.

They count with :mod:`qrlogin.ratelimit` (shared with qrlogin, and usable without the qrlogin
app installed): an atomic counter in Django's default cache, so with Redis the limits hold
across processes and under parallel requests, and per process while the cache fails. Rates
are read per request, so ``override_settings`` applies immediately.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from rest_framework.request import Request

from qrlogin.client_info import client_network_key
from qrlogin.ratelimit import RateThrottle

from .conf import accounts_settings

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int | None, int | None]:
    """Parse ``"N/period"`` (period s, sec, m, min, h, hour, d, day); None means unlimited.

    Raises ValueError with a readable message for anything else.
    """
    if rate is None:
        return None, None
    try:
        num, period = str(rate).split("/")
        num_requests = int(num)
        duration = _PERIODS[period.strip()[0]]
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"invalid rate {rate!r}; expected e.g. '5/min'") from None
    if num_requests < 0:
        raise ValueError(f"invalid rate {rate!r}; the count must be >= 0")
    return num_requests, duration


class AccountsRateThrottle(RateThrottle):
    """A throttle whose rate comes from ``ACCOUNTS["THROTTLE_RATES"][scope]``."""

    def get_rate(self) -> str | None:
        rates = accounts_settings.THROTTLE_RATES
        if not rates:
            return None
        return rates.get(self.scope)

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        return parse_rate(rate)

    def ident_hash(self, value: str) -> str:
        # Hashed so any client-supplied string makes a short, cache-safe key.
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def make_key(self, ident: str) -> str:
        return self.cache_format % {"scope": f"accounts_{self.scope}", "ident": ident}


class TokenLoginIPThrottle(AccountsRateThrottle):
    """Token login attempts per client network.

    The address is qrlogin's: ``REMOTE_ADDR``, or behind ``QRLOGIN["TRUSTED_PROXIES"]`` the
    nearest untrusted X-Forwarded-For hop (so clients behind a proxy do not share its bucket,
    and a forged header buys no fresh one); IPv6 counts by /64. No address (a unix socket
    without trusted proxies) is one shared bucket.
    """

    scope = "token_login_ip"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.make_key(self.ident_hash(client_network_key(request) or "unknown"))


class TokenLoginUsernameThrottle(AccountsRateThrottle):
    """Token login attempts per (case-folded) username in the body, whatever the IP."""

    scope = "token_login_username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if isinstance(data, Mapping) else None
        # Numbers are accepted as usernames by the serializer (as DRF's CharField does).
        if isinstance(username, bool) or not isinstance(username, str | int | float):
            return None  # The view rejects it as malformed.
        username = str(username).strip()
        if not username:
            return None
        return self.make_key(self.ident_hash(username.casefold()))


class DeviceCreateThrottle(AccountsRateThrottle):
    """New devices a user's token logins create, whatever the IP (scope ``device_create``).

    Checked only once the password is right and only when the login would register a device
    the user does not have yet: re-logins of a known device never count. Without it, the
    token login rate makes a stream of devices (rows and live tokens) that nobody uses.
    """

    scope = "device_create"

    def __init__(self, user: Any = None) -> None:
        super().__init__()
        self.user = user

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if self.user is None or self.user.pk is None:
            return None
        return self.make_key(str(self.user.pk))
