# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
ENCORE := $(VENV)/bin/encore
export ENCORE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: run test install install-dev worker web migrate clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/bin/python pyproject.toml
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(ENCORE) db upgrade

# Migrate, load demo data once, then serve the web app and a Celery worker until Ctrl-C stops both.
run: migrate
	@if [ ! -f "$(ENCORE_INSTANCE_PATH)/.demo-loaded" ]; then \
		$(ENCORE) seed-demo && touch "$(ENCORE_INSTANCE_PATH)/.demo-loaded"; fi
	@trap 'kill 0' INT TERM; \
	$(ENCORE) worker & \
	$(ENCORE) run --host 127.0.0.1 --port 5000 & \
	wait

test: install-dev
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache
