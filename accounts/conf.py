"""The app's settings: one ``ACCOUNTS`` dict in the host's settings, read at use time.

Reading on every access (instead of caching at import) keeps ``override_settings(ACCOUNTS=...)``
and pytest-django's ``settings`` fixture working without any reload hooks.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Lifetime of a device token, in seconds (a ``timedelta`` is accepted too).
    "TOKEN_TTL": 60 * 60 * 24 * 30,
    # DRF-style rates ("N/s", "N/min", "N/hour", "N/day") for the token login endpoint.
    # A dict given in settings is merged over these defaults, so naming one scope keeps the
    # others; a scope set to None is not throttled; THROTTLE_RATES = None turns throttling off.
    "THROTTLE_RATES": {
        "token_login_ip": "20/min",  # attempts per client network (IPv4 address, IPv6 /64)
        "token_login_username": "5/min",  # attempts per username
        "device_create": "10/day",  # new devices per user, made by successful token logins
    },
    # A device unused this long (seconds or a timedelta; None: never) is deleted, with its
    # tokens, by ``manage.py qrlogin_purge``.
    "DEVICE_IDLE_TTL": 60 * 60 * 24 * 90,
    # Minimum seconds between two writes of a token's last_used_at / its device's last_seen_at.
    "LAST_USED_UPDATE_INTERVAL": 60,
    # A password change revokes every device token of the user and cancels the QR logins
    # their devices set in motion, as Django's own password change ends the other sessions.
    "REVOKE_ON_PASSWORD_CHANGE": True,
    # Proof of possession (RFC 9449 DPoP): "optional" (a proof at login binds the token to the
    # device's key; unbound tokens work as before), "required" (every token must be bound),
    # or "off" (no new bindings; tokens bound earlier still need their proofs).
    "DPOP": "optional",
    # Server nonces in DPoP proofs (RFC 9449 section 8): False, or True / seconds a nonce lasts.
    "DPOP_NONCE": False,
    # Where used proof ids are remembered: "auto" (a shared cache such as Redis when the default
    # cache is one, else the database), "cache" or "database".
    "DPOP_REPLAY_STORE": "auto",
}


class AccountsSettings:
    """Attribute access to ``settings.ACCOUNTS`` with the defaults above filled in."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid ACCOUNTS setting: {name!r}")
        user_settings = user_accounts_settings()
        if name not in user_settings:
            return copy.deepcopy(DEFAULTS[name])
        value = user_settings[name]
        if name == "THROTTLE_RATES" and isinstance(value, dict):
            return {**DEFAULTS["THROTTLE_RATES"], **value}
        return value


def user_accounts_settings() -> dict[str, Any]:
    """The raw ``settings.ACCOUNTS`` dict ({} when unset or None)."""
    value = getattr(settings, "ACCOUNTS", None)
    return value if isinstance(value, dict) else {}


accounts_settings = AccountsSettings()
