"""One quality run end to end: measure, record in the history, alert on pass→fail, write HTML + JSON.

``produce_report`` is what the ``quality_report`` asset and ``hub quality report`` call. It only
reads the build database (read-only) and writes the history file and the report files.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from hub.core.paths import HubPaths
from orchestration.ingest.contracts import SOURCES
from orchestration.quality import alerts, history
from orchestration.quality.collect import DBT_QUALITY_MODELS, collect_results
from orchestration.quality.render import render_html, result_dicts
from orchestration.quality.results import FAIL, PASS, WARN, CheckResult

SHANGHAI = ZoneInfo("Asia/Shanghai")
TREND_RUNS = 30
Echo = Callable[[str], None]


class QualityError(Exception):
    """Something the user can fix (no build database yet, ...), said in words."""


@dataclass
class ReportOutcome:
    run_id: str
    report_name: str
    html_path: Path
    json_path: Path
    counts: dict[str, int]
    newly_failing: list[str] = field(default_factory=list)  # check names that turned pass → fail
    results: list[CheckResult] = field(default_factory=list)


def now_local() -> datetime:
    return datetime.now(SHANGHAI).replace(tzinfo=None)


def measure(build_db: Path, warehouse_url: str = "") -> list[CheckResult]:
    """Every check, on the build database; with a server warehouse, its dbt quality models are read from there."""
    if not build_db.exists():
        raise QualityError(f"构建库不存在 / build database not found: {build_db} (先运行 / run `hub run` first)")
    try:
        con = _open_for_checks(build_db, warehouse_url)
    except duckdb.IOException as exc:  # another process is writing the build database right now
        raise QualityError(f"构建库正被占用，请在构建结束后重试 / build database {build_db} is locked by a running "
                           f"build; retry when it has finished ({exc})") from None
    try:
        return collect_results(con)
    finally:
        con.close()


def _open_for_checks(build_db: Path, warehouse_url: str) -> duckdb.DuckDBPyConnection:
    if not warehouse_url:
        return duckdb.connect(str(build_db), read_only=True)
    from orchestration.warehouse.local_view import with_server_models

    try:
        return with_server_models(build_db, warehouse_url, DBT_QUALITY_MODELS)
    except duckdb.IOException:
        raise
    except Exception as exc:  # psycopg/ADBC errors: the server is down or refuses us
        raise QualityError(f"数仓服务器不可用 / the warehouse server is unavailable ({exc})") from None


def _counts(statuses: list[str]) -> dict[str, int]:
    return {PASS: statuses.count(PASS), WARN: statuses.count(WARN), FAIL: statuses.count(FAIL)}


def department_summaries(results: list[CheckResult], previous: dict[str, str]) -> list[dict[str, Any]]:
    """Per owning department: counts now, change since the previous run, checks newly failing."""
    owners = [s.owner for s in SOURCES]
    owners += sorted({o for r in results for o in r.owners} - set(owners))
    summaries = []
    for owner in owners:
        owned = [r for r in results if owner in r.owners]
        if not owned:
            continue
        now = _counts([r.status for r in owned])
        before = _counts([previous[r.check_name] for r in owned if r.check_name in previous])
        summaries.append({
            "department": owner,
            **now,
            "change": {k: now[k] - before[k] for k in now} if previous else {k: 0 for k in now},
            "newly_failing": [r.title for r in owned if r.status == FAIL and previous.get(r.check_name) != FAIL
                              and previous],
        })
    return summaries


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def produce_report(
    paths: HubPaths,
    run_id: str | None = None,
    as_of: date | None = None,
    webhook_url: str | None = None,
    echo: Echo | None = None,
    warehouse_url: str = "",
) -> ReportOutcome:
    """Measure every check on the build database (and a server warehouse's dbt models), record it, alert, and
    write the report files."""
    results = measure(paths.build_db, warehouse_url)
    run = history.RunInfo(run_id or uuid.uuid4().hex, now_local(), as_of)
    report_name = f"quality_{run.run_at:%Y%m%d_%H%M%S}_{run.run_id[:8]}"
    history_file = history.history_path(paths.reports)
    try:
        con = history.connect(history_file)
    except duckdb.IOException as exc:  # another report is being recorded right now
        raise QualityError(f"质量历史库正被占用，请稍后重试 / quality history {history_file} is in use by another "
                           f"report; retry shortly ({exc})") from None
    try:
        previous_id = history.previous_run(con, run)
        previous = history.statuses(con, previous_id)
        previous_at = con.execute("SELECT run_at FROM quality_runs WHERE run_id = ?", [previous_id]).fetchone()
        history.append_run(con, run, results, report_name)
        trends = history.trends(con, TREND_RUNS)
        dept_trends = history.department_trends(con, TREND_RUNS)
    finally:
        con.close()

    counts = _counts([r.status for r in results])
    report: dict[str, Any] = {
        "report_name": report_name,
        "run_id": run.run_id,
        "run_at": run.run_at.isoformat(sep=" ", timespec="seconds"),
        "as_of": as_of.isoformat() if as_of else None,
        "previous_run_id": previous_id,
        "previous_run_at": previous_at[0].isoformat(sep=" ", timespec="seconds") if previous_at else None,
        "summary": {**counts, "total": len(results)},
        "departments": department_summaries(results, previous),
        "source_labels": {s.name: s.owner_label for s in SOURCES},
        "checks": result_dicts(results, previous, trends),
    }
    changed = alerts.send_alerts(results, previous, run.run_id, webhook_url if webhook_url is not None
                                 else alerts.webhook_url(), report_url=f"/quality/reports/{report_name}")
    report["newly_failing"] = [r.check_name for r in changed]

    out_dir = paths.quality_reports
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / f"{report_name}.json", out_dir / f"{report_name}.html"
    _write_atomic(html_path, render_html(report, trends, dept_trends))
    _write_atomic(json_path, json.dumps(report, ensure_ascii=False, indent=1, default=str))
    if echo:
        echo(f"数据质量 / quality: {len(results)} 项检查 checks — 不通过 fail {counts[FAIL]}, 警告 warn "
             f"{counts[WARN]}, 通过 pass {counts[PASS]}\n报告 / report: {html_path}")
        if changed:
            echo("由通过变为不通过 / pass → fail: " + ", ".join(r.check_name for r in changed))
    return ReportOutcome(run.run_id, report_name, html_path, json_path, counts, [r.check_name for r in changed],
                         results)
