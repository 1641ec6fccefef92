"""Input validation for the qrlogin API; answers are built by ``api.py`` from the model."""

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import Status
from .tokens import SESSION_ID_RE

# The contract's device types (the same list as qrlogin_accounts.models.DeviceType, not imported:
# qrlogin runs without accounts).
DEVICE_TYPES = [
    ("ios", "iOS"),
    ("android", "Android"),
    ("pc", "PC"),
    ("web", "Web"),
    ("other", "Other"),
]
_QR_PATH_RE = re.compile(r"/s/(?P<id>[A-Za-z0-9_-]{22,64})/?$")


def session_id_from_qr(text: str) -> str | None:
    """The session id in the text a phone read from the QR: the full qr_url or the bare id."""
    text = text.strip()
    if SESSION_ID_RE.match(text):
        return text
    try:
        path = urlsplit(text).path
    except ValueError:
        return None
    match = _QR_PATH_RE.search(path)
    return match["id"] if match else None


class CreateSessionSerializer(serializers.Serializer):
    next = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class CompleteSerializer(serializers.Serializer):
    device_id = serializers.CharField(required=False, max_length=128)
    device_type = serializers.ChoiceField(choices=DEVICE_TYPES, required=False, default="pc")
    device_name = serializers.CharField(
        required=False, allow_blank=True, max_length=128, default=""
    )


class ScanSerializer(serializers.Serializer):
    qr = serializers.CharField(required=False, max_length=2048)
    code = serializers.CharField(required=False, max_length=32)

    def validate(self, attrs: dict) -> dict:
        if ("qr" in attrs) == ("code" in attrs):
            raise serializers.ValidationError(_("Send exactly one of qr and code."))
        if "qr" in attrs:
            session_id = session_id_from_qr(attrs["qr"])
            if session_id is None:
                raise serializers.ValidationError({"qr": _("This is not a login QR code.")})
            attrs["session_id"] = session_id
        return attrs


class PhoneDecisionSerializer(serializers.Serializer):
    session = serializers.RegexField(SESSION_ID_RE, max_length=64)
    temp_token = serializers.CharField(max_length=128)


class ConfirmSerializer(PhoneDecisionSerializer):
    verification_code = serializers.CharField(required=False, allow_blank=True, max_length=8)


# Answers (documented in the OpenAPI schema; the views build the same shapes). ------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="A human sentence, in the request's language.")
    code = serializers.CharField(help_text="A machine code: see the error table.")
    errors = serializers.DictField(required=False, help_text="Field errors, for code ``invalid``.")


class SessionCreatedSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.values)
    qr_url = serializers.URLField()
    qr_svg = serializers.CharField(help_text="The QR as an inline SVG element.")
    user_code = serializers.CharField(help_text="Pairing code, e.g. ABCD-EFGH.")
    expires_at = serializers.DateTimeField()
    secret = serializers.CharField(help_text="Shown once; send it as X-QRLogin-Secret.")


class ScannedBySerializer(serializers.Serializer):
    display_name = serializers.CharField(
        help_text="The phone user's name as the site shows it (QRLOGIN DISPLAY_NAME); by "
        "default masked, e.g. d***o."
    )
    avatar_url = serializers.CharField(
        required=False, help_text="The user's picture, when the site sets QRLOGIN AVATAR_URL."
    )


class SessionStatusSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.values)
    expires_at = serializers.DateTimeField(help_text="Deadline of the current state.")
    scanned_by = ScannedBySerializer(required=False)
    verification_code = serializers.CharField(
        required=False, help_text='With VERIFICATION = "number", while scanned.'
    )


class StatusOnlySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.values)


class BrowserCompletedSerializer(StatusOnlySerializer):
    redirect_url = serializers.CharField()


class TokenUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class TokenDeviceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    device_id = serializers.CharField()
    device_type = serializers.ChoiceField(choices=DEVICE_TYPES)
    name = serializers.CharField()


class TokenCompletedSerializer(StatusOnlySerializer):
    token = serializers.CharField()
    token_type = serializers.CharField(
        required=False,
        help_text="`DPoP` when the completion carried a DPoP proof and the token is bound to "
        "its key, else `Token` (as the issuer says).",
    )
    expires_at = serializers.DateTimeField()
    user = TokenUserSerializer()
    device = TokenDeviceSerializer()


class PCInfoSerializer(serializers.Serializer):
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    browser = serializers.CharField()
    os = serializers.CharField()
    created_at = serializers.DateTimeField()
    same_network = serializers.BooleanField()


class ScanResultSerializer(serializers.Serializer):
    session = serializers.CharField()
    temp_token = serializers.CharField()
    expires_at = serializers.DateTimeField()
    verification = serializers.ChoiceField(
        choices=["none", "number"],
        help_text='"number": confirm must send the two digits the PC shows.',
    )
    pc = PCInfoSerializer()
