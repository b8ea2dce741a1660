"""The monthly assessment, kept month by month.

A month is computed as of its last day once it has closed (as of today while it is the current month): the
build database is copied to a scratch file, dbt runs the assessment models (and what they read) on the copy
with ``HUB_AS_OF`` set to that date, and the month's rows are copied into the kept tables of schema
``assessment_kept`` in the build database, replacing that month only, in one transaction. The shared views
of the build database are never rebuilt as of another date. A closed month that is kept is not computed
again unless asked (``recompute_closed``): its scores stay as they were, comparable with later months even
after the bureau edits the indicator seed. The dbt models ``assessment_*_history`` read the kept tables and
are published with the serving snapshot.
"""

from __future__ import annotations

import argparse
import calendar
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from hub.core.paths import DBT_PROJECT_DIR, HubPaths
from hub.core.quoting import quote_ident, sql_literal

KEPT_SCHEMA = "assessment_kept"  # dbt var assessment_kept_schema (its default)
# kept table -> dbt model computing the month
KEPT_TABLES = {
    "town_monthly": "assessment_town_monthly",
    "department_monthly": "assessment_department_monthly",
    "scores": "assessment_scores",
    "evidence": "assessment_evidence",
}
HISTORY_MODELS = [f"{model}_history" for model in KEPT_TABLES.values()]


@dataclass(frozen=True)
class MonthResult:
    month: str  # YYYY-MM
    as_of: date
    skipped: bool = False  # a closed month already kept
    row_counts: dict[str, int] = field(default_factory=dict)
    closed: bool = False


def month_key(partition_key: str) -> str:
    """A Dagster monthly partition key (YYYY-MM-DD, the first day) or YYYY-MM → YYYY-MM."""
    text = partition_key.strip()[:7]
    date.fromisoformat(text + "-01")  # raises on anything else
    return text


def month_end(month: str) -> date:
    year, mon = int(month[:4]), int(month[5:7])
    return date(year, mon, calendar.monthrange(year, mon)[1])


def month_as_of(month: str, today: date) -> date:
    """The date a month is computed as of: its last day once closed, else today."""
    first = date.fromisoformat(month + "-01")
    if today < first:
        raise ValueError(f"考核月份 {month} 尚未开始 / month {month} has not started (today {today})")
    return min(month_end(month), today)


def kept_months(build_db: Path) -> dict[str, date]:
    """month → as-of date of the kept town rows (empty when nothing is kept yet)."""
    if not build_db.exists():
        return {}
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = 'town_monthly'",
            [KEPT_SCHEMA],
        ).fetchone()
        if not exists or not exists[0]:
            return {}
        rows = con.execute(
            f"SELECT month, max(as_of_date) FROM {quote_ident(KEPT_SCHEMA)}.town_monthly GROUP BY month"
        ).fetchall()
        return {str(m): d for m, d in rows}
    finally:
        con.close()


def _dbt(args: list[str], *, build_db: Path, as_of: date, work: Path, project_dir: Path) -> None:
    from orchestration.resources import dbt_executable

    # The build copy and the month's date reach dbt as vars, as the hub's own dbt asset passes them.
    dbt_vars = json.dumps({"build_db": str(build_db), "as_of": as_of.isoformat()})
    command = [dbt_executable(), *args, "--vars", dbt_vars, "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir), "--target-path", str(work / "target"),
               "--log-path", str(work / "logs"), "--no-send-anonymous-usage-stats"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"dbt {' '.join(args[:1])} 失败 / failed (as of {as_of}):\n{tail}")


def _copy_database(source: Path, target: Path) -> None:
    for suffix in ("", ".wal"):
        src = source.with_name(source.name + suffix)
        dst = target.with_name(target.name + suffix)
        dst.unlink(missing_ok=True)
        if src.exists():
            shutil.copyfile(src, dst)


def _store_month(build_db: Path, scratch: Path, month: str) -> dict[str, int]:
    """Replace the month's rows of every kept table with the scratch build's, in one transaction."""
    counts: dict[str, int] = {}
    con = duckdb.connect(str(build_db))
    try:
        con.execute(f"ATTACH {sql_literal(str(scratch))} AS month_build (READ_ONLY)")
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(KEPT_SCHEMA)}")
        for table, model in KEPT_TABLES.items():
            kept = f"{quote_ident(KEPT_SCHEMA)}.{quote_ident(table)}"
            source = f"month_build.main.{quote_ident(model)}"
            con.execute(f"CREATE TABLE IF NOT EXISTS {kept} AS SELECT * FROM {source} WHERE false")
            have = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
                "AND table_schema = ? AND table_name = ?", [KEPT_SCHEMA, table]).fetchall()}
            for name, dtype in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = 'month_build' "
                "AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position", [model]).fetchall():
                if name not in have:  # a column added to the model since earlier months were kept
                    con.execute(f"ALTER TABLE {kept} ADD COLUMN {quote_ident(name)} {dtype}")
            con.execute(f"DELETE FROM {kept} WHERE month = ?", [month])
            con.execute(f"INSERT INTO {kept} BY NAME SELECT * FROM {source} WHERE month = ?", [month])
            row = con.execute(f"SELECT count(*) FROM {kept} WHERE month = ?", [month]).fetchone()
            counts[table] = int(row[0]) if row else 0
        con.execute("COMMIT")
        con.execute("DETACH month_build")
    finally:
        con.close()
    return counts


