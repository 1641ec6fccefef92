"""Devices a user signed in from, and the API tokens bound to them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import tokens
from .conf import accounts_settings
from .signals import DEVICE_REVOKED, TOKEN_REVOKED, device_revoked, end_device_logins

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

DEVICE_ID_MAX_LENGTH = 128
DEVICE_NAME_MAX_LENGTH = 128

# A device id travels back in the X-Device-ID header, so keep it to printable ASCII (space
# allowed inside): anything else would not survive HTTP headers byte for byte.
validate_device_id = RegexValidator(
    r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?\Z",
    _("Enter a device id of printable ASCII characters."),
    code="invalid",
)


class DeviceType(models.TextChoices):
    IOS = "ios", _("iOS")
    ANDROID = "android", _("Android")
    PC = "pc", _("PC")
    WEB = "web", _("Web")
    OTHER = "other", _("Other")


class DeviceQuerySet(models.QuerySet["Device"]):
    def active(self) -> DeviceQuerySet:
        """Devices that have not been revoked."""
        return self.filter(revoked_at__isnull=True)

    def idle(self, now: datetime | None = None) -> DeviceQuerySet:
        """Devices unused for ``ACCOUNTS["DEVICE_IDLE_TTL"]`` (none when it is None).

        "Used" is the last authenticated request (``last_seen_at``, written at most every
        ``LAST_USED_UPDATE_INTERVAL``) or the registration, for a device never seen since.
        """
        ttl = accounts_settings.DEVICE_IDLE_TTL
        if ttl is None:
            return self.none()
        if not isinstance(ttl, timedelta):
            ttl = timedelta(seconds=ttl)
        cutoff = (now or timezone.now()) - ttl
        return self.alias(used=Coalesce("last_seen_at", "created_at")).filter(used__lt=cutoff)


class DeviceManager(models.Manager.from_queryset(DeviceQuerySet)):  # type: ignore[misc]
    def purge_idle(self, now: datetime | None = None) -> int:
        """Delete idle devices (see :meth:`DeviceQuerySet.idle`) and their tokens; the count."""
        _deleted, by_model = self.get_queryset().idle(now).delete()
        return by_model.get(self.model._meta.label, 0)

    def register(
        self,
        user: AbstractBaseUser,
        device_id: str,
        device_type: str,
        name: str = "",
    ) -> Device:
        """Get the user's live device with this ``device_id``, or create it.

        The type is updated to what the client says now; the name only when one is given, so
        a re-login without a name keeps the one the device had. The row is locked for the rest
        of the caller's transaction so a concurrent ``Device.revoke()`` cannot interleave with
        issuing a token for it.
        """
        now = timezone.now()
        with transaction.atomic():
            device = (
                self.select_for_update()
                .filter(user=user, device_id=device_id, revoked_at__isnull=True)
                .first()
            )
            if device is None:
                try:
                    with transaction.atomic():
                        return self.create(
                            user=user,
                            device_id=device_id,
                            device_type=device_type,
                            name=name,
                            last_seen_at=now,
                        )
                except IntegrityError:
                    # Lost a race with a concurrent registration of the same device.
                    device = self.select_for_update().get(
                        user=user, device_id=device_id, revoked_at__isnull=True
                    )
            device.device_type = device_type
            if name:
                device.name = name
            device.last_seen_at = now
            device.save(update_fields=["device_type", "name", "last_seen_at"])
            return device


class Device(models.Model):
    """A client installation a user signed in from; ``device_id`` is chosen by the client."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="devices",
        verbose_name=_("user"),
    )
    device_id = models.CharField(
        _("device id"),
        max_length=DEVICE_ID_MAX_LENGTH,
        validators=[validate_device_id],
        help_text=_("Chosen by the client; unique per user among live devices."),
    )
    device_type = models.CharField(_("type"), max_length=16, choices=DeviceType.choices)
    name = models.CharField(_("name"), max_length=DEVICE_NAME_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = DeviceManager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "device_id"],
                condition=models.Q(revoked_at__isnull=True),
                name="qrlogin_accounts_device_unique_live_device_id",
            )
        ]

    def __str__(self) -> str:
        label = self.name or self.device_id
        return f"{label} ({self.get_device_type_display()})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def persistent_id(self) -> str:
        """This device's stable key in other apps' records (django-otp's name for it).

        qrlogin records it on the sessions this device scans, so confirm and deny must come
        from the same device, and revoking the device can find the logins it set in motion.
        """
        return f"device:{self.pk}"

    def revoke(self) -> bool:
        """Revoke the device and every token it holds, in one transaction.

        Idempotent; returns whether the device was live before.
        """
        now = timezone.now()
        with transaction.atomic():
            changed = Device.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=now
            )
            DeviceToken.objects.filter(device_id=self.pk, revoked_at__isnull=True).update(
                revoked_at=now
            )
            if changed:
                self.revoked_at = now
                # In the same transaction: what receivers undo (qrlogin cancels the logins
                # this device approved) commits with the revocation or not at all.
                device_revoked.send(sender=Device, device=self)
                end_device_logins(self, DEVICE_REVOKED)
        if not changed and self.revoked_at is None:
            self.refresh_from_db(fields=["revoked_at"])
        return bool(changed)


