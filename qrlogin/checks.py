"""System checks: misconfigurations reported by ``manage.py check`` with ids and hints."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, qrlogin_settings


@register()
def check_settings(app_configs: Any, **kwargs: Any) -> list:
    errors: list = []
    user = getattr(settings, "QRLOGIN", None) or {}
    if not isinstance(user, dict):
        return [Error("QRLOGIN must be a dict.", id="qrlogin.E001")]
    for key in sorted(set(user) - set(DEFAULTS)):
        errors.append(
            Warning(
                f"Unknown QRLOGIN setting {key!r}.",
                hint=f"Known settings: {', '.join(sorted(DEFAULTS))}.",
                id="qrlogin.W001",
            )
        )
    for key in ("QR_TTL", "CONFIRM_TTL", "COMPLETE_TTL", "LONG_POLL_MAX"):
        value = getattr(qrlogin_settings, key)
        if not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"QRLOGIN[{key!r}] must be a positive number.", id="qrlogin.E002"))
    for key in ("LONG_POLL_PER_SESSION", "LONG_POLL_PER_CLIENT", "LONG_POLL_PROCESS_MAX"):
        value = user.get(key)
        if key == "LONG_POLL_PROCESS_MAX" and value == "auto":
            continue
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            errors.append(
                Error(
                    f"QRLOGIN[{key!r}] must be a positive whole number or None.",
                    hint='None lifts the limit; LONG_POLL_PROCESS_MAX also takes "auto".',
                    id="qrlogin.E008",
                )
            )
    if qrlogin_settings.VERIFICATION not in ("none", "number"):
        errors.append(
            Error('QRLOGIN["VERIFICATION"] must be "none" or "number".', id="qrlogin.E003")
        )
    for path in qrlogin_settings.MOBILE_AUTHENTICATION_CLASSES:
        if problem := _import_problem(path):
            errors.append(
                Error(
                    f"Cannot import the mobile authentication class {path!r}: {problem}",
                    hint='Fix QRLOGIN["MOBILE_AUTHENTICATION_CLASSES"].',
                    id="qrlogin.E004",
                )
            )
    errors.extend(_app_link_problems())
    issuer = qrlogin_settings.TOKEN_ISSUER
    if issuer and (problem := _import_problem(issuer, callable_=True)):
        errors.append(
            Error(
                f"Cannot use the token issuer {issuer!r}: {problem}",
                hint='Fix QRLOGIN["TOKEN_ISSUER"] (a dotted path to a function), or set it '
                "to None when the site issues no device tokens.",
                id="qrlogin.E007",
            )
        )
    for key in ("DISPLAY_NAME", "AVATAR_URL"):
        hook = getattr(qrlogin_settings, key)
        if (key == "DISPLAY_NAME" or hook) and (problem := _import_problem(hook, callable_=True)):
            errors.append(
                Error(
                    f"Cannot use QRLOGIN[{key!r}] = {hook!r}: {problem}",
                    hint="A dotted path to a function(user) -> str.",
                    id="qrlogin.E010",
                )
            )
    return errors


def _import_problem(path: Any, *, callable_: bool = False) -> str | None:
    """Why ``path`` cannot be used (not importable, its app not installed), or None."""
    try:
        obj = import_string(path)
    except (ImportError, RuntimeError, TypeError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    if callable_ and not callable(obj):
        return "it is not callable."
    return None


@register(deploy=True)
def check_deployment(app_configs: Any, **kwargs: Any) -> list:
    """Settings that work on one process in development but not in production."""
    from django.core.cache import caches

    warnings: list = []
    cache_module = type(caches["default"]).__module__
    per_process = cache_module.startswith(
        ("django.core.cache.backends.locmem", "django.core.cache.backends.dummy")
    )
    if per_process:
        warnings.append(
            Warning(
                "The default cache is per-process: with several app processes, throttles are "
                "counted per process and a PC waiting on one process is not woken by a phone "
                "on another.",
                hint="Use a shared cache (django-redis) when more than one process serves.",
                id="qrlogin.W002",
            )
        )
    if qrlogin_settings.REQUIRE_SAME_NETWORK and not qrlogin_settings.TRUSTED_PROXIES:
        warnings.append(
            Warning(
                "REQUIRE_SAME_NETWORK compares client addresses taken from REMOTE_ADDR. Behind "
                "a proxy that does not rewrite it, every client has the proxy's address.",
                hint='List your proxies in QRLOGIN["TRUSTED_PROXIES"], or make sure the server '
                "sets REMOTE_ADDR to the real client (uvicorn --forwarded-allow-ips).",
                id="qrlogin.W003",
            )
        )
    return warnings


@register()
def check_throttles_and_proxies(app_configs: Any, **kwargs: Any) -> list:
    """Values that would otherwise fail only when a request uses them."""
    import ipaddress

    from rest_framework.throttling import SimpleRateThrottle

    errors: list = []
    rates = qrlogin_settings.THROTTLE_RATES
    if rates is not None and not isinstance(rates, dict):
        errors.append(Error('QRLOGIN["THROTTLE_RATES"] must be a dict or None.', id="qrlogin.E005"))
    for scope, rate in (rates or {}).items():
        if rate is None:
            continue
        try:
            SimpleRateThrottle.parse_rate(None, rate)
        except Exception:
            errors.append(
                Error(
                    f"QRLOGIN['THROTTLE_RATES'][{scope!r}] = {rate!r} is not a DRF rate.",
                    hint='Use "<number>/<s|min|hour|day>", e.g. "20/min", or None.',
                    id="qrlogin.E005",
                )
            )
    for proxy in qrlogin_settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except (TypeError, ValueError):
            errors.append(
                Error(
                    f"QRLOGIN['TRUSTED_PROXIES'] has {proxy!r}, which is no IP address or network.",
                    id="qrlogin.E006",
                )
            )
    return errors


def _app_link_problems() -> list:
    """APPLE_APP_IDS: a list of "TEAMID.bundle.id"; ANDROID_APPS: a list of
    {"package_name": str, "sha256_cert_fingerprints": [str, ...]} (else assetlinks.json fails)."""
    problems = []
    apple = qrlogin_settings.APPLE_APP_IDS
    if not isinstance(apple, list | tuple) or not all(isinstance(a, str) and a for a in apple):
        problems.append(
            Error('QRLOGIN["APPLE_APP_IDS"] must be a list of app ids.', id="qrlogin.E009")
        )
    android = qrlogin_settings.ANDROID_APPS

    def well_formed(app: Any) -> bool:
        if not isinstance(app, dict):
            return False
        prints = app.get("sha256_cert_fingerprints")
        return (
            isinstance(app.get("package_name"), str)
            and isinstance(prints, list | tuple)
            and bool(prints)
            and all(isinstance(p, str) for p in prints)
        )

    if not isinstance(android, list | tuple) or not all(well_formed(a) for a in android):
        problems.append(
            Error(
                'QRLOGIN["ANDROID_APPS"] must be a list of {"package_name": ..., '
                '"sha256_cert_fingerprints": [...]}.',
                id="qrlogin.E009",
            )
        )
    return problems
