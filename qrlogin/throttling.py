"""DRF throttles whose rates come from ``QRLOGIN["THROTTLE_RATES"]``, read at use time.

They count in Django's default cache, so with Redis every process shares one count.
"""

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from .actors import phone_actor
from .client_info import client_ip
from .conf import qrlogin_settings


class QRLoginThrottle(SimpleRateThrottle):
    """Base class: ``scope`` names the rate; ``get_ident`` names what is counted."""

    def get_rate(self) -> str | None:
        rates = qrlogin_settings.THROTTLE_RATES
        if rates is None:
            return None
        return rates.get(self.scope)

    def allow_request(self, request: HttpRequest, view: object) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_ident(self, request: HttpRequest) -> str | None:
        # No address (a unix socket without trusted proxies) shares one bucket: fail closed.
        return client_ip(request) or "unknown"

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
