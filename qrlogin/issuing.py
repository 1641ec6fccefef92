"""The PC's credential once the phone confirmed: a Django login, or a device token.

A browser PC is logged in with Django's own ``login()``. A desktop/API client gets a token
from the issuer named by ``QRLOGIN["TOKEN_ISSUER"]`` (qrlogin_accounts' by default when it is
installed), loaded lazily so qrlogin runs without any device-token app.
"""

from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .conf import qrlogin_settings
from .exceptions import QRLoginError


class TokenIssuer(Protocol):
    """What ``QRLOGIN["TOKEN_ISSUER"]`` names.

    Called inside the completion's transaction, with the confirmed user and the desktop's
    validated device fields. Returns the JSON-ready fields added to the completion's answer
    (for qrlogin_accounts: ``token``, ``token_type``, ``expires_at``, ``user``, ``device``;
    the request is where it reads a DPoP proof that binds the token to a key). Raising rolls
    the completion back, so the session stays confirmed and the PC may try again: a
    ``ValueError`` answers 400 ``invalid``, a :class:`~qrlogin.exceptions.QRLoginError` (or
    DRF ``APIException``) answers its own status and code.
    """

    def __call__(
        self,
        *,
        user: Any,
        device_id: str,
        device_type: str,
        device_name: str,
        request: HttpRequest | None,
    ) -> dict[str, Any]: ...


class TokenIssuerUnavailable(QRLoginError):
    code = "token_issuer_unavailable"
    default_detail = _("This site does not issue device tokens; complete from a browser.")


def load_token_issuer() -> TokenIssuer:
    """The configured issuer; a missing or broken one is reported by ``qrlogin.E007`` too."""
    path = qrlogin_settings.TOKEN_ISSUER
    if not path:
        raise TokenIssuerUnavailable()
    try:
        return import_string(path)
    except (ImportError, RuntimeError) as exc:  # RuntimeError: its app is not installed
        raise TokenIssuerUnavailable() from exc


def login_browser(request: HttpRequest, user: Any) -> None:
    """A normal Django login: the session key is rotated, ``user_logged_in`` is sent."""
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
