"""``hub run --warehouse postgresql://…`` as an operator runs it, on a real PostgreSQL server.

- A data directory built on DuckDB, then pointed at an empty server: everything the server lacks is copied and
  built there (the raw loads by their ids, every model), and ``hub sql`` answers alike from both engines.
- ``hub quality report --warehouse`` reads the server's dbt quality models; a second run with nothing new starts
  no run.
- A run SIGKILLed while dbt writes on the server leaves ``serving`` on the previous version; the rerun publishes
  what an uninterrupted run publishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_server import PgServer
from test_handmade_views import AS_OF, FIXTURE, write_water_workbook

from hub.core.pointer import read_current
from hub.core.serving_server import current_version
from orchestration.warehouse.serving import published_row_counts

NEXT_DAY = "2025-07-01"
TABLES_TO_COMPARE = ("hidden_danger_register", "town_readiness", "responsibility_chain_breaks", "event_handling")


def hub(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_DATA_DIR", "HUB_WAREHOUSE")}
    return subprocess.run([sys.executable, "-m", "hub.cli.main", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def run_ok(*args: str) -> str:
    proc = hub(*args)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


def landing_copy(base: Path) -> Path:
    import shutil

    landing = base / "landing"
    shutil.copytree(FIXTURE, landing)
    write_water_workbook(landing / "water" / "水利数据_20250620.xlsx")
    return landing


def answers(table: str, data_dir: Path, url: str | None = None) -> list[dict[str, Any]]:
    """Every row of a published table as ``hub sql --format json`` prints it, in a fixed order."""
    where = ["--warehouse", url] if url else ["--data-dir", str(data_dir)]
    rows = json.loads(run_ok("sql", *where, "--format", "json", f"SELECT * FROM {table}"))
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False, default=str))


def server_load_ids(url: str) -> set[str]:
    with psycopg.connect(url) as con:
        return {r[0] for r in con.execute("SELECT load_id FROM raw.load_log").fetchall()}


def test_a_duckdb_data_dir_moves_to_an_empty_server(pg_server: PgServer, tmp_path: Path) -> None:
    landing, data_dir = landing_copy(tmp_path), tmp_path / "data"
    run_ok("run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF)
    assert read_current(data_dir / "serving") is not None
    duckdb_answers = {t: answers(t, data_dir) for t in TABLES_TO_COMPARE}

    url = pg_server.new_database("hub_moved")
    out = run_ok("run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF,
                 "--warehouse", url)
    # Dagster's records say the DuckDB build is current; the server has none of it, so all of it is rebuilt there
    assert "不在构建库中 / not in the build database" in out, out
    assert "发布 / published: serving_v" in out, out

    import duckdb

    with duckdb.connect(str(data_dir / "warehouse" / "hub.duckdb"), read_only=True) as con:
        local_ids = {r[0] for r in con.execute("SELECT load_id FROM raw.load_log").fetchall()}
    assert local_ids and server_load_ids(url) == local_ids
    for table in TABLES_TO_COMPARE:
        assert answers(table, data_dir, url) == duckdb_answers[table], table

    report = hub("quality", "report", "--data-dir", str(data_dir), "--as-of", AS_OF, "--warehouse", url,
                 "--webhook-url", "")
    assert report.returncode == 0, report.stderr
    assert "项检查 checks" in report.stdout

    again = run_ok("run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF,
                   "--warehouse", url)
    assert "无需重建 / nothing is stale" in again, again


def kill_while_dbt_writes(proc: subprocess.Popen[str], admin_url: str, database: str, timeout: float = 600) -> bool:
    """SIGKILL the run's process group (hub run and its dbt) once dbt holds a writing transaction on ``database``;
    True when killed there, False when the run ended first."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as admin:
        while time.monotonic() < deadline and proc.poll() is None:
            writing = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'dbt' "
                "AND backend_xid IS NOT NULL", (database,)).fetchone()
            if writing and writing[0]:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(60)
                return True
            time.sleep(0.01)
    proc.wait(60)
    return False


def test_a_run_killed_during_dbt_on_the_server_keeps_serving_and_the_rerun_matches(
        pg_server: PgServer, tmp_path: Path) -> None:
    landing = landing_copy(tmp_path)
    url = pg_server.new_database("hub_killed")
    data_dir = tmp_path / "data"
    run_ok("run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF, "--warehouse", url)
    before = current_version(url)
    assert before is not None

    env = {k: v for k, v in os.environ.items() if k not in ("HUB_DATA_DIR", "HUB_WAREHOUSE")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli.main", "run", "--landing", str(landing), "--data-dir", str(data_dir),
         "--as-of", NEXT_DAY, "--warehouse", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True, text=True)
    assert kill_while_dbt_writes(proc, pg_server.admin_url, "hub_killed"), "the run ended before dbt wrote"
    assert current_version(url) == before  # readers still see the previous version

    run_ok("run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", NEXT_DAY, "--warehouse", url)
    assert current_version(url) != before

    # the same landing folder, uninterrupted, as of the same date
    reference_url = pg_server.new_database("hub_uninterrupted")
    reference_dir = tmp_path / "reference"
    run_ok("run", "--landing", str(landing), "--data-dir", str(reference_dir), "--as-of", NEXT_DAY,
           "--warehouse", reference_url)
    assert published_row_counts(url) == published_row_counts(reference_url)
    for table in TABLES_TO_COMPARE:
        assert answers(table, data_dir, url) == answers(table, reference_dir, reference_url), table


@pytest.mark.parametrize("url", ["mysql://u:secret@host/db", "duckdb://x"])
def test_an_unknown_warehouse_url_is_refused_naming_the_option(url: str, tmp_path: Path) -> None:
    proc = hub("run", "--landing", str(tmp_path), "--data-dir", str(tmp_path / "d"), "--warehouse", url)
    assert proc.returncode == 2
    assert "--warehouse" in proc.stderr and "secret" not in proc.stderr


@pytest.mark.parametrize("url", ["postgresql://u:secret@127.0.0.1:1/dagster", "postgres://u@127.0.0.1:1/dagster"])
def test_a_dagster_storage_url_without_the_psycopg2_driver_is_refused_before_the_run(url: str, tmp_path: Path) -> None:
    """dagster-postgres reads HUB_DAGSTER_PG_URL itself: without a driver SQLAlchemy picks psycopg 3 and the run
    died mid-way on a NOTIFY syntax error. The setting is refused up front, saying how to write it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | {"HUB_DAGSTER_PG_URL": url}
    (tmp_path / "landing").mkdir()
    proc = subprocess.run([sys.executable, "-m", "hub.cli.main", "run", "--landing", str(tmp_path / "landing"),
                           "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "HUB_DAGSTER_PG_URL" in proc.stderr and "postgresql+psycopg2://" in proc.stderr
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr
    assert not (tmp_path / "d" / "dagster_home").exists()  # refused before anything was written
