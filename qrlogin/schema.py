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
# A phone's 401 names how to authenticate: "Token" (the accounts device token) or a session.
WWW_AUTHENTICATE = OpenApiParameter(
    "WWW-Authenticate",
    str,
    OpenApiParameter.HEADER,
    response=[401],
    description="The scheme to authenticate with, e.g. `Token` (a device token) or, for a "
    'key-bound token, `DPoP error="..."`: log the app in again (or, with '
    "`use_dpop_nonce`, send a new proof), then retry.",
)


def dpop_nonce(status: int) -> OpenApiParameter:
    """The nonce a DPoP client must put in its next proof (sent with `use_dpop_nonce`)."""
    return OpenApiParameter(
        "DPoP-Nonce",
        str,
        OpenApiParameter.HEADER,
        response=[status],
        description="With `use_dpop_nonce`: put this value in the `nonce` claim of a new DPoP "
        "proof and send the request again.",
    )


PHONE_HEADERS = [THROTTLED_RETRY_AFTER, WWW_AUTHENTICATE, dpop_nonce(401)]


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
    description="A desktop or API client starts a login here. Draw `qr_svg` (or encode "
    "`qr_url` yourself) and show `user_code` under it for phones that type it. Keep `secret` "
    "in memory only: it is returned once, and every later call for this session sends it as "
    "`X-QRLogin-Secret`. The QR is good until `expires_at`; after that, create a new one. "
    "`next` is where a browser lands after logging in (ignored unless it is on this site).",
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
    description="Poll this while the QR is shown, one request at a time. Send `wait=30` and "
    "`since=<the status you know>`: the answer comes as soon as the status changes, or after "
    "about 30 seconds with the same status; then ask again at once. Show `scanned_by."
    "display_name` when `scanned`; on `confirmed`, call complete; on `denied`, `cancelled` "
    "or `expired`, stop and offer a new QR. If the answer carries `X-QRLogin-Poll-After`, "
    "the server could not hold the request: wait that many seconds before the next poll. "
    "On 429 or 503, wait `Retry-After` seconds, then poll again.",
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
    description="Call this when the user closes the QR or picks another way to log in, so a "
    "phone that scans it later is told the request is over. Allowed until the session is "
    "completed; 409 or 410 mean it was already over, which you can ignore.",
    parameters=[PC_SECRET],
    responses={200: serializers.StatusOnlySerializer, **errors(403, 404, 409, 410)},
    examples=[example("cancelled", {"status": "cancelled"})],
)


complete_session = extend_schema(
    operation_id="qrlogin_session_complete",
    summary="PC: complete the login (browser session, or a device token)",
    description="Call this once, as soon as the status is `confirmed`. A desktop or API client "
    "sends its own `device_id` (and `device_type`, `device_name`) and receives its device "
    "token: store it like a password and send it as `Authorization: Token <token>` with "
    "`X-Device-ID`. A browser sends no body and is logged in by the cookie of this answer, "
    "then goes to `redirect_url`. 409 `invalid_state` means it was not confirmed (or already "
    "completed); 409 `device_conflict`, that the `device_id` names another live device: "
    "complete again with a new one. 410: it expired; start again with a new QR. A desktop "
    "holding a key sends a `DPoP` proof to get a token bound to it (`token_type: DPoP`).",
    parameters=[PC_SECRET, DPOP_PROOF, dpop_nonce(400)],
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
    parameters=[*PHONE_HEADERS, DPOP_PROOF],
    summary="Phone: scan a QR (or type its pairing code)",
    description="Send the text the camera read from the QR as `qr` (the whole URL), or the "
    "pairing code the user typed as `code`. The answer describes the computer that asks "
    "(`pc`): show it, with a warning when `same_network` is false, and ask the user to "
    "confirm or deny before `expires_at`. Keep `temp_token` for that answer; a second scan of "
    "the same QR by the same phone gives a new one. Do not retry a pairing code automatically "
    "(the attempts are limited).",
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
    parameters=[*PHONE_HEADERS, DPOP_PROOF],
    summary="Phone: confirm the login",
    description="When the user taps Confirm: send the session and the `temp_token` from the "
    "scan (and, with number matching, the number the user read on the computer as "
    "`verification_code`). The computer then logs in; tell the user it is done. A wrong "
    "number denies the session for good (403 `wrong_verification_code`).",
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
    parameters=[*PHONE_HEADERS, DPOP_PROOF],
    summary="Phone: deny the login",
    description="When the user taps Deny (or leaves the confirmation screen): send the session "
    "and the `temp_token` from the scan. The computer is told and shows that the login was "
    "refused.",
    request=serializers.PhoneDecisionSerializer,
    responses={
        200: serializers.StatusOnlySerializer,
        **errors(400, 401, 403, 404, 409, 410, 429),
    },
    examples=[example("denied", {"status": "denied"})],
)
