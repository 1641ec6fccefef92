"""The table's measurements. Each one drives real HTTP clients and returns plain numbers.

All loops are bounded in count and in time: a server that stops answering makes a step fail
with a timeout, it never makes the benchmark hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import shutil
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .client import QR, Api, ApiError, Phone
from .servers import PYTHON, REPO, Server, listen_overflows


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status}"
    return type(exc).__name__


async def timed(awaitable: Awaitable[str]) -> tuple[str, float]:
    """The result and the moment it arrived (not the moment someone looked at it)."""
    result = await awaitable
    return result, time.monotonic()


@dataclass(frozen=True)
class Humans:
    """How long people take: to scan after the QR shows, and to confirm after the scan."""

    scan_delay: tuple[float, float]
    confirm_delay: tuple[float, float]


# 1. Waiting PCs held by one process ---------------------------------------------------------


class ParkerProcess:
    """``bench/parker.py`` in its own process; its latest counters are kept as they arrive."""

    def __init__(self, workdir: Path, name: str = "parker") -> None:
        self.workdir = workdir
        self.name = name
        self.process: asyncio.subprocess.Process | None = None
        self.latest: dict[str, Any] = {}
        self.done: dict[str, Any] | None = None
        self._ready = asyncio.Event()
        self._reader: asyncio.Task | None = None

    async def start(self, url: str, sessions: list[QR], wait: int, max_seconds: float) -> None:
        path = self.workdir / f"{self.name}-sessions.json"
        path.write_text(json.dumps([[qr.id, qr.secret] for qr in sessions]))
        from .servers import die_with_parent

        self.process = await asyncio.create_subprocess_exec(
            PYTHON, str(REPO / "bench" / "parker.py"),
            "--url", url, "--sessions", str(path), "--wait", str(wait),
            "--max-seconds", str(max_seconds),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        self._reader = asyncio.ensure_future(self._read())
        await asyncio.wait_for(self._ready.wait(), timeout=60)

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if message["event"] == "ready":
                self._ready.set()
            elif message["event"] == "counters":
                self.latest = message
            elif message["event"] == "done":
                self.done = message

    async def go(self) -> None:
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()

    async def stop(self) -> dict[str, Any]:
        """Hang up every poll; the final counters."""
        if self.process is None or self.process.returncode is not None:
            return self.done or self.latest
        self.process.stdin.write(b"stop\n")
        await self.process.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, timeout=10)
        return self.done or self.latest

    def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()


def merged_counters(parkers: list[ParkerProcess]) -> dict[str, Any]:
    """The counters of several parker processes as one: sums, the first start, the last end."""
    if len(parkers) == 1:
        return parkers[0].latest
    views = [p.latest for p in parkers]
    merged: dict[str, Any] = {}
    for key in ("sent", "answered", "returned", "early", "failed"):
        merged[key] = sum(v.get(key, 0) for v in views)
    codes: Counter[str] = Counter()
    for v in views:
        codes.update(v.get("codes", {}))
    merged["codes"] = dict(codes)
    firsts = [v["first_sent"] for v in views if v.get("first_sent")]
    merged["first_sent"] = min(firsts) if firsts else None
    for key in ("all_sent", "all_answered"):
        ends = [v.get(key) for v in views]
        merged[key] = max(ends) if all(ends) else None
    return merged


async def park(
    server: Server,
    parker: ParkerProcess | list[ParkerProcess],
    count: int,
    api: Api | None = None,
    probe: QR | None = None,
    phone: Phone | None = None,
    servers: list[Server] | None = None,
) -> dict[str, Any]:
    """Park ``count`` polls at once; how fast, and what they cost the server.

    The server answers a parked poll's headers at once and its body later, so a poll is
    parked when its headers are back and its body is not. The time is from the first poll
    sent to the last poll's headers. The kernel must also show one established connection to
    the server per poll. (Should the server ever stop sending early headers, "parked" falls
    back to: all on the wire, none back, server CPU idle for 0.5 s.) A fresh poll then parks
    and is woken by a scan (when ``api``, ``probe`` and ``phone`` are given). Several parker
    processes against several servers (``servers``) count as one.
    """
    group = servers or [server]
    parkers = parker if isinstance(parker, list) else [parker]
    rss0 = sum(s.rss_kb() for s in group)
    threads0 = sum(s.threads() for s in group)
    connections0 = sum(s.connections() for s in group)
    overflows0 = listen_overflows()
    for one in parkers:
        await one.go()
    started = time.monotonic()
    cpu, last_busy, deadline = sum(s.cpu_seconds() for s in group), started, started + 180
    parked, sockets, signal, parked_at = False, 0, "", started
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        now, cpu_now = time.monotonic(), sum(s.cpu_seconds() for s in group)
        if cpu_now - cpu >= 0.02 * len(group):  # more than 20 % of a core over the last 0.1 s
            last_busy = now
        cpu = cpu_now
        seen = merged_counters(parkers)
        if seen.get("answered", 0) >= count:
            signal, parked_at = "headers", seen["all_answered"]
        elif (
            seen.get("sent", 0) >= count and seen.get("returned", 0) == 0 and now - last_busy >= 0.5
        ):
            signal, parked_at = "idle", last_busy
        if signal:
            sockets = sum(s.connections() for s in group) - connections0
            if sockets >= count:
                parked = seen.get("early", 0) == 0
                break
            signal = ""
    seen = merged_counters(parkers)
    first_sent = seen.get("first_sent") or started
    seconds = parked_at - first_sent if parked else float("nan")
    rss1, threads1 = sum(s.rss_kb() for s in group), sum(s.threads() for s in group)

    probe_parked, probe_status, woken, arrived = False, "-", 0.0, float("nan")
    if api is not None and probe is not None and phone is not None:
        # A fresh PC's poll parks too, and the phone's scan wakes it.
        poll = asyncio.ensure_future(timed(api.status(probe, wait=25, since="pending")))
        await asyncio.sleep(0.3)
        probe_parked = not poll.done()
        woken = time.monotonic()
        try:
            await api.scan(phone, probe)
            probe_status, arrived = await poll
        except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
            poll.cancel()
            probe_status, arrived = f"failed ({describe(exc)})", time.monotonic()
    return {
        "count": count,
        "parked": parked,
        "signal": signal,
        "sent": seen.get("sent", 0),
        "answered": seen.get("answered", 0),
        "returned": seen.get("returned", 0),
        "early": seen.get("early", 0),
        "failed": seen.get("failed", 0),
        "server_sockets": sockets,
        "seconds": seconds,
        "rate": count / seconds if seconds > 0 else float("nan"),
        "rss_before_kb": rss0,
        "rss_after_kb": rss1,
        "kb_per_poll": (rss1 - rss0) / count,
        "threads_before": threads0,
        "threads_after": threads1,
        "listen_overflows": listen_overflows() - overflows0,
        "probe_parked": probe_parked,
        "probe_status": probe_status,
        "probe_wake_ms": (arrived - woken) * 1000,
    }


# 2. Confirm-to-PC latency -------------------------------------------------------------------


async def long_poll_login(
    api: Api, phone: Phone, think: float, device_id: str, phone_api: Api | None = None
) -> tuple[float, float]:
    """One login whose PC waits by long poll; the phone talks to ``phone_api`` (another
    process behind the same site) when given.

    Seconds from the confirm being sent to the PC knowing, and to the phone's answer.
    """
    mobile = phone_api or api
    qr = await api.create()
    pc = asyncio.ensure_future(timed(api.status(qr, wait=25, since="pending")))
    try:
        await asyncio.sleep(think)
        temp_token = await mobile.scan(phone, qr)
        status, _ = await pc
        if status != "scanned":
            raise RuntimeError(f"PC saw {status!r}, expected 'scanned'")
        pc = asyncio.ensure_future(timed(api.status(qr, wait=25, since="scanned")))
        await asyncio.sleep(think)  # the person reads the phone; the PC's poll is parked by now
        sent = time.monotonic()
        await mobile.confirm(phone, qr, temp_token)
        answered = time.monotonic()
        status, arrived = await pc
        if status != "confirmed":
            raise RuntimeError(f"PC saw {status!r}, expected 'confirmed'")
    finally:
        _discard(pc)
    await api.complete(qr, device_id)
    return arrived - sent, answered - sent


def _discard(task: asyncio.Future) -> None:
    """A PC poll this login no longer waits for: cancelled, or its failure collected."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


