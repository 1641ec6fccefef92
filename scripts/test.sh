#!/usr/bin/env bash
# The whole test suite, for each supported Python/Django pair:
#   python3 (3.11 here, with Django 5.2 LTS) and the newest Python found (3.13, newest Django).
# Each runs lint, the migrations and schema checks, then pytest twice: on the embedded default
# (SQLite + local-memory cache) and on PostgreSQL + Redis.
#
# TEST_DATABASE_URL / TEST_REDIS_URL name the services (defaults: this machine's local ones).
# With REQUIRE_SERVICES=1 (CI) a missing service, browser or second Python fails the run;
# otherwise that part is skipped with a notice. Arguments are passed to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
REQUIRE_SERVICES="${REQUIRE_SERVICES:-0}"
missing() {
  if [ "$REQUIRE_SERVICES" = 1 ]; then echo "!! $1 (required: REQUIRE_SERVICES=1)"; exit 1; fi
  echo "!! skipped: $1"
}

# Headless Chromium for the browser tests (Debian's package; Playwright drives it).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Debian's chromium for the browser tests"
  (apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }) \
    || echo "!! could not install chromium"
fi
# GNU gettext, for the test that the shipped translation catalogs are complete and compiled.
if ! command -v msgfmt >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing gettext for the translation tests"
  (apt-get install -y -qq gettext >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq gettext >/dev/null; }) \
    || echo "!! could not install gettext"
fi
if [ "$REQUIRE_SERVICES" = 1 ]; then export QRLOGIN_REQUIRE_BROWSER=1 QRLOGIN_REQUIRE_GETTEXT=1; fi

suite() {  # suite PYTHON VENV [pytest args...]
  local python="$1" venv_dir="$2"; shift 2
  PYTHON="$python"
  VENV="$venv_dir"
  source scripts/venv.sh test
  local versions
  versions="$("$PY" -c 'import sys, django; print(f"Python {sys.version.split()[0]}, Django {django.get_version()}")')"
  echo "==== $versions"
  echo "==> ruff"
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  echo "==> migrations are up to date; the OpenAPI schema has no warnings"
  env -u DATABASE_URL -u REDIS_URL "$PY" manage.py makemigrations --check --dry-run -v 1
  env -u DATABASE_URL -u REDIS_URL "$PY" manage.py spectacular --validate --fail-on-warn \
    --file /dev/null 2>&1 | tail -3

  echo "==> pytest ($versions): embedded default (SQLite + local-memory cache)"
  env -u DATABASE_URL -u REDIS_URL "$PY" -m pytest -p no:cacheprovider "$@"

  echo "==> pytest ($versions): PostgreSQL + Redis ($TEST_DATABASE_URL, $TEST_REDIS_URL)"
  if services_up; then
    DATABASE_URL="$TEST_DATABASE_URL" REDIS_URL="$TEST_REDIS_URL" "$PY" -m pytest -p no:cacheprovider "$@"
  else
    missing "PostgreSQL and Redis are not reachable"
  fi
}

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

suite "${PYTHON:-python3}" "$ROOT/.venv" "$@"

newest_python() {  # the first Python 3.13 that really runs (a pyenv shim may not)
  local candidate
  for candidate in "${PYTHON_NEWEST:-}" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python 2>/dev/null) \
    "$(command -v python3.13 || true)"; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
}
NEWEST="$(newest_python)"
if [ -n "$NEWEST" ]; then
  suite "$NEWEST" "$ROOT/.venv-newest" "$@"
else
  missing "no Python 3.13 found for the newest-Django run (set PYTHON_NEWEST)"
fi
echo "==> all test runs passed"
