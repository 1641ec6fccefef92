"""The processes the benchmark measures: uvicorn servers, and the database and Redis they use.

Everything listens on loopback only. Each server runs the demo site under ``bench.settings``
(throttles off, plus the bare view) with the environment a production site would give it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
DB_NAME = "qrlogin_bench"
PG_URL = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/14"
PASSWORD = secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Setup:
    """How the servers are configured for this run."""

    workdir: Path
    conn_max_age: int = 60
    db_pool: bool = False

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="bench.settings",
            PYTHONPATH=str(REPO),
            DATABASE_URL=f"{PG_URL}/{DB_NAME}",
            REDIS_URL=REDIS_URL,
            CONN_MAX_AGE=str(self.conn_max_age),
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            BENCH_DB_POOL="1" if self.db_pool else "0",
            PYTHONWARNINGS="ignore",
        )
        return env


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE to the hard limit (inherited by the servers and the parker)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """Run in the child before exec: a server must not outlive a killed benchmark."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def check_services() -> list[str]:
    """What is missing to run at all (PostgreSQL, Redis), as sentences."""
    problems = []
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection((HOST, port), timeout=2).close()
        except OSError:
            problems.append(f"{name} is not reachable on {HOST}:{port}.")
    return problems


def prepare_database(setup: Setup) -> None:
    """A fresh bench database and Redis db, migrated: every run starts from the same state."""
    import psycopg
    import redis

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    manage("migrate", "--noinput", "-v", "0", setup=setup)


def create_users(setup: Setup, usernames: list[str]) -> None:
    """The phone users. One password hash is made once and shared, to save setup time."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from django.contrib.auth.hashers import make_password\n"
        "import os\n"
        "User = get_user_model()\n"
        "hashed = make_password(os.environ['BENCH_PASSWORD'])\n"
        "User.objects.bulk_create([User(username=n, password=hashed)\n"
        "    for n in os.environ['BENCH_USERS'].split(',')])\n"
    )
    manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        setup=setup,
        extra_env={"BENCH_PASSWORD": PASSWORD, "BENCH_USERS": ",".join(usernames)},
    )


def manage(*args: str, setup: Setup, extra_env: dict[str, str] | None = None) -> None:
    env = {**setup.env(), **(extra_env or {})}
    subprocess.run(
        [PYTHON, str(REPO / "manage.py"), *args], env=env, cwd=REPO, check=True, timeout=120
    )


def pg_connections() -> int:
    """Connections the servers hold open to the bench database (from pg_stat_activity)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (DB_NAME,)
        ).fetchone()
    return int(row[0])


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return 0


class Server:
    """One uvicorn process serving ``config.asgi:application`` on a free loopback port."""

    def __init__(self, name: str, setup: Setup) -> None:
        self.name = name
        self.setup = setup
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = setup.workdir / f"server-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        command = [
            PYTHON, "-m", "uvicorn", "config.asgi:application",
            "--host", HOST, "--port", str(self.port),
            "--no-access-log", "--log-level", "warning",
            "--backlog", "4096", "--timeout-graceful-shutdown", "3",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO,
                env=self.setup.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop the server ourselves
                preexec_fn=die_with_parent,
            )
        self._wait_ready(timeout=30)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/bench/bare/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server {self.name} did not start in {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def _status(self) -> dict[str, str]:
        text = Path(f"/proc/{self.pid}/status").read_text()
        return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)

    def rss_kb(self) -> int:
        return int(self._status()["VmRSS"].split()[0])

    def threads(self) -> int:
        return int(self._status()["Threads"])

    def connections(self) -> int:
        """Established TCP connections to this server's port (the kernel's table, IPv4)."""
        port = f":{self.port:04X}"
        count = 0
        with open("/proc/net/tcp") as table:
            next(table)
            for line in table:
                fields = line.split(None, 4)
                if fields[1].endswith(port) and fields[3] == "01":
                    count += 1
        return count

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process (all its threads)."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tracebacks(self) -> int:
        if not self.log_path.exists():
            return 0
        return self.log_path.read_text(errors="replace").count("Traceback (most recent call")

    def last_error(self) -> str:
        """The last line of the last traceback in the log, for the report."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        last = ""
        for block in text.split("Traceback (most recent call last):")[1:]:
            lines = [line for line in block.splitlines() if line and not line.startswith(" ")]
            if lines:
                last = lines[0][:200]
        return last

    def stop(self) -> None:
        """SIGTERM (graceful, 3 s at most for open requests), then SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
