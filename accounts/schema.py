"""OpenAPI (drf-spectacular) description of the device-token authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """Every error answer: ``{detail, code}``."""

    detail = serializers.CharField()
    code = serializers.CharField()

    class Meta:
        ref_name = "AccountsError"


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = "qrlogin_accounts.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <token>`, valid only together with the header "
            "`X-Device-ID: <device_id>` of the device it was issued to.",
        }


def error_responses(*codes: int) -> dict:
    """``{detail, code}`` error responses for the schema."""
    meanings = {
        400: "`invalid`: malformed input.",
        401: "`not_authenticated`, `authentication_failed`, `device_mismatch`, "
        "`invalid_credentials`.",
        404: "`not_found`: not one of your devices.",
        406: "`not_acceptable`: the client does not accept JSON.",
        415: "`unsupported_media_type`: send JSON (or a form).",
        429: "`throttled`, with Retry-After.",
    }
    codes = (*codes, 406, 415)
    return {code: OpenApiResponse(ErrorSerializer, description=meanings[code]) for code in codes}
