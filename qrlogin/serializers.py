"""Input validation for the qrlogin API; answers are built by ``api.py`` from the model."""

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import Status
from .tokens import SESSION_ID_RE

DEVICE_TYPES = ["ios", "android", "pc", "web", "other"]
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


class StatusQuerySerializer(serializers.Serializer):
    wait = serializers.IntegerField(required=False, min_value=0, max_value=30, default=0)
    since = serializers.ChoiceField(choices=Status.values, required=False)


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
