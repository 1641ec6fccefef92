"""Bounded waiting: parked polls per session, per client network and per process.

Past a limit the poll is answered at once (429 ``too_many_waiting`` or 503 ``unavailable``,
with ``Retry-After``) and never parked; a poll that leaves frees its place.
"""

import asyncio

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from qrlogin.asgi import waiting_room
from qrlogin.conf import qrlogin_settings
from qrlogin.models import QRLoginSession
from tests.asgi import ASGIRequest

pytestmark = pytest.mark.django_db(transaction=True)


def parked_poll(started, client: str = "127.0.0.1", headers: dict | None = None) -> ASGIRequest:
    return ASGIRequest(
        f"/qrlogin/api/sessions/{started.session.public_id}/?wait=30&since=pending",
        {"X-QRLogin-Secret": started.secret, **(headers or {})},
        client=(client, 5000),
    )


async def park(*requests: ASGIRequest) -> list[asyncio.Task]:
    """Start each request and return once each has either parked or been answered."""
    tasks = []
    for request in requests:
        tasks.append(asyncio.ensure_future(request.run()))
        while not request.messages:
            await asyncio.sleep(0.002)
    return tasks


async def hang_up(requests, tasks) -> None:
    for request in requests:
        request.disconnect.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


def assert_refused(request: ASGIRequest, status: int, code: str) -> None:
    assert request.status == status, request.messages
    assert request.json["code"] == code
    assert int(request.headers["retry-after"]) > 0
    assert "no-store" in request.headers["cache-control"]


def test_per_session(settings):
    settings.QRLOGIN = {"LONG_POLL_PER_SESSION": 2}
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")

    async def scenario():
        first, second, third = (parked_poll(started) for _ in range(3))
        tasks = await park(first, second, third)
        assert [m["type"] for m in first.messages] == ["http.response.start"]  # parked
        assert_refused(third, 429, "too_many_waiting")
        await hang_up([first], tasks[:1])
        fourth = parked_poll(started)
        more = await park(fourth)
        assert [m["type"] for m in fourth.messages] == ["http.response.start"]
        await hang_up([second, fourth], [tasks[1], *more])

    asyncio.run(scenario())
    assert waiting_room.total == 0 and not waiting_room.by_session


def test_per_client_network_counts_ipv6_by_64(settings):
    settings.QRLOGIN = {"LONG_POLL_PER_CLIENT": 2}
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(4)]

    async def scenario():
        a = parked_poll(sessions[0], client="2001:db8:1:2::10")
        b = parked_poll(sessions[1], client="2001:db8:1:2:ffff::99")  # the same /64
        c = parked_poll(sessions[2], client="2001:db8:1:2::abcd")
        other = parked_poll(sessions[3], client="2001:db8:1:3::10")  # the next /64
        tasks = await park(a, b, c, other)
        assert_refused(c, 429, "too_many_waiting")
        assert [m["type"] for m in other.messages] == ["http.response.start"]
        await hang_up([a, b, other], [tasks[0], tasks[1], tasks[3]])

    asyncio.run(scenario())
    assert not waiting_room.by_client


def test_per_client_behind_a_trusted_proxy(settings):
    """Behind the proxy every poll comes from its address; the client is the forwarded one."""
    settings.QRLOGIN = {"LONG_POLL_PER_CLIENT": 1, "TRUSTED_PROXIES": ["10.0.0.0/8"]}
    one, two = (QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(2))

    async def scenario():
        a = parked_poll(one, client="10.0.0.2", headers={"X-Forwarded-For": "198.51.100.1"})
        b = parked_poll(two, client="10.0.0.2", headers={"X-Forwarded-For": "198.51.100.2"})
        tasks = await park(a, b)
        assert [m["type"] for m in b.messages] == ["http.response.start"]  # another client
        await hang_up([a, b], tasks)

    asyncio.run(scenario())


def test_per_process(settings):
    settings.QRLOGIN = {"LONG_POLL_PROCESS_MAX": 2}
    sessions = [QRLoginSession.objects.start(pc_ip="127.0.0.1") for _ in range(3)]

    async def scenario():
        polls = [parked_poll(s, client=f"198.51.100.{i}") for i, s in enumerate(sessions)]
        tasks = await park(*polls)
        assert_refused(polls[2], 503, "unavailable")
        await hang_up(polls[:2], tasks[:2])

    asyncio.run(scenario())


def test_a_poll_answered_at_once_is_not_counted(settings):
    settings.QRLOGIN = {"LONG_POLL_PER_SESSION": 1}
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")

    async def scenario():
        parked = parked_poll(started)
        tasks = await park(parked)
        at_once = ASGIRequest(
            f"/qrlogin/api/sessions/{started.session.public_id}/",
            {"X-QRLogin-Secret": started.secret},
        )
        await at_once.run()
        assert at_once.status == 200
        await hang_up([parked], tasks)

    asyncio.run(scenario())


def test_none_lifts_the_limits(settings):
    settings.QRLOGIN = {
        "LONG_POLL_PER_SESSION": None,
        "LONG_POLL_PER_CLIENT": None,
        "LONG_POLL_PROCESS_MAX": None,
    }
    started = QRLoginSession.objects.start(pc_ip="127.0.0.1")

    async def scenario():
        polls = [parked_poll(started) for _ in range(10)]
        tasks = await park(*polls)
        assert all([m["type"] for m in p.messages] == ["http.response.start"] for p in polls)
        await hang_up(polls, tasks)

    asyncio.run(scenario())


def test_the_process_default_follows_the_open_files_limit(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (1024, 4096))
    assert qrlogin_settings.LONG_POLL_PROCESS_MAX == 768
    monkeypatch.setattr(resource, "getrlimit", lambda which: (65536, 65536))
    assert qrlogin_settings.LONG_POLL_PROCESS_MAX == 65536 - 1024


@pytest.mark.parametrize("value", [0, -1, 2.5, "many", True])
def test_a_bad_limit_is_reported(value):
    with override_settings(QRLOGIN={"LONG_POLL_PER_CLIENT": value}):
        assert "qrlogin.E008" in {m.id for m in run_checks()}
