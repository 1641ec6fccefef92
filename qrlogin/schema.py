"""OpenAPI descriptions of the qrlogin API (drf-spectacular), kept beside, not inside, the views."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from . import serializers as s

PC_SECRET = OpenApiParameter(
    "X-QRLogin-Secret",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The PC secret from creation. A browser PC proves itself with the Django "
    "session that created the QR (plus the CSRF token on POST/DELETE) instead.",
)


def errors(*codes: int) -> dict:
    """Error responses: always ``{detail, code}``."""
    meanings = {
        400: "Malformed input (`invalid`), or no token issuer (`token_issuer_unavailable`).",
        401: "`not_authenticated`, `authentication_failed`, `device_mismatch`.",
        403: "`permission_denied`, `wrong_device`, `invalid_temp_token`, "
        "`different_network`, `wrong_verification_code`, `csrf_failed`.",
        404: "`not_found`: unknown session, or no proof of being its PC.",
        409: "`invalid_state`: not allowed from the current state.",
        410: "`expired`: past its deadline.",
        406: "`not_acceptable`: the client does not accept JSON.",
        415: "`unsupported_media_type`: send JSON (or a form).",
        429: "`throttled`, with Retry-After.",
    }
    codes = (*codes, 406, 415)
    return {
        code: OpenApiResponse(
            s.ErrorSerializer,
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
