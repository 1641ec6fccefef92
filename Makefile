# The commands of the README. Each creates .venv and installs what it needs first.
.PHONY: demo test test-quick bench

demo:
	@bash scripts/demo.sh

# The whole matrix (noxfile.py): every Python x Django cell, each with lint, checks, SQLite,
# PostgreSQL + Redis and qrlogin alone; ends with a summary of what ran and what was skipped.
test:
	@bash scripts/test.sh

# One cell in a few minutes: Python 3.11 + Django 5.2, SQLite, no browser.
test-quick:
	@bash scripts/test.sh quick

# The benchmark suite (needs PostgreSQL and Redis on 127.0.0.1, and wrk): docs/benchmarks.md
bench:
	@bash scripts/bench.sh $(ARGS)
