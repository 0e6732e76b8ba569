# One command each, on a fresh machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/paper.toml

.PHONY: run test test-stress lint format bench soak clean

RUNS ?= 10
HOGS ?= 2
# Two workers, one test file each at a time: most of the suite waits on loopback processes.
PYTEST_ARGS ?= -n 2 --dist loadfile

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/actors run $(CONFIG)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The suite RUNS times in a row beside HOGS busy processes (what CI's shared machine is like).
test-stress: $(STAMP)
	$(BIN)/python tests/stress.py --runs $(RUNS) --hogs $(HOGS) -- $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/mailbox_relay.py --rounds 3
	$(BIN)/python bench/venue_depth.py
	$(BIN)/python bench/tick_to_order.py --trials 100 --blocks 2
	$(BIN)/python bench/remote_hop.py
	$(BIN)/python bench/journal_commit.py --dir var

# The 30-minute chaos run of RELIABILITY.md, its report and plots (matplotlib: the bench extra).
SOAK ?= 1800
$(VENV)/.bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(VENV)/.bench

soak: $(VENV)/.bench
	$(BIN)/actors run config/chaos.toml --duration $(SOAK) --report var/soak.json --view lines
	$(BIN)/python bench/soak_plot.py var/soak.json --out docs/soak

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
