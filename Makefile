# Two commands: `make run` (everything on one laptop) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
SANDBOX_PORT ?= 5001
export PORT SANDBOX_PORT

.PHONY: run test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	APP_ENV=$${APP_ENV:-development} $(BIN)/python -m app.devsetup
	APP_ENV=$${APP_ENV:-development} \
	PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$(PORT)} \
	TELEFONIE_BASE_URL=$${TELEFONIE_BASE_URL:-http://127.0.0.1:$(SANDBOX_PORT)/v1/sms} \
	APP_PORT=$(PORT) \
	$(BIN)/honcho -f Procfile.dev start

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

test: lint
	TEST_DB=sqlite $(BIN)/pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$TEST_DATABASE_URL)"; \
		TEST_DB=postgres $(BIN)/pytest; \
	else echo "TEST_DATABASE_URL is not set: PostgreSQL run skipped"; fi

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
