"""QR login sessions and their transitions.

Every transition is a method of ``QRLoginSession``. Each one validates the request against a
fresh read of the row, then moves the state with a single conditional UPDATE
(``WHERE status = <source> AND expires_at > now AND <guards>``): the database lets exactly one
of any number of racing callers match, on every backend, without holding a lock while the
caller thinks. The loser re-reads the row and gets the reason (409 or 410).
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import exceptions, notify, signals, snapshot, tokens
from .actors import SYSTEM, Actor
from .client_info import same_network
from .conf import qrlogin_settings

T = TypeVar("T")


class Status(models.TextChoices):
    PENDING = "pending", _("Waiting for a scan")
    SCANNED = "scanned", _("Scanned, waiting for confirmation")
    CONFIRMED = "confirmed", _("Confirmed, waiting for the computer")
    COMPLETED = "completed", _("Completed")
    DENIED = "denied", _("Denied")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


LIVE_STATES = frozenset({Status.PENDING, Status.SCANNED, Status.CONFIRMED})
TERMINAL_STATES = frozenset({Status.COMPLETED, Status.DENIED, Status.CANCELLED, Status.EXPIRED})


@dataclass(frozen=True)
class StartedSession:
    """A new session with its raw secrets, which exist only here, once."""

    session: "QRLoginSession"
    secret: str
    user_code: str


@dataclass(frozen=True)
class Scan:
    """A successful scan: the temp token exists only here, once."""

    session: "QRLoginSession"
    temp_token: str


class QRLoginSessionQuerySet(models.QuerySet):
    def live(self, now: datetime | None = None) -> "QRLoginSessionQuerySet":
        return self.filter(status__in=LIVE_STATES, expires_at__gt=now or timezone.now())

    def expired(self, now: datetime | None = None) -> "QRLoginSessionQuerySet":
        now = now or timezone.now()
        return self.filter(
            models.Q(status=Status.EXPIRED) | models.Q(status__in=LIVE_STATES, expires_at__lte=now)
        )

    def finished_before(self, when: datetime) -> "QRLoginSessionQuerySet":
        """Sessions over (terminal, or past their deadline) whose deadline is before ``when``."""
        return self.filter(expires_at__lt=when).exclude(
            status__in=LIVE_STATES, expires_at__gt=timezone.now()
        )

    def get_by_public_id(self, public_id: str) -> "QRLoginSession":
        """The session with this id (``SessionNotFound`` otherwise), with its user."""
        if not tokens.SESSION_ID_RE.match(public_id or ""):
            raise exceptions.SessionNotFound()
        try:
            return self.select_related("user").get(public_id=public_id)
        except self.model.DoesNotExist:
            raise exceptions.SessionNotFound() from None

    def cancel_for_device(self, device_key: str, actor: Actor) -> int:
        """Cancel every live session the phone ``device_key`` scanned or confirmed.

        Each goes through the ``cancel`` transition (its event names ``actor``, its PC hears
        at once); one that finished meanwhile is left as it is. Returns how many were
        cancelled.
        """
        if not device_key:
            return 0
        cancelled = 0
        for session in self.live().filter(phone_device_key=device_key):
            try:
                session.cancel(actor)
            except exceptions.TransitionError:
                continue  # completed, denied or expired meanwhile: a winner already
            cancelled += 1
        return cancelled

    def get_by_user_code(self, code: str) -> "QRLoginSession":
        """The live session showing this pairing code (``SessionNotFound`` otherwise)."""
        normalized = tokens.normalize_user_code(code)
        if normalized is None:
            raise exceptions.SessionNotFound()
        try:
            return (
                self.live()
                .select_related("user")
                .get(user_code_digest=tokens.user_code_digest(normalized))
            )
        except self.model.DoesNotExist:
            raise exceptions.SessionNotFound() from None


class QRLoginSessionManager(models.Manager.from_queryset(QRLoginSessionQuerySet)):
    def start(
        self, *, pc_ip: str | None, pc_user_agent: str = "", next_url: str = ""
    ) -> StartedSession:
        """Create a pending session; return it with its PC secret and pairing code."""
        now = timezone.now()
        secret = tokens.new_secret()
        session, user_code = self._create_with_a_free_code(
            now,
            public_id=tokens.new_session_id(),
            secret_digest=tokens.digest(secret),
            created_at=now,
            expires_at=now + timedelta(seconds=qrlogin_settings.QR_TTL),
            next_url=next_url,
            pc_ip=pc_ip,
            pc_user_agent=pc_user_agent[:512],
        )
        # The first poll, on any process, is answered from the snapshot.
        transaction.on_commit(lambda: snapshot.write(session), robust=True)
        return StartedSession(session=session, secret=secret, user_code=user_code)

    def _create_with_a_free_code(
        self, now: datetime, **fields: Any
    ) -> tuple["QRLoginSession", str]:
        """Insert the session with a pairing code no other live session shows.

        Two live sessions must never share a code: a phone typing it would reach the wrong
        computer. The database refuses a duplicate among live rows (the partial unique
        constraint ``qrlogin_live_user_code``), so a create is one INSERT; a clash (40 bits:
        about one create in a million with a million sessions live) draws another code.
        A backend without partial unique indexes (MySQL) is asked first instead.
        """
        asks_first = not connections[self.db].features.supports_partial_indexes
        for _draw in range(USER_CODE_DRAWS):
            user_code = tokens.new_user_code()
            code_digest = tokens.user_code_digest(user_code)
            if asks_first:
                if self.live(now).filter(user_code_digest=code_digest).exists():
                    continue
                return self.create(user_code_digest=code_digest, **fields), user_code
            try:
                with _recoverable(self.db):
                    return self.create(user_code_digest=code_digest, **fields), user_code
            except IntegrityError as exc:
                if not _is_code_clash(exc):
                    raise
                continue
        raise IntegrityError(f"No free pairing code after {USER_CODE_DRAWS} draws.")


USER_CODE_DRAWS = 8


def _is_code_clash(exc: IntegrityError) -> bool:
    """The live-code constraint refused the INSERT (PostgreSQL names the constraint, SQLite
    the column), not some other constraint whose cause another draw would not change."""
    message = str(exc)
    return "qrlogin_live_user_code" in message or "user_code_digest" in message


def _recoverable(using: str) -> Any:
    """A savepoint inside the caller's transaction, where a failed INSERT would break it;
    nothing in autocommit, where it does not (and BEGIN/COMMIT would cost two round trips)."""
    if transaction.get_connection(using).in_atomic_block:
        return transaction.atomic(using=using)
    return contextlib.nullcontext()


class QRLoginSession(models.Model):
    """One QR shown on one PC, from creation to its terminal state."""

    public_id = models.CharField(_("id"), max_length=64, unique=True, editable=False)
    secret_digest = models.CharField(max_length=64, editable=False)
    # Indexed for backends without partial indexes too (MySQL): see the constraint below.
    user_code_digest = models.CharField(max_length=64, db_index=True, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("deadline"), help_text=_("Deadline of the current state."))
    scanned_at = models.DateTimeField(_("scanned"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    next_url = models.CharField(_("next URL"), max_length=2000, blank=True)
    pc_ip = models.GenericIPAddressField(_("PC IP"), null=True, blank=True)
    pc_user_agent = models.CharField(_("PC user agent"), max_length=512, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="qrlogin_sessions",
    )
    phone_device_key = models.CharField(_("phone device"), max_length=100, blank=True)
    phone_device_name = models.CharField(_("phone device name"), max_length=128, blank=True)
    phone_ip = models.GenericIPAddressField(_("phone IP"), null=True, blank=True)
    temp_token_digest = models.CharField(max_length=64, blank=True, editable=False)
    verification_code = models.CharField(max_length=2, blank=True, editable=False)
    pc_device_id = models.CharField(
        _("PC device id"),
        max_length=128,
        blank=True,
        help_text=_("The desktop client's device id, when completion issued it a token."),
    )

    objects = QRLoginSessionManager()

    class Meta:
        verbose_name = _("QR login session")
        verbose_name_plural = _("QR login sessions")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user_code_digest"],
                condition=models.Q(status__in=sorted(LIVE_STATES)),
                name="qrlogin_live_user_code",
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id[:8]}… ({self.status})"

    # Reading ---------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATES and self.expires_at > timezone.now()

    def check_secret(self, secret: str | None) -> bool:
        return tokens.matches(secret, self.secret_digest)

    def refresh_status(self) -> str:
        """The status as of now; a live session past its deadline is expired on this read."""
        if self.status in LIVE_STATES and self.expires_at <= timezone.now():
            self.expire()
        return self.status

    def scanned_by(self, actor: Actor) -> bool:
        return bool(self.phone_device_key) and self.phone_device_key == actor.device_key

    # Transitions -----------------------------------------------------------------------

    def scan(self, phone: Actor) -> Scan:
        """pending -> scanned: bind the session to this phone and issue its temp token.

        A second scan by the same phone is idempotent: it gets a fresh temp token (the old one
        stops working) and the deadline stays. Any other phone gets InvalidState.
        """
        now = timezone.now()
        self._require({Status.PENDING, Status.SCANNED}, now)
        temp_token = tokens.new_secret()
        if self.status == Status.SCANNED:
            if not self.scanned_by(phone) or self.user_id != phone.user.pk:
                raise exceptions.InvalidState(_("Another device has already scanned this code."))
            self._advance(
                Status.SCANNED,
                Status.SCANNED,
                now,
                phone,
                guard={"phone_device_key": phone.device_key},
                temp_token_digest=tokens.digest(temp_token),
            )
            return Scan(session=self, temp_token=temp_token)
        if qrlogin_settings.REQUIRE_SAME_NETWORK and not same_network(phone.ip, self.pc_ip):
            raise exceptions.DifferentNetwork()
        verification = qrlogin_settings.VERIFICATION == "number"
        self._advance(
            Status.PENDING,
            Status.SCANNED,
            now,
            phone,
            user=phone.user,
            phone_device_key=phone.device_key,
            phone_device_name=phone.device_name[:128],
            phone_ip=phone.ip,
            temp_token_digest=tokens.digest(temp_token),
            verification_code=tokens.new_verification_code() if verification else "",
            scanned_at=now,
            expires_at=now + timedelta(seconds=qrlogin_settings.CONFIRM_TTL),
        )
        return Scan(session=self, temp_token=temp_token)

    def confirm(self, phone: Actor, temp_token: str, verification_code: str | None = None) -> None:
        """scanned -> confirmed, by the scanning phone holding its temp token.

        With number matching on, a wrong number denies the session: the person on the phone
        is looking at a different computer than the one that shows this QR.
        """
        now = timezone.now()
        self._check_phone(phone, temp_token, now)
        guard = {"temp_token_digest": self.temp_token_digest}
        if self.verification_code and not tokens.constant_time_compare(
            (verification_code or "").strip(), self.verification_code
        ):
            self._advance(
                Status.SCANNED, Status.DENIED, now, phone, guard=guard,
                temp_token_digest="", finished_at=now,
            )  # fmt: skip
            raise exceptions.VerificationFailed()
        self._advance(
            Status.SCANNED,
            Status.CONFIRMED,
            now,
            phone,
            guard=guard,
            temp_token_digest="",
            confirmed_at=now,
            expires_at=now + timedelta(seconds=qrlogin_settings.COMPLETE_TTL),
        )

    def deny(self, phone: Actor, temp_token: str) -> None:
        """scanned -> denied, by the scanning phone holding its temp token."""
        now = timezone.now()
        self._check_phone(phone, temp_token, now)
        self._advance(
            Status.SCANNED,
            Status.DENIED,
            now,
            phone,
            guard={"temp_token_digest": self.temp_token_digest},
            temp_token_digest="",
            finished_at=now,
        )

    def cancel(self, actor: Actor) -> None:
        """Any live state -> cancelled: the PC gave up, or an admin revoked the request."""
        now = timezone.now()
        source = self._require(LIVE_STATES, now)
        self._advance(source, Status.CANCELLED, now, actor, temp_token_digest="", finished_at=now)

    def complete(self, pc: Actor, issue_credential: Callable[[Any], T], **fields: Any) -> T:
        """confirmed -> completed, once; ``issue_credential(user)`` runs in the same transaction.

        The credential (a Django login, or a device token) and the state change commit together
        or not at all, so a failure while issuing leaves the session confirmed.
        """
        now = timezone.now()
        self._require({Status.CONFIRMED}, now)
        if not getattr(self.user, "is_active", True):  # a user model may have no is_active
            raise exceptions.InactiveUser()
        with transaction.atomic():
            self._advance(Status.CONFIRMED, Status.COMPLETED, now, pc, finished_at=now, **fields)
            return issue_credential(self.user)

    def expire(self) -> None:
        """A live session past its deadline -> expired (idempotent; racing readers agree)."""
        now = timezone.now()
        if self.status not in LIVE_STATES or self.expires_at > now:
            return
        won = (
            type(self)
            .objects.filter(pk=self.pk, status=self.status, expires_at__lte=now)
            .update(status=Status.EXPIRED, temp_token_digest="", finished_at=now)
        )
        if won:
            self.status, self.temp_token_digest, self.finished_at = Status.EXPIRED, "", now
            self._record(SYSTEM, now)
        else:
            self.refresh_from_db()

    # Internals -------------------------------------------------------------------------

    def _require(self, states: set[str] | frozenset[str], now: datetime) -> str:
        """Raise SessionExpired or InvalidState unless the session is in one of ``states``."""
        if self.status in LIVE_STATES and self.expires_at <= now:
            self.expire()
        if self.status == Status.EXPIRED:
            raise exceptions.SessionExpired()
        if self.status not in states:
            raise exceptions.InvalidState()
        return self.status

    def _check_phone(self, phone: Actor, temp_token: str, now: datetime) -> None:
        self._require({Status.SCANNED}, now)
        if not self.scanned_by(phone) or self.user_id != phone.user.pk:
            raise exceptions.WrongDevice()
        if not tokens.matches(temp_token, self.temp_token_digest):
            raise exceptions.InvalidTempToken()

    def _advance(
        self,
        source: str,
        target: str,
        now: datetime,
        actor: Actor,
        guard: dict[str, Any] | None = None,
        **changes: Any,
    ) -> None:
        """Move ``source`` -> ``target`` with one conditional UPDATE; losers learn why."""
        changes["status"] = target
        with transaction.atomic():
            won = (
                type(self)
                .objects.filter(pk=self.pk, status=source, expires_at__gt=now, **(guard or {}))
                .update(**changes)
            )
            if not won:
                self.refresh_from_db()
                self._require({source}, timezone.now())
                raise exceptions.InvalidState()
            for name, value in changes.items():
                setattr(self, name, value)
            if source != target:
                self._record(actor, now)

    def _record(self, actor: Actor, now: datetime) -> None:
        event = self.events.create(
            kind=self.status,
            user=actor.user if getattr(actor.user, "pk", None) else None,
            device_key=actor.device_key[:100],
            device_name=actor.device_name[:128],
            ip=actor.ip,
            user_agent=actor.user_agent[:512],
            created_at=now,
        )
        signal = getattr(signals, f"session_{self.status}")
        transaction.on_commit(lambda: signals.send(signal, session=self, event=event))
        notify.publish_on_commit(self)


class QRLoginEvent(models.Model):
    """One transition of a session: what happened, who did it, from where, when.

    The trail of every login a device approved, for the user and for admins.
    """

    session = models.ForeignKey(QRLoginSession, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=16, choices=Status.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    device_key = models.CharField(_("device"), max_length=100, blank=True)
    device_name = models.CharField(_("device name"), max_length=128, blank=True)
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("QR login event")
        verbose_name_plural = _("QR login events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return _("%(kind)s at %(time)s") % {
            "kind": self.get_kind_display(),
            "time": f"{self.created_at:%Y-%m-%d %H:%M:%S}",
        }
