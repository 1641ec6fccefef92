"""django-qrlogin's benchmark, in one command: ``.venv/bin/python bench/run.py [--quick]``.

It needs PostgreSQL and Redis on 127.0.0.1 (as ``make test`` does) and Debian's ``wrk``. It
creates its own database (``--database``, default ``qrlogin_bench``) and uses its own Redis db
(``--redis-db``, default 14), starts the servers it measures on loopback ports, drives them
with wrk and aiohttp clients, stops them (also on Ctrl-C or failure), and prints the tables
that docs/benchmarks.md records: each figure next to its baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import scenarios
from bench.client import QR, Api, new_session
from bench.scenarios import Humans, ParkerProcess
from bench.servers import (
    PASSWORD,
    PG_URL,
    PYTHON,
    REPO,
    Server,
    Setup,
    check_services,
    create_users,
    pg_connections,
    pg_sessions,
    prepare_database,
    raise_open_files_limit,
)

PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "status_runs": 5,
        "status_seconds": 5,
        "parked": 3_000,
        "waiting": 10_000,
        "logins": 200,
        "login_seconds": 150,
        "waiting_two": 20_000,
        "creates": 300,
        "throughput_seconds": 10,
        "compare_logins": 48,
        "humans": Humans(scan_delay=(3, 8), confirm_delay=(1, 3)),
    },
    "quick": {
        "status_runs": 2,
        "status_seconds": 3,
        "parked": 1_000,
        "waiting": 2_000,
        "logins": 40,
        "login_seconds": 40,
        "waiting_two": 0,  # step 4 skipped
        "creates": 100,
        "throughput_seconds": 5,
        "compare_logins": 0,  # step 6 skipped
        "humans": Humans(scan_delay=(1, 3), confirm_delay=(0.5, 1.5)),
    },
}
PHONES = 8
WORKERS = 2  # logins at a time in steps 3 and 4
# Enough clients to keep one process busy: with 4, each waiting on its own commits, the server
# sat at under half a core and the figure measured latency, not what a process can do.
THROUGHPUT_CLIENTS = 16
THINK = 0.3  # seconds between the PC's poll being sent and the phone acting (steps 3, 4)
MODES = {"plain": "uvicorn (asyncio, h11)", "fast": "uvicorn[standard] (uvloop, httptools)"}


class Progress:
    """Prints each step with the time since the start; remembers which step is running."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.current = "setup"

    def step(self, name: str, text: str) -> None:
        self.current = name
        print(f"[{time.monotonic() - self.started:6.1f} s] {text}", flush=True)


def machine(setup: Setup) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    import psycopg
    import redis

    with psycopg.connect(f"{PG_URL}/postgres") as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    redis_version = redis.Redis.from_url(setup.redis_url).info("server")["redis_version"]
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "-",
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": version("Django"),
        "djangorestframework": version("djangorestframework"),
        "uvicorn": version("uvicorn"),
        "uvloop / httptools": f"{version('uvloop')} / {version('httptools')}",
        "gunicorn": version("gunicorn"),
        "psycopg / psycopg-pool": f"{version('psycopg')} / {version('psycopg-pool')}",
        "aiohttp": version("aiohttp"),
        "postgresql": postgres,
        "redis": redis_version,
    }


