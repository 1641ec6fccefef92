"""The default deployment's database connections: pooled, bounded, never one per request.

With only DATABASE_URL and REDIS_URL set, the demo settings put PostgreSQL behind psycopg's
pool. Without it every request under ASGI opened and closed a PostgreSQL connection (a backend
fork per status poll), and CONN_MAX_AGE > 0 leaked one per request thread until PostgreSQL
refused clients. The measure is PostgreSQL's own count of sessions opened on the database
(``pg_stat_database.sessions``), over requests of every kind driven through the ASGI app.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from tests.asgi import ASGIRequest

ROOT = Path(__file__).resolve().parents[1]
PG_URL = "postgres://postgres@127.0.0.1:5432/wt_demo"
# This test's pool names its connections, so connections other tests left open (threads that
# used the ORM outside a request) are told apart from the ones this test opens.
APPLICATION = "qrlogin-pool-test"


def demo_database_settings(**env: str) -> dict:
    """``config.settings.DATABASES["default"]`` in a fresh process given only ``env``."""
    code = "import json; from config import settings; print(json.dumps(settings.DATABASES))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)["default"]


def test_database_url_and_redis_url_alone_give_the_pool():
    db = demo_database_settings(DATABASE_URL=PG_URL, REDIS_URL="redis://127.0.0.1:6379/0")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    # Django's pool requires CONN_MAX_AGE = 0 (a pooled connection goes back at request end).
    assert db["CONN_MAX_AGE"] == 0
    pool = db["OPTIONS"]["pool"]
    assert pool["max_size"] == 10
    assert 0 < pool["min_size"] <= pool["max_size"]
    assert pool["timeout"] > 0


def test_pool_size_and_opt_outs():
    assert demo_database_settings(DATABASE_URL=PG_URL, DATABASE_POOL="4")["OPTIONS"]["pool"] == {
        "min_size": 2,
        "max_size": 4,
        "timeout": 10.0,
    }
    # DATABASE_POOL=0: no pool; CONN_MAX_AGE > 0 (WSGI-only processes): persistent connections.
    assert "pool" not in demo_database_settings(DATABASE_URL=PG_URL, DATABASE_POOL="0").get(
        "OPTIONS", {}
    )
    persistent = demo_database_settings(DATABASE_URL=PG_URL, CONN_MAX_AGE="60")
    assert persistent["CONN_MAX_AGE"] == 60
    assert "pool" not in persistent.get("OPTIONS", {})
    # SQLite (no DATABASE_URL) has no pool.
    assert "pool" not in demo_database_settings().get("OPTIONS", {})


# Requests through the ASGI app, as uvicorn would send them --------------------------------


async def asgi_request(method: str, path: str, headers: dict[str, str], body: bytes = b""):
    from config.asgi import application

    request = await ASGIRequest(path, headers, method=method, body=body).run(application)
    return request.status, request.body


def sessions_opened(dbname: str) -> int:
    """PostgreSQL's count of sessions ever opened on ``dbname`` (read from another database)."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        row = admin.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (dbname,)
        ).fetchone()
    return int(row[0])


def backends(dbname: str, application: str | None = None) -> int:
    """Backends connected to ``dbname`` now (only this test's pool's, with ``application``)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
    params: tuple = (dbname,)
    if application:
        query += " AND application_name = %s"
        params += (application,)
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        return int(admin.execute(query, params).fetchone()[0])


def no_backends_left(dbname: str) -> None:
    """Until every backend of this test's pool has exited, so each has flushed its count."""
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        for _ in range(500):
            (count,) = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                " AND application_name = %s",
                (dbname, APPLICATION),
            ).fetchone()
            if count == 0:
                return
            time.sleep(0.01)  # PostgreSQL backends exiting, not application state
    raise AssertionError(f"{count} backends still connected to {dbname}")


def _admin_dsn() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
    )


def drain_pool() -> None:
    """Close every connection of this process (the pool's too) and wait for the backends."""
    connection.close()
    connection.close_pool()
    no_backends_left(connection.settings_dict["NAME"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
def test_sequential_requests_under_asgi_open_at_most_the_pool(phone, monkeypatch):
    # The suite's own settings have no pool; this test runs on the demo's, as a site gets it.
    db = connection.settings_dict
    demo = demo_database_settings(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/x"
    )
    pool = demo["OPTIONS"]["pool"]
    assert db["CONN_MAX_AGE"] == demo["CONN_MAX_AGE"] == 0
    connection.close()
    monkeypatch.setitem(db["OPTIONS"], "pool", pool)
    try:
        _measure(phone, monkeypatch, pool)
    finally:
        connection.close()
        connection.close_pool()


def _measure(phone, monkeypatch, pool: dict) -> None:
    dbname = connection.settings_dict["NAME"]
    rounds = 2 * pool["max_size"]

    async def login_traffic() -> dict[int, int]:
        codes: dict[int, int] = {}

        def tally(status: int) -> None:
            codes[status] = codes.get(status, 0) + 1

        json_body = {"Content-Type": "application/json", "User-Agent": "Mozilla/5.0 Chrome/120"}
        for _ in range(rounds):
            # A sync DRF view on Django's ASGI handler (a thread of its own per request).
            status, content = await asgi_request("POST", "/qrlogin/api/sessions/", json_body, b"{}")
            tally(status)
            created = json.loads(content)
            secret = {"X-QRLogin-Secret": created["secret"]}
            # The status endpoint (answered before Django by QRLoginASGIMiddleware).
            status, _ = await asgi_request("GET", f"/qrlogin/api/sessions/{created['id']}/", secret)
            tally(status)
            # The phone's scan: DRF with device-token authentication.
            status, _ = await asgi_request(
                "POST",
                "/qrlogin/api/scan/",
                {
                    "Authorization": f"Token {phone.token}",
                    "X-Device-ID": phone.device.device_id,
                    "Content-Type": "application/json",
                },
                json.dumps({"qr": created["id"]}).encode(),
            )
            tally(status)
            # A page: the PC login page (templates, sessions, CSRF cookie).
            status, _ = await asgi_request("GET", "/accounts/login/", {})
            tally(status)
        return codes

    drain_pool()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "application_name", APPLICATION)
    # Backends of other tests: each may still add its own opening to the count meanwhile.
    others = backends(dbname)
    before = sessions_opened(dbname)
    codes = async_to_sync(login_traffic)()
    # Every finished request gave its connection back: none is still checked out.
    stats = connection.pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"] <= pool["max_size"], stats
    drain_pool()
    opened = sessions_opened(dbname) - before
    assert backends(dbname, APPLICATION) == 0

    assert codes == {201: rounds, 200: 3 * rounds}, codes
    # 80 requests of four kinds: without the pool, one PostgreSQL session each (or more).
    assert opened <= pool["max_size"] + others, (
        f"{opened} PostgreSQL sessions for {4 * rounds} requests ({others} of other tests)"
    )