def compute_month(paths: HubPaths, month: str, today: date, *, recompute_closed: bool = False,
                  project_dir: Path = DBT_PROJECT_DIR, refresh_history: bool = True) -> MonthResult:
    """Compute ``month`` (YYYY-MM) and keep it; see the module docstring. The caller holds the build database
    (the Dagster asset runs in the duckdb_writer pool)."""
    month = month_key(month)
    as_of = month_as_of(month, today)
    closed = as_of == month_end(month)
    build_db = paths.build_db
    if not build_db.exists():
        raise FileNotFoundError(f"构建库不存在 / build database not found: {build_db} (run the pipeline first)")
    kept = kept_months(build_db)
    if closed and not recompute_closed and kept.get(month) == as_of:
        return MonthResult(month=month, as_of=as_of, skipped=True, closed=True)
    work = paths.data_dir / "assessment" / "work" / month
    work.mkdir(parents=True, exist_ok=True)
    scratch = work / "month_build.duckdb"
    try:
        _copy_database(build_db, scratch)
        models = " ".join(f"+{m}" for m in KEPT_TABLES.values())
        # build, not run: the seeds are loaded again, so an edited indicator seed counts from this month on
        _dbt(["build", "--select", models, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
             build_db=scratch, as_of=as_of, work=work, project_dir=project_dir)
        _dbt(["test", "--select", " ".join(KEPT_TABLES.values()), "--indirect-selection", "cautious",
              "--exclude-resource-type", "unit_test"],
             build_db=scratch, as_of=as_of, work=work, project_dir=project_dir)
        counts = _store_month(build_db, scratch, month)
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)
    if refresh_history:
        refresh_history_models(paths, as_of=today, project_dir=project_dir)
    (work / "result.json").write_text(json.dumps({"month": month, "as_of": as_of.isoformat(), "rows": counts}),
                                      encoding="utf-8")
    return MonthResult(month=month, as_of=as_of, row_counts=counts, closed=closed)


def refresh_history_models(paths: HubPaths, *, as_of: date, project_dir: Path = DBT_PROJECT_DIR) -> None:
    """Rebuild the assessment_*_history tables of the build database from the kept tables (they read nothing
    computed as of a date, so the shared views stay as they are)."""
    work = paths.data_dir / "assessment" / "work" / "history"
    work.mkdir(parents=True, exist_ok=True)
    _dbt(["run", "--select", " ".join(HISTORY_MODELS)], build_db=paths.build_db, as_of=as_of, work=work,
         project_dir=project_dir)


def republish(paths: HubPaths, manifest_path: Path | None = None) -> Path | None:
    """A new serving snapshot with the kept months (same published models and as-of date as the current one), so
    the pages show a month as soon as it is kept instead of after the next daily publish. None when nothing was
    published yet (the pipeline's first publish will carry them)."""
    from hub.core.pointer import read_current
    from orchestration.publish import load_manifest, publish_snapshot, published_models

    current = read_current(paths.serving)
    if current is None:
        return None
    con = duckdb.connect(str(current), read_only=True)
    try:
        row = con.execute("SELECT as_of FROM _snapshot").fetchone()
    finally:
        con.close()
    if manifest_path is None:
        from orchestration.dbt_project import MANIFEST_PATH

        manifest_path = MANIFEST_PATH
    models = published_models(load_manifest(manifest_path))
    return publish_snapshot(paths.build_db, paths.serving, models, as_of=row[0] if row else None).path


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestration.assessment.monthly --data-dir DIR --month YYYY-MM [--today YYYY-MM-DD]``: compute
    and keep one month outside Dagster (the same code as the asset; stop other writers of the build database)."""
    from orchestration.resources import today_in_shanghai

    parser = argparse.ArgumentParser(description="计算并保存一个月的考核 / compute and keep one month")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--today", help="YYYY-MM-DD (default: today in Asia/Shanghai)")
    parser.add_argument("--recompute-closed", action="store_true")
    parser.add_argument("--no-publish", action="store_true", help="leave the serving snapshot to the next publish")
    args = parser.parse_args(argv)
    today = date.fromisoformat(args.today) if args.today else today_in_shanghai()
    paths = HubPaths(Path(args.data_dir).resolve())
    result = compute_month(paths, args.month, today, recompute_closed=args.recompute_closed)
    state = "已保存，未重算 / kept, not recomputed" if result.skipped else f"rows {result.row_counts}"
    print(f"{result.month} as of {result.as_of} ({'closed' if result.closed else 'open'}): {state}")
    if not args.no_publish and not result.skipped:
        published = republish(paths)
        print(f"published {published}" if published else "nothing published yet: the next publish carries it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
