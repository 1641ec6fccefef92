"""django-qrlogin's benchmark, in one command: ``.venv/bin/python bench/run.py [--quick]``.

It needs PostgreSQL and Redis on 127.0.0.1 (as ``make test`` does) and Debian's ``wrk``. It
creates its own database (``qrlogin_bench``) and uses Redis db 14, starts the uvicorn servers
it measures on free loopback ports, drives them with aiohttp clients, stops them (also on
Ctrl-C or failure), and prints the table that docs/benchmarks.md records.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
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
from bench.client import Api, create_many, new_session
from bench.scenarios import Humans, ParkerProcess
from bench.servers import (
    PASSWORD,
    PG_URL,
    REDIS_URL,
    REPO,
    Server,
    Setup,
    check_services,
    create_users,
    pg_connections,
    prepare_database,
    raise_open_files_limit,
)

PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "polls": 10_000,
        "logins": 200,
        "workers": 2,
        "step2_seconds": 120,
        "compare_logins": 48,
        "humans": Humans(scan_delay=(3, 8), confirm_delay=(1, 3)),
        "wrk_runs": 5,
        "wrk_seconds": 5,
        "throughput_seconds": 10,
    },
    "quick": {
        "polls": 1_000,
        "logins": 40,
        "workers": 2,
        "step2_seconds": 40,
        "compare_logins": 16,
        "humans": Humans(scan_delay=(1, 3), confirm_delay=(0.5, 1.5)),
        "wrk_runs": 2,
        "wrk_seconds": 2,
        "throughput_seconds": 4,
    },
}
PHONES = 8
THROUGHPUT_CLIENTS = 4
THINK = 0.3  # seconds between the PC's poll being sent and the phone acting (step 2)


class Progress:
    """Prints each step with the time since the start; remembers which step is running."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.current = "setup"

    def step(self, name: str, text: str) -> None:
        self.current = name
        print(f"[{time.monotonic() - self.started:6.1f} s] {text}", flush=True)


def machine() -> dict[str, Any]:
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
    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    commit = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
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
        "uvicorn": f"{version('uvicorn')} ({loop} loop, {http})",
        "aiohttp": version("aiohttp"),
        "postgresql": postgres,
        "redis": redis_version,
    }


async def bench(args: argparse.Namespace, setup: Setup, servers: list[Server]) -> dict[str, Any]:
    preset = PRESETS["quick" if args.quick else "full"]
    polls = args.polls or preset["polls"]
    progress = Progress()
    results: dict[str, Any] = {"machine": machine(), "preset": "quick" if args.quick else "full"}
    results["config"] = {
        "polls": polls,
        "conn_max_age": setup.conn_max_age,
        "db_pool": setup.db_pool,
        **{k: (v.__dict__ if isinstance(v, Humans) else v) for k, v in preset.items()},
    }

    progress.step("setup", f"fresh database {REDIS_URL=}; migrate; {PHONES} users")
    prepare_database(setup)
    usernames = [f"bench-phone-{i}" for i in range(PHONES)]
    create_users(setup, usernames)

    pg_max: dict[str, int] = {}
    stop_sampling = asyncio.Event()

    def sample_pg() -> int:
        value = pg_connections()
        pg_max[progress.current] = max(pg_max.get(progress.current, 0), value)
        return value

    sampler = asyncio.ensure_future(scenarios.sample_while(sample_pg, stop_sampling, every=0.5))
    parker = ParkerProcess(setup.workdir)
    try:
        async with new_session() as http:
            progress.step("setup", f"start 3 servers; {PHONES} device tokens via the API")
            park_server = Server("park", setup).start()
            servers.append(park_server)
            helpers = [Server(f"helper{i}", setup).start() for i in range(2)]
            servers.extend(helpers)
            setup_apis = [Api(http, h.url) for h in helpers]
            phones = list(
                await asyncio.gather(
                    *(
                        setup_apis[i % 2].token(name, PASSWORD, f"bench-phone-{i}")
                        for i, name in enumerate(usernames)
                    )
                )
            )

            progress.step("create", f"create {polls + 1} QR sessions (POST, on 2 helper servers)")
            started = time.monotonic()
            qrs = await create_many(setup_apis, polls + 1, concurrency=16)
            results["create"] = {
                "count": len(qrs),
                "per_second": len(qrs) / (time.monotonic() - started),
                "codes": _codes(setup_apis),
            }
            for helper in helpers:
                helper.stop()
            results["create"]["server_tracebacks"] = sum(h.tracebacks() for h in helpers)
            results["create"]["server_last_error"] = helpers[0].last_error()
            probe = qrs.pop()

            progress.step("1", f"step 1: park {polls} long polls on one uvicorn process")
            async with new_session() as warm_http:  # closed: no idle sockets in the baseline
                await _warm_up(Api(warm_http, park_server.url), phones[0], probe)
            await asyncio.sleep(1)
            await parker.start(park_server.url, qrs, wait=30, max_seconds=600)
            api1 = Api(http, park_server.url)
            results["park"] = await scenarios.park(
                park_server, parker, len(qrs), api1, probe, phones[1]
            )
            results["park"]["codes"] = dict(api1.codes)
            _print_park(results["park"])

            progress.step("2", f"step 2: {preset['logins']} logins while {polls} PCs wait")
            api2 = Api(http, park_server.url)
            cpu0, t0 = park_server.cpu_seconds(), time.monotonic()
            returned0 = parker.latest.get("returned", 0)
            results["latency"] = await scenarios.confirm_latency(
                api2, phones, preset["logins"], preset["workers"], THINK, preset["step2_seconds"]
            )
            elapsed = time.monotonic() - t0
            results["latency"].update(
                codes=dict(api2.codes),
                server_cpu=(park_server.cpu_seconds() - cpu0) / elapsed,
                repolls_per_second=(parker.latest.get("returned", 0) - returned0) / elapsed,
                parked_meanwhile=dict(parker.latest),
            )
            final = await parker.stop()
            results["park"]["final"] = final
            await asyncio.sleep(2)
            results["park"]["rss_released_kb"] = park_server.rss_kb()
            results["park"]["server_tracebacks"] = park_server.tracebacks()
            results["park"]["server_last_error"] = park_server.last_error()
            park_server.stop()

            progress.step("3", "step 3: the same logins by long poll, 1 s and 2 s short polls")
            main_server = Server("main", setup).start()
            servers.append(main_server)
            api3 = Api(http, main_server.url)
            async with new_session() as warm_http:
                warm = Api(warm_http, main_server.url)
                await _warm_up(warm, phones[0], await warm.create())
            results["polling"] = await scenarios.compare_polling(
                api3, main_server, phones, preset["compare_logins"], preset["humans"]
            )
            results["polling_codes"] = dict(api3.codes)

            progress.step("4", "step 4: status endpoint against a bare Django view (wrk)")
            status_qr = await Api(http, main_server.url).create()
            results["status_vs_bare"] = await asyncio.to_thread(
                scenarios.status_vs_bare,
                main_server,
                status_qr,
                preset["wrk_runs"],
                preset["wrk_seconds"],
            )

            progress.step("5", "step 5: whole logins per second")
            api5 = Api(http, main_server.url)
            results["throughput"] = await scenarios.login_throughput(
                api5, phones, THROUGHPUT_CLIENTS, preset["throughput_seconds"]
            )
            results["throughput"]["codes"] = dict(api5.codes)
            results["main_tracebacks"] = main_server.tracebacks()
            results["main_last_error"] = main_server.last_error()
            main_server.stop()
    finally:
        parker.kill()
        stop_sampling.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sampler, timeout=10)
    results["pg_connections_max"] = pg_max
    results["seconds"] = time.monotonic() - progress.started
    return results


