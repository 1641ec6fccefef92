"""Threat 5: races.

An attacker who can send requests at the same moment as the victim (or twice at once) tries to
win a transition twice: two completions (two logins from one approval), a confirm that lands
after the deadline or after a deny, a scan that slips past a cancel.

Defence: every transition is one conditional UPDATE (``WHERE status = <source> AND
expires_at > now AND <guards>``): of racing callers exactly one matches; the loser re-reads
and gets 409 (or 410 past the deadline).

Real concurrency needs real concurrent transactions: ``tests/qrlogin/test_races.py`` races 8
threads per transition on PostgreSQL, and ``test_racing_http_completions`` below does it
through HTTP. The other tests here make the worst interleaving happen every time, on any
database: the rival request is run *inside* the first one, after it has read the row and
before it writes (``interleave``). The clock is controlled; nothing sleeps.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

import qrlogin.api
from qrlogin.models import QRLoginEvent, QRLoginSession
from qrlogin_accounts.models import DeviceToken
from tests.conftest import PC_IP
from tests.security.support import assert_error, session_row


class Interleaving(list):
    """The rival's results, and what the first request held when the rival ran."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[QRLoginSession] = []
        self.seen: list[tuple[str, str]] = []  # (first request's copy, the row after the rival)

    def first_request_held_a_stale_copy(self) -> bool:
        """The race was real: the first request went on with a status the rival had changed."""
        return len(self.seen) == 1 and self.seen[0][0] != self.seen[0][1]


def interleave(monkeypatch, rival) -> Interleaving:
    """Run ``rival()`` once, inside the next API request, between its read and its write.

    Every qrlogin API view reads the session row first, then builds the actor
    (``pc_actor``/``phone_actor``) and calls the transition; the rival runs at that moment.
    """
    results = Interleaving()
    manager_class = type(QRLoginSession.objects)
    original_get = manager_class.get_by_public_id

    def recording_get(self, public_id):
        session = original_get(self, public_id)
        results.loaded.append(session)
        return session

    monkeypatch.setattr(manager_class, "get_by_public_id", recording_get)
    for name in ("pc_actor", "phone_actor"):
        original = getattr(qrlogin.api, name)

        def hooked(request, _original=original):
            if not results.seen:  # once: the rival's own request passes straight through
                copy = results.loaded[-1]
                held = copy.status
                results.seen.append(("", ""))
                results.append(rival())
                results.seen[0] = (held, session_row(copy.public_id).status)
            return _original(request)

        monkeypatch.setattr(qrlogin.api, name, hooked)
    return results


def scanned(pc, phone) -> str:
    return phone.scan(pc.id).json()["temp_token"]


def events(pc) -> list[str]:
    return list(
        QRLoginEvent.objects.filter(session__public_id=pc.id).values_list("kind", flat=True)
    )


@pytest.mark.django_db
class TestInterleavings:
    def test_complete_vs_complete(self, monkeypatch, pc, phone):
        temp = scanned(pc, phone)
        phone.confirm(pc.id, temp)
        rival = interleave(monkeypatch, lambda: pc.complete({"device_id": "rival-pc"}))
        first = pc.complete({"device_id": "first-pc"})
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(first, 409, "invalid_state")
        assert (
            DeviceToken.objects.filter(device__user=phone.user, device__device_type="pc").count()
            == 1
        )
        assert events(pc).count("completed") == 1

    def test_confirm_vs_confirm(self, monkeypatch, pc, phone):
        temp = scanned(pc, phone)
        rival = interleave(monkeypatch, lambda: phone.confirm(pc.id, temp))
        first = phone.confirm(pc.id, temp)
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(first, 409, "invalid_state")
        assert events(pc) == ["scanned", "confirmed"]

    def test_confirm_vs_deny(self, monkeypatch, pc, phone):
        temp = scanned(pc, phone)
        rival = interleave(monkeypatch, lambda: phone.deny(pc.id, temp))
        confirm = phone.confirm(pc.id, temp)
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(confirm, 409, "invalid_state")
        assert session_row(pc.id).status == "denied"
        assert events(pc) == ["scanned", "denied"]

    def test_scan_vs_cancel(self, monkeypatch, pc, phone):
        rival = interleave(monkeypatch, lambda: pc.cancel())
        scan = phone.scan(pc.id)
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(scan, 409, "invalid_state")
        row = session_row(pc.id)
        assert row.status == "cancelled" and row.user_id is None and not row.temp_token_digest
        assert events(pc) == ["cancelled"]

    def test_scan_vs_scan_by_another_phone(self, monkeypatch, pc, phone, make_phone):
        other = make_phone()
        rival = interleave(monkeypatch, lambda: other.scan(pc.id))
        scan = phone.scan(pc.id)
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(scan, 409, "invalid_state")
        assert session_row(pc.id).user_id == other.user.pk

    def test_confirm_vs_cancel(self, monkeypatch, pc, phone):
        temp = scanned(pc, phone)
        rival = interleave(monkeypatch, lambda: pc.cancel())
        confirm = phone.confirm(pc.id, temp)
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(confirm, 409, "invalid_state")
        assert session_row(pc.id).status == "cancelled"

    def test_complete_vs_cancel(self, monkeypatch, pc, phone):
        temp = scanned(pc, phone)
        phone.confirm(pc.id, temp)
        rival = interleave(monkeypatch, lambda: pc.cancel())
        complete = pc.complete({"device_id": "pc-1"})
        assert rival[0].status_code == 200
        assert rival.first_request_held_a_stale_copy()
        assert_error(complete, 409, "invalid_state")
        assert not DeviceToken.objects.filter(device__device_id="pc-1").exists()


