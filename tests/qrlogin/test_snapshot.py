"""The status snapshot: an unchanged poll reads no database, and the database stays the truth.

Each test runs on the store the settings choose: this process's memory on the embedded
default, Redis (read with ``redis.asyncio``) on the PostgreSQL + Redis run.
"""

import asyncio
import contextlib
import logging
import threading

import pytest
from django.db.backends.utils import CursorWrapper
from django.test import Client

from qrlogin import snapshot
from qrlogin.actors import Actor
from qrlogin.models import QRLoginSession
from tests.asgi import ASGIRequest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def queries_on_every_thread():
    """Count SQL statements run by any thread (the ASGI path reads on pool threads)."""
    seen: list[str] = []
    lock = threading.Lock()
    real_execute, real_executemany = CursorWrapper.execute, CursorWrapper.executemany

    def execute(self, sql, params=None):
        with lock:
            seen.append(sql)
        return real_execute(self, sql, params)

    def executemany(self, sql, param_list):
        with lock:
            seen.append(sql)
        return real_executemany(self, sql, param_list)

    CursorWrapper.execute, CursorWrapper.executemany = execute, executemany
    try:
        yield seen
    finally:
        CursorWrapper.execute, CursorWrapper.executemany = real_execute, real_executemany


def poll(started, query: str = "", headers: dict | None = None) -> ASGIRequest:
    path = f"/qrlogin/api/sessions/{started.session.public_id}/{query}"
    if headers is None:
        headers = {"X-QRLogin-Secret": started.secret}
    return ASGIRequest(path, headers).run_sync()


def phone_actor() -> Actor:
    user = UserFactory()
    return Actor(user=user, device_key=f"device:{user.pk}", device_name="Phone")


def test_a_known_session_is_answered_without_the_database():
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    with queries_on_every_thread() as seen:
        first = poll(started)
        again = poll(started, "?wait=0")
    assert first.status == again.status == 200
    assert first.json["status"] == "pending"
    assert seen == []


def test_the_snapshot_body_is_the_api_body(client):
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    started.session.scan(phone_actor())
    drf = client.get(
        f"/qrlogin/api/sessions/{started.session.public_id}/",
        HTTP_X_QRLOGIN_SECRET=started.secret,
    )
    assert poll(started).body == drf.content
    assert poll(started).json["status"] == "scanned"


def test_a_browser_pc_is_proven_without_reading_its_session_store():
    browser = Client()
    page = browser.get("/qrlogin/")
    session_id = page.context["qr"]["id"]
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    path = f"/qrlogin/api/sessions/{session_id}/"
    with queries_on_every_thread() as seen:
        answer = ASGIRequest(path, {"Cookie": cookie}).run_sync()
    assert answer.status == 200 and answer.json["status"] == "pending"
    assert seen == []


def test_another_browser_is_refused_like_an_unknown_id():
    owner, thief = Client(), Client()
    session_id = owner.get("/qrlogin/").context["qr"]["id"]
    thief.get("/qrlogin/")
    cookie = f"sessionid={thief.cookies['sessionid'].value}"
    stolen = ASGIRequest(f"/qrlogin/api/sessions/{session_id}/", {"Cookie": cookie}).run_sync()
    unknown = ASGIRequest("/qrlogin/api/sessions/" + "A" * 32 + "/", {"Cookie": cookie})
    assert stolen.status == 404 and stolen.body == unknown.run_sync().body


def test_a_wrong_secret_goes_where_an_unknown_id_goes():
    """Only a proof the snapshot confirms is answered from it: a wrong secret reads the
    database, as an unknown id does, so neither is faster (and the bodies are the same)."""
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    with queries_on_every_thread() as wrong_reads:
        wrong = poll(started, headers={"X-QRLogin-Secret": "x" * 43})
    unknown_path = "/qrlogin/api/sessions/" + "B" * 32 + "/"
    with queries_on_every_thread() as unknown_reads:
        unknown = ASGIRequest(unknown_path, {"X-QRLogin-Secret": "x" * 43}).run_sync()
    assert wrong.status == unknown.status == 404
    assert wrong.body == unknown.body
    assert len(wrong_reads) == len(unknown_reads) == 1


