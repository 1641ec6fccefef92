"""The processes the benchmark measures: uvicorn and gunicorn servers, and the database and
Redis they use.

Everything listens on loopback only. A server runs the demo site under ``bench.settings``
(throttles off, plus the bare view) with the environment a production site would give it,
the demo as a user starts it (``config.settings``, only DATABASE_URL and REDIS_URL set), or
one of the baselines (``bench.baselines``, ``bench.floor``).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
PG_URL = "postgres://postgres@127.0.0.1:5432"
PASSWORD = secrets.token_urlsafe(12)
_ports = itertools.count()


@dataclass(frozen=True)
class Setup:
    """How the servers are configured for this run: which database, Redis db and ports."""

    workdir: Path
    database: str = "qrlogin_bench"
    redis_db: int = 14
    # 0: the demo's default, psycopg's pool; N > 0: persistent connections (no pool).
    conn_max_age: int = 0
    # 0: any free ports; else ports counted up from this one.
    first_port: int = 0

    @property
    def database_url(self) -> str:
        return f"{PG_URL}/{self.database}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:6379/{self.redis_db}"

    def user_env(self) -> dict[str, str]:
        """A site as its user starts it: the demo's settings with only the two URLs set."""
        basics = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {**basics, "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url}

    def env(self) -> dict[str, str]:
        """The bench's own servers: ``bench.settings`` (throttles off), DEBUG off."""
        return {
            **self.user_env(),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": str(REPO),
            "CONN_MAX_AGE": str(self.conn_max_age),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONWARNINGS": "ignore",
        }


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE to the hard limit (inherited by the servers and the parker)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port(setup: Setup) -> int:
    """A free loopback port: any, or the next free one from ``setup.first_port``."""
    for _ in range(1000):
        port = setup.first_port + next(_ports) if setup.first_port else 0
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port from {setup.first_port}")


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
        conn.execute(f'DROP DATABASE IF EXISTS "{setup.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{setup.database}"')
    redis.Redis.from_url(setup.redis_url).flushdb()
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


def pg_connections(setup: Setup) -> int:
    """Connections the servers hold open to the bench database (from pg_stat_activity)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (setup.database,)
        ).fetchone()
    return int(row[0])


def pg_sessions(setup: Setup, settle: float = 30) -> int:
    """PostgreSQL's count of sessions ever opened on the bench database.

    A backend adds itself to ``pg_stat_database.sessions`` when it flushes its statistics,
    which it does for certain when it exits: so this first waits (at most ``settle`` s) until
    no backend is connected to the database. Call it with the servers stopped.
    """
    import psycopg

    deadline = time.monotonic() + settle
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True, connect_timeout=5) as conn:
        while pg_connections(setup) and time.monotonic() < deadline:
            time.sleep(0.05)
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (setup.database,)
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
    """One server process on a loopback port: uvicorn (ASGI) by default, or gunicorn (WSGI).

    ``app`` is the ASGI (or WSGI) application, ``env`` its whole environment (default: the
    bench's, ``Setup.env``). ``fast`` runs uvicorn with uvloop and httptools (what
    ``uvicorn[standard]`` installs); otherwise uvicorn is pinned to the asyncio loop and h11,
    so that installing the two does not silently change the plain figures.
    """

    def __init__(
        self,
        name: str,
        setup: Setup,
        *,
        app: str = "config.asgi:application",
        env: dict[str, str] | None = None,
        fast: bool = False,
        wsgi: bool = False,
    ) -> None:
        self.name = name
        self.setup = setup
        self.app = app
        self.env = env if env is not None else setup.env()
        self.fast = fast
        self.wsgi = wsgi
        self.port = free_port(setup)
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = setup.workdir / f"server-{name}.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        if self.wsgi:
            return [
                PYTHON, "-m", "gunicorn", self.app, "--bind", f"{HOST}:{self.port}",
                "--workers", "1", "--log-level", "warning", "--graceful-timeout", "3",
            ]  # fmt: skip
        loop, http = ("uvloop", "httptools") if self.fast else ("asyncio", "h11")
        return [
            PYTHON, "-m", "uvicorn", self.app,
            "--host", HOST, "--port", str(self.port), "--loop", loop, "--http", http,
            "--no-access-log", "--log-level", "warning",
            "--backlog", "4096", "--timeout-graceful-shutdown", "3",
        ]  # fmt: skip

    def start(self) -> Server:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop the server ourselves
                preexec_fn=die_with_parent,
            )
        self._wait_ready(timeout=30)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Until the server answers HTTP at all (any status: some apps have no page at /)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server {self.name} did not start in {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        """The process that serves requests: uvicorn itself, or gunicorn's one worker."""
        if not self.wsgi:
            return self.process.pid
        for _ in range(100):
            path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            children = path.read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn {self.name} has no worker")

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
