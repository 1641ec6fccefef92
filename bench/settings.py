"""Bench-only settings: the demo project's, with throttling off.

The servers read DATABASE_URL, REDIS_URL, CONN_MAX_AGE, DEBUG and ALLOWED_HOSTS from the
environment that ``bench/run.py`` gives them, exactly as ``config.settings`` does for a site.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

QRLOGIN = {
    # A benchmark sends thousands of requests from one address: the limits would answer 429.
    "THROTTLE_RATES": None,
    # 10,000 QRs are created before they are parked on; at the default 120 s the first ones
    # would expire while the last ones are made. No code path measured depends on it.
    "QR_TTL": 900,
}
ACCOUNTS = {"THROTTLE_RATES": None}

# ``bench/run.py --db-pool``: Django's psycopg connection pool instead of CONN_MAX_AGE, which
# Django's documentation says to disable under ASGI (see docs/benchmarks.md).
if os.environ.get("BENCH_DB_POOL") == "1":  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
        "min_size": 4,
        "max_size": int(os.environ.get("BENCH_DB_POOL_SIZE", "16")),  # noqa: F405
    }