async def confirm_latency(
    api: Api,
    phones: list[Phone],
    logins: int,
    workers: int,
    think: float,
    seconds: float,
    other: Api | None = None,
    label: str = "2",
) -> dict[str, Any]:
    """``logins`` long-poll logins, ``workers`` at a time (while the parked PCs wait).

    Each completion registers the PC as a device of the phone's user, ``bench-pc-<label>-<i>``:
    a step that repeated another's device ids would be refused them (409 ``device_conflict``:
    an approved login takes no device over).

    With ``other``, every second login has its PC on ``other`` and its phone on ``api``, and
    the rest the other way round: each confirm must cross processes (Redis pub/sub).

    No new login starts after ``seconds``, and none runs longer than 60 s: a saturated server
    yields fewer logins and the failures, not a benchmark that never ends.
    """
    latencies: list[float] = []
    answers: list[float] = []
    failures: Counter[str] = Counter()
    todo = iter(range(logins))
    started = time.monotonic()

    async def worker(number: int) -> None:
        phone = phones[number % len(phones)]
        for i in todo:
            if time.monotonic() - started > seconds:
                failures["not started (time limit)"] += 1
                continue
            try:
                pc_api, phone_api = (other, api) if other and i % 2 else (api, other)
                latency, answer = await asyncio.wait_for(
                    long_poll_login(pc_api, phone, think, f"bench-pc-{label}-{i}", phone_api),
                    timeout=60,
                )
                latencies.append(latency)
                answers.append(answer)
            except (TimeoutError, ApiError, RuntimeError, aiohttp.ClientError) as exc:
                failures[describe(exc)] += 1

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return {
        "wanted": logins,
        "logins": len(latencies),
        "failures": dict(failures),
        "seconds": time.monotonic() - started,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies, default=float("nan")) * 1000,
        "confirm_p50_ms": percentile(answers, 50) * 1000,
        "confirm_p99_ms": percentile(answers, 99) * 1000,
    }