class Bench:
    """One run: the servers it started (stopped at the end whatever happens) and the results."""

    def __init__(self, args: argparse.Namespace, setup: Setup) -> None:
        self.args = args
        self.setup = setup
        self.preset = dict(PRESETS["quick" if args.quick else "full"])
        if args.waiting:
            self.preset.update(waiting=args.waiting, waiting_two=2 * args.waiting)
        self.progress = Progress()
        self.servers: list[Server] = []
        self.parkers: list[ParkerProcess] = []
        self.modes = ["plain", "fast"] if _has_fast() else ["plain"]
        # Steps 3-6 run the product as docs/deploy.md deploys it.
        self.main_fast = "fast" in self.modes and not args.plain
        self.results: dict[str, Any] = {
            "machine": machine(setup),
            "preset": "quick" if args.quick else "full",
            "modes": self.modes,
            "main_server": MODES["fast" if self.main_fast else "plain"],
        }
        self.pg_max: dict[str, int] = {}

    def wanted(self, step: str) -> bool:
        return not self.args.steps or step in self.args.steps

    def server(self, name: str, **kwargs: Any) -> Server:
        server = Server(name, self.setup, **kwargs)
        self.servers.append(server)
        return server.start()

    def user_server(self, name: str, fast: bool) -> Server:
        """The demo as a user starts it: ``uvicorn config.asgi:application``, two URLs set."""
        return self.server(name, env=self.setup.user_env(), fast=fast)

    def bare_server(self, name: str, app: str, fast: bool) -> Server:
        env = {**self.setup.user_env(), "PYTHONPATH": str(REPO)}
        return self.server(name, app=app, env=env, fast=fast)

    def sessions(self, count: int) -> list[QR]:
        out = self.setup.workdir / f"sessions-{count}-{time.monotonic_ns()}.json"
        subprocess.run(
            [PYTHON, str(REPO / "bench" / "make_sessions.py"), str(count), str(out)],
            env=self.setup.env(),
            cwd=REPO,
            check=True,
            timeout=600,
        )
        return [QR(id=sid, secret=secret) for sid, secret in json.loads(out.read_text())]

    async def run(self) -> dict[str, Any]:
        progress, setup, preset = self.progress, self.setup, self.preset
        stop_sampling = asyncio.Event()

        def sample_pg() -> int:
            value = pg_connections(setup)
            self.pg_max[progress.current] = max(self.pg_max.get(progress.current, 0), value)
            return value

        sampler = asyncio.ensure_future(scenarios.sample_while(sample_pg, stop_sampling, 0.5))
        try:
            progress.step("setup", f"fresh database {setup.database}, Redis db {setup.redis_db}")
            prepare_database(setup)
            usernames = [f"bench-phone-{i}" for i in range(PHONES)]
            create_users(setup, usernames)
            async with new_session() as http:
                helper = self.server("helper")
                api = Api(http, helper.url)
                self.phones = list(
                    await asyncio.gather(
                        *(
                            api.token(name, PASSWORD, f"bench-phone-{i}")
                            for i, name in enumerate(usernames)
                        )
                    )
                )
                helper.stop()
                if self.wanted("1"):
                    await self.step_status()
                if self.wanted("2"):
                    await self.step_parking(http)
                if self.wanted("3"):
                    await self.step_waiting(http, "3", preset["waiting"], processes=1)
                if self.wanted("4") and preset["waiting_two"]:
                    await self.step_waiting(http, "4", preset["waiting_two"], processes=2)
                if self.wanted("5"):
                    await self.step_logins(http)
                if self.wanted("6") and preset["compare_logins"]:
                    await self.step_polling(http)
        finally:
            for parker in self.parkers:
                parker.kill()
            stop_sampling.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(sampler, timeout=10)
            for server in self.servers:
                server.stop()
        self.results["pg_connections_max"] = self.pg_max
        self.results["tracebacks"] = {s.name: s.tracebacks() for s in self.servers}
        errors = [s.last_error() for s in self.servers if s.last_error()]
        self.results["last_error"] = errors[-1] if errors else ""
        self.results["seconds"] = time.monotonic() - progress.started
        return self.results

    # 1 ---------------------------------------------------------------------------------------

    async def step_status(self) -> None:
        """The status poll against the limit and the floor, under each uvicorn, same wrk load."""
        preset = self.preset
        self.progress.step(
            "1", "step 1: status poll vs the limit (raw ASGI) and the floor (bare Django)"
        )
        before = pg_sessions(self.setup)
        targets: dict[str, scenarios.Target] = {}
        demo: list[str] = []
        for mode in self.modes:
            fast = mode == "fast"
            limit = self.bare_server(f"limit-{mode}", "bench.baselines:limit", fast)
            floor = self.bare_server(f"floor-{mode}", "bench.floor:application", fast)
            ours = self.user_server(f"demo-{mode}", fast)
            targets[f"limit/{mode}"] = _fixed(f"{limit.url}/", {})
            targets[f"floor/{mode}"] = _fixed(f"{floor.url}/", {})
            targets[f"demo/{mode}"] = _fresh_session(ours.url)
            demo.append(f"demo/{mode}")
        result = await asyncio.to_thread(
            scenarios.status_polls, targets, preset["status_runs"], preset["status_seconds"]
        )
        for server in list(self.servers):
            if server.name.startswith(("limit-", "floor-", "demo-")):
                server.stop()
        opened = pg_sessions(self.setup) - before
        polls = sum(result[name]["requests"] + result[name]["warmup_requests"] for name in demo)
        result["pg_sessions_opened"] = opened
        result["demo_polls"] = polls
        result["pg_sessions_per_1000"] = opened / polls * 1000 if polls else float("nan")
        self.results["status"] = result

    # 2 ---------------------------------------------------------------------------------------

    async def step_parking(self, http) -> None:
        count = self.preset["parked"]
        self.progress.step("2", f"step 2: park {count} polls at once: raw ASGI parker vs ours")
        qrs = self.sessions(count + len(self.modes))
        probes, qrs = qrs[: len(self.modes)], qrs[len(self.modes) :]
        rows: dict[str, Any] = {}
        for i, mode in enumerate(self.modes):
            fast = mode == "fast"
            for kind in ("raw", "ours"):
                if kind == "raw":
                    server = self.bare_server(f"parker-{mode}", "bench.baselines:parker", fast)
                else:
                    server = self.user_server(f"park-{mode}", fast)
                    async with new_session() as warm_http:
                        await _warm_up(Api(warm_http, server.url), self.phones[0], probes[i])
                await asyncio.sleep(1)
                parker = ParkerProcess(self.setup.workdir, f"parker-2-{kind}-{mode}")
                self.parkers.append(parker)
                await parker.start(server.url, qrs, wait=25, max_seconds=600)
                api = Api(http, server.url)
                if kind == "raw":
                    row = await scenarios.park(server, parker, count)
                else:
                    probe = self.sessions(1)[0]
                    row = await scenarios.park(
                        server, parker, count, api, probe, self.phones[1 + i]
                    )
                row["final"] = await parker.stop()
                row["codes"] = dict(api.codes)
                rows[f"{kind}/{mode}"] = row
                _print_park(f"{kind}/{mode}", row)
                server.stop()
        self.results["parking"] = rows

    # 3, 4 ------------------------------------------------------------------------------------

    async def step_waiting(self, http, step: str, count: int, processes: int) -> None:
        preset = self.preset
        self.progress.step(
            step,
            f"step {step}: {count} waiting PCs on {processes} process(es), "
            f"{preset['logins']} logins meanwhile",
        )
        qrs = self.sessions(count + 1)
        probe, qrs = qrs[0], qrs[1:]
        servers = [self.server(f"wait{step}-{n}", fast=self.main_fast) for n in range(processes)]
        apis = [Api(http, s.url) for s in servers]
        for server in servers:
            async with new_session() as warm_http:
                warm = Api(warm_http, server.url)
                await _warm_up(warm, self.phones[0], await warm.create())
        await asyncio.sleep(1)
        share = len(qrs) // processes
        parkers = []
        for n, server in enumerate(servers):
            parker = ParkerProcess(self.setup.workdir, f"parker-{step}-{n}")
            self.parkers.append(parker)
            part = qrs[n * share : (n + 1) * share if n < processes - 1 else len(qrs)]
            await parker.start(server.url, part, wait=25, max_seconds=900)
            parkers.append(parker)
        park = await scenarios.park(
            servers[0], parkers, len(qrs), apis[0], probe, self.phones[1], servers=servers
        )
        _print_park(f"step {step}", park)
        cpu0, t0 = sum(s.cpu_seconds() for s in servers), time.monotonic()
        returned0 = scenarios.merged_counters(parkers).get("returned", 0)
        logins = [Api(http, s.url) for s in servers]
        latency = await scenarios.confirm_latency(
            logins[0],
            self.phones,
            preset["logins"],
            WORKERS,
            THINK,
            preset["login_seconds"],
            other=logins[1] if processes > 1 else None,
            label=str(step),
        )
        elapsed = time.monotonic() - t0
        latency.update(
            codes=_codes(logins + apis),
            server_cpu=(sum(s.cpu_seconds() for s in servers) - cpu0) / elapsed / processes,
            repolls_per_second=(scenarios.merged_counters(parkers).get("returned", 0) - returned0)
            / elapsed,
        )
        for parker in parkers:
            await parker.stop()
        park["final"] = scenarios.merged_counters(parkers)
        for server in servers:
            server.stop()
        self.results[f"waiting{step}"] = {
            "count": len(qrs),
            "processes": processes,
            "park": park,
            "latency": latency,
        }

    # 5 ---------------------------------------------------------------------------------------

    async def step_logins(self, http) -> None:
        preset = self.preset
        count = preset["creates"]
        self.progress.step("5", f"step 5: server CPU per create ({count}), whole logins per second")
        cpu: dict[str, dict[str, float]] = {}
        for name, kwargs in (
            (MODES["fast" if self.main_fast else "plain"], {"fast": self.main_fast}),
            ("gunicorn (WSGI, 1 sync worker)", {"app": "config.wsgi:application", "wsgi": True}),
        ):
            server = self.server(f"create-{'wsgi' if kwargs.get('wsgi') else 'asgi'}", **kwargs)
            cpu[name] = await asyncio.to_thread(_create_cpu, server, count)
            if not kwargs.get("wsgi"):
                main = server
            else:
                server.stop()
        self.results["create_cpu"] = cpu
        api = Api(http, main.url)
        async with new_session() as warm_http:
            warm = Api(warm_http, main.url)
            await _warm_up(warm, self.phones[0], await warm.create())
        cpu0 = main.cpu_seconds()
        throughput = await scenarios.login_throughput(
            api, self.phones, THROUGHPUT_CLIENTS, preset["throughput_seconds"]
        )
        server_cpu = main.cpu_seconds() - cpu0
        throughput["server_cpu_per_login_ms"] = server_cpu / max(throughput["logins"], 1) * 1000
        throughput["server_busy"] = server_cpu / throughput["seconds"]
        throughput["codes"] = dict(api.codes)
        self.results["throughput"] = throughput
        main.stop()

    # 6 ---------------------------------------------------------------------------------------

    async def step_polling(self, http) -> None:
        self.progress.step("6", "step 6: the same logins by long poll, 1 s and 2 s short polls")
        server = self.server("polling", fast=self.main_fast)
        api = Api(http, server.url)
        async with new_session() as warm_http:
            warm = Api(warm_http, server.url)
            await _warm_up(warm, self.phones[0], await warm.create())
        self.results["polling"] = await scenarios.compare_polling(
            api, server, self.phones, self.preset["compare_logins"], self.preset["humans"]
        )
        self.results["polling_codes"] = dict(api.codes)
        server.stop()


