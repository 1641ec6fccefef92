# The two commands of the README. Both create .venv and install what they need first.
.PHONY: demo test

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh
