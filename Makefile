# Two entry points for a fresh machine; each creates its own virtual environment in .venv.
#   make demo   install adaptfile and run it on the offline example (examples/quickstart)
#   make test   install adaptfile with its test tools and run the test suite (slow tests excluded)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -m "not slow"

.PHONY: demo test test-all lint bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch is pinned and installed first: a bare `torch` requirement can pull a multi-GB CUDA build.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ml,dev]'
	touch $@

demo: $(VENV)/.installed-dev
	cd examples/quickstart && ../../$(BIN)/adapt plan

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-all: PYTEST_ARGS =
test-all: test

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/plan_time.py

clean-venv:
	rm -rf $(VENV)
