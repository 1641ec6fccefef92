#!/usr/bin/env bash
# The README's test command: installs what the tests need from the system (Chromium for the
# browser tests, GNU gettext for the catalog tests), then runs the nox matrix (noxfile.py):
# every (Python, Django) cell found runs lint, the migrations and schema checks, pytest on
# SQLite, pytest on PostgreSQL + Redis and the qrlogin-only variant; a summary lists what ran
# and what was skipped.
#
#   bash scripts/test.sh                          the whole matrix (make test)
#   bash scripts/test.sh quick                    one cell, SQLite, no browser (make test-quick)
#   bash scripts/test.sh "tests-3.13(django6.1)" -- -k scan   one cell, with pytest arguments
#
# Arguments: nox session names (`.venv/bin/nox -l` lists them; default: every tests cell), then
# after -- pytest's. The summary session always runs last.
#
# TEST_DATABASE_URL / TEST_REDIS_URL name the services (defaults: this machine's local ones; a
# missing database is created). With REQUIRE_SERVICES=1 (CI) a missing service, Python,
# browser or gettext fails the run; otherwise that part is skipped and listed as skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

apt_install() {  # apt_install PACKAGE WHY
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's $1 $2"
    (apt-get install -y -qq "$1" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "$1" >/dev/null; }) \
      || echo "!! could not install $1"
  fi
}
[ -x /usr/bin/chromium ] || apt_install chromium "for the browser tests (Playwright drives it)"
command -v msgfmt >/dev/null || apt_install gettext "for the translation catalog tests"

# nox itself lives in the project's .venv (the test extra); each cell makes its own under .nox/.
source scripts/venv.sh test
sessions=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sessions+=("$1"); shift; done
[ ${#sessions[@]} -gt 0 ] || sessions=(tests)
exec "$VENV/bin/nox" --sessions "${sessions[@]}" summary "$@"
