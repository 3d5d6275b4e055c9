# Kundregister: `make run` starts the app with demo data, `make test` runs the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: setup run worker test lint format clean bench-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
	$(FLASK) translate compile

# The web server and a queue worker together (Procfile, honcho); Ctrl-C stops both.
run: setup
	$(FLASK) db upgrade
	$(FLASK) seed --if-empty
	PATH="$(abspath $(BIN)):$$PATH" HOST=$(HOST) $(BIN)/honcho start -p $(PORT) -f Procfile

# Only the queue worker (e.g. more of them beside `make run`, or on another host), without the screens.
worker: setup
	$(BIN)/flask --app app:worker_app worker

# In parallel, one pytest-xdist worker per CPU (PYTEST_WORKERS=0 runs in this process).
PYTEST_WORKERS ?= auto
test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The load run's locust (bench/requirements.txt) in a virtualenv of its own: gevent stays out of the app.
bench-venv:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -r bench/requirements.txt

clean:
	rm -rf $(VENV) instance/crm.sqlite* instance/queue.sqlite*
