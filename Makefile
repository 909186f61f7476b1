# The README's two commands: `make demo` and `make test`. Both set up a local virtual environment
# first, so a machine with only Python 3.11+, pip and make is enough.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo tour test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The web console on a fresh demo database, with one simulated perfusion running (x10 speed).
demo: $(STAMP)
	$(BIN)/hipec serve --demo

# The terminal tour: the reference patient through every step.
tour: $(STAMP)
	$(BIN)/python -m hipec.demo

# Small dense matrices: on two cores a multi-threaded BLAS only adds contention.
test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
