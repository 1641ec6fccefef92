#!/usr/bin/env bash
# The benchmark suite: venv with the bench extra, wrk (Debian) if missing, then bench/run.py.
source "$(dirname "$0")/venv.sh" bench
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing wrk (the load generator of step 4)"
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "!! wrk is needed: apt-get install wrk"; exit 1
  fi
fi
exec "$PY" bench/run.py "$@"
