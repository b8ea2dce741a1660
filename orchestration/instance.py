"""The Dagster instance of a data directory: ``<data dir>/dagster_home/dagster.yaml``.

Stock storage only. By default runs, event log and schedules are the SQLite files in that folder; with
``HUB_DAGSTER_PG_URL`` set they live in PostgreSQL (dagster-postgres; the URL is read from that variable
when the instance loads, never written into the file). Either way: telemetry off, runs queued by the
QueuedRunCoordinator, the DuckDB writers in a one-slot pool, and run monitoring on (a run whose worker
died is marked failed and its pool slot freed).
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.core.paths import HubPaths

HUB_YAML_MARKER = "# hub: written by"  # first line of a file the hub may rewrite
PG_URL_SETTING = "HUB_DAGSTER_PG_URL"

COMMON = """\
telemetry:
  enabled: false

# DuckDB allows one writer per file: every asset that writes or reads the build database runs in the
# pool "duckdb_writer", which has one slot (it is the only pool, hence the default).
# Runs wait in the daemon's queue (QueuedRunCoordinator) for one of four run slots.
concurrency:
  pools:
    default_limit: 1
    granularity: op
  runs:
    max_concurrent_runs: 4

run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator

# A run whose worker died is failed (by the code server that launched it, or here when it never started),
# and the pool slots a failed run still holds are given back after 10 s.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 5
  max_resume_run_attempts: 0
  free_slots_after_run_end_seconds: 10
"""

POSTGRES = """\
storage:
  postgres:
    postgres_url:
      env: {setting}
"""


def dagster_yaml(pg_url: str | None) -> str:
    header = (f"{HUB_YAML_MARKER} `hub run`, `hub deploy` and `make dagster`; delete this line to keep your edits.\n"
              + ("# Runs, event log and schedules: PostgreSQL at $HUB_DAGSTER_PG_URL.\n" if pg_url
                 else "# Runs, event log and schedules: the SQLite files in this folder.\n"))
    return header + COMMON + ("\n" + POSTGRES.format(setting=PG_URL_SETTING) if pg_url else "")


def ensure_dagster_home(paths: HubPaths, pg_url: str | None = None) -> Path:
    """Create ``dagster_home`` with the hub's dagster.yaml; rewrite a hub-written one that differs (SQLite ↔
    PostgreSQL); leave one whose first line was removed (an operator's edits) alone."""
    home = paths.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = dagster_yaml(pg_url)
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current is None or (current.startswith(HUB_YAML_MARKER) and current != wanted):
        temp = home / f".dagster.yaml.{os.getpid()}.tmp"
        temp.write_text(wanted, encoding="utf-8")
        os.replace(temp, target)
    return home
