#!/usr/bin/env bash
# The whole test suite: lint, migrations check, then pytest twice: on the embedded default
# (SQLite + local-memory cache) and on PostgreSQL + Redis.
#
# TEST_DATABASE_URL / TEST_REDIS_URL name the services (defaults: this machine's local ones).
# With REQUIRE_SERVICES=1 (CI) a missing service or browser fails the run; otherwise that
# pass is skipped with a notice.
source "$(dirname "$0")/venv.sh" test
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
REQUIRE_SERVICES="${REQUIRE_SERVICES:-0}"

# Headless Chromium for the browser tests (Debian's package; Playwright drives it).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Debian's chromium for the browser tests"
  (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }) \
    || echo "!! could not install chromium"
fi
if [ "$REQUIRE_SERVICES" = 1 ]; then export QRLOGIN_REQUIRE_BROWSER=1; fi

echo "==> ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
echo "==> migrations are up to date"
"$PY" manage.py makemigrations --check --dry-run -v 1

echo "==> pytest: embedded default (SQLite + local-memory cache)"
env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest "$@"

services_up() {
  "$PY" - "$TEST_DATABASE_URL" "$TEST_REDIS_URL" <<'PY'
import sys
import psycopg, redis
try:
    psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
    redis.Redis.from_url(sys.argv[2], socket_connect_timeout=3).ping()
except Exception as exc:
    print(f"   not reachable: {exc}")
    sys.exit(1)
PY
}
echo "==> pytest: PostgreSQL + Redis ($TEST_DATABASE_URL, $TEST_REDIS_URL)"
if services_up; then
  DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" "$PY" -m pytest "$@"
elif [ "$REQUIRE_SERVICES" = 1 ]; then
  echo "!! PostgreSQL and Redis are required (REQUIRE_SERVICES=1)"; exit 1
else
  echo "!! skipped the PostgreSQL + Redis pass: start them or set TEST_DATABASE_URL/TEST_REDIS_URL"
fi
