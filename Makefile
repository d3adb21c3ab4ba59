# Every command of the project lives here. `make run` and `make test` work on a fresh machine
# with Python 3.11 and make: they create .venv and install the pinned dependencies first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-packages run worker api test lint format bench migrate admin calendar-load calendar-seed clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e '.[dev,embedded]'
	touch $(STAMP)

run: install  ## the whole system: embedded PostgreSQL + Redis (unless DATABASE_URL/REDIS_URL), migrations, API, worker
	$(PY) -m services.devstack run

worker: install  ## only the SLA worker (several may run at once)
	$(PY) -m services.devstack worker

api: install  ## only the API
	$(PY) -m services.devstack api

migrate: install  ## alembic upgrade head
	$(PY) -m services.devstack migrate

admin: install  ## the first admin by hand: make admin USERNAME=li.na (password asked, or KESU_ADMIN_PASSWORD)
	$(PY) -m services.devstack cli services.intake_api.cli create-admin --username "$(USERNAME)"

calendar-load: install  ## next year's holiday schedule (放假安排): make calendar-load FILE=2027.json
	$(PY) -m services.devstack cli services.intake_api.calendar.cli load "$(FILE)"

calendar-seed: install  ## add the years chinesecalendar knows and the calendar does not
	$(PY) -m services.devstack cli services.intake_api.calendar.cli seed

case-files: install  ## the yearly case file (案宗) into storage: make case-files YEAR=2026
	$(PY) -m services.devstack cli services.sla_worker.case_files build --year "$(YEAR)"

case-files-verify: install  ## check an archive against its manifest: make case-files-verify KEY=case-files/2026/kesu-case-files-2026.tar.gz (or FILE=path)
	$(PY) -m services.devstack cli services.sla_worker.case_files verify $(if $(FILE),--file "$(FILE)",--key "$(KEY)")

system-packages:  ## Debian's chromium, fonts-noto-cjk and poppler-utils for the page and PDF tests, when missing
	bash .ci/system-packages

test: install system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: install
	@set -e; for script in bench/[a-z]*.py; do echo "== $$script"; $(PY) $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
