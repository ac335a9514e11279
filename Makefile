# Two entry points a newcomer needs (see README): `make baseline` and `make test`.
# Both create the environment in .venv on first use.
SCENARIO ?= scenarios/idlib_2020.yaml
ARGS ?=

.PHONY: env baseline test lint
env:
	@scripts/bootstrap.sh

baseline: env
	.venv/bin/sim run $(SCENARIO) $(ARGS)

test: env
	.venv/bin/python -m pytest $(ARGS)

lint: env
	.venv/bin/ruff check sim tests benchmarks
