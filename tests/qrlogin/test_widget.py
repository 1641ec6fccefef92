"""The ``{% qrlogin_widget %}`` template tag inside a host's own template."""

import re

import pytest
from django.template import Context, RequestContext, Template
from django.test import RequestFactory

from qrlogin.models import QRLoginSession

pytestmark = pytest.mark.django_db

HOST_TEMPLATE = Template(
    '{% load qrlogin %}<h1>Our login</h1>{% qrlogin_widget next="/after/" %}<footer/>'
)


def render(request) -> str:
    return HOST_TEMPLATE.render(RequestContext(request, {}))


@pytest.fixture
def request_with_session(rf: RequestFactory):
    from django.contrib.sessions.backends.db import SessionStore

    request = rf.get("/login/", REMOTE_ADDR="198.51.100.9")
    request.session = SessionStore()
    return request


def test_widget_renders_a_live_qr_bound_to_this_browser(request_with_session):
    html = render(request_with_session)
    assert "<h1>Our login</h1>" in html and "<footer/>" in html
    assert "<svg" in html and "qrlogin/qrlogin.js" in html and "qrlogin/qrlogin.css" in html
    status_url = re.search(r'data-status-url="([^"]+)"', html)[1]
    session_id = status_url.rstrip("/").rsplit("/", 1)[-1]
    session = QRLoginSession.objects.get(public_id=session_id)
    assert session.next_url == "/after/"
    assert session.check_secret(request_with_session.session["qrlogin_pc_secrets"][session_id])
    assert 'data-renew-url="/qrlogin/?next=%2Fafter%2F"' in html
    assert "secret" not in html.lower()


def test_widget_is_throttled(request_with_session, settings):
    settings.QRLOGIN = {"THROTTLE_RATES": {"create": "1/min"}}
    render(request_with_session)
    html = render(request_with_session)
    assert "Too many login codes" in html
    assert QRLoginSession.objects.count() == 1


def test_widget_needs_the_request():
    with pytest.raises(KeyError):
        HOST_TEMPLATE.render(Context({}))
