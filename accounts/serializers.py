"""Input validation and the wire shapes of the accounts API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import (
    DEVICE_ID_MAX_LENGTH,
    DEVICE_NAME_MAX_LENGTH,
    Device,
    DeviceType,
    validate_device_id,
)
from .tokens import BEARER_SCHEME, DPOP_SCHEME

# Generous bounds: they only stop absurd payloads before they reach the auth backends.
USERNAME_MAX_LENGTH = 1024
PASSWORD_MAX_LENGTH = 4096


class DeviceInputSerializer(serializers.Serializer):
    """``device_id``, ``device_type`` and optional ``device_name`` sent by a client.

    Reusable by other apps that register devices (e.g. a QR login completed by a desktop).
    """

    device_id = serializers.CharField(
        max_length=DEVICE_ID_MAX_LENGTH, validators=[validate_device_id]
    )
    device_type = serializers.ChoiceField(choices=DeviceType.choices)
    device_name = serializers.CharField(
        max_length=DEVICE_NAME_MAX_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
    )

    def validate_device_name(self, value: str | None) -> str:
        return value or ""


class TokenLoginSerializer(DeviceInputSerializer):
    """Body of ``POST /accounts/api/token/``."""

    username = serializers.CharField(max_length=USERNAME_MAX_LENGTH)
    password = serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, style={"input_type": "password"}
    )


class UserSummarySerializer(serializers.Serializer):
    """``{id, username}``; works with any user model (``get_username()``, not a field)."""

    id = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()

    def get_id(self, user: Any) -> int:
        return user.pk

    def get_username(self, user: Any) -> str:
        return user.get_username()


class DeviceSummarySerializer(serializers.ModelSerializer):
    """``{id, device_id, device_type, name}``."""

    class Meta:
        model = Device
        fields = ["id", "device_id", "device_type", "name"]
        read_only_fields = fields


class DeviceListItemSerializer(serializers.ModelSerializer):
    """A row of ``GET /accounts/api/devices/``; ``current`` needs ``context["current_device"]``."""

    revoked = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField()
    dpop = serializers.SerializerMethodField(
        help_text="Whether the device's live token is bound to its key (DPoP)."
    )

    class Meta:
        model = Device
        fields = [
            "id",
            "device_id",
            "device_type",
            "name",
            "created_at",
            "last_seen_at",
            "revoked",
            "current",
            "dpop",
        ]
        read_only_fields = fields

    def get_revoked(self, device: Device) -> bool:
        return device.revoked_at is not None

    def get_dpop(self, device: Device) -> bool:
        bound = getattr(device, "key_bound", None)  # annotated by the list view
        if bound is None:
            bound = device.tokens.live().exclude(jkt="").exists()
        return bool(bound)

    def get_current(self, device: Device) -> bool:
        current = self.context.get("current_device")
        return current is not None and current.pk == device.pk


class TokenPayloadSerializer(serializers.Serializer):
    """``{token, token_type, expires_at, user, device}``: what a client gets for a new token."""

    token = serializers.CharField()
    token_type = serializers.ChoiceField(
        choices=[BEARER_SCHEME, DPOP_SCHEME],
        help_text="`DPoP`: the token is bound to the key of the request's DPoP proof and is "
        "sent as `Authorization: DPoP <token>` with a fresh proof; `Token`: a bearer token.",
    )
    expires_at = serializers.DateTimeField()
    user = UserSummarySerializer()
    device = DeviceSummarySerializer()


class MeSerializer(serializers.Serializer):
    """``{user, device}`` of ``GET /accounts/api/me/``."""

    user = UserSummarySerializer()
    device = DeviceSummarySerializer()
