"""Settings of the real server processes that the multi-process tests start."""

import os

from tests.settings import *  # noqa: F403

# Throttles off, unless a test asks for the default rates (TEST_THROTTLES=1).
THROTTLE_RATES = {} if os.environ.get("TEST_THROTTLES") == "1" else None
QRLOGIN = {
    "THROTTLE_RATES": THROTTLE_RATES,
    "NOTIFY_FALLBACK_INTERVAL": float(os.environ.get("TEST_NOTIFY_FALLBACK", "2")),
}
ACCOUNTS = {"THROTTLE_RATES": THROTTLE_RATES}
# The test suite's users are hashed with the fast hasher (tests/conftest.py).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# The DPoP replay tests run the same servers with each replay store.
ACCOUNTS["DPOP_REPLAY_STORE"] = os.environ.get("TEST_DPOP_REPLAY_STORE", "auto")
