# Two entry points a newcomer needs (see README): `make baseline` and `make test`.
# Both create the environment in .venv on first use: `make baseline` installs only what the
# baseline run needs; `make test` adds the test tools and every optional extra (the suite
# tests the app, discovery and the notebooks too); `make app` adds the app's.
SCENARIO ?= scenarios/idlib_2020.yaml
ARGS ?=

.PHONY: env env-test env-app baseline test lint app mutation lock
env:
	@scripts/bootstrap.sh

env-test:
	@scripts/bootstrap.sh test

env-app:
	@scripts/bootstrap.sh app

baseline: env
	.venv/bin/sim run $(SCENARIO) $(ARGS)

# The suite on every core (pytest-xdist): --dist loadgroup hands tests out one at a time, but
# keeps the files tests/conftest.py groups (an expensive module fixture) on one worker each.
# TEST_WORKERS=0 runs it in this process (a debugger, -x, or a single file).
TEST_WORKERS ?= auto
test: env-test
	@scripts/test-setup.sh
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

app: env-app
	.venv/bin/sim app $(SCENARIO) $(ARGS)

lint: env-test
	.venv/bin/ruff check sim tests benchmarks

# Mutation testing of the reporting modules (mutmut; hours, niced): tests/README.md's table.
mutation: env
	.venv/bin/pip install -q -e '.[mutation]'
	.venv/bin/python scripts/mutation.py $(ARGS)

# requirements-lock.txt, the exact versions `make test` (and so CI) installs: rewrite it from
# the test environment after changing pyproject.toml's dependencies and a passing `make test`.
lock: env-test
	.venv/bin/python scripts/lock.py
