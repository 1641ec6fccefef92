"""The status endpoint under ASGI (long poll, no thread while parked) and under WSGI."""

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from qrlogin.actors import Actor
from qrlogin.asgi import StatusRequest
from qrlogin.models import QRLoginSession
from qrlogin.notify import notifier
from tests.asgi import ASGIRequest as Poll
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def new_session():
    return QRLoginSession.objects.start(pc_ip="127.0.0.1")


def secret_header(started) -> dict:
    return {"X-QRLogin-Secret": started.secret}


def url(started, query: str = "") -> str:
    return f"/qrlogin/api/sessions/{started.session.public_id}/{query}"


@pytest.fixture
def phone():
    user = UserFactory()
    return Actor(user=user, device_key=f"device:{user.pk}", device_name="Phone")


def test_plain_status_and_errors():
    started = new_session()

    async def scenario():
        ok = await Poll(url(started), secret_header(started)).run()
        assert ok.status == 200 and ok.json["status"] == "pending"
        headers = dict(ok.messages[0]["headers"])
        assert b"no-store" in headers[b"cache-control"]
        assert (await Poll(url(started)).run()).status == 404
        wrong = await Poll(url(started), {"X-QRLogin-Secret": "nope"}).run()
        assert wrong.status == 404 and wrong.json["code"] == "not_found"
        unknown = await Poll(
            "/qrlogin/api/sessions/" + "A" * 32 + "/", secret_header(started)
        ).run()
        assert unknown.status == 404
        bad = await Poll(url(started, "?wait=99"), secret_header(started)).run()
        assert bad.status == 400 and bad.json["code"] == "invalid"

    asyncio.run(scenario())


def test_unknown_host_goes_to_django(settings):
    settings.ALLOWED_HOSTS = ["example.com"]
    started = new_session()
    poll = asyncio.run(Poll(url(started), {**secret_header(started), "Host": "evil.test"}).run())
    assert poll.status == 400


def test_long_poll_wakes_on_scan(phone):
    started = new_session()

    async def scenario():
        poll = asyncio.ensure_future(
            Poll(url(started, "?wait=30&since=pending"), secret_header(started)).run()
        )
        await _until(lambda: notifier.waiters.count() == 1)
        assert not poll.done()
        await sync_to_async(started.session.scan, thread_sensitive=False)(phone)
        done = await asyncio.wait_for(poll, 5)
        assert done.json["status"] == "scanned"
        assert done.json["scanned_by"]["display_name"]

    asyncio.run(scenario())
    assert notifier.waiters.count() == 0


def test_long_poll_answers_at_once_when_status_differs():
    started = new_session()

    async def scenario():
        poll = Poll(url(started, "?wait=30&since=scanned"), secret_header(started))
        done = await asyncio.wait_for(poll.run(), 5)
        assert done.json["status"] == "pending"

    asyncio.run(scenario())


def test_client_hanging_up_frees_the_waiter():
    started = new_session()

    async def scenario():
        poll = Poll(url(started, "?wait=30"), secret_header(started))
        task = asyncio.ensure_future(poll.run())
        await _until(lambda: notifier.waiters.count() == 1)
        poll.disconnect.set()
        await asyncio.wait_for(task, 5)
        assert [m["type"] for m in poll.messages] == ["http.response.start"]

    asyncio.run(scenario())
    assert notifier.waiters.count() == 0


def test_parked_polls_hold_no_threads():
    """Hundreds of parked long polls: the process's thread count stays flat."""
    sessions = [new_session() for _ in range(300)]

    async def scenario():
        # From many clients: one address may park at most LONG_POLL_PER_CLIENT (200).
        polls = [
            Poll(url(s, "?wait=30"), secret_header(s), client=(f"10.0.{i // 200}.{i % 200}", 5000))
            for i, s in enumerate(sessions)
        ]
        tasks = [asyncio.ensure_future(p.run()) for p in polls]
        await _until(lambda: notifier.waiters.count() == len(polls), timeout=30)
        parked_threads = threading.active_count()
        for poll in polls:
            poll.disconnect.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return parked_threads

    before = threading.active_count()
    parked = asyncio.run(scenario())
    # The loop's shared pool (a handful of threads for the short DB reads) and the notifier's
    # one subscriber thread, not one thread per poll.
    assert parked - before <= 40, (before, parked)


