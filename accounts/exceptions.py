"""The app's own refusals. Every error body is built by ``qrlogin.errors`` (shared with qrlogin,
importable without it installed), which the app's views install as their exception handler."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status


class InvalidCredentials(exceptions.AuthenticationFailed):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("Unable to log in with the provided credentials.")
    default_code = "invalid_credentials"


class DeviceMismatch(exceptions.AuthenticationFailed):
    default_detail = _("The token was not issued to the device named by X-Device-ID.")
    default_code = "device_mismatch"
