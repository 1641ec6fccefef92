"""Admin for devices and their tokens: inspect, search, and revoke; secrets never shown."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Device, DeviceToken

# Search by the user model's login field, whatever it is called.
USER_LOOKUP = f"user__{get_user_model().USERNAME_FIELD}"


def _with_skipped(done: str, skipped: int) -> str:
    """ "Revoked 3 devices; 2 were already revoked and were left as they were." """
    left = ngettext(
        "%(count)d was already revoked and was left as it was",
        "%(count)d were already revoked and were left as they were",
        skipped,
    ) % {"count": skipped}
    # Translators: "Revoked 3 devices" and "2 were already revoked ...", in one sentence.
    return _("%(done)s; %(left)s.") % {"done": done, "left": left}


class RevokedFilter(admin.SimpleListFilter):
    title = _("revoked")
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


class TokenStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == "active":
            return queryset.live()
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(
                Q(revoked_at__isnull=False) | Q(device__revoked_at__isnull=False)
            )
        return queryset


class DeviceTokenInline(admin.TabularInline):
    model = DeviceToken
    fields = ["prefix", "created_at", "expires_at", "last_used_at", "revoked_at", "key_bound"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description=_("key-bound (DPoP)"))
    def key_bound(self, obj: DeviceToken) -> bool:
        return obj.is_key_bound


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    # No device_type column: the name says it ("Pixel (Android)") and the filter picks it.
    list_display = [
        "__str__",
        "user",
        "device_id",
        "created_at",
        "last_seen_at",
        "is_live",
        "key_bound",
        "qr_logins",
    ]
    list_filter = ["device_type", RevokedFilter, "created_at"]
    search_fields = [USER_LOOKUP, "device_id", "name"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    fields = [
        "user",
        "device_id",
        "device_type",
        "name",
        "created_at",
        "last_seen_at",
        "revoked_at",
    ]
    readonly_fields = fields
    inlines = [DeviceTokenInline]
    actions = ["revoke_devices"]

    class Media:  # cells wrap: the list fits a 1,400 px window
        css = {"all": ["qrlogin_accounts/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Devices are created by logging in.

    @admin.display(boolean=True, description=_("active"))
    def is_live(self, obj: Device) -> bool:
        return obj.is_active

    def get_queryset(self, request: HttpRequest) -> QuerySet[Device]:
        bound = DeviceToken.objects.live().filter(device=OuterRef("pk")).exclude(jkt="")
        return super().get_queryset(request).annotate(live_key_bound=Exists(bound))

    @admin.display(boolean=True, description=_("key-bound (DPoP)"))
    def key_bound(self, obj: Device) -> bool:
        """Whether the device's live token needs proofs signed with the device's key."""
        return bool(getattr(obj, "live_key_bound", False))

    @admin.display(description=_("QR logins"))
    def qr_logins(self, obj: Device) -> str:
        """Every QR login this device approved (the qrlogin admin, when that app is installed)."""
        try:
            url = reverse("admin:qrlogin_qrloginsession_changelist")
        except NoReverseMatch:
            return "-"
        query = urlencode({"phone_device_key": obj.persistent_id})
        return format_html('<a href="{}?{}">{}</a>', url, query, _("approved logins"))

    @admin.action(
        description=_("Revoke selected devices (and all their tokens)"), permissions=["change"]
    )
    def revoke_devices(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        done = [device.revoke() for device in queryset]
        count, skipped = sum(done), len(done) - sum(done)
        message = ngettext("Revoked %d device.", "Revoked %d devices.", count) % count
        if skipped:
            did = ngettext("Revoked %(count)d device", "Revoked %(count)d devices", count)
            message = _with_skipped(did % {"count": count}, skipped)
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "device",
        "user",
        "created_at",
        "expires_at",
        "last_used_at",
        "is_live",
        "key_bound",
    ]  # revoked_at on the detail page ("active" and the state filter say revoked): 1,400 px
    list_filter = [TokenStateFilter, RevokedFilter, "created_at", "device__device_type"]
    search_fields = ["prefix", "device__device_id", "device__name", f"device__{USER_LOOKUP}"]
    list_select_related = ["device", "device__user"]
    date_hierarchy = "created_at"
    # The digest is never displayed: with the prefix it is enough to identify a token.
    fields = [
        "prefix",
        "device",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "jkt",
    ]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    class Media:  # cells wrap: the list fits a 1,400 px window
        css = {"all": ["qrlogin_accounts/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # Tokens are issued by logging in; their secret is shown only then.

    @admin.display(description=_("user"))
    def user(self, obj: DeviceToken) -> Any:
        return obj.device.user

    @admin.display(boolean=True, description=_("active"))
    def is_live(self, obj: DeviceToken) -> bool:
        return obj.is_active

    @admin.display(boolean=True, description=_("key-bound (DPoP)"))
    def key_bound(self, obj: DeviceToken) -> bool:
        return obj.is_key_bound

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[DeviceToken]) -> None:
        done = [token.revoke() for token in queryset]
        count, skipped = sum(done), len(done) - sum(done)
        message = ngettext("Revoked %d token.", "Revoked %d tokens.", count) % count
        if skipped:
            did = ngettext("Revoked %(count)d token", "Revoked %(count)d tokens", count)
            message = _with_skipped(did % {"count": count}, skipped)
        self.message_user(request, message, messages.SUCCESS if count else messages.WARNING)