@pytest.mark.django_db
class TestConfirmVersusExpiry:
    def test_at_the_deadline_the_clock_wins(self, clock, pc, phone):
        temp = scanned(pc, phone)
        clock.shift(59.999)
        assert session_row(pc.id).status == "scanned"
        clock.shift(0.001)  # exactly CONFIRM_TTL after the scan
        assert_error(phone.confirm(pc.id, temp), 410, "expired")
        assert session_row(pc.id).status == "expired"
        assert "confirmed" not in events(pc)

    def test_a_confirm_just_before_the_deadline_wins(self, clock, pc, phone):
        temp = scanned(pc, phone)
        clock.shift(59.999)
        assert phone.confirm(pc.id, temp).status_code == 200
        clock.shift(0.002)
        # The poll that would have expired the scan finds a confirmed session with a new deadline.
        assert pc.status().json()["status"] == "confirmed"
        assert "expired" not in events(pc)

    def test_expiry_lands_between_the_confirms_read_and_write(self, monkeypatch, clock, pc, phone):
        """The phone's confirm has read the row at 59.5 s; before it writes, the clock passes
        the deadline and the PC's poll expires the session. The confirm must lose."""
        temp = scanned(pc, phone)
        clock.shift(59.5)

        def poll_after_the_deadline():
            clock.shift(1)
            return pc.status()

        rival = interleave(monkeypatch, poll_after_the_deadline)
        confirm = phone.confirm(pc.id, temp)
        assert rival[0].json()["status"] == "expired"
        assert rival.first_request_held_a_stale_copy()
        assert_error(confirm, 410, "expired")
        assert events(pc) == ["scanned", "expired"]

    def test_a_stale_expiry_cannot_undo_a_confirm(self, monkeypatch, clock, pc, phone):
        """The PC's poll read the scanned row just before the deadline; the confirm commits;
        the poll then decides expiry from its stale copy: the UPDATE must not match."""
        temp = scanned(pc, phone)
        clock.shift(59.5)
        stale = session_row(pc.id)
        assert phone.confirm(pc.id, temp).status_code == 200
        clock.shift(1)  # past the scan's deadline, well within the confirm's
        assert stale.refresh_status() == "confirmed"
        assert session_row(pc.id).status == "confirmed"
        assert "expired" not in events(pc)

    def test_complete_at_its_deadline(self, clock, pc, phone):
        temp = scanned(pc, phone)
        phone.confirm(pc.id, temp)
        clock.shift(60)  # COMPLETE_TTL
        assert_error(pc.complete({"device_id": "late-pc"}), 410, "expired")
        assert not DeviceToken.objects.filter(device__device_id="late-pc").exists()


RACERS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)")
def test_racing_http_completions(pc, phone):
    """8 clients holding the secret POST complete at the same instant: one login, 7 x 409."""
    temp = scanned(pc, phone)
    assert phone.confirm(pc.id, temp).status_code == 200
    barrier = threading.Barrier(RACERS)

    def attempt(i: int) -> int:
        from django.db import connection as thread_connection

        client = APIClient(REMOTE_ADDR=PC_IP)
        try:
            barrier.wait()
            response = client.post(
                f"{pc.url}complete/",
                {"device_id": f"racer-{i}"},
                format="json",
                HTTP_X_QRLOGIN_SECRET=pc.data["secret"],
            )
            return response.status_code
        finally:
            thread_connection.close()

    with ThreadPoolExecutor(RACERS) as pool:
        codes = list(pool.map(attempt, range(RACERS)))
    assert sorted(codes) == [200] + [409] * (RACERS - 1)
    assert DeviceToken.objects.filter(device__device_id__startswith="racer-").count() == 1
    assert events(pc).count("completed") == 1
