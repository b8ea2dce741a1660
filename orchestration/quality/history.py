"""The quality history: every check result of every run, in its own DuckDB file.

Kept out of the build database on purpose: the build file is locked by whichever process is
writing it (ingest, dbt), and the history must stay readable and appendable by the report step
and by ``hub quality report`` even while a rebuild holds that lock. Only the report step writes
it, one short transaction per run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from orchestration.quality.results import CheckResult

HISTORY_FILE = "quality_history.duckdb"

RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS quality_results (
    run_id VARCHAR NOT NULL,
    run_at TIMESTAMP NOT NULL,        -- Asia/Shanghai wall-clock time of the report
    as_of DATE,                       -- the date the views were computed as of
    check_name VARCHAR NOT NULL,      -- "<kind>:<source>[.<entity>]", stable across runs
    check_kind VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    entity VARCHAR,
    owner_dept VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,        -- error | warning
    status VARCHAR NOT NULL,          -- pass | warn | fail
    measured_value DOUBLE,
    unit VARCHAR,
    threshold VARCHAR,
    failing_rows BIGINT NOT NULL,
    total_rows BIGINT,
    sample_keys JSON                  -- up to 20 keys of failing rows
)
"""

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS quality_runs (
    run_id VARCHAR PRIMARY KEY,
    run_at TIMESTAMP NOT NULL,
    as_of DATE,
    report_name VARCHAR              -- file stem of the HTML/JSON report in reports/quality/
)
"""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_at: datetime
    as_of: date | None


@dataclass(frozen=True)
class TrendPoint:
    run_at: datetime
    status: str
    measured_value: float | None
    failing_rows: int


def history_path(reports_dir: Path) -> Path:
    return reports_dir / HISTORY_FILE


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(RESULTS_DDL)
    con.execute(RUNS_DDL)
    return con


def previous_run(con: duckdb.DuckDBPyConnection, before: RunInfo) -> str | None:
    row = con.execute(
        "SELECT run_id FROM quality_runs WHERE run_id <> ? AND run_at <= ? ORDER BY run_at DESC LIMIT 1",
        [before.run_id, before.run_at],
    ).fetchone()
    return row[0] if row else None


def statuses(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dict[str, str]:
    if run_id is None:
        return {}
    return dict(con.execute("SELECT check_name, status FROM quality_results WHERE run_id = ?", [run_id]).fetchall())


def append_run(con: duckdb.DuckDBPyConnection, run: RunInfo, results: list[CheckResult], report_name: str) -> None:
    """Store one run's results; re-recording the same run id replaces it (a retried step stays one run)."""
    rows = [
        (run.run_id, run.run_at, run.as_of, r.check_name, r.kind, r.source, r.entity, r.owner_dept, r.severity,
         r.status, r.measured_value, r.unit, r.threshold, r.failing_rows, r.total_rows,
         json.dumps(r.sample_keys(), ensure_ascii=False))
        for r in results
    ]
    con.begin()
    try:
        con.execute("DELETE FROM quality_results WHERE run_id = ?", [run.run_id])
        con.execute("DELETE FROM quality_runs WHERE run_id = ?", [run.run_id])
        con.execute("INSERT INTO quality_runs VALUES (?, ?, ?, ?)", [run.run_id, run.run_at, run.as_of, report_name])
        if rows:
            con.executemany(f"INSERT INTO quality_results VALUES ({', '.join(['?'] * 16)})", rows)
        con.commit()
    except BaseException:
        con.rollback()
        raise


def trends(con: duckdb.DuckDBPyConnection, last_runs: int = 30) -> dict[str, list[TrendPoint]]:
    """Per check, its results over the newest ``last_runs`` runs, oldest first."""
    rows = con.execute(
        """
        WITH recent AS (SELECT run_id FROM quality_runs ORDER BY run_at DESC LIMIT ?)
        SELECT r.check_name, r.run_at, r.status, r.measured_value, r.failing_rows
        FROM quality_results AS r JOIN recent USING (run_id)
        ORDER BY r.check_name, r.run_at
        """,
        [last_runs],
    ).fetchall()
    found: dict[str, list[TrendPoint]] = {}
    for name, run_at, status, value, failing in rows:
        found.setdefault(name, []).append(TrendPoint(run_at, status, value, int(failing)))
    return found


@dataclass(frozen=True)
class DepartmentRun:
    run_at: datetime
    passed: int
    warned: int
    failed: int


def department_trends(con: duckdb.DuckDBPyConnection, last_runs: int = 30) -> dict[str, list[DepartmentRun]]:
    """Per owning department, pass/warn/fail counts per run over the newest ``last_runs`` runs, oldest first.

    A check owned by several departments ("区林水局、区环境集团") counts for each of them.
    """
    rows = con.execute(
        """
        WITH recent AS (SELECT run_id FROM quality_runs ORDER BY run_at DESC LIMIT ?),
        owned AS (
            SELECT r.run_at, trim(o.owner) AS owner, r.status
            FROM quality_results AS r JOIN recent USING (run_id),
                 unnest(string_split(r.owner_dept, '、')) AS o(owner)
        )
        SELECT owner, run_at, count(*) FILTER (WHERE status = 'pass'), count(*) FILTER (WHERE status = 'warn'),
               count(*) FILTER (WHERE status = 'fail')
        FROM owned GROUP BY ALL ORDER BY owner, run_at
        """,
        [last_runs],
    ).fetchall()
    found: dict[str, list[DepartmentRun]] = {}
    for owner, run_at, passed, warned, failed in rows:
        found.setdefault(owner, []).append(DepartmentRun(run_at, int(passed), int(warned), int(failed)))
    return found
