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


class DeviceConflict(exceptions.APIException):
    """A login approved elsewhere asked for a device that is not its to take.

    Raised by :func:`qrlogin_accounts.issuers.issue_device_token` inside the completion's
    transaction, so the completion rolls back and the session stays confirmed.
    """

    status_code = status.HTTP_409_CONFLICT
    default_detail = _(
        "That device id belongs to another of your devices or still has a live token; "
        "log out on that device first, or use a new device id."
    )
    default_code = "device_conflict"
