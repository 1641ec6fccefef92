"""OpenAPI descriptions of the qrlogin API (drf-spectacular), kept beside, not inside, the views.

Each operation's description and examples live here as a decorator the view applies
(``@schema.scan``), so ``api.py`` stays a list of thin views.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)

from . import serializers
from .models import Status

PC_SECRET = OpenApiParameter(
    "X-QRLogin-Secret",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The PC secret from creation. A browser PC proves itself with the Django "
    "session that created the QR (plus the CSRF token on POST/DELETE) instead.",
)

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait before trying again.",
)

THROTTLED_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[429],
    description="Seconds to wait before trying again.",
)

# The accounts app's proof of possession (RFC 9449); described here too so that qrlogin's
# schema stands without that app.
DPOP_PROOF = OpenApiParameter(
    "DPoP",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A DPoP proof (RFC 9449) of this request, signed by the device's key. On "
    "completion it binds the desktop's new token to that key (`token_type: DPoP`); on the "
    "phone's requests it goes with a key-bound token (`Authorization: DPoP <token>`).",
)


def errors(*codes: int) -> dict:
    """Error responses: always ``{detail, code}``."""
    meanings = {
        400: "Malformed input (`invalid`), no token issuer (`token_issuer_unavailable`), or on "
        "completion a bad DPoP proof (`invalid_dpop_proof`, `use_dpop_nonce`, `dpop_required`).",
        401: "`not_authenticated`, `authentication_failed`, `device_mismatch`, "
        "`invalid_dpop_proof`, `use_dpop_nonce`, `dpop_required`.",
        403: "`permission_denied`, `wrong_device`, `invalid_temp_token`, "
        "`different_network`, `wrong_verification_code`, `csrf_failed`.",
        404: "`not_found`: unknown session, or no proof of being its PC.",
        409: "`invalid_state`: not allowed from the current state; `device_conflict`: a "
        "completion named a device it may not use (the session stays confirmed).",
        410: "`expired`: past its deadline.",
        406: "`not_acceptable`: the client does not accept JSON.",
        415: "`unsupported_media_type`: send JSON (or a form).",
        429: "`throttled` or `too_many_waiting`, with `Retry-After` (seconds).",
        503: "`unavailable`: the server cannot answer now (database unreachable, or too many "
        "waiting polls on this process); retry after `Retry-After` seconds.",
    }
    codes = (*codes, 406, 415)
    return {
        code: OpenApiResponse(
            serializers.ErrorSerializer,
            description=meanings[code],
            examples=[
                OpenApiExample(
                    f"error {code}",
                    value={"detail": "A human sentence.", "code": meanings[code].split("`")[1]},
                    response_only=True,
                    status_codes=[str(code)],
                )
            ],
        )
        for code in codes
    }


def example(
    name: str, value: dict, *, request: bool = False, status: str = "200"
) -> OpenApiExample:
    if request:
        return OpenApiExample(name, value=value, request_only=True)
    return OpenApiExample(name, value=value, response_only=True, status_codes=[status])


create_session = extend_schema(
    operation_id="qrlogin_session_create",
    parameters=[THROTTLED_RETRY_AFTER],
    summary="PC: create a QR login session",
    request=serializers.CreateSessionSerializer,
    responses={201: serializers.SessionCreatedSerializer, **errors(400, 429)},
    examples=[
        example("create", {"next": "/dashboard/"}, request=True),
        example(
            "created",
            {
                "id": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                "status": "pending",
                "qr_url": "https://example.com/qrlogin/s/hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd/",
                "qr_svg": "<svg ...>...</svg>",
                "user_code": "K7QX-M2PA",
                "expires_at": "2026-11-26T12:02:00Z",
                "secret": "q8Yb3m...(43 characters)",
            },
            status="201",
        ),
    ],
)


session_status = extend_schema(
    operation_id="qrlogin_session_status",
    summary="PC: the session's status (long poll with wait)",
    description="The status at once, or, with `wait`, held until it differs from `since` (or "
    "the wait runs out, or the session reaches its deadline). A server that cannot hold "
    "requests answers at once with `X-QRLogin-Poll-After`: ask again after that many seconds. "
    "Past the limits on waiting polls (per session, per client network, per process) the "
    "answer is 429 `too_many_waiting` or 503 `unavailable` with `Retry-After`, at once.",
    parameters=[
        PC_SECRET,
        OpenApiParameter(
            "wait",
            int,
            description="Hold up to this many seconds (0..30, the server's `LONG_POLL_MAX`) "
            "for a change.",
        ),
        OpenApiParameter(
            "since",
            str,
            enum=[c for c, _ in Status.choices],
            description="The status the PC knows (default: the current one).",
        ),
        OpenApiParameter(
            "X-QRLogin-Poll-After",
            int,
            OpenApiParameter.HEADER,
            response=[200],
            description="Sent when the server answered a `wait` at once: poll again after "
            "this many seconds.",
        ),
        RETRY_AFTER,
    ],
    responses={
        200: serializers.SessionStatusSerializer,
        **errors(400, 404, 429, 503),
    },
    examples=[
        example(
            "scanned",
            {
                "id": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                "status": "scanned",
                "expires_at": "2026-11-26T12:01:30Z",
                "scanned_by": {"display_name": "d***o"},
            },
        )
    ],
)


cancel_session = extend_schema(
    operation_id="qrlogin_session_cancel",
    summary="PC: cancel the session",
    parameters=[PC_SECRET],
    responses={200: serializers.StatusOnlySerializer, **errors(403, 404, 409, 410)},
    examples=[example("cancelled", {"status": "cancelled"})],
)


complete_session = extend_schema(
    operation_id="qrlogin_session_complete",
    summary="PC: complete the login (browser session, or a device token)",
    description="From `confirmed` only, once. With `device_id`, issues a device token to a "
    "desktop/API client; without it, logs the requesting browser's Django session in.",
    parameters=[PC_SECRET, DPOP_PROOF],
    request=serializers.CompleteSerializer,
    responses={
        200: PolymorphicProxySerializer(
            component_name="SessionCompleted",
            serializers=[
                serializers.TokenCompletedSerializer,
                serializers.BrowserCompletedSerializer,
            ],
            resource_type_field_name=None,
        ),
        **errors(400, 403, 404, 409, 410),
    },
    examples=[
        example(
            "desktop client",
            {"device_id": "laptop-7f3a", "device_type": "pc", "device_name": "Work laptop"},
            request=True,
        ),
        example(
            "token issued",
            {
                "status": "completed",
                "token": "Ab12Cd34...",
                "expires_at": "2026-12-26T12:01:00Z",
                "user": {"id": 1, "username": "demo"},
                "device": {
                    "id": 7,
                    "device_id": "laptop-7f3a",
                    "device_type": "pc",
                    "name": "Work laptop",
                },
            },
        ),
    ],
)


scan = extend_schema(
    operation_id="qrlogin_scan",
    parameters=[THROTTLED_RETRY_AFTER, DPOP_PROOF],
    summary="Phone: scan a QR (or type its pairing code)",
    request=serializers.ScanSerializer,
    responses={
        200: serializers.ScanResultSerializer,
        **errors(400, 401, 403, 404, 409, 410, 429),
    },
    examples=[
        example(
            "scan",
            {"qr": "https://example.com/qrlogin/s/hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd/"},
            request=True,
        ),
        example("pairing code", {"code": "K7QX-M2PA"}, request=True),
        example(
            "scanned",
            {
                "session": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd",
                "temp_token": "Zp0c...(43 characters)",
                "expires_at": "2026-11-26T12:01:30Z",
                "verification": "none",
                "pc": {
                    "ip": "203.0.113.10",
                    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ...",
                    "browser": "Chrome 120",
                    "os": "Windows 10",
                    "created_at": "2026-11-26T12:00:00Z",
                    "same_network": True,
                },
            },
        ),
    ],
)


confirm = extend_schema(
    operation_id="qrlogin_confirm",
    parameters=[THROTTLED_RETRY_AFTER, DPOP_PROOF],
    summary="Phone: confirm the login",
    request=serializers.ConfirmSerializer,
    responses={
        200: serializers.StatusOnlySerializer,
        **errors(400, 401, 403, 404, 409, 410, 429),
    },
    examples=[
        example(
            "confirm",
            {"session": "hT3kq0yH2mR8wQeL5vN1cX7aZ4bJ9sUd", "temp_token": "Zp0c..."},
            request=True,
        ),
        example("confirmed", {"status": "confirmed"}),
    ],
)


deny = extend_schema(
    operation_id="qrlogin_deny",
    parameters=[THROTTLED_RETRY_AFTER, DPOP_PROOF],
    summary="Phone: deny the login",
    request=serializers.PhoneDecisionSerializer,
    responses={
        200: serializers.StatusOnlySerializer,
        **errors(400, 401, 403, 404, 409, 410, 429),
    },
    examples=[example("denied", {"status": "denied"})],
)
