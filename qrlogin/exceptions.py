"""Why a transition was refused. The API maps each to its status code and ``code`` in one place."""

from django.utils.translation import gettext_lazy as _


class TransitionError(Exception):
    status_code = 409
    code = "invalid_state"
    default_detail = _("This login request cannot do that in its current state.")

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(str(self.detail))


class InvalidState(TransitionError):
    pass


class SessionExpired(TransitionError):
    status_code = 410
    code = "expired"
    default_detail = _("This login request has expired.")


class WrongDevice(TransitionError):
    status_code = 403
    code = "wrong_device"
    default_detail = _("This login request was scanned by another device.")


class InvalidTempToken(TransitionError):
    status_code = 403
    code = "invalid_temp_token"
    default_detail = _("The temporary token is not valid for this login request.")


class DifferentNetwork(TransitionError):
    status_code = 403
    code = "different_network"
    default_detail = _("The phone and the computer must be on the same network.")


class VerificationFailed(TransitionError):
    status_code = 403
    code = "wrong_verification_code"
    default_detail = _("The number did not match the one on the computer; the login was denied.")


class InactiveUser(TransitionError):
    status_code = 403
    code = "permission_denied"
    default_detail = _("This account is not active.")