def test_wsgi_path_answers_at_once_with_a_poll_hint(client):
    started = new_session()
    response = client.get(url(started, "?wait=30"), HTTP_X_QRLOGIN_SECRET=started.secret)
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response["X-QRLogin-Poll-After"] == "2"


async def _until(predicate, timeout: float = 5) -> None:
    """Wait for a condition by yielding to the event loop (bounded; no sleeping on state)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)


def test_a_poll_that_times_out_does_not_read_again(monkeypatch):
    """Nothing woke it: it answers the status it has, with no second read."""
    started = new_session()
    reads = []
    real_reread = StatusRequest._reread

    def counting_reread(self):
        reads.append(self.public_id)
        return real_reread(self)

    monkeypatch.setattr(StatusRequest, "_reread", counting_reread)

    async def scenario():
        poll = Poll(url(started, "?wait=1"), secret_header(started))
        return await asyncio.wait_for(poll.run(), 5)

    done = asyncio.run(scenario())
    assert done.json["status"] == "pending"
    assert reads == []


def test_the_deadline_is_read_as_expired(settings):
    """A poll parked past the session's deadline reads it once more and answers expired."""
    settings.QRLOGIN = {"QR_TTL": 0.3}
    started = new_session()

    async def scenario():
        poll = Poll(url(started, "?wait=5&since=pending"), secret_header(started))
        return await asyncio.wait_for(poll.run(), 5)

    assert asyncio.run(scenario()).json["status"] == "expired"


def test_the_wait_cap_is_long_poll_max(settings):
    """One cap: ``LONG_POLL_MAX`` (the contract's 30 by default), on both paths."""
    started = new_session()
    settings.QRLOGIN = {"LONG_POLL_MAX": 5}
    too_long = asyncio.run(Poll(url(started, "?wait=6"), secret_header(started)).run())
    assert too_long.status == 400 and too_long.json["code"] == "invalid"
    assert "wait" in too_long.json["errors"]
    at_once = asyncio.run(Poll(url(started, "?wait=5&since=scanned"), secret_header(started)).run())
    assert at_once.status == 200 and at_once.json["status"] == "pending"


@pytest.mark.parametrize(
    "query", ["?wait=²", "?wait=1e3", "?wait=+5", "?wait= 5", "?wait=", "?since="]
)
def test_odd_queries_are_judged_by_the_form(query):
    """Only plain ASCII digits take the fast path; everything else gets the form's verdict."""
    started = new_session()
    answer = asyncio.run(Poll(url(started, query), secret_header(started)).run())
    if query in ("?wait=", "?since=", "?wait=+5", "?wait= 5"):
        assert answer.status == 200  # empty is "not given"; " 5" is 5, as Django's form reads it
    else:
        assert answer.status == 400 and answer.json["code"] == "invalid"


@pytest.mark.parametrize(
    "path",
    [
        "/qrlogin/api/sessions/a/b/",  # a slash in the id: not the status URL
        "/qrlogin/api/sessions/",  # the create URL (a GET: Django's 405)
        "/other/api/sessions/abc/",  # another app's URL of the same look
    ],
)
def test_only_the_status_url_is_answered_here(path):
    answer = asyncio.run(Poll(path).run())
    assert answer.status in (404, 405)
    # Django answered (its 404 page, or DRF's 405), not the status path's JSON 404.
    assert b"No such login request" not in answer.body


def test_under_a_root_path(settings):
    """Mounted below a prefix (root_path): the status URL is still recognised."""
    started = new_session()
    poll = Poll(url(started), secret_header(started))
    poll.scope["root_path"] = "/site"
    poll.scope["path"] = "/site" + poll.scope["path"]
    assert asyncio.run(poll.run()).json["status"] == "pending"
