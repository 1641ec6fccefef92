"""Racing transitions on PostgreSQL: of N concurrent attempts exactly one wins.

These need real concurrent transactions, so they run on PostgreSQL (the second pass of
``.ci/run``); SQLite's test database cannot serve several threads at once.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from qrlogin.actors import Actor
from qrlogin.exceptions import TransitionError
from qrlogin.models import QRLoginSession
from qrlogin_accounts.issuers import issue_device_token
from qrlogin_accounts.models import DeviceToken
from tests.factories import UserFactory

RACERS = 8

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
    ),
]


def race(attempt) -> list[str]:
    """Run ``attempt`` in RACERS threads released together; each returns 'won' or a code."""
    barrier = threading.Barrier(RACERS)

    def run(i: int) -> str:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            attempt(i)
            return "won"
        except TransitionError as exc:
            return exc.code
        finally:
            thread_connection.close()

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(run, range(RACERS)))


@pytest.fixture
def phone_actor():
    user = UserFactory()
    return Actor(user=user, device_key=f"device:{user.pk}", device_name="Phone", ip="127.0.0.1")


def scanned_session(actor):
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    scan = started.session.scan(actor)
    return started.session, scan.temp_token


def test_racing_confirms(phone_actor):
    session, temp = scanned_session(phone_actor)
    results = race(lambda i: QRLoginSession.objects.get(pk=session.pk).confirm(phone_actor, temp))
    assert results.count("won") == 1
    assert set(results) - {"won"} == {"invalid_state"}
    session.refresh_from_db()
    assert session.status == "confirmed"
    assert session.events.filter(kind="confirmed").count() == 1


def test_racing_confirm_and_deny(phone_actor):
    session, temp = scanned_session(phone_actor)

    def attempt(i: int) -> None:
        fresh = QRLoginSession.objects.get(pk=session.pk)
        (fresh.confirm if i % 2 else fresh.deny)(phone_actor, temp)

    results = race(attempt)
    assert results.count("won") == 1
    session.refresh_from_db()
    assert session.events.filter(kind__in=["confirmed", "denied"]).count() == 1


def test_racing_completes_issue_exactly_one_token(phone_actor):
    session, temp = scanned_session(phone_actor)
    session.confirm(phone_actor, temp)
    pc = Actor(device_key="pc", ip="127.0.0.1")

    def attempt(i: int) -> None:
        QRLoginSession.objects.get(pk=session.pk).complete(
            pc,
            lambda user: issue_device_token(user=user, device_id=f"pc-{i}", device_type="pc"),
        )

    results = race(attempt)
    assert results.count("won") == 1
    assert set(results) - {"won"} == {"invalid_state"}
    assert DeviceToken.objects.filter(device__user=phone_actor.user).count() == 1


def test_racing_scans_by_different_phones():
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    users = [UserFactory() for _ in range(RACERS)]
    actors = [Actor(user=u, device_key=f"device:{u.pk}") for u in users]
    results = race(lambda i: QRLoginSession.objects.get(pk=started.session.pk).scan(actors[i]))
    assert results.count("won") == 1
    session = QRLoginSession.objects.get(pk=started.session.pk)
    winner = actors[results.index("won")]
    assert session.user_id == winner.user.pk


def test_racing_scan_and_cancel(phone_actor):
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    pc = Actor(device_key="pc")

    def attempt(i: int) -> None:
        fresh = QRLoginSession.objects.get(pk=started.session.pk)
        fresh.scan(phone_actor) if i % 2 else fresh.cancel(pc)

    race(attempt)
    session = QRLoginSession.objects.get(pk=started.session.pk)
    kinds = list(session.events.values_list("kind", flat=True))
    # Whichever came first, the record is consistent: a cancel is final.
    assert session.status in {"scanned", "cancelled"}
    assert kinds.count("cancelled") <= 1
    if session.status == "cancelled":
        assert kinds[-1] == "cancelled"
