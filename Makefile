# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing
# (or when pyproject.toml changed) so nothing depends on packages installed by hand.
# `make run` installs the runtime only; `make test` adds the test oracles (TA-Lib, backtesting.py,
# vectorbt, a PostgreSQL driver…), which are ten times larger and slower to install. Each set has
# its own stamp, so `make run` after `make test` installs nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
# Quiet unless something is wrong: pip's warnings and errors still show.
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check --no-input

.PHONY: run test fuzz bench clean venv

venv: $(STAMP)

# --no-compile: pip would byte-compile every module of every package (numba's and numpy's own test
# suites included: ~75 MB and many seconds); Python compiles the few hundred a run imports itself.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --no-compile -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PIP) install -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/tradebot run examples/rsi.tbs

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The fuzzers of tests/fuzz with a long budget (`make test` runs them with a few dozen examples).
fuzz: $(TEST_STAMP)
	TRADEBOT_FUZZ_EXAMPLES=$${TRADEBOT_FUZZ_EXAMPLES:-20000} $(BIN)/python -m pytest tests/fuzz -n 2 -o timeout=0

bench: $(TEST_STAMP)
	$(PIP) install -e '.[test,bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
