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
    if qrlogin_settings.VERIFICATION not in ("none", "number"):
        errors.append(
            Error('QRLOGIN["VERIFICATION"] must be "none" or "number".', id="qrlogin.E003")
        )
    for path in qrlogin_settings.MOBILE_AUTHENTICATION_CLASSES:
        try:
            import_string(path)
        except ImportError:
            errors.append(
                Error(
                    f"Cannot import the mobile authentication class {path!r}.",
                    hint='Fix QRLOGIN["MOBILE_AUTHENTICATION_CLASSES"].',
                    id="qrlogin.E004",
                )
            )
    return errors
