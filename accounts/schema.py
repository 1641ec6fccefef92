"""OpenAPI (drf-spectacular) description of the device-token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

DPOP_PROOF = OpenApiParameter(
    "DPoP",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A DPoP proof (RFC 9449): a JWT with header `typ: dpop+jwt`, `alg` ES256 "
    "(or EdDSA) and `jwk` the device's public key; claims `htm`, `htu` (this request's "
    "method and URL without query), `iat`, a unique `jti`, `ath` (base64url SHA-256 of the "
    "token; not on the token request) and `nonce` when the server asked for one. On the token "
    "request it binds the new token to the key; a bound token needs a fresh proof on every "
    "request.",
)


class ErrorSerializer(serializers.Serializer):
    """Every error answer: ``{detail, code}``."""

    detail = serializers.CharField()
    code = serializers.CharField()

    class Meta:
        ref_name = "AccountsError"


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """Two alternatives of one class: a bearer device token, or a key-bound one (DPoP)."""

    target_class = "qrlogin_accounts.authentication.DeviceTokenAuthentication"
    name = ["deviceToken", "dpop"]

    def get_security_requirement(self, auto_schema: object) -> list[dict]:
        return [{"deviceToken": []}, {"dpop": []}]  # either one, not both

    def get_security_definition(self, auto_schema: object) -> list[dict]:
        return [
            {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Token <token>`, valid only together with the header "
                "`X-Device-ID: <device_id>` of the device it was issued to. A token issued "
                "with a DPoP proof (`token_type: DPoP`) is refused under this scheme.",
            },
            {
                "type": "http",
                "scheme": "DPoP",
                "description": "`Authorization: DPoP <token>` for a key-bound token (RFC 9449), "
                "with a fresh proof of this request in the `DPoP` header and `X-Device-ID`. "
                "A missing or bad proof: 401 `invalid_dpop_proof` with "
                '`WWW-Authenticate: DPoP error="invalid_dpop_proof"`; when the server wants a '
                "nonce, 401 `use_dpop_nonce` with a `DPoP-Nonce` header.",
            },
        ]


def error_responses(*codes: int) -> dict:
    """``{detail, code}`` error responses for the schema."""
    meanings = {
        400: "`invalid`: malformed input; on the token request a bad DPoP proof "
        "(`invalid_dpop_proof`), a nonce needed (`use_dpop_nonce`), or no proof where the "
        "site requires one (`dpop_required`).",
        401: "`not_authenticated`, `authentication_failed`, `device_mismatch`, "
        "`invalid_credentials`, `invalid_dpop_proof`, `use_dpop_nonce`, `dpop_required`.",
        404: "`not_found`: not one of your devices.",
        406: "`not_acceptable`: the client does not accept JSON.",
        415: "`unsupported_media_type`: send JSON (or a form).",
        429: "`throttled`, with Retry-After.",
    }
    codes = (*codes, 406, 415)
    return {code: OpenApiResponse(ErrorSerializer, description=meanings[code]) for code in codes}
