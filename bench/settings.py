"""Bench-only settings: the demo project's, with throttling off.

The servers read DATABASE_URL, REDIS_URL, CONN_MAX_AGE, DEBUG and ALLOWED_HOSTS from the
environment that ``bench/run.py`` gives them, exactly as ``config.settings`` does for a site:
PostgreSQL through psycopg's pool unless ``--conn-max-age N`` asks for persistent connections.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

QRLOGIN = {
    # A benchmark sends thousands of requests from one address: the limits would answer 429.
    "THROTTLE_RATES": None,
    # 20,000 QRs are created before they are parked on, and wait through steps of minutes;
    # at the default 120 s they would expire meanwhile. No code path measured depends on it.
    "QR_TTL": 900,
}
ACCOUNTS = {"THROTTLE_RATES": None}