def _has_fast() -> bool:
    return bool(importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"))


def _fixed(url: str, headers: dict[str, str]) -> scenarios.Target:
    return lambda: (url, headers)


def _fresh_session(base: str) -> scenarios.Target:
    """A new session before each run (a QR lives 120 s under the demo's settings)."""

    def target() -> tuple[str, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]), timeout=30)
        conn.request("POST", "/qrlogin/api/sessions/", b"{}", {"Content-Type": "application/json"})
        answer = conn.getresponse()
        data = json.loads(answer.read())
        conn.close()
        if answer.status != 201:
            raise RuntimeError(f"create answered {answer.status}: {data}")
        url = f"{base}/qrlogin/api/sessions/{data['id']}/"
        return url, {"X-QRLogin-Secret": data["secret"]}

    return target


def _create_cpu(server: Server, count: int) -> dict[str, float]:
    """Server CPU per create, and per request of the demo's cheapest view (the same stack)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def create() -> None:
        conn.request("POST", "/qrlogin/api/sessions/", b"{}", {"Content-Type": "application/json"})
        answer = conn.getresponse()
        answer.read()
        if answer.status != 201:
            raise RuntimeError(f"create answered {answer.status}")

    def bare() -> None:
        conn.request("GET", "/bench/bare/")
        conn.getresponse().read()

    try:
        return {
            "create_ms": scenarios.server_cpu_per_request(server, create, count),
            "bare_ms": scenarios.server_cpu_per_request(server, bare, count),
        }
    finally:
        conn.close()


async def _warm_up(api: Api, phone, qr) -> None:
    """Code paths loaded, the thread pool grown and the Redis subscriber running."""
    for _ in range(5):
        await asyncio.gather(*(api.status(qr) for _ in range(32)))
    # Parked polls too: 3 at most per session (LONG_POLL_PER_SESSION).
    await asyncio.gather(*(api.status(qr, wait=1, since="pending") for _ in range(3)))
    for i in range(3):
        login = await api.create()
        temp_token = await api.scan(phone, login)
        await api.confirm(phone, login, temp_token)
        await api.complete(login, f"bench-warm-{api.base[-5:]}-{i}")


def _codes(apis: list[Api]) -> dict[str, int]:
    total: dict[str, int] = {}
    for api in apis:
        for code, n in api.codes.items():
            total[str(code)] = total.get(str(code), 0) + n
    return total


def _fives(*code_maps: dict) -> int:
    """Answers 500-599 in tallies keyed by status code (int or str)."""
    return sum(
        n
        for codes in code_maps
        for code, n in codes.items()
        if str(code)[:1] == "5" and len(str(code)) == 3
    )


def _print_park(name: str, park: dict[str, Any]) -> None:
    print(
        f"    {name}: parked={park['parked']} sent={park['sent']} early={park['early']} "
        f"in {park['seconds']:.1f} s; RSS {park['rss_before_kb'] / 1024:.0f} -> "
        f"{park['rss_after_kb'] / 1024:.0f} MB ({park['kb_per_poll']:.1f} KB a poll)",
        flush=True,
    )


def parked_text(park: dict[str, Any]) -> str:
    """'all (170/s' or '**8,347 of 10,000** in 180 s (' when the server never caught up."""
    if park["parked"]:
        return f"all ({park['rate']:,.0f}/s"
    return f"**{park['answered']:,} of {park['count']:,}** ({park['sent']:,} sent"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(results: dict[str, Any]) -> str:
    """The results as Markdown (it reads as plain text in a terminal too)."""
    out: list[str] = []
    modes = results["modes"]
    if "status" in results:
        st = results["status"]
        out += [
            f"| 1: status poll (`wrk -t1 -c32`, median of {st['runs']} x {st['seconds']:g} s) | "
            + " | ".join(MODES[m] for m in modes)
            + " | target |",
            "|---|" + "---|" * len(modes) + "---|",
        ]
        labels = {
            "limit": "the limit: raw ASGI app, one `redis.asyncio` GET, JSON out (req/s)",
            "floor": "the floor: bare Django (no apps, no middleware), one cache GET (req/s)",
            "demo": "ours: the demo's settings, only DATABASE_URL and REDIS_URL set (req/s)",
        }
        for key, label in labels.items():
            cells = [f"{st[f'{key}/{m}']['median_rps']:,.0f}" for m in modes]
            out.append(f"| {label} | " + " | ".join(cells) + " | |")
        ratios = [st[f"demo/{m}"]["median_rps"] / st[f"limit/{m}"]["median_rps"] for m in modes]
        out.append(
            "| ours / the limit | "
            + " | ".join(f"{r:.2f}" for r in ratios)
            + f" | >= 0.5: {verdict(min(ratios) >= 0.5)} |"
        )
        floors = [st[f"demo/{m}"]["median_rps"] / st[f"floor/{m}"]["median_rps"] for m in modes]
        out.append("| ours / the floor | " + " | ".join(f"{r:.2f}" for r in floors) + " | |")
        fails = [
            " / ".join(str(st[f"{k}/{m}"]["failures"]) for k in ("limit", "floor", "demo"))
            for m in modes
        ]
        out.append(
            "| failures (non-2xx + socket errors), limit / floor / ours | "
            + " | ".join(fails)
            + " | 0 |"
        )
        per = st["pg_sessions_per_1000"]
        out.append(
            f"| PostgreSQL sessions opened per 1,000 of our polls (`pg_stat_database.sessions`) "
            f"| {per:.2f} ({st['pg_sessions_opened']} over {st['demo_polls']:,} polls, "
            f"both servers, creates included) |"
            + " |" * (len(modes) - 1)
            + f" <= 1: {verdict(per <= 1)} |"
        )
        out.append("")
    if "parking" in results:
        pk = results["parking"]
        names = list(pk)
        count = pk[names[0]]["count"]
        out += [
            f"| 2: {count:,} polls at once | "
            + " | ".join(
                f"{'raw ASGI parker' if n.startswith('raw') else 'ours (demo settings)'}, "
                f"{MODES[n.split('/')[1]]}"
                for n in names
            )
            + " |",
            "|---|" + "---|" * len(names),
        ]

        def cells(fn) -> str:
            return " | ".join(fn(pk[n], n) for n in names)

        out.append(
            "| all parked (early, failed) | "
            + cells(
                lambda r, n: f"{'yes' if r['parked'] else '**no**'} ({r['early']}, {r['failed']})"
            )
            + " |"
        )
        out.append(
            "| polls parked per second | "
            + cells(lambda r, n: f"{r['rate']:,.0f} ({r['seconds']:.1f} s)")
            + " |"
        )
        out.append(
            "| KB per parked poll (RSS) | " + cells(lambda r, n: f"{r['kb_per_poll']:.1f}") + " |"
        )

        def against(r, n, key, fmt, target, better) -> str:
            if n.startswith("raw"):
                return "-"
            raw = pk["raw/" + n.split("/")[1]][key]
            ratio = r[key] / raw if raw else float("nan")
            ok = ratio >= target if better == "high" else ratio <= target
            return f"{ratio:{fmt}} ({'>=' if better == 'high' else '<='} {target}: {verdict(ok)})"

        out.append(
            "| ours / raw: parking rate | "
            + cells(lambda r, n: against(r, n, "rate", ".2f", 0.5, "high"))
            + " |"
        )
        out.append(
            "| ours / raw: memory per poll | "
            + cells(lambda r, n: against(r, n, "kb_per_poll", ".2f", 1.5, "low"))
            + " |"
        )
        out.append(
            "| a fresh poll parks and a scan wakes it | "
            + cells(
                lambda r, n: (
                    "-"
                    if n.startswith("raw")
                    else f"{r['probe_status']} in {r['probe_wake_ms']:.0f} ms"
                )
            )
            + " |"
        )
        out.append("")
    waits = [results[k] for k in ("waiting3", "waiting4") if k in results]
    if waits:
        out += [
            "| # | waiting PCs | parked (rate; early, failed) | RSS per poll | logins done / "
            "wanted | confirm -> PC p50 / p99 | the confirm request p50 / p99 | re-polls/s "
            "| server CPU (a process) | 5xx | target |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in waits:
            park, lat = w["park"], w["latency"]
            fives = _fives(lat["codes"], park["final"].get("codes", {}), park.get("codes", {}))
            ok = lat["logins"] == lat["wanted"] and lat["p99_ms"] < 50 and fives == 0
            step = "3" if w["processes"] == 1 else "4"
            park_kb = park["kb_per_poll"]
            out.append(
                f"| {step} | {w['count']:,} on {w['processes']} process(es) | "
                f"{parked_text(park)}; {park['early']}, {park['failed']}) | "
                f"{f'{park_kb:.1f} KB' if park['parked'] else '-'} | "
                f"{lat['logins']} / {lat['wanted']} in {lat['seconds']:.0f} s | "
                f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f} ms | "
                f"{lat['confirm_p50_ms']:.0f} / {lat['confirm_p99_ms']:.0f} ms | "
                f"{lat['repolls_per_second']:.0f} | {lat['server_cpu']:.0%} | {fives} | "
                f"every login, p99 < 50 ms, no 5xx: {verdict(ok)} |"
            )
        for w in waits:
            lat = w["latency"]
            out.append(
                f"\nStep {'3' if w['processes'] == 1 else '4'} answers: logins {lat['codes']} "
                f"{lat['failures'] or ''}; parked polls {w['park']['final'].get('codes', {})}"
            )
        out.append("")
    if "create_cpu" in results:
        out += [
            "| 5: server CPU per request (sequential) | create a session | the demo's cheapest "
            "view (one cache GET, the whole middleware stack) | target |",
            "|---|---|---|---|",
        ]
        for name, row in results["create_cpu"].items():
            out.append(
                f"| {name} | {row['create_ms']:.2f} ms | {row['bare_ms']:.2f} ms | create "
                f"<= 3 ms: {verdict(row['create_ms'] <= 3)} |"
            )
        tp = results["throughput"]
        out.append(
            f"| whole logins per second, one process ({tp['clients']} clients, "
            f"{tp['seconds']:.0f} s) | {tp['per_second']:.1f}/s ({tp['logins']} logins, p50 "
            f"{tp['p50_ms']:.0f} ms, p99 {tp['p99_ms']:.0f} ms; "
            f"{tp['server_cpu_per_login_ms']:.1f} ms server CPU a login, the server "
            f"{tp.get('server_busy', 0):.0%} of a core) | answers "
            f"{tp['codes']} {tp['failures'] or ''} | >= 50/s: {verdict(tp['per_second'] >= 50)} |"
        )
        out.append("")
    if "polling" in results:
        out += [
            "| 6: the PC waits by | logins | requests per login (status) | server CPU per "
            "login | confirm -> PC p50 | p99 |",
            "|---|---|---|---|---|---|",
        ]
        for row in results["polling"]:
            out.append(
                f"| {row['mode']} | {row['logins']} | {row['requests']:.1f} "
                f"({row['status_requests']:.1f}) | {row['cpu_ms']:.1f} ms | "
                f"{row['p50_ms']:.0f} ms | {row['p99_ms']:.0f} ms |"
            )
        out.append("")
    out += [
        "| errors and resources | |",
        "|---|---|",
        f"| server tracebacks logged | {results['tracebacks']} |",
        f"| most PostgreSQL connections seen, by step | {results['pg_connections_max']} |",
    ]
    if results["last_error"]:
        out.append(f"| last server error | `{results['last_error'][:200]}` |")
    return "\n".join(out)


def _interrupt(*_: object) -> None:
    """SIGTERM ends the run the way Ctrl-C does: the servers are stopped on the way out."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of a few minutes (step 4 skipped)"
    )
    parser.add_argument("--steps", help="only these steps, e.g. 1,2 (default: all)")
    parser.add_argument(
        "--waiting", type=int, help="waiting PCs of step 3 (step 4: twice as many, even in --quick)"
    )
    parser.add_argument("--database", default="qrlogin_bench", help="dropped and re-created")
    parser.add_argument("--redis-db", type=int, default=14, help="flushed")
    parser.add_argument("--first-port", type=int, default=0, help="default: any free ports")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=0,
        help="for the bench's servers: 0 (default) is the demo's psycopg pool; N > 0 is "
        "persistent connections instead",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="steps 3-6 on plain uvicorn even when uvloop and httptools are installed",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    args = parser.parse_args()
    args.steps = set(args.steps.split(",")) if args.steps else set()

    problems = check_services()
    if not scenarios.wrk_path():
        problems.append(f"wrk is not installed: {scenarios.WRK_INSTALL}")
    if problems:
        print("Cannot run the benchmark:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2

    limit = raise_open_files_limit()
    workdir = Path(tempfile.mkdtemp(prefix="qrlogin-bench-"))
    setup = Setup(
        workdir=workdir,
        database=args.database,
        redis_db=args.redis_db,
        conn_max_age=args.conn_max_age,
        first_port=args.first_port,
    )
    print(f"open-files limit {limit}; server logs in {workdir}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(args, setup)
    try:
        results = asyncio.run(bench.run())
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        for server in bench.servers:
            server.stop()
    results["command"] = " ".join([".venv/bin/python", "bench/run.py", *sys.argv[1:]])
    (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    info = results["machine"]
    print()
    print(
        f"{info['nproc']} cores ({info['cpu']}), {info['ram_gib']} GiB; Python {info['python']}, "
        f"Django {info['django']}, uvicorn {info['uvicorn']}; PostgreSQL {info['postgresql']}, "
        f"Redis {info['redis']}; commit {info['commit']}; {info['date']}"
    )
    db = "psycopg pool" if not setup.conn_max_age else f"CONN_MAX_AGE={setup.conn_max_age}"
    print(
        f"{results['command']}   (steps 3-6: {results['main_server']}, {db}; "
        f"{results['seconds']:.0f} s; raw: {workdir})"
    )
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
