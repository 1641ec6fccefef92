"""DRF throttles whose rates come from ``QRLOGIN["THROTTLE_RATES"]``, read at use time.

They count with :mod:`qrlogin.ratelimit`: atomically in the shared cache (Redis), per process
while it fails. Per-IP scopes count a client's network (:func:`client_network_key`: an IPv4
address or an IPv6 /64), not its address.
"""

from django.http import HttpRequest

from .actors import phone_actor
from .client_info import client_network_key
from .conf import qrlogin_settings
from .ratelimit import RateThrottle


class QRLoginThrottle(RateThrottle):
    """Base class: ``scope`` names the rate; ``get_ident`` names what is counted."""

    def get_rate(self) -> str | None:
        rates = qrlogin_settings.THROTTLE_RATES
        if rates is None:
            return None
        return rates.get(self.scope)

    def get_ident(self, request: HttpRequest) -> str | None:
        # No address (a unix socket without trusted proxies) shares one bucket: fail closed.
        return client_network_key(request) or "unknown"

    def get_cache_key(self, request: HttpRequest, view: object) -> str | None:
        ident = self.get_ident(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": f"qrlogin_{self.scope}", "ident": ident}


class PhoneThrottleMixin:
    def get_ident(self, request: HttpRequest) -> str | None:
        if not request.user.is_authenticated:
            return None
        return phone_actor(request).device_key


class CreateThrottle(QRLoginThrottle):
    scope = "create"


class ScanThrottle(PhoneThrottleMixin, QRLoginThrottle):
    scope = "scan"


class ScanIPThrottle(QRLoginThrottle):
    scope = "scan_ip"


class UserCodeThrottle(PhoneThrottleMixin, QRLoginThrottle):
    scope = "user_code"


class UserCodeIPThrottle(QRLoginThrottle):
    scope = "user_code_ip"


class ConfirmThrottle(PhoneThrottleMixin, QRLoginThrottle):
    scope = "confirm"