def test_a_transition_elsewhere_reaches_a_parked_poll():
    """The transition writes the snapshot on commit, then wakes: the poll reads the change."""
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    phone = phone_actor()

    async def scenario():
        request = ASGIRequest(
            f"/qrlogin/api/sessions/{started.session.public_id}/?wait=20&since=pending",
            {"X-QRLogin-Secret": started.secret},
        )
        task = asyncio.ensure_future(request.run())
        while not request.messages:  # parked: the headers went out
            await asyncio.sleep(0.005)
        from asgiref.sync import sync_to_async

        await sync_to_async(
            lambda: QRLoginSession.objects.get(pk=started.session.pk).scan(phone),
            thread_sensitive=False,
        )()
        await asyncio.wait_for(task, 10)
        return request

    answer = asyncio.run(scenario())
    assert answer.json["status"] == "scanned"
    assert answer.json["scanned_by"]["display_name"]


def test_a_lost_snapshot_is_read_from_the_database():
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    started.session.scan(phone_actor())
    _drop(started.session.public_id)
    with queries_on_every_thread() as seen:
        answer = poll(started)
    assert answer.json["status"] == "scanned"
    assert seen  # the database answered, and the snapshot is back:
    with queries_on_every_thread() as seen_again:
        assert poll(started).json["status"] == "scanned"
    assert seen_again == []


def test_a_snapshot_never_moves_back():
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    session = started.session
    phone = phone_actor()
    stale = QRLoginSession.objects.get(pk=session.pk)  # read while pending
    scan = session.scan(phone)
    session.confirm(phone, scan.temp_token)
    snapshot.write(stale)  # a slow writer, late, with its pending copy
    assert poll(started).json["status"] == "confirmed"


def test_the_deadline_passes_on_the_snapshot(clock):
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    clock.shift(121)  # past QR_TTL: the snapshot still says pending, and is not trusted
    assert poll(started).json["status"] == "expired"
    assert QRLoginSession.objects.get(pk=started.session.pk).status == "expired"


def test_after_cancel_the_browser_no_longer_proves():
    browser = Client()
    page = browser.get("/qrlogin/")
    session_id = page.context["qr"]["id"]
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    path = f"/qrlogin/api/sessions/{session_id}/"
    csrf = browser.cookies["csrftoken"].value
    assert browser.delete(path, HTTP_X_CSRFTOKEN=csrf).status_code == 200
    assert ASGIRequest(path, {"Cookie": cookie}).run_sync().status == 404


def test_an_unreachable_redis_falls_back_to_the_database(monkeypatch, caplog):
    """Redis gone: every poll is answered from the database, and the log says so once."""
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")
    dead = snapshot.RedisStore()
    monkeypatch.setattr(dead, "_async", lambda: _DeadRedis())
    monkeypatch.setattr(dead, "_sync", lambda: _DeadRedis())
    monkeypatch.setattr(snapshot, "store", lambda: dead)
    with caplog.at_level(logging.WARNING, logger="qrlogin.snapshot"):
        answers = [poll(started) for _ in range(3)]
    assert [a.json["status"] for a in answers] == ["pending"] * 3
    warnings = [r for r in caplog.records if "snapshots unavailable" in r.getMessage()]
    assert len(warnings) == 1


class _DeadRedis:
    async def hmget(self, *args):
        raise ConnectionError("Redis is down")

    def eval(self, *args):
        raise ConnectionError("Redis is down")


def _drop(public_id: str) -> None:
    store = snapshot.store()
    if isinstance(store, snapshot.LocalStore):
        with store._lock:
            store._items.pop(public_id, None)
    else:
        store._sync().delete(snapshot.KEY_PREFIX + public_id)


