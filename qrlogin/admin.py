"""Admin: watch QR logins, read each one's trail, revoke live ones."""

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .actors import Actor
from .client_info import client_ip, describe_user_agent, user_agent
from .exceptions import TransitionError
from .models import LIVE_STATES, QRLoginEvent, QRLoginSession, Status

# Long values (a device's name, a user agent) are cut to this many characters in the tables,
# the whole value in the title: the list fits a 1,400 px window.
SHORT = 24


def _short(value: str, limit: int = SHORT) -> str:
    """``value`` cut to ``limit`` characters, the full text in a tooltip."""
    if len(value) <= limit:
        return value
    return format_html('<span title="{}">{}</span>', value, Truncator(value).chars(limit))


def effective_status_q(status: str, now: datetime) -> Q:
    """Sessions whose status, as of ``now``, is ``status``: a live session past its deadline
    is expired, though no one has read it since (the row says "pending" until someone does)."""
    if status == Status.EXPIRED:
        return Q(status=Status.EXPIRED) | Q(status__in=LIVE_STATES, expires_at__lte=now)
    if status in LIVE_STATES:
        return Q(status=status, expires_at__gt=now)
    return Q(status=status)


class EffectiveStatusFilter(admin.SimpleListFilter):
    """The status filter by the effective status (an overdue "pending" is listed as Expired)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in Status.values:
            return queryset.filter(effective_status_q(self.value(), timezone.now()))
        return queryset


class QRLoginEventInline(admin.TabularInline):
    model = QRLoginEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "user", "device_name", "ip", "client"]
    readonly_fields = fields

    @admin.display(description=_("browser"))
    def client(self, obj: QRLoginEvent) -> str:
        """The user agent as "Chrome 120, Windows 10" (the raw string in the tooltip)."""
        info = describe_user_agent(obj.user_agent)
        label = ", ".join(p for p in (info.browser, info.os) if p) or obj.user_agent or "-"
        if label == obj.user_agent:
            return _short(label, 40)
        return format_html('<span title="{}">{}</span>', obj.user_agent, label)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(QRLoginSession)
class QRLoginSessionAdmin(admin.ModelAdmin):
    # Narrow columns only (finished_at, the user agents: on the detail page), and cells that
    # wrap (admin.css): the list fits a 1,400 px window.
    list_display = [
        "short_id",
        "effective_status",
        "user_history",
        "device_history",
        "pc_ip",
        "phone_ip",
        "created_at",
    ]
    list_filter = [EffectiveStatusFilter, "created_at"]
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

    class Media:
        css = {"all": ["qrlogin/admin.css"]}

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
        title = f"{label} · {title}"
        return format_html(
            '<a href="{}" title="{}">{}</a>', url, title, Truncator(label).chars(SHORT)
        )

    @admin.display(description=_("status"), ordering="status")
    def effective_status(self, obj: QRLoginSession) -> str:
        """The status as of now: past its deadline a live session reads Expired (the row is
        only rewritten when someone reads it; the list must not say "Waiting" for an hour)."""
        if obj.status in LIVE_STATES and obj.expires_at <= timezone.now():
            return Status.EXPIRED.label
        return obj.get_status_display()

    def _changelist_url(self) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> Any:
        """The list, with logins by status over the last 24 hours and 7 days at the top."""
        now = timezone.now()
        periods = {"day": now - timedelta(hours=24), "week": now - timedelta(days=7)}
        counts = QRLoginSession.objects.filter(created_at__gte=periods["week"]).aggregate(
            **{
                f"{period}_{status}": Count(
                    "pk", filter=effective_status_q(status, now) & Q(created_at__gte=since)
                )
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
        cancelled = skipped = 0
        for session in queryset:
            if not session.is_live:
                skipped += 1  # already over: nothing to revoke
                continue
            try:
                session.cancel(admin_actor)
            except TransitionError:
                skipped += 1  # finished meanwhile
                continue
            cancelled += 1
        done = ngettext(
            "Cancelled %(count)d session", "Cancelled %(count)d sessions", cancelled
        ) % {"count": cancelled}
        if not skipped:
            self.message_user(request, _("%(done)s.") % {"done": done}, messages.SUCCESS)
            return
        left = ngettext(
            "%(count)d was already over and was left as it was",
            "%(count)d were already over and were left as they were",
            skipped,
        ) % {"count": skipped}
        self.message_user(
            request,
            # Translators: "Cancelled 5 sessions" and "2 were already over and were left as
            # they were", joined into one sentence.
            _("%(done)s; %(left)s.") % {"done": done, "left": left},
            messages.SUCCESS if cancelled else messages.WARNING,
        )
