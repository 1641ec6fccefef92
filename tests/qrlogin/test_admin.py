"""The session admin: list, search, filters, summary, actions through the model methods."""

from datetime import timedelta

import pytest

from qrlogin.actors import Actor
from qrlogin.models import QRLoginSession

pytestmark = pytest.mark.django_db


def started():
    return QRLoginSession.objects.start(pc_ip="10.0.0.1", pc_user_agent="UA")


class TestAdmin:
    def test_changelist_search_detail(self, admin_client, actor):
        session = started().session
        session.scan(actor)
        response = admin_client.get("/admin/qrlogin/qrloginsession/")
        assert response.status_code == 200
        found = admin_client.get("/admin/qrlogin/qrloginsession/", {"q": actor.user.get_username()})
        assert session.public_id[:10] in found.content.decode()
        detail = admin_client.get(f"/admin/qrlogin/qrloginsession/{session.pk}/change/")
        assert detail.status_code == 200
        assert "scanned" in detail.content.decode()
        filtered = admin_client.get("/admin/qrlogin/qrloginsession/", {"status__exact": "denied"})
        assert session.public_id[:10] not in filtered.content.decode()

    def test_cancel_action_uses_the_model_method(self, admin_client, actor):
        live = started().session
        done = started().session
        done.cancel(Actor())
        response = admin_client.post(
            "/admin/qrlogin/qrloginsession/",
            {"action": "cancel_sessions", "_selected_action": [live.pk, done.pk]},
            follow=True,
        )
        assert "Cancelled 1 session." in response.content.decode()
        live.refresh_from_db()
        assert live.status == "cancelled"
        event = live.events.get(kind="cancelled")
        assert event.device_key == "admin" and event.user.is_superuser


def test_admin_summary_and_history_links(admin_client, actor, clock):
    old = started().session
    old.cancel(Actor())
    clock.shift(timedelta(days=2))
    session = started().session
    session.scan(actor)
    started()
    response = admin_client.get("/admin/qrlogin/qrloginsession/")
    summary = {row["label"]: row["count"] for row in response.context["qrlogin_summary"]}
    assert summary["Waiting for a scan"] == {"day": 1, "week": 1}
    assert summary["Scanned, waiting for confirmation"] == {"day": 1, "week": 1}
    assert summary["Cancelled"] == {"day": 0, "week": 1}
    html = response.content.decode()
    assert "QR logins by status" in html
    assert f"?user__id__exact={actor.user.pk}" in html
    by_device = admin_client.get(
        "/admin/qrlogin/qrloginsession/", {"phone_device_key": actor.device_key}
    )
    assert by_device.status_code == 200
    assert list(by_device.context["cl"].result_list) == [session]
