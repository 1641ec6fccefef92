"""The session admin: list, search, filters, summary, actions through the model methods."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

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
        filtered = admin_client.get("/admin/qrlogin/qrloginsession/", {"status": "denied"})
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
        assert (
            "Cancelled 1 session; 1 was already over and was left as it was."
            in response.content.decode()
        )
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


def cancel(admin_client, sessions, **headers):
    return admin_client.post(
        "/admin/qrlogin/qrloginsession/",
        {"action": "cancel_sessions", "_selected_action": [s.pk for s in sessions]},
        follow=True,
        **headers,
    )


def test_cancel_says_what_it_did_and_what_it_skipped(admin_client, clock):
    live = [started().session for _ in range(5)]
    over = started().session
    over.cancel(Actor())
    overdue = started().session
    clock.shift(timedelta(seconds=60))
    overdue.expires_at = timezone.now()
    overdue.save(update_fields=["expires_at"])  # past its deadline, still "pending" in the row
    html = cancel(admin_client, [*live, over, overdue]).content.decode()
    assert "Cancelled 5 sessions; 2 were already over and were left as they were." in html
    assert {s.status for s in QRLoginSession.objects.filter(pk__in=[s.pk for s in live])} == {
        "cancelled"
    }
    overdue.refresh_from_db()
    assert overdue.status == "pending"  # left as it was (it reads Expired)

    only_over = cancel(admin_client, [over]).content.decode()
    assert "Cancelled 0 sessions; 1 was already over and was left as it was." in only_over
    assert 'class="warning"' in only_over
    one = started().session
    assert "Cancelled 1 session." in cancel(admin_client, [one]).content.decode()


def test_cancel_messages_in_chinese(admin_client):
    over = started().session
    over.cancel(Actor())
    live = started().session
    html = cancel(admin_client, [live, over], HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已取消 1 个会话；1 个已结束，未作改动。" in html  # noqa: RUF001 (Chinese punctuation)


class TestEffectiveStatus:
    """A live session past its deadline is Expired in the list, the filter and the summary,
    though its row still says pending until someone reads it."""

    @pytest.fixture
    def overdue(self, clock):
        session = started().session
        clock.shift(timedelta(minutes=25))
        assert QRLoginSession.objects.get(pk=session.pk).status == "pending"
        return session

    def test_the_list_reads_expired(self, admin_client, overdue):
        fresh = started().session
        response = admin_client.get("/admin/qrlogin/qrloginsession/")
        rows = {
            row.public_id: response.context["cl"].model_admin.effective_status(row)
            for row in response.context["cl"].result_list
        }
        assert rows == {overdue.public_id: "Expired", fresh.public_id: "Waiting for a scan"}
        html = response.content.decode()
        assert '<td class="field-effective_status">Expired</td>' in html

    def test_the_filter_goes_by_the_effective_status(self, admin_client, overdue):
        fresh = started().session

        def listed(status):
            response = admin_client.get("/admin/qrlogin/qrloginsession/", {"status": status})
            return [row.public_id for row in response.context["cl"].result_list]

        assert listed("expired") == [overdue.public_id]
        assert listed("pending") == [fresh.public_id]
        assert listed("scanned") == []

    def test_the_summary_counts_overdue_sessions_as_expired(self, admin_client, overdue):
        started()
        response = admin_client.get("/admin/qrlogin/qrloginsession/")
        summary = {row["label"]: row["count"] for row in response.context["qrlogin_summary"]}
        assert summary["Expired"] == {"day": 1, "week": 1}
        assert summary["Waiting for a scan"] == {"day": 1, "week": 1}


def test_long_values_are_cut_with_the_whole_value_in_the_tooltip(admin_client, actor):
    session = started().session
    QRLoginSession.objects.filter(pk=session.pk).update(
        phone_device_name="A very long phone name that would widen the table",
        phone_device_key="k1",
    )
    html = admin_client.get("/admin/qrlogin/qrloginsession/").content.decode()
    assert re.search(r">A very long phone[^<]{1,6}…</a>", html)
    assert ">A very long phone name that would widen the table<" not in html
    assert 'title="A very long phone name that would widen the table' in html
    assert "finished_at" not in html  # on the detail page only


IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def test_the_events_show_the_browser_not_the_raw_user_agent(admin_client, actor):
    session = started().session
    session.scan(Actor(user=actor.user, device_key="d1", user_agent=IPHONE_UA))
    html = admin_client.get(f"/admin/qrlogin/qrloginsession/{session.pk}/change/").content.decode()
    assert f'<span title="{IPHONE_UA}">Mobile Safari 17, iOS 17</span>' in html
