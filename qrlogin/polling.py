"""The status request's query (``?wait=&since=``), read the same way by the DRF view and the
ASGI status path, with Django's form fields (translated messages, no DRF)."""

from collections.abc import Mapping
from dataclasses import dataclass

from django import forms
from django.core.validators import MaxValueValidator

from .conf import qrlogin_settings
from .exceptions import InvalidInput
from .models import Status

# A WSGI (or ASGI without the middleware) status view never holds a request: a client that
# asked to wait is told, in seconds, when to ask again.
POLL_AFTER_HEADER = "X-QRLogin-Poll-After"
SHORT_POLL_SECONDS = 2


_STATES = frozenset(Status.values)


@dataclass(frozen=True)
class StatusQuery:
    wait: int
    """Seconds to hold the answer for a change (0: answer at once)."""
    since: str | None
    """The status the PC knows; None: the current one."""


class _StatusQueryForm(forms.Form):
    wait = forms.IntegerField(min_value=0, required=False)
    since = forms.ChoiceField(choices=Status.choices, required=False)

    def __init__(self, data: Mapping[str, str]) -> None:
        super().__init__(data)
        # The one cap on a wait: LONG_POLL_MAX (the contract's 30 by default).
        limit = qrlogin_settings.LONG_POLL_MAX
        self.fields["wait"].max_value = limit
        self.fields["wait"].validators.append(MaxValueValidator(limit))


def parse_status_query(params: Mapping[str, str]) -> StatusQuery:
    """The query's ``wait`` and ``since``; anything else in it is ignored.

    Raises :class:`~qrlogin.exceptions.InvalidInput` (400 ``invalid``, with ``errors``).
    """
    wait, since = params.get("wait"), params.get("since")
    # Every poll asks this: a small whole number (or nothing) and a known status (or
    # nothing) is what the form would accept, without building one. Anything else goes to
    # the form, which says what is wrong.
    if (wait is None or (wait.isascii() and wait.isdigit() and len(wait) < 6)) and (
        since is None or since in _STATES
    ):
        seconds = int(wait) if wait else 0
        if seconds <= qrlogin_settings.LONG_POLL_MAX:
            return StatusQuery(wait=seconds, since=since or None)
    form = _StatusQueryForm({k: params[k] for k in ("wait", "since") if k in params})
    if not form.is_valid():
        raise InvalidInput(errors={k: list(v) for k, v in form.errors.items()})
    return StatusQuery(
        wait=form.cleaned_data["wait"] or 0, since=form.cleaned_data["since"] or None
    )
