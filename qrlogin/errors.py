"""Every JSON error body of both apps: ``{"detail": <sentence>, "code": <machine code>}``.

:func:`error_body` is the one function that builds it; the DRF views (qrlogin's and
qrlogin_accounts'), the pages' JSON answers and the ASGI status path all call it, so a client
parses one shape everywhere. Validation errors add ``errors`` (field -> messages).

This module needs neither DRF nor an installed app at import time: the ASGI status path and
the pages import it, and so does qrlogin_accounts, which may be installed without qrlogin.
DRF is imported only inside :func:`exception_handler`, which only DRF calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from .exceptions import InvalidInput, QRLoginError

if TYPE_CHECKING:
    from rest_framework.exceptions import APIException
    from rest_framework.response import Response

NON_FIELD_ERRORS = "non_field_errors"

# DRF codes renamed to the contract's.
CODE_ALIASES = {"parse_error": "invalid"}


def error_body(detail: Any, code: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract's error body. ``errors`` (validation only) maps fields to messages."""
    body: dict[str, Any] = {"detail": str(detail), "code": CODE_ALIASES.get(code, code)}
    if errors is not None:
        body["errors"] = plain(errors)
    return body


def validation_body(errors: Any) -> dict[str, Any]:
    """400 ``invalid``: one sentence naming each bad field, and the fields themselves."""
    if not isinstance(errors, dict):
        errors = {NON_FIELD_ERRORS: errors}
    return error_body(validation_sentence(errors), "invalid", errors)


def validation_sentence(detail: Any, field: str | None = None) -> str:
    """Flatten an error tree into one sentence of "field: message" parts."""
    return " ".join(_messages(detail, field))


def _messages(detail: Any, field: str | None) -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            nested = f"{field}.{key}" if field else str(key)
            name = field if key == NON_FIELD_ERRORS else nested
            out.extend(_messages(value, name))
        return out
    if isinstance(detail, list | tuple):
        return [m for item in detail for m in _messages(item, field)]
    text = str(detail)
    return [f"{field}: {text}" if field else text]


def plain(detail: Any) -> Any:
    """Error trees (DRF's ``ErrorDetail`` strings) as plain str/list/dict."""
    if isinstance(detail, dict):
        return {str(k): plain(v) for k, v in detail.items()}
    if isinstance(detail, list | tuple):
        return [plain(v) for v in detail]
    return str(detail)


def qrlogin_error_body(exc: QRLoginError) -> dict[str, Any]:
    """The body for one of qrlogin's own refusals (the models', the lookups', the proof's)."""
    if isinstance(exc, InvalidInput):
        return validation_body(exc.errors)
    return error_body(exc.detail, exc.code)


def api_exception_body(exc: APIException) -> dict[str, Any]:
    """The body for a DRF exception (validation, parse, auth, throttle, ...)."""
    from rest_framework.exceptions import ValidationError

    if isinstance(exc, ValidationError):
        return validation_body(exc.detail)
    if isinstance(exc.detail, dict | list):
        return error_body(validation_sentence(exc.detail) or exc.default_detail, exc.default_code)
    return error_body(exc.detail, getattr(exc.detail, "code", None) or exc.default_code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After, rollback) with the contract's body.

    Both apps' views install it themselves, so a host's ``EXCEPTION_HANDLER`` neither has to be
    set nor can change the contract.
    """
    # Imported here: DRF resolves DEFAULT_AUTHENTICATION_CLASSES (which may name
    # qrlogin_accounts' authentication class, which imports this module) while
    # rest_framework.views loads.
    from rest_framework import exceptions
    from rest_framework.response import Response
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, QRLoginError):
        # No set_rollback(): some refusals are themselves recorded (a wrong number denies).
        return Response(qrlogin_error_body(exc), status=exc.status_code)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = api_exception_body(exc)
    return response