class DeviceTokenQuerySet(models.QuerySet["DeviceToken"]):
    def live(self) -> DeviceTokenQuerySet:
        """Tokens that authenticate now: unrevoked, unexpired, on a live device."""
        return self.filter(
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            device__revoked_at__isnull=True,
        )


class DeviceTokenManager(models.Manager.from_queryset(DeviceTokenQuerySet)):  # type: ignore[misc]
    def issue(
        self, device: Device, ttl: int | float | timedelta | None = None, jkt: str = ""
    ) -> tuple[DeviceToken, str]:
        """Create a token for ``device``; return it with the raw token.

        The raw token is returned this once and never stored: only its digest and a short
        lookup prefix are. ``ttl`` defaults to ``ACCOUNTS["TOKEN_TTL"]``. With ``jkt`` (a key
        thumbprint) the token is bound to that key and works only with DPoP proofs.
        """
        if not device.is_active:
            raise ValueError("Cannot issue a token for a revoked device.")
        if ttl is None:
            ttl = accounts_settings.TOKEN_TTL
        if not isinstance(ttl, timedelta):
            ttl = timedelta(seconds=ttl)
        raw = tokens.generate_token()
        now = timezone.now()
        token = self.create(
            device=device,
            prefix=tokens.token_prefix(raw),
            digest=tokens.token_digest(raw),
            created_at=now,
            expires_at=now + ttl,
            jkt=jkt,
        )
        return token, raw

    def lookup(self, raw: str) -> DeviceToken | None:
        """The token whose secret is ``raw``, whatever its state, or None.

        Finds candidates by the non-secret prefix, then compares digests in constant time.
        """
        if not tokens.is_well_formed(raw):
            return None
        candidates = self.select_related("device", "device__user").filter(
            prefix=tokens.token_prefix(raw)
        )
        for candidate in candidates:
            if tokens.digest_matches(raw, candidate.digest):
                return candidate
        return None


class DeviceToken(models.Model):
    """An API token bound to one device. Only a digest of the secret is stored."""

    device = models.ForeignKey(
        Device, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("device")
    )
    prefix = models.CharField(
        _("prefix"),
        max_length=16,
        db_index=True,
        editable=False,
        help_text=_("First characters of the token, kept to find it; not a secret."),
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    jkt = models.CharField(
        _("key thumbprint"),
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text=_(
            "RFC 7638 thumbprint of the device key this token is bound to (DPoP); "
            "empty for a bearer token."
        ),
    )

    objects = DeviceTokenManager()

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_key_bound(self) -> bool:
        """Whether every use needs a DPoP proof signed with the device's key."""
        return bool(self.jkt)

    @property
    def is_active(self) -> bool:
        """Whether the token would authenticate now (device included)."""
        return self.revoked_at is None and not self.is_expired and self.device.is_active

    def revoke(self) -> bool:
        """Revoke this token. Idempotent; returns whether it was unrevoked before.

        Logging out also cancels the QR logins its device scanned or approved (in the same
        transaction): a phone that logs out must not leave an approval behind for the PC.
        """
        now = timezone.now()
        with transaction.atomic():
            changed = DeviceToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
                revoked_at=now
            )
            if changed:
                self.revoked_at = now
                end_device_logins(self.device, TOKEN_REVOKED)
        return bool(changed)


class DPoPProofUse(models.Model):
    """A DPoP proof already used, kept while it could still pass (the replay cache's database
    form, for sites without a shared cache: a unique index is atomic across processes)."""

    key = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("used DPoP proof")
        verbose_name_plural = _("used DPoP proofs")

    def __str__(self) -> str:
        return self.key[:12]
