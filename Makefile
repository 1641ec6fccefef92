# The two commands of the README. Both create .venv and install what they need first.
.PHONY: demo test bench

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

# The benchmark suite (needs PostgreSQL and Redis on 127.0.0.1, and wrk): docs/benchmarks.md
bench:
	@bash scripts/bench.sh $(ARGS)
