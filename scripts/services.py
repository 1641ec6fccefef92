"""Are the test services there? ``python scripts/services.py DATABASE_URL REDIS_URL``.

Says exactly what is wrong, because "not reachable" for a database that merely does not exist
sends people looking at the wrong thing: the PostgreSQL server unreachable or refusing the
user, the database missing (then it is created, and said so: a fresh PostgreSQL has only
``postgres``), Redis unreachable or the Redis database number out of range.

Prints one JSON line last, ``{"problem": <sentence or null>, "notes": [<sentence>, ...]}``,
which ``noxfile.py`` reads; exits 1 when there is a problem.
"""

from __future__ import annotations

import json
import sys

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

TIMEOUT = 3


def where(params: dict) -> str:
    return f"{params.get('user') or '(default user)'}@{params.get('host') or 'localhost'}:" + str(
        params.get("port") or 5432
    )


def check_postgres(url: str, notes: list[str]) -> str | None:
    """None when the database answers (created first if missing), else what is wrong."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        return f"TEST_DATABASE_URL is not a PostgreSQL URL ({url}): {exc}"
    name = params.get("dbname") or params.get("user") or "postgres"
    server = where(params)
    try:
        maintenance = make_conninfo(**{**params, "dbname": "postgres"})
        with psycopg.connect(maintenance, connect_timeout=TIMEOUT, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                notes.append(f"created the PostgreSQL database {name!r} on {server} (was missing)")
    except psycopg.errors.InsufficientPrivilege:
        return (
            f"the PostgreSQL database {name!r} does not exist on {server}, and that user "
            "may not create it: create it, or point TEST_DATABASE_URL at one that exists"
        )
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        return f"cannot connect to the PostgreSQL server {server} ({reason})"
    try:
        psycopg.connect(url, connect_timeout=TIMEOUT).close()
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        return f"cannot connect to the PostgreSQL database {name!r} on {server} ({reason})"
    notes.append(f"PostgreSQL: database {name!r} on {server} answers")
    return None


def check_redis(url: str, notes: list[str]) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT).ping()
    except ValueError as exc:
        return f"TEST_REDIS_URL is not a Redis URL ({url}): {exc}"
    except redis.ResponseError as exc:  # e.g. "DB index is out of range"
        return f"Redis at {url} refuses the connection: {exc}"
    except redis.RedisError as exc:
        return f"cannot connect to Redis at {url} ({exc})"
    notes.append(f"Redis: {url} answers")
    return None


def main(database_url: str, redis_url: str) -> int:
    notes: list[str] = []
    checked = (check_postgres(database_url, notes), check_redis(redis_url, notes))
    problems = [problem for problem in checked if problem]
    print(json.dumps({"problem": "; ".join(problems) or None, "notes": notes}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
