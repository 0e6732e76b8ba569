# One command each, on a fresh machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/paper.toml

.PHONY: run test test-stress lint format bench soak clean

RUNS ?= 10
HOGS ?= 2
# Four workers, one test file each at a time: most of the suite waits on loopback processes.
PYTEST_ARGS ?= -n 4 --dist loadfile

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

# Every benchmark, then the plots of the suite (bench/*.json -> PNG in $(BENCH_OUT)); 9.3 min
# measured with these sizes on 2 cores at load 2-7 (13.4 with the scripts' defaults at load
# 6-15; BENCHMARKS.md names the sizes behind each figure). QUICK=1: tiny parameters, a smoke
# run (3-5 min).
QUICK ?=
ifeq ($(QUICK),1)
BENCH_OUT ?= var/bench
BENCH_QUICK := --quick
LOAD_ARGS :=
RECOVERY_ARGS :=
RELAY_ARGS := --rounds 1 --messages 50000
T2O_ARGS := --trials 10 --blocks 1
HOP_ARGS := --asks 200 --messages 5000 --durable 50
JC_ARGS := --orders 20 --blocks 1
else
BENCH_OUT ?= docs/bench
BENCH_QUICK :=
RELAY_ARGS := --rounds 3
T2O_ARGS := --trials 100 --blocks 2
HOP_ARGS :=
JC_ARGS :=
LOAD_ARGS := --trials 10
RECOVERY_ARGS := --trials 6
endif

bench: $(VENV)/.bench
	$(BIN)/python bench/mailbox_relay.py $(RELAY_ARGS)
	$(BIN)/python bench/venue_depth.py
	$(BIN)/python bench/tick_to_order.py $(T2O_ARGS)
	$(BIN)/python bench/remote_hop.py $(HOP_ARGS)
	$(BIN)/python bench/journal_commit.py --dir var $(JC_ARGS)
	$(BIN)/python bench/market_load.py $(BENCH_QUICK) $(LOAD_ARGS) --out $(BENCH_OUT)/market_load.json
	$(BIN)/python bench/recovery.py $(BENCH_QUICK) $(RECOVERY_ARGS) --out $(BENCH_OUT)/recovery.json
	$(BIN)/python bench/desk_load.py scale $(BENCH_QUICK) --out $(BENCH_OUT)/scale.json
	$(BIN)/python bench/desk_load.py burst $(BENCH_QUICK) --out $(BENCH_OUT)/burst.json
	$(BIN)/python bench/plots.py $(BENCH_OUT)

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
