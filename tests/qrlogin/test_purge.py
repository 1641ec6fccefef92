"""The housekeeping command: finished sessions are purged, live ones kept."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from qrlogin.actors import Actor
from qrlogin.models import QRLoginSession

pytestmark = pytest.mark.django_db


def started():
    return QRLoginSession.objects.start(pc_ip="10.0.0.1", pc_user_agent="UA")


def test_purge_deletes_only_old_finished_sessions(clock, actor):
    old = started().session
    old.cancel(Actor())
    live = started().session
    clock.shift(timedelta(days=31))
    recent = started().session
    out = StringIO()
    call_command("qrlogin_purge", "--days", "30", stdout=out)
    assert "Deleted 2 session(s)" in out.getvalue()  # the cancelled one and the expired one
    assert list(QRLoginSession.objects.all()) == [recent]
    assert not QRLoginSession.objects.filter(pk__in=[old.pk, live.pk]).exists()
