"""``{% load qrlogin %}{% qrlogin_widget next="/" %}``: the QR login box in any template."""

from urllib.parse import urlencode

from django import template
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

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