# 3. Long poll against short polling ---------------------------------------------------------


async def polling_login(
    api: Api, phone: Phone, every: float | None, delays: tuple[float, float], device_id: str
) -> dict[str, Any]:
    """One login; the PC long-polls (``every`` None) or asks every ``every`` seconds."""
    qr = await api.create()
    confirmed_sent: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def phone_side() -> None:
        await asyncio.sleep(delays[0])
        temp_token = await api.scan(phone, qr)
        await asyncio.sleep(delays[1])
        sent = time.monotonic()
        await api.confirm(phone, qr, temp_token)
        confirmed_sent.set_result(sent)

    async def pc_side() -> tuple[int, float]:
        since = "pending"
        started = time.monotonic()
        for asks in range(1, 200):
            if every is None:
                status, seen = await timed(api.status(qr, wait=30, since=since))
            else:
                status, seen = await timed(api.status(qr))
            if status == "confirmed":
                return asks, seen
            if status not in ("pending", "scanned"):
                raise RuntimeError(f"PC saw {status!r}")
            since = status
            if every is not None:
                await asyncio.sleep(max(0.0, started + asks * every - time.monotonic()))
        raise RuntimeError("PC never saw 'confirmed'")

    phone_task = asyncio.ensure_future(phone_side())
    try:
        asks, seen = await pc_side()
    finally:
        await phone_task
    await api.complete(qr, device_id)
    return {
        "status_requests": asks,
        "requests": asks + 4,
        "latency": seen - confirmed_sent.result(),
    }


async def compare_polling(
    api: Api, server: Server, phones: list[Phone], logins: int, humans: Humans, seed: int = 7
) -> list[dict[str, Any]]:
    """The same ``logins`` logins (same people, same delays) done three ways, one at a time."""
    rows = []
    for every in (None, 1.0, 2.0):
        people = random.Random(seed)
        plans = [
            (
                people.uniform(0, 1),
                (people.uniform(*humans.scan_delay), people.uniform(*humans.confirm_delay)),
            )
            for _ in range(logins)
        ]
        failures: Counter[str] = Counter()

        async def login(
            i: int, start: float, delays: tuple[float, float], every=every, failures=failures
        ) -> dict[str, Any] | None:
            await asyncio.sleep(start)
            try:
                phone = phones[i % len(phones)]
                return await polling_login(api, phone, every, delays, f"bench-pc-3-{every}-{i}")
            except (TimeoutError, ApiError, RuntimeError, aiohttp.ClientError) as exc:
                failures[describe(exc)] += 1
                return None

        cpu0, started = server.cpu_seconds(), time.monotonic()
        results = await asyncio.gather(*(login(i, *plan) for i, plan in enumerate(plans)))
        cpu = server.cpu_seconds() - cpu0
        done = [r for r in results if r is not None]
        latencies = [r["latency"] for r in done]
        rows.append(
            {
                "mode": "long poll (wait=30)" if every is None else f"short poll every {every:g} s",
                "logins": len(done),
                "failures": dict(failures),
                "seconds": time.monotonic() - started,
                "requests": statistics.fmean(r["requests"] for r in done) if done else 0,
                "status_requests": (
                    statistics.fmean(r["status_requests"] for r in done) if done else 0
                ),
                "cpu_ms": cpu / max(len(done), 1) * 1000,
                "p50_ms": percentile(latencies, 50) * 1000,
                "p99_ms": percentile(latencies, 99) * 1000,
            }
        )
    return rows


