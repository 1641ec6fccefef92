"""Why qrlogin refused a request: each carries its HTTP status and the contract's ``code``.

They need no DRF: the models raise them, and ``qrlogin.errors`` renders them for the API,
the pages and the ASGI status path alike.
"""

from django.utils.translation import gettext_lazy as _


class QRLoginError(Exception):
    status_code = 400
    code = "invalid"
    default_detail = _("The request is not valid.")

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(str(self.detail))


class InvalidInput(QRLoginError):
    """400 ``invalid``, naming each bad field (``errors``: field -> messages)."""

    def __init__(self, detail: str | None = None, *, errors: dict[str, list[str]]) -> None:
        super().__init__(detail)
        self.errors = errors


class SessionNotFound(QRLoginError):
    """An unknown id, and a request without the PC's proof: one answer, so neither leaks."""

    status_code = 404
    code = "not_found"
    default_detail = _("No such login request.")


class TransitionError(QRLoginError):
    """A transition the session's state (or the caller) does not allow."""

    status_code = 409
    code = "invalid_state"
    default_detail = _("This login request cannot do that in its current state.")


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


class CSRFFailed(QRLoginError):
    """A browser PC's unsafe request without Django's CSRF token (login CSRF)."""

    status_code = 403
    code = "csrf_failed"
    default_detail = _("CSRF failed.")


class TooManyWaiting(QRLoginError):
    """Past a limit on parked polls (per session, or per client network): ask again later."""

    status_code = 429
    code = "too_many_waiting"
    default_detail = _("Too many status requests are waiting; try again shortly.")
    retry_after = 5


class Unavailable(QRLoginError):
    """The server cannot answer now: its database is unreachable, or the process is full."""

    status_code = 503
    code = "unavailable"
    default_detail = _("The service is busy; try again.")
    retry_after = 5
