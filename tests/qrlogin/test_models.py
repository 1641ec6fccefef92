"""Model-level behaviour: secrets at rest, events, signals, expiry."""

import pytest
from django.test import override_settings

from qrlogin import signals, tokens
from qrlogin.actors import Actor
from qrlogin.exceptions import InactiveUser, InvalidState, SessionExpired, SessionNotFound
from qrlogin.models import QRLoginEvent, QRLoginSession

pytestmark = pytest.mark.django_db


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
    with pytest.raises(SessionNotFound):
        QRLoginSession.objects.get_by_user_code("I0I0I0I0")  # not our alphabet
    clock.shift(121)
    with pytest.raises(SessionNotFound):
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
