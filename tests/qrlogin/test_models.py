"""Model-level behaviour: secrets at rest, events, signals, expiry, purge, checks, admin."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings

from qrlogin import signals, tokens
from qrlogin.exceptions import InactiveUser, InvalidState, SessionExpired
from qrlogin.models import Actor, QRLoginEvent, QRLoginSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor():
    user = UserFactory()
    return Actor(user=user, device_key=f"device:{user.pk}", device_name="Phone", ip="10.0.0.2")


def started():
    return QRLoginSession.objects.start(pc_ip="10.0.0.1", pc_user_agent="UA")


def test_nothing_secret_is_stored_in_clear(actor):
    new = started()
    scan = new.session.scan(actor)
    row = QRLoginSession.objects.filter(pk=new.session.pk).values().get()
    stored = " ".join(str(v) for v in row.values())
    for secret in (new.secret, new.user_code, scan.temp_token):
        assert secret not in stored
    assert row["secret_digest"] == tokens.digest(new.secret)
    assert len(new.session.public_id) >= 22  # >= 128 bits


def test_user_code_lookup_is_normalised_and_only_live(clock):
    new = started()
    code = new.user_code
    assert QRLoginSession.objects.get_by_user_code(f"{code[:4]}-{code[4:]}".lower()) == new.session
    with pytest.raises(QRLoginSession.DoesNotExist):
        QRLoginSession.objects.get_by_user_code("I0I0I0I0")  # not our alphabet
    clock.shift(121)
    with pytest.raises(QRLoginSession.DoesNotExist):
        QRLoginSession.objects.get_by_user_code(code)


def test_events_and_signals_follow_each_transition(actor, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, session, event, **kwargs):
        received.append((event.kind, session.status, event.user_id))

    for name in ("session_scanned", "session_confirmed", "session_completed"):
        getattr(signals, name).connect(receiver, dispatch_uid=f"test-{name}")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            new = started()
            session = new.session
            temp = session.scan(actor).temp_token
            session.confirm(actor, temp)
            session.complete(Actor(device_key="pc", ip="10.0.0.1"), lambda user: user)
    finally:
        for name in ("session_scanned", "session_confirmed", "session_completed"):
            getattr(signals, name).disconnect(dispatch_uid=f"test-{name}")
    assert [r[0] for r in received] == ["scanned", "confirmed", "completed"]
    events = list(QRLoginEvent.objects.filter(session=session))
    assert [e.kind for e in events] == ["scanned", "confirmed", "completed"]
    assert events[0].user == actor.user and events[0].ip == "10.0.0.2"
    assert events[0].device_name == "Phone"
    assert events[2].user is None and events[2].ip == "10.0.0.1"


def test_no_way_out_of_terminal_states(actor):
    session = started().session
    session.cancel(Actor(device_key="pc"))
    for attempt in (
        lambda: session.scan(actor),
        lambda: session.cancel(Actor(device_key="pc")),
        lambda: session.complete(Actor(), lambda u: u),
        lambda: session.confirm(actor, "x"),
    ):
        with pytest.raises(InvalidState):
            attempt()
    assert QRLoginSession.objects.get(pk=session.pk).status == "cancelled"


def test_expiry_is_decided_on_read_once(clock, actor):
    session = started().session
    clock.shift(120)
    assert session.refresh_status() == "expired"
    assert session.refresh_status() == "expired"
    assert QRLoginEvent.objects.filter(session=session, kind="expired").count() == 1
    with pytest.raises(SessionExpired):
        session.scan(actor)
    assert list(QRLoginSession.objects.expired()) == [session]
    assert not QRLoginSession.objects.live().exists()


def test_complete_refuses_a_deactivated_user(actor):
    session = started().session
    session.confirm(actor, session.scan(actor).temp_token)
    actor.user.is_active = False
    actor.user.save()
    with pytest.raises(InactiveUser):
        session.complete(Actor(), lambda u: u)
    assert QRLoginSession.objects.get(pk=session.pk).status == "confirmed"


def test_failing_credential_rolls_the_completion_back(actor):
    session = started().session
    session.confirm(actor, session.scan(actor).temp_token)

    def broken(user):
        raise RuntimeError("issuer down")

    with pytest.raises(RuntimeError):
        session.complete(Actor(), broken)
    assert QRLoginSession.objects.get(pk=session.pk).status == "confirmed"


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


def test_system_checks_report_bad_settings():
    with override_settings(QRLOGIN={"QR_TTL": 0, "VERIFICATION": "emoji", "TYPO": 1}):
        ids = {m.id for m in run_checks()}
    assert {"qrlogin.E002", "qrlogin.E003", "qrlogin.W001"} <= ids
    assert not {m.id for m in run_checks()} & {"qrlogin.E002", "qrlogin.E003", "qrlogin.W001"}


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


def test_deploy_checks():
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=locmem):
        assert "qrlogin.W002" in {m.id for m in run_checks(include_deployment_checks=True)}
    with override_settings(QRLOGIN={"REQUIRE_SAME_NETWORK": True}):
        assert "qrlogin.W003" in {m.id for m in run_checks(include_deployment_checks=True)}
    with override_settings(
        QRLOGIN={"REQUIRE_SAME_NETWORK": True, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
    ):
        assert "qrlogin.W003" not in {m.id for m in run_checks(include_deployment_checks=True)}


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


def test_checks_for_throttle_rates_and_proxies():
    bad = {"THROTTLE_RATES": {"scan": "lots"}, "TRUSTED_PROXIES": ["not-an-ip"]}
    with override_settings(QRLOGIN=bad):
        ids = {m.id for m in run_checks()}
    assert {"qrlogin.E005", "qrlogin.E006"} <= ids


def test_throttle_rates_merge_over_the_defaults():
    from qrlogin.conf import qrlogin_settings

    with override_settings(QRLOGIN={"THROTTLE_RATES": {"create": "1/min"}}):
        rates = qrlogin_settings.THROTTLE_RATES
    assert rates["create"] == "1/min" and rates["user_code"] == "5/min"


def test_a_failing_signal_receiver_stops_neither_others_nor_the_login(
    actor, django_capture_on_commit_callbacks, caplog
):
    heard = []

    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    def fine(session, **kwargs):
        heard.append(session.status)

    signals.session_scanned.connect(broken, dispatch_uid="broken")
    signals.session_scanned.connect(fine, dispatch_uid="fine")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            session = started().session
            session.scan(actor)
    finally:
        signals.session_scanned.disconnect(dispatch_uid="broken")
        signals.session_scanned.disconnect(dispatch_uid="fine")
    assert heard == ["scanned"]
    assert "signal receiver" in caplog.text
