"""scripts/services.py, which the test command asks before the PostgreSQL + Redis pass: it says
exactly what is wrong (a database that does not exist is not "unreachable": it is created)."""

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "services.py"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def services(database_url: str, redis_url: str) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, SCRIPT, database_url, redis_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, json.loads(result.stdout.strip().splitlines()[-1])


def test_an_unreachable_postgresql_server_is_named_with_its_address():
    port = closed_port()
    code, verdict = services(f"postgres://postgres@127.0.0.1:{port}/app", "redis://127.0.0.1:1/0")
    assert code == 1
    assert (
        f"cannot connect to the PostgreSQL server postgres@127.0.0.1:{port}" in (verdict["problem"])
    )
    assert "cannot connect to Redis at redis://127.0.0.1:1/0" in verdict["problem"]


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (set DATABASE_URL)",
)
@pytest.mark.django_db(transaction=True)  # DROP DATABASE cannot run in a transaction
def test_a_missing_database_is_created_and_said_so():
    params = connection.settings_dict
    server = f"{params['USER']}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    name = f"qrlogin_missing_{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        code, verdict = services(f"postgres://{server}/{name}", redis_url)
        assert verdict["notes"][0] == (
            f"created the PostgreSQL database {name!r} on {server} (was missing)"
        )
        assert "not reachable" not in json.dumps(verdict)
        if os.environ.get("REDIS_URL"):
            assert (code, verdict["problem"]) == (0, None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
