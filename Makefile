# Seatline. `make run` starts the system; `make test` tests it. Both set up what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Each language's compiled catalogue (.mo, not committed), built from its .po with the runtime (README "Languages").
COMPILED := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

.PHONY: run run-cluster test test-fast lint chaos services browser nginx prometheus pgbouncer fonts clean bench flash-sale translations

# `make run MONITOR=1` also starts Prometheus against every process (README "Watching a sale").
run: $(VENV)/.runtime $(COMPILED) fonts
	@scripts/run.sh

# The same system as a cluster on this machine: a PostgreSQL replica, PgBouncer, a six-node Redis Cluster,
# two of each server and worker behind the edge (README "Running as a cluster"). MONITOR=1 as for run.
run-cluster: $(VENV)/.runtime $(COMPILED) fonts
	@scripts/run_cluster.sh

test: $(VENV)/.dev $(COMPILED) lint services browser nginx prometheus pgbouncer fonts
	@scripts/test.sh

# The fast tier: everything but the suites marked slow.
test-fast: $(VENV)/.dev $(COMPILED) lint services prometheus pgbouncer fonts
	@scripts/test.sh -m "not slow"

# Lint and format (ruff) and types (mypy), all configured in pyproject.toml; any finding fails the run.
lint: $(VENV)/.dev
	@echo "==> ruff check"
	@$(BIN)/ruff check .
	@echo "==> ruff format --check"
	@$(BIN)/ruff format --check .
	@echo "==> mypy"
	@$(BIN)/mypy

# Fault injection (tests/chaos, marked chaos; `make test` leaves it out): Redis killed and flushed,
# PostgreSQL restarted, workers SIGKILLed mid-job, the scheduler paused, the gateway misbehaving, each
# during a sale against real processes on a private PostgreSQL cluster and Redis server. In one process:
# each scenario brings up its own cluster, and the summary of what the fans saw is gathered there.
chaos: $(VENV)/.dev $(COMPILED) services nginx
	@TEST_WORKERS=1 scripts/test.sh -m chaos tests/chaos

services:
	@scripts/services.sh seatline seatline_test

browser:
	@scripts/browser.sh

# The fonts a ticket PDF is written in beyond Latin-1: DejaVu, and Lohit Devanagari for one in Hindi
# (app/tickets/documents.py), from Debian's packages.
fonts:
	@[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { echo "==> installing fonts-dejavu-core"; scripts/services.sh --install fonts-dejavu-core; }
	@[ -f /usr/share/fonts/truetype/lohit-devanagari/Lohit-Devanagari.ttf ] || { echo "==> installing fonts-lohit-deva"; scripts/services.sh --install fonts-lohit-deva; }

# The edge's nginx (the e2e tier runs it in front of the test servers).
nginx:
	@scripts/services.sh --nginx

# PgBouncer: tests/pgbouncer runs the app through a private one in transaction mode (scripts/pgbouncer.sh).
pgbouncer:
	@scripts/services.sh --pgbouncer

# Prometheus and promtool: the tests check the alert rules and the scrape config with promtool, and
# `make run MONITOR=1` and `make flash-sale MONITOR=1` run Prometheus (its system service stays off).
prometheus:
	@scripts/services.sh --prometheus

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "==> installing python3-venv"; \
	  if [ "$$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	@$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	@echo "==> installing Python requirements"
	@$(BIN)/pip install -q -r requirements.txt
	@touch $@

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(VENV)/.runtime
	@$(BIN)/pybabel compile -d translations -l $*

# After marking strings for translation: extract them (babel.cfg) into translations/messages.pot, merge
# them into every language's .po (new ones empty, for a translator to fill), and compile. The
# translation test (tests/unit/test_translations.py) fails until every string has its translation.
translations: $(VENV)/.runtime
	@$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 --add-location=file --sort-output \
	  --project=Seatline --copyright-holder=Seatline -o translations/messages.pot .
	@$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date
	@$(BIN)/pybabel compile -d translations --statistics

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	@echo "==> installing Python requirements (with test tools)"
	@$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Every scenario of bench/suite.py against its baseline in the same run; writes bench/RESULTS.md.
# wrk and pgbench drive the load (installed here if missing). ARGS="--seconds 5 --only holds" for a part.
bench: $(VENV)/.dev $(COMPILED) services nginx pgbouncer
	@command -v wrk >/dev/null || { echo "==> installing wrk"; scripts/services.sh --install wrk; }
	@pgbench --version >/dev/null 2>&1 || { echo "==> installing pgbench"; scripts/services.sh --install postgresql-15; }
	@$(BIN)/python -m bench.suite $(ARGS)


# 20,000 fans, a waiting room and a 2,000-seat show, end to end on this machine; checks the
# invariants, then writes bench/FLASH_SALE.md and bench/flash_sale.png. ARGS="--fans 2000 --seats 200" for a quick one.
# `make flash-sale MONITOR=1` also runs Prometheus on the sale's processes (README "Watching a sale").
# `make flash-sale CLUSTER=1` runs it on `make run-cluster`'s stack and kills one of each kind of process,
# a Redis Cluster master and the PostgreSQL replica mid-sale; it writes bench/FLASH_SALE_CLUSTER.md.
flash-sale: $(VENV)/.dev $(COMPILED) services nginx
	@[ "$(MONITOR)" != 1 ] || scripts/services.sh --prometheus
	@[ "$(CLUSTER)" != 1 ] || scripts/services.sh --pgbouncer
	@$(BIN)/python -m bench.flash_sale $(ARGS)
