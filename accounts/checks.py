"""System checks for ``settings.ACCOUNTS``: catch typos at startup, not at the first login."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import DEFAULTS, accounts_settings
from .throttling import parse_rate


@register()
def check_accounts_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate the shape of ``settings.ACCOUNTS``."""
    raw = getattr(settings, "ACCOUNTS", None)
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [Error("settings.ACCOUNTS must be a dict.", id="qrlogin_accounts.E001")]
    messages: list[CheckMessage] = [
        Warning(
            f"Unknown key {key!r} in settings.ACCOUNTS.",
            hint=f"Known keys: {', '.join(sorted(DEFAULTS))}.",
            id="qrlogin_accounts.W001",
        )
        for key in raw
        if key not in DEFAULTS
    ]
    ttl = accounts_settings.TOKEN_TTL
    if isinstance(ttl, timedelta):
        ttl = ttl.total_seconds()
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        messages.append(
            Error(
                "ACCOUNTS['TOKEN_TTL'] must be a positive number of seconds.",
                id="qrlogin_accounts.E002",
            )
        )
    rates = accounts_settings.THROTTLE_RATES
    if rates is not None and not isinstance(rates, dict):
        messages.append(
            Error("ACCOUNTS['THROTTLE_RATES'] must be a dict or None.", id="qrlogin_accounts.E003")
        )
    elif rates:
        for scope, rate in rates.items():
            try:
                parse_rate(rate)
            except ValueError as exc:
                messages.append(
                    Error(
                        f"ACCOUNTS['THROTTLE_RATES'][{scope!r}]: {exc}", id="qrlogin_accounts.E004"
                    )
                )
    idle = accounts_settings.DEVICE_IDLE_TTL
    if isinstance(idle, timedelta):
        idle = idle.total_seconds()
    if idle is not None and (
        isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0
    ):
        messages.append(
            Error(
                "ACCOUNTS['DEVICE_IDLE_TTL'] must be a positive number of seconds or None.",
                id="qrlogin_accounts.E006",
            )
        )
    interval = accounts_settings.LAST_USED_UPDATE_INTERVAL
    if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
        messages.append(
            Error(
                "ACCOUNTS['LAST_USED_UPDATE_INTERVAL'] must be a number of seconds >= 0.",
                id="qrlogin_accounts.E005",
            )
        )
    if accounts_settings.DPOP not in ("optional", "required", "off"):
        messages.append(
            Error(
                "ACCOUNTS['DPOP'] must be 'optional', 'required' or 'off'.",
                id="qrlogin_accounts.E007",
            )
        )
    nonce = accounts_settings.DPOP_NONCE
    if not isinstance(nonce, bool) and (not isinstance(nonce, int | float) or nonce <= 0):
        messages.append(
            Error(
                "ACCOUNTS['DPOP_NONCE'] must be False, True, or a positive number of seconds.",
                id="qrlogin_accounts.E008",
            )
        )
    if accounts_settings.DPOP_REPLAY_STORE not in ("auto", "cache", "database"):
        messages.append(
            Error(
                "ACCOUNTS['DPOP_REPLAY_STORE'] must be 'auto', 'cache' or 'database'.",
                id="qrlogin_accounts.E009",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_dpop_enabled(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DPoP off, every new token is a bearer secret: a copy of it is the device."""
    if accounts_settings.DPOP != "off":
        return []
    return [
        Warning(
            "ACCOUNTS['DPOP'] is 'off': device tokens are not bound to device keys, so a "
            "token copied off a device (a backup, a log, a proxy) can be used from anywhere.",
            hint="Use 'optional' (the default) so apps that send DPoP proofs get key-bound "
            "tokens, or 'required' once every client does.",
            id="qrlogin_accounts.W002",
        )
    ]


@register()
def check_revoke_on_password_change(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``REVOKE_ON_PASSWORD_CHANGE`` is a switch; a string such as "false" would read as on."""
    if isinstance(accounts_settings.REVOKE_ON_PASSWORD_CHANGE, bool):
        return []
    return [
        Error(
            "ACCOUNTS['REVOKE_ON_PASSWORD_CHANGE'] must be True or False.",
            id="qrlogin_accounts.E010",
        )
    ]
