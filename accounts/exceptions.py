"""Errors of the app's API, rendered as ``{"detail": <sentence>, "code": <machine code>}``.

The app's views install :func:`exception_handler` themselves (see ``views.AccountsAPIView``),
so the host project's ``EXCEPTION_HANDLER`` neither has to be set nor can change the contract.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

# DRF codes renamed to the contract's.
CODE_ALIASES = {"parse_error": "invalid"}


class InvalidCredentials(exceptions.AuthenticationFailed):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("Unable to log in with the provided credentials.")
    default_code = "invalid_credentials"


class DeviceMismatch(exceptions.AuthenticationFailed):
    default_detail = _("The token was not issued to the device named by X-Device-ID.")
    default_code = "device_mismatch"


def _messages(detail: Any, field: str | None = None) -> list[str]:
    """Flatten a DRF error detail into "field: message" sentences."""
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                name = field
            else:
                name = f"{field}.{key}" if field else str(key)
            out.extend(_messages(value, name))
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _messages(item, field)]
    text = str(detail)
    return [f"{field}: {text}" if field else text]


def _plain(detail: Any) -> Any:
    """ErrorDetail trees as plain str/list/dict, for the ``errors`` member."""
    if isinstance(detail, dict):
        return {str(k): _plain(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_plain(v) for v in detail]
    return str(detail)


def error_payload(exc: exceptions.APIException) -> dict[str, Any]:
    """The contract's body for a DRF exception."""
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail
        if not isinstance(errors, dict):
            errors = {api_settings.NON_FIELD_ERRORS_KEY: errors}
        detail = " ".join(_messages(errors)) or str(exc.default_detail)
        return {"detail": detail, "code": "invalid", "errors": _plain(errors)}
    if isinstance(exc.detail, dict | list):
        detail = " ".join(_messages(exc.detail)) or str(exc.default_detail)
        code = exc.default_code
    else:
        detail = str(exc.detail)
        code = getattr(exc.detail, "code", None) or exc.default_code
    return {"detail": detail, "code": CODE_ALIASES.get(code, code)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After, rollback) with the contract's body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    # Imported here: DRF resolves DEFAULT_AUTHENTICATION_CLASSES (which may name this app's
    # authentication class, which imports this module) while rest_framework.views loads.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = error_payload(exc)
    return response
