"""Request parsers that answer 400 ``invalid`` for any body they cannot read, never a 500.

DRF's parsers turn only some failures into a ``ParseError``: its JSON parser lets the
``RecursionError`` of a 2 KB body of nested brackets escape (an HTML 500), an unknown
``charset`` raises ``LookupError``, and Django's form limits (``DATA_UPLOAD_MAX_NUMBER_FIELDS``)
raise a ``SuspiciousOperation`` that bypasses the API's error shape (an HTML 400). These
subclasses read at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes (whether DRF hands them
``request.body``, which Django checks, or the raw stream), refuse JSON nested deeper than any
of these APIs needs, and turn every failure into ``ParseError``; :class:`ParseErrorsMixin`
does the same for the limits Django enforces while DRF reads the body. The views' exception
handlers render a ``ParseError`` as ``{"detail", "code": "invalid"}``.

Used by qrlogin's API and by qrlogin_accounts' views (this module needs no installed app).
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request of these APIs nests at all; 32 leaves room for a host's own views.
MAX_JSON_DEPTH = 32


def _too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _read_limited(stream: Any) -> bytes:
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ParseError(_("The request body is too large."))
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = _read_limited(stream)
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except ParseError:
            raise
        except Exception as exc:  # RecursionError, LookupError (charset), UnicodeError...
            raise ParseError(_("The request body is not valid JSON.")) from exc
        if _too_deep(data):
            raise ParseError(_("The request body is nested too deeply."))
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = _read_limited(stream)
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except ParseError:
            raise
        except Exception as exc:  # TooManyFieldsSent, LookupError (charset)...
            raise ParseError(_("The request body is not a valid form.")) from exc


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except ParseError:
            raise
        except Exception as exc:  # TooManyFieldsSent, RequestDataTooBig, LookupError...
            raise ParseError(_("The request body is not a valid form.")) from exc


# What the views list in ``parser_classes``.
PARSER_CLASSES = [JSONParser, FormParser, MultiPartParser]


class ParseErrorsMixin:
    """For an ``APIView``: Django's body limits, hit while DRF reads the body, as a 400 invalid.

    ``request.body`` raises ``RequestDataTooBig`` past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` before
    any parser runs; Django would answer its HTML 400, outside the API's error shape.
    """

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, RequestDataTooBig):
            exc = ParseError(_("The request body is too large."))
        elif isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            exc = ParseError(_("The request body is not a valid form."))
        return super().handle_exception(exc)  # type: ignore[misc]