# 4. The status endpoint against a bare Django view ------------------------------------------

WRK_INSTALL = "apt-get install -y wrk   (Debian/Ubuntu; the load generator for step 4)"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> dict[str, float]:
    """One wrk run (one thread: the other core is the server's); req/s, requests, failures."""
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        *[arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")],
        url,
    ]  # fmt: skip
    out = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(rate.group(1)) if rate else float("nan"),
        "requests": int(total.group(1)) if total else 0,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


Target = Callable[[], tuple[str, dict[str, str]]]


def status_polls(
    targets: dict[str, Target], runs: int, seconds: float, connections: int = 32
) -> dict[str, Any]:
    """Interleaved wrk runs of each target (same load for each); the median req/s of each.

    A target is asked for its URL and headers before each run, so the product's status poll
    can be given a fresh session each time (one that cannot expire mid-run).
    """
    warmups = {}
    for name, target in targets.items():  # warm up
        url, headers = target()
        warmups[name] = wrk(url, 1, connections, headers)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(runs):
        for name, target in targets.items():
            url, headers = target()
            results[name].append(wrk(url, seconds, connections, headers))
    summary: dict[str, Any] = {"runs": runs, "seconds": seconds, "connections": connections}
    for name, rows in results.items():
        summary[name] = {
            "median_rps": statistics.median(r["rps"] for r in rows),
            "all_rps": [r["rps"] for r in rows],
            "requests": sum(r["requests"] for r in rows),
            "warmup_requests": warmups[name]["requests"],
            "failures": sum(r["non_2xx"] + r["socket_errors"] for r in rows),
        }
    return summary


def server_cpu_per_request(server: Server, send: Callable[[], None], count: int) -> float:
    """Server CPU (ms) per request over ``count`` sequential ones, after 20 to warm up."""
    for _ in range(20):
        send()
    cpu0 = server.cpu_seconds()
    for _ in range(count):
        send()
    return (server.cpu_seconds() - cpu0) / count * 1000


# 5. Whole logins per second -----------------------------------------------------------------


async def login_throughput(
    api: Api, phones: list[Phone], clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` PC+phone pairs doing create, scan, confirm, complete, back to back."""
    durations: list[float] = []
    failures: Counter[str] = Counter()
    started = time.monotonic()
    deadline = started + seconds

    async def client(number: int) -> None:
        phone = phones[number % len(phones)]
        for i in range(100_000):
            if time.monotonic() >= deadline:
                return
            begun = time.monotonic()
            try:
                qr = await api.create()
                temp_token = await api.scan(phone, qr)
                await api.confirm(phone, qr, temp_token)
                await api.complete(qr, f"bench-pc-5-{number}-{i}")
                durations.append(time.monotonic() - begun)
            except (TimeoutError, ApiError, aiohttp.ClientError) as exc:
                failures[describe(exc)] += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.monotonic() - started
    return {
        "clients": clients,
        "logins": len(durations),
        "failures": dict(failures),
        "seconds": elapsed,
        "per_second": len(durations) / elapsed,
        "p50_ms": percentile(durations, 50) * 1000,
        "p99_ms": percentile(durations, 99) * 1000,
    }


async def sample_while(
    probe: Callable[[], int], until: asyncio.Event, every: float = 1.0
) -> list[int]:
    """Values of a cheap blocking probe, read in a thread every ``every`` s until ``until``."""
    values: list[int] = []
    for _ in range(3600):
        # A probe that fails once (e.g. "too many clients") is just skipped.
        with contextlib.suppress(Exception):
            values.append(await asyncio.to_thread(probe))
        try:
            await asyncio.wait_for(until.wait(), timeout=every)
            return values
        except TimeoutError:
            continue
    return values