def test_many_polls_at_once_share_a_few_redis_connections():
    """300 polls arriving together queue for the event loop's few Redis connections."""
    store = _needs_redis()
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(300)]

    async def scenario():
        requests = status_requests(sessions)
        await asyncio.gather(*(r.run() for r in requests))
        pool = store._async().connection_pool
        return requests, len(pool._available_connections) + len(pool._in_use_connections)

    requests, connections = asyncio.run(scenario())
    assert all(r.status == 200 for r in requests)
    assert connections <= snapshot.ASYNC_CONNECTIONS


def _needs_redis() -> snapshot.RedisStore:
    store = snapshot.store()
    if not isinstance(store, snapshot.RedisStore):
        pytest.skip("needs Redis (set REDIS_URL)")
    return store


def status_requests(sessions) -> list[ASGIRequest]:
    """One status poll (no wait) per started session, with its secret."""
    return [
        ASGIRequest(f"/qrlogin/api/sessions/{s.session.public_id}/", {"X-QRLogin-Secret": s.secret})
        for s in sessions
    ]


class FailingPipeline:
    """A redis.asyncio pipeline whose ``execute`` fails, after awaiting ``before`` if given."""

    def __init__(self, before=None) -> None:
        self.before = before

    @classmethod
    def factory(cls, before=None):
        return lambda *args, **kwargs: cls(before)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    def hmget(self, *args):
        pass

    async def execute(self):
        if self.before is not None:
            await self.before()
        raise ConnectionError("Redis went away mid-pipeline")


def test_polls_arriving_together_read_their_snapshots_in_one_pipeline(monkeypatch):
    """redis-py costs ~100-200 us per lone command, ~25 us per command in a pipeline."""
    store = _needs_redis()
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(50)]

    async def scenario():
        reader = store._async()
        pipelines = []
        real_pipeline = reader.client.pipeline

        def counted(*args, **kwargs):
            pipe = real_pipeline(*args, **kwargs)
            pipelines.append(pipe)
            return pipe

        monkeypatch.setattr(reader.client, "pipeline", counted)
        requests = status_requests(sessions)
        await asyncio.gather(*(r.run() for r in requests))
        return requests, len(pipelines)

    with queries_on_every_thread() as queries:
        requests, pipelines = asyncio.run(scenario())
    assert [r.json["status"] for r in requests] == ["pending"] * 50
    assert pipelines == 1
    assert queries == []


def test_a_failed_pipeline_fails_each_of_its_reads_and_the_database_answers(monkeypatch):
    store = _needs_redis()
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(5)]

    async def scenario():
        monkeypatch.setattr(store._async().client, "pipeline", FailingPipeline.factory())
        requests = status_requests(sessions)
        await asyncio.gather(*(r.run() for r in requests))
        return requests

    monkeypatch.setattr(store, "_down_until", 0.0)  # and back after the failure, at teardown
    with queries_on_every_thread() as queries:
        requests = asyncio.run(scenario())
    assert [r.json["status"] for r in requests] == ["pending"] * 5
    assert len(queries) >= 5  # each read its session from the database instead


def test_reads_queued_behind_a_failing_pipeline_do_not_try_the_dead_redis_again(monkeypatch):
    store = _needs_redis()
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(6)]
    executed = []

    async def scenario():
        in_flight = asyncio.Event()
        reader = store._async()

        async def until_the_rest_are_queued():
            executed.append(1)
            in_flight.set()
            while len(reader._pending) < 5:  # the later polls queue their reads meanwhile
                await asyncio.sleep(0)

        monkeypatch.setattr(
            reader.client, "pipeline", FailingPipeline.factory(before=until_the_rest_are_queued)
        )
        requests = status_requests(sessions)
        first = asyncio.ensure_future(requests[0].run())
        await in_flight.wait()
        later = [asyncio.ensure_future(r.run()) for r in requests[1:]]
        await asyncio.gather(first, *later)
        return requests

    monkeypatch.setattr(store, "_down_until", 0.0)
    requests = asyncio.run(scenario())
    assert [r.json["status"] for r in requests] == ["pending"] * 6
    assert executed == [1]
