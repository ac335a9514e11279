# Two entry points a newcomer needs (see README): `make baseline` and `make test`.
# Both create the environment in .venv on first use.
SCENARIO ?= scenarios/idlib_2020.yaml
ARGS ?=

.PHONY: env baseline test lint app mutation
env:
	@scripts/bootstrap.sh

baseline: env
	.venv/bin/sim run $(SCENARIO) $(ARGS)

test: env
	@scripts/test-setup.sh
	.venv/bin/python -m pytest $(ARGS)

app: env
	.venv/bin/sim app $(SCENARIO) $(ARGS)

lint: env
	.venv/bin/ruff check sim tests benchmarks

# Mutation testing of the reporting modules (mutmut; hours, niced): tests/README.md's table.
mutation: env
	.venv/bin/pip install -q -e '.[mutation]'
	.venv/bin/python scripts/mutation.py $(ARGS)
