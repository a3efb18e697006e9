# The README's two commands: `make run` and `make test`.
SHELL := /bin/bash
# The interpreter the virtualenv is made from: the distribution's Python 3.11+ when it can make one, else the
# python3 on PATH. Debian builds its interpreter with profile-guided and link-time optimisation and links it
# statically; a default pyenv build has neither and runs Python through a shared libpython, and the money path
# paid ~17% more orders/s on Debian's (bench/checkout_ab.py --python-b, same code, both at once).
PYTHON ?= $(shell for python in /usr/bin/python3 python3; do \
	$$python -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$python; break; }; \
	done)
VENV := .venv
ENCORE := $(VENV)/bin/encore
HOST ?= 127.0.0.1
PORT ?= 5000
export ENCORE_INSTANCE_PATH ?= $(CURDIR)/instance

TRANSLATIONS := app/translations
# Babel reads the UI code zh_CN as zh_Hans_CN, and Flask-Babel looks the catalog up under that name.
LOCALES := zh_Hans_CN en
SOURCE_DIRS := app marketplace stickers courses licensing
BABEL_KEYWORDS := -k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k _l -k pgettext:1c,2

.PHONY: run test install install-dev worker web migrate translations bench clean

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

# Migrate, load demo data once, then serve the web app and a Celery worker.
# Ctrl-C (or either process exiting) stops both.
run: migrate
	@if [ ! -f "$(ENCORE_INSTANCE_PATH)/.demo-loaded" ]; then \
		$(ENCORE) seed-demo && touch "$(ENCORE_INSTANCE_PATH)/.demo-loaded"; fi
	@trap 'kill $$(jobs -p) 2>/dev/null; wait; exit 130' INT TERM; \
	$(ENCORE) worker --beat & \
	$(ENCORE) run --host $(HOST) --port $(PORT) & \
	wait -n; status=$$?; kill $$(jobs -p) 2>/dev/null; wait; exit $$status

web: migrate
	$(ENCORE) run --host $(HOST) --port $(PORT)

worker: migrate
	$(ENCORE) worker --beat

test: install-dev
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Extract texts to messages.pot, merge them into each locale's messages.po, compile messages.mo.
# New texts arrive untranslated (no fuzzy guesses); translating them is a separate step.
translations: install
	mkdir -p $(TRANSLATIONS)
	$(VENV)/bin/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-default-keywords \
		--project Encore --sort-by-file -o $(TRANSLATIONS)/messages.pot $(SOURCE_DIRS)
	@for locale in $(LOCALES); do \
		if [ -f $(TRANSLATIONS)/$$locale/LC_MESSAGES/messages.po ]; then \
			$(VENV)/bin/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$locale \
				--no-fuzzy-matching --ignore-obsolete || exit 1; \
		else \
			$(VENV)/bin/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -l $$locale || exit 1; \
		fi; \
	done
	$(VENV)/bin/pybabel compile -d $(TRANSLATIONS) --statistics

bench: install
	$(VENV)/bin/python bench/money_allocate.py
	$(VENV)/bin/python bench/stickers_pipeline.py
	$(VENV)/bin/python bench/checkout_flow.py
	$(VENV)/bin/python bench/downloads_serve.py
	$(VENV)/bin/python bench/ledger_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache
