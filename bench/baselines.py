"""The baselines the status endpoint is measured against, as raw ASGI apps (no Django).

- ``limit``: the least a status poll can cost here: one ``redis.asyncio`` GET, JSON out.
- ``parker``: the least a parked poll can cost: the response headers at once, then the
  request parks on a future until ``?wait=`` seconds are over (or the client hangs up), and
  the body follows.

Both run under the same uvicorn as the product (``bench/run.py`` starts them with
``uvicorn bench.baselines:limit`` / ``:parker``). They read REDIS_URL from the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import redis.asyncio

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

STATUS_KEY = "bench:limit"
JSON_HEADERS = [(b"content-type", b"application/json")]
_redis: redis.asyncio.Redis | None = None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def limit(scope: dict, receive: Receive, send: Send) -> None:
    """One Redis GET per request (one shared client, as django-redis shares its pool)."""
    global _redis
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if _redis is None:
        _redis = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
    value = await _redis.get(STATUS_KEY)
    body = json.dumps({"status": value.decode() if value else "pending"}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})


async def parker(scope: dict, receive: Receive, send: Send) -> None:
    """Headers now; park on a future (woken by a timer or the client leaving); then the body."""
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    query = parse_qs(scope["query_string"].decode())
    wait = float(query.get("wait", ["30"])[0])
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(wait, lambda: woken.done() or woken.set_result(None))

    async def hang_up() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not woken.done():
            woken.set_result(None)

    listener = asyncio.ensure_future(hang_up())
    try:
        await woken
    finally:
        timer.cancel()
        listener.cancel()
    await send({"type": "http.response.body", "body": b'{"status": "pending"}'})
