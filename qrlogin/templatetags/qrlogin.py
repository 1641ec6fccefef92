"""``{% load qrlogin %}{% qrlogin_widget next="/" %}``: the QR login box in any template;
``{{ when|qrlogin_ago }}``: "just now", "2 minutes ago"."""

from datetime import datetime
from urllib.parse import urlencode

from django import template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from ..throttling import CreateThrottle
from ..views import new_qr_for_browser

register = template.Library()


@register.simple_tag(takes_context=True)
def qrlogin_widget(context: template.Context, next: str = "") -> SafeString:
    """A new QR for this browser, its live state and pairing code, with the script and CSS.

    Needs ``request`` in the context (the ``request`` context processor). Each render creates
    a QR session for the visitor, counted by the same per-IP throttle as the QR page.
    """
    request = context["request"]
    if not CreateThrottle().allow_request(request, None):
        return render_to_string("qrlogin/widget.html", {"throttled": True}, request=request)
    renew_url = reverse("qrlogin:login") + (f"?{urlencode({'next': next})}" if next else "")
    return render_to_string(
        "qrlogin/widget.html",
        {"qr": new_qr_for_browser(request, next), "next": next, "renew_url": renew_url},
        request=request,
    )


@register.filter
def qrlogin_ago(value: datetime | None) -> str:
    """How long ago, as a person says it: "just now" under a minute (Django's ``timesince``
    says "0 minutes"), else "2 minutes ago" (one unit: "1 hour", not "1 hour, 3 minutes").

    Django's ``naturaltime`` would say the same, but its words are translated only when the
    host site installs ``django.contrib.humanize``; ``timesince``'s are in Django itself.
    """
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, depth=1)}
