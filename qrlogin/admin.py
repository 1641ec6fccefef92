"""Admin: watch QR logins, read each one's trail, revoke live ones."""

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .actors import Actor
from .client_info import client_ip, user_agent
from .exceptions import TransitionError
from .models import QRLoginEvent, QRLoginSession, Status


class QRLoginEventInline(admin.TabularInline):
    model = QRLoginEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "user", "device_name", "device_key", "ip", "user_agent"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(QRLoginSession)
class QRLoginSessionAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "status",
        "user_history",
        "device_history",
        "pc_ip",
        "phone_ip",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "created_at"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    search_fields = ["public_id", "pc_ip", "phone_device_name"]
    readonly_fields = [
        "public_id",
        "status",
        "user",
        "created_at",
        "expires_at",
        "scanned_at",
        "confirmed_at",
        "finished_at",
        "next_url",
        "pc_ip",
        "pc_user_agent",
        "phone_device_key",
        "phone_device_name",
        "phone_ip",
        "pc_device_id",
    ]
    fields = readonly_fields
    inlines = [QRLoginEventInline]
    actions = ["cancel_sessions"]

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        from django.contrib.auth import get_user_model

        username_field = get_user_model().USERNAME_FIELD
        return [*self.search_fields, f"user__{username_field}"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # The per-user and per-device history links filter on these.
        if lookup in ("user__id__exact", "phone_device_key"):
            return True
        return super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("user"), ordering="user")
    def user_history(self, obj: QRLoginSession) -> str:
        if obj.user_id is None:
            return "-"
        url = f"{self._changelist_url()}?{urlencode({'user__id__exact': obj.user_id})}"
        title = _("All QR logins of this user")
        return format_html('<a href="{}" title="{}">{}</a>', url, title, obj.user)

    @admin.display(description=_("phone device"), ordering="phone_device_name")
    def device_history(self, obj: QRLoginSession) -> str:
        if not obj.phone_device_key:
            return "-"
        url = f"{self._changelist_url()}?{urlencode({'phone_device_key': obj.phone_device_key})}"
        title = _("All QR logins approved by this device")
        label = obj.phone_device_name or obj.phone_device_key
        return format_html('<a href="{}" title="{}">{}</a>', url, title, label)

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        """The list, with logins by status over the last 24 hours and 7 days at the top."""
        now = timezone.now()
        periods = {"day": now - timedelta(hours=24), "week": now - timedelta(days=7)}
        counts = QRLoginSession.objects.filter(created_at__gte=periods["week"]).aggregate(
            **{
                f"{period}_{status}": Count("pk", filter=Q(status=status, created_at__gte=since))
                for period, since in periods.items()
                for status in Status.values
            }
        )
        summary = [
            {
                "label": label,
                "count": {period: counts[f"{period}_{status}"] for period in periods},
            }
            for status, label in Status.choices
        ]
        extra_context = {**(extra_context or {}), "qrlogin_summary": summary}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description=_("id"), ordering="public_id")
    def short_id(self, obj: QRLoginSession) -> str:
        return f"{obj.public_id[:10]}…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_qrloginsession")

    @admin.action(description=_("Cancel (revoke) selected live sessions"), permissions=["cancel"])
    def cancel_sessions(self, request: HttpRequest, queryset: QuerySet) -> None:
        admin_actor = Actor(
            user=request.user,
            device_key="admin",
            device_name="admin",
            ip=client_ip(request),
            user_agent=user_agent(request),
        )
        cancelled = 0
        for session in queryset.live():
            try:
                session.cancel(admin_actor)
            except TransitionError:
                continue  # finished meanwhile: nothing to revoke
            cancelled += 1
        self.message_user(
            request,
            ngettext("Cancelled %(count)d session.", "Cancelled %(count)d sessions.", cancelled)
            % {"count": cancelled},
            messages.SUCCESS,
        )
