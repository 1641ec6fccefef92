"""The ``QRLOGIN`` settings dict, with every default in one place.

Values are read at use time, so ``override_settings(QRLOGIN=...)`` works in tests.
"""

from functools import lru_cache
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# The installed name of the optional device-token app (the repo's accounts/): the one place
# qrlogin names it.
ACCOUNTS_APP = "qrlogin_accounts"

DEFAULTS: dict[str, Any] = {
    # Lifetimes, in seconds, of each waiting state.
    "QR_TTL": 120,
    "CONFIRM_TTL": 60,
    "COMPLETE_TTL": 60,
    # Longest hold of a status long poll (``?wait=``), in seconds.
    "LONG_POLL_MAX": 30,
    # Parked long polls per process: per session, per client network (IPv6 by /64), in all.
    # "auto": what the open-files limit allows, leaving room for everything else. None: no limit.
    "LONG_POLL_PER_SESSION": 3,
    "LONG_POLL_PER_CLIENT": 200,
    "LONG_POLL_PROCESS_MAX": "auto",
    # Refuse scans from a phone on another network than the PC (a QR-jacking defence).
    "REQUIRE_SAME_NETWORK": False,
    # "none", or "number": the PC shows two digits after the scan and confirm must send them.
    "VERIFICATION": "none",
    # How phones authenticate (dotted paths of DRF authentication classes). Unset: the
    # accounts device token when that app is installed, and the Django session (phone browsers).
    "MOBILE_AUTHENTICATION_CLASSES": None,
    # Issues a desktop client's credential on completion (a dotted path). Unset: accounts'
    # device token when that app is installed; None: API-client completion answers 400.
    "TOKEN_ISSUER": None,
    # Scope -> DRF rate, merged over these defaults. A scope set to None is not throttled;
    # THROTTLE_RATES = None turns throttling off (benchmarks).
    "THROTTLE_RATES": {
        "create": "20/min",  # new QR sessions per client IP (the PC page too)
        "scan": "30/min",  # scans per phone
        "scan_ip": "60/min",  # scans per client IP
        "user_code": "5/min",  # pairing-code lookups per phone
        "user_code_ip": "10/min",  # pairing-code lookups per client IP
        "confirm": "30/min",  # confirms and denies per phone
    },
    # Where a completed browser login goes when ``next`` is missing or unsafe.
    "LOGIN_REDIRECT_URL": None,
    # Proxies (IP addresses or networks) whose X-Forwarded-For is trusted for the client IP.
    "TRUSTED_PROXIES": [],
    # Who wakes waiting PCs: "auto" (Redis pub/sub when the cache is django-redis, else
    # in-process), "redis" or "inprocess".
    "NOTIFY_BACKEND": "auto",
    # While Redis is unreachable, parked polls re-read the database this often (seconds).
    "NOTIFY_FALLBACK_INTERVAL": 2,
    # Who the PC says scanned: dotted paths to function(user) -> str (the avatar's may return
    # None). Shown to whoever displays the QR, before the confirm: see qrlogin.display.
    "DISPLAY_NAME": "qrlogin.display.masked_username",
    "AVATAR_URL": None,
    # Absolute base URL for qr_url (e.g. "https://example.com"); None: from the request.
    "SITE_URL": None,
    # The apps a phone's camera opens the QR's URL in (qrlogin.app_links_urls serves the files):
    # iOS "<team id>.<bundle id>" strings; Android {"package_name", "sha256_cert_fingerprints"}.
    "APPLE_APP_IDS": [],
    "ANDROID_APPS": [],
}


class QRLoginSettings:
    """Attribute access to ``settings.QRLOGIN`` merged over ``DEFAULTS``."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown QRLOGIN setting: {name}")
        user = getattr(settings, "QRLOGIN", None) or {}
        if name == "THROTTLE_RATES" and isinstance(user.get(name), dict):
            return {**DEFAULTS[name], **user[name]}
        if name == "LONG_POLL_PROCESS_MAX" and user.get(name, "auto") == "auto":
            return _open_files_allowance()
        if name in user:
            return user[name]
        if name == "LOGIN_REDIRECT_URL":
            return settings.LOGIN_REDIRECT_URL
        if name == "MOBILE_AUTHENTICATION_CLASSES":
            with_accounts = [f"{ACCOUNTS_APP}.authentication.DeviceTokenAuthentication"]
            return [
                *(with_accounts if apps.is_installed(ACCOUNTS_APP) else []),
                "rest_framework.authentication.SessionAuthentication",
            ]
        if name == "TOKEN_ISSUER" and apps.is_installed(ACCOUNTS_APP):
            return f"{ACCOUNTS_APP}.issuers.issue_device_token"
        return DEFAULTS[name]


def _open_files_allowance() -> int | None:
    """Parked polls this process can hold: each is a socket, i.e. an open file. A quarter of
    the limit (at most 1,024) stays free for the database, Redis, logs and new connections."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # no resource module (Windows)
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, soft - min(1024, soft // 4))


qrlogin_settings = QRLoginSettings()


@lru_cache(maxsize=1)
def notify_backend() -> str:
    """``"redis"`` or ``"inprocess"``: where status snapshots and wake-ups go.

    ``NOTIFY_BACKEND`` ``"auto"`` is Redis when the default cache is django-redis. Asked on
    every status poll, so it is worked out once (looking up a cache alias costs a context
    variable read) and again only when the settings change.
    """
    wanted = qrlogin_settings.NOTIFY_BACKEND
    if wanted == "auto":
        from django.core.cache import caches

        module = type(caches["default"]).__module__
        wanted = "redis" if module.startswith("django_redis") else "inprocess"
    return wanted


@receiver(setting_changed)
def _forget_notify_backend(*, setting: str, **kwargs: Any) -> None:
    if setting in ("QRLOGIN", "CACHES"):
        notify_backend.cache_clear()
