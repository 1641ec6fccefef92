"""Holds N waiting PCs: one long poll per QR session, re-polled as the PC page does.

Run by ``bench/run.py`` in a process of its own, so that the client that measures latency has
an event loop of its own. Protocol on stdin/stdout, one JSON object a line:

- it prints ``{"event": "ready"}``, then waits for ``go`` on stdin;
- it sends every poll at once, but never more than ``--connecting`` polls that the server has
  not parked yet (so its listen queue does not overflow and the kernel does not drop
  connections), printing counters every 0.2 s: ``sent`` (on
  the wire) and ``answered`` (response headers received: the server sends them as soon as it
  has parked a poll, and the body when something changes or the wait is over);
- on ``stop`` (or EOF, or ``--max-seconds``) it hangs up every poll and prints
  ``{"event": "done", ...}``.

A poll that comes back before ``wait - 2`` seconds without a change counts as ``early``: the
server did not hold it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter

import aiohttp

WAIT = 25  # qrlogin.js: LONG_POLL_SECONDS
PER_ADDRESS = 100  # waiting PCs per client address (the server allows 200 per network)
SHORT_POLL = 1.5  # qrlogin.js: SHORT_POLL_MS, after an unchanged answer that came back at once


class Parker:
    def __init__(self, base_url: str, sessions: list[list[str]], wait: int) -> None:
        self.base_url = base_url
        self.sessions = sessions
        self.wait = wait
        self.sent = 0
        self.answered = 0
        self.returned = 0
        self.early = 0
        self.failed = 0
        self.codes: Counter[str] = Counter()
        self.first_sent: float | None = None
        self.all_sent: float | None = None
        self.all_answered: float | None = None
        self.stopping = asyncio.Event()

    def counters(self) -> dict:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "returned": self.returned,
            "early": self.early,
            "failed": self.failed,
            "codes": dict(self.codes),
            "first_sent": self.first_sent,
            "all_sent": self.all_sent,
            "all_answered": self.all_answered,
        }

    async def _headers_sent(self, _session, context, _params) -> None:
        request = context.trace_request_ctx
        if request["first"] and not request["sent"]:
            self.sent += 1
            if self.sent == len(self.sessions):
                self.all_sent = time.monotonic()
        request["sent"] = True

    async def poll_forever(
        self, http: aiohttp.ClientSession, sid: str, secret: str, connecting: asyncio.Semaphore
    ) -> None:
        """One PC page's loop (qrlogin.js): ask again at once after an unchanged answer
        (after SHORT_POLL if it came back within 0.5 s), back off 2, 4 ... 30 s after a
        failed one (or wait its Retry-After), stop when the status changes or on a 404."""
        url = f"{self.base_url}/qrlogin/api/sessions/{sid}/?wait={self.wait}&since=pending"
        headers = {"X-QRLogin-Secret": secret}
        first = True  # until the server has answered this PC's first poll's headers
        failures = 0
        while not self.stopping.is_set():
            if first:
                await connecting.acquire()  # released once the server has parked the poll
                if self.first_sent is None:
                    self.first_sent = time.monotonic()
            holding = first
            context = {"first": first, "sent": False}
            started = time.monotonic()
            delay = 0.0
            try:
                async with http.get(url, headers=headers, trace_request_ctx=context) as answer:
                    if first:
                        first = holding = False
                        connecting.release()
                        self.answered += 1
                        if self.answered == len(self.sessions):
                            self.all_answered = time.monotonic()
                    data = await answer.json(content_type=None)
                    retry_after = answer.headers.get("Retry-After", "")
                self.returned += 1
                if answer.status != 200:
                    self.codes[str(answer.status)] += 1
                    if answer.status == 404:
                        return
                    failures += 1
                    delay = float(retry_after) if retry_after.isdigit() else backoff(failures)
                else:
                    failures = 0
                    status = data.get("status", "?")
                    self.codes[status] += 1
                    if status != "pending":
                        return  # expired, or someone scanned it: this PC stops waiting
                    if time.monotonic() - started < self.wait - 2:
                        self.early += 1
                    if time.monotonic() - started < 0.5:
                        delay = SHORT_POLL
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                self.failed += 1
                self.codes[type(exc).__name__] += 1
                if holding:
                    connecting.release()
                failures += 1
                delay = backoff(failures)
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=delay)


def backoff(failures: int) -> float:
    """The page's pause after its n-th failure in a row: 2, 4, 8, 16, 30 s."""
    return min(30.0, 2.0 ** min(failures, 5))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sessions", required=True, help="JSON file: [[id, secret], ...]")
    parser.add_argument("--wait", type=int, default=WAIT)
    parser.add_argument("--connecting", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=300)
    args = parser.parse_args()
    with open(args.sessions) as f:
        sessions = json.load(f)

    parker = Parker(args.url, sessions, args.wait)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(message: dict) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    say({"event": "ready", "count": len(sessions)})
    line = await asyncio.wait_for(reader.readline(), timeout=args.max_seconds)
    if line.strip() != b"go":
        return

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(parker._headers_sent)
    timeout = aiohttp.ClientTimeout(total=args.wait + 60)
    connecting = asyncio.Semaphore(args.connecting)
    # The waiting PCs come from many addresses, as they do in production: 127.0.0.2, .3, ...
    # (all of 127/8 is loopback), PER_ADDRESS of them each, so that the server's limit of
    # parked polls per client network (LONG_POLL_PER_CLIENT, 200) sees many clients, not one.
    addresses = max(1, -(-len(sessions) // PER_ADDRESS))
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=0, local_addr=(f"127.0.{(n + 2) // 256}.{(n + 2) % 256}", 0)
                    ),
                    timeout=timeout,
                    trace_configs=[trace],
                    cookie_jar=aiohttp.DummyCookieJar(),
                )
            )
            for n in range(addresses)
        ]
        tasks = [
            asyncio.ensure_future(
                parker.poll_forever(clients[i // PER_ADDRESS], sid, secret, connecting)
            )
            for i, (sid, secret) in enumerate(sessions)
        ]

        async def report() -> None:
            while not parker.stopping.is_set():
                say({"event": "counters", "t": time.monotonic(), **parker.counters()})
                await asyncio.sleep(0.2)

        async def wait_for_stop() -> None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reader.readline(), timeout=args.max_seconds)
            parker.stopping.set()

        reporter = asyncio.ensure_future(report())
        await wait_for_stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        reporter.cancel()
        say({"event": "done", "t": time.monotonic(), **parker.counters()})


if __name__ == "__main__":
    asyncio.run(main())