async def _warm_up(api: Api, phone, qr) -> None:
    """Code paths loaded, the thread pool grown and the Redis subscriber running."""
    for _ in range(5):
        await asyncio.gather(*(api.status(qr) for _ in range(32)))
    await asyncio.gather(*(api.status(qr, wait=1, since="pending") for _ in range(32)))
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


def _print_park(park: dict[str, Any]) -> None:
    print(
        f"    parked={park['parked']} sent={park['sent']} early={park['early']} "
        f"in {park['seconds']:.1f} s; RSS {park['rss_before_kb'] / 1024:.0f} -> "
        f"{park['rss_after_kb'] / 1024:.0f} MB; probe {park['probe_status']} "
        f"in {park['probe_wake_ms']:.0f} ms",
        flush=True,
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(results: dict[str, Any]) -> str:
    """The results as Markdown (it reads as plain text in a terminal too)."""
    park, lat = results["park"], results["latency"]
    n = park["count"]
    parked_ok = park["parked"] and park["early"] == 0 and park["failed"] == 0
    rows = [
        "| # | measurement | result | target | |",
        "|---|---|---|---|---|",
        f"| 1 | long polls parked on one uvicorn process | {park['sent']:,} sent, "
        f"{'all parked' if park['parked'] else 'NOT all parked'}; {park['early']} came back "
        f"early, {park['failed']} failed; {park['server_sockets']:,} server sockets | "
        f"10,000 | {verdict(parked_ok) if n >= 10_000 else 'smoke run'} |",
        f"| 1 | server RSS before -> with them parked | {park['rss_before_kb'] / 1024:.0f} MB "
        f"-> {park['rss_after_kb'] / 1024:.0f} MB | < 300 MB | "
        f"{verdict(park['rss_after_kb'] < 300 * 1024)} |",
        f"| 1 | RSS per parked poll | {park['kb_per_poll']:.1f} KB | well under 30 KB "
        f"(read: <= 20) | {verdict(park['kb_per_poll'] <= 20)} |",
        f"| 1 | server threads before -> with them parked | {park['threads_before']} -> "
        f"{park['threads_after']} | flat | "
        f"{verdict(park['threads_after'] <= park['threads_before'] + 2)} |",
        f"| 1 | parking speed (first poll sent -> last one parked) | "
        f"{park['rate']:,.0f} polls/s ({park['seconds']:.1f} s) | | |",
        f"| 1 | a fresh poll parks and a scan wakes it | "
        f"{'parked' if park['probe_parked'] else 'NOT parked'}, woke as "
        f"{park['probe_status']} in {park['probe_wake_ms']:.0f} ms | | |",
        f"| 2 | confirm -> PC (long poll), {lat['logins']} logins while {n:,} PCs wait | "
        f"p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms (max {lat['max_ms']:.0f}) | "
        f"p99 < 50 ms | {verdict(lat['p99_ms'] < 50)} |",
        f"| 2 | of which the confirm request itself (phone's answer) | "
        f"p50 {lat['confirm_p50_ms']:.1f} ms, p99 {lat['confirm_p99_ms']:.1f} ms | | |",
        f"| 2 | logins done / wanted; the waiting PCs' re-polls; server CPU | "
        f"{lat['logins']} / {lat['wanted']} in {lat['seconds']:.0f} s; "
        f"{lat['repolls_per_second']:.0f} re-polls/s; {lat['server_cpu']:.0%} of a core | "
        f"| |",
    ]
    sb = results["status_vs_bare"]
    rows.append(
        f"| 4 | status endpoint vs bare view (req/s, median of {sb['runs']}) | "
        f"{sb['status']['median_rps']:,.0f} vs {sb['bare']['median_rps']:,.0f} = "
        f"{sb['ratio']:.2f} | >= 0.7 | {verdict(sb['ratio'] >= 0.7)} |"
    )
    tp = results["throughput"]
    rows.append(
        f"| 5 | whole logins/s ({tp['clients']} clients, {tp['seconds']:.0f} s) | "
        f"{tp['per_second']:.1f}/s ({tp['logins']} logins, p50 {tp['p50_ms']:.0f} ms, "
        f"p99 {tp['p99_ms']:.0f} ms) | | |"
    )
    polling = [
        "",
        "| 3: the PC waits by | logins | requests per login (status) | server CPU per login "
        "| confirm -> PC p50 | p99 |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["polling"]:
        polling.append(
            f"| {row['mode']} | {row['logins']} | {row['requests']:.1f} "
            f"({row['status_requests']:.1f}) | {row['cpu_ms']:.1f} ms | {row['p50_ms']:.0f} ms "
            f"| {row['p99_ms']:.0f} ms |"
        )
    errors = [
        "",
        "| errors and resources | |",
        "|---|---|",
        f"| answers by code, creating sessions | {results['create']['codes']} |",
        f"| answers by code, step 2 | {lat['codes']} {lat['failures'] or ''} |",
        f"| parked polls' answers during steps 1-2 | {park['final'].get('codes', {})} |",
        f"| answers by code, step 3 | {results['polling_codes']} |",
        f"| wrk failures (non-2xx + socket errors), status / bare | "
        f"{sb['status']['failures']} / {sb['bare']['failures']} |",
        f"| answers by code, step 5 | {tp['codes']} {tp['failures'] or ''} |",
        f"| server tracebacks logged (helpers / park server / main server) | "
        f"{results['create']['server_tracebacks']} / {park['server_tracebacks']} / "
        f"{results['main_tracebacks']} |",
        f"| most PostgreSQL connections seen, by step | {results['pg_connections_max']} |",
        f"| listen-queue overflows while parking | {park['listen_overflows']} |",
    ]
    last = (
        results["main_last_error"]
        or park["server_last_error"]
        or results["create"]["server_last_error"]
    )
    if last:
        errors.append(f"| last server error | `{last}` |")
    return "\n".join(rows + polling + errors)


def _interrupt(*_: object) -> None:
    """SIGTERM ends the run the way Ctrl-C does: the servers are stopped on the way out."""
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run (1,000 polls)")
    parser.add_argument("--polls", type=int, help="how many long polls to park (step 1)")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="CONN_MAX_AGE given to the servers (default 60)",
    )
    parser.add_argument(
        "--db-pool",
        action="store_true",
        help="use Django's psycopg connection pool (CONN_MAX_AGE 0; needs psycopg-pool)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    args = parser.parse_args()

    problems = check_services()
    if not scenarios.wrk_path():
        problems.append(f"wrk is not installed: {scenarios.WRK_INSTALL}")
    if args.db_pool and not importlib.util.find_spec("psycopg_pool"):
        problems.append("--db-pool needs psycopg-pool: .venv/bin/pip install psycopg-pool")
    if problems:
        print("Cannot run the benchmark:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2

    limit = raise_open_files_limit()
    workdir = Path(tempfile.mkdtemp(prefix="qrlogin-bench-"))
    setup = Setup(workdir=workdir, conn_max_age=0 if args.db_pool else args.conn_max_age,
                  db_pool=args.db_pool)  # fmt: skip
    print(f"open-files limit {limit}; server logs in {workdir}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    servers: list[Server] = []
    try:
        results = asyncio.run(bench(args, setup, servers))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        for server in servers:
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
    db = "psycopg pool" if setup.db_pool else f"CONN_MAX_AGE={setup.conn_max_age}"
    print(f"{results['command']}   ({db}; {results['seconds']:.0f} s; raw: {workdir})")
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
