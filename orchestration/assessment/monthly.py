"""The monthly assessment, kept month by month, on either warehouse engine.

A month is computed as of its last day once it has closed (as of today while it is the current month): dbt
runs the assessment models (and what they read) on a scratch build with the dbt var ``as_of`` set to that date, and
the month's rows are copied into the kept tables of schema ``assessment_kept``, replacing that month only, in
one transaction. The shared models are never rebuilt as of another date. A closed month that is kept is not
computed again unless asked (``recompute_closed``): its scores stay as they were, comparable with later months
even after the bureau edits the indicator seed. The dbt models ``assessment_*_history`` read the kept tables and
are published with the serving snapshot (or the server's ``serving`` version).

The flow (``compute_month``, ``refresh_history_models``, ``republish``) is one; where things live is the
engine's (``MonthEngine``):

- DuckDB (``DuckDBMonths``): the scratch build is a copy of the build database file; the kept tables are in the
  build database; a new serving snapshot file is published.
- PostgreSQL (``ServerMonths``): the scratch build is a schema ``assessment_month_<YYYY_MM>`` on the server (dbt's
  target ``postgres`` with its schema set through ``HUB_PG_SCHEMA``, dbt_project/profiles.yml), dropped
  afterwards; the kept tables are schema ``assessment_kept`` of the server database; the history models are
  rebuilt in ``main`` and a new server version is published (orchestration.warehouse.serving).
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from hub.core.paths import DBT_PROJECT_DIR, HubPaths
from hub.core.quoting import quote_ident, sql_literal
from hub.core.serving_server import CONNECT_TIMEOUT_S, SERVING
from hub.core.warehouse import Warehouse
from orchestration.warehouse.local_view import SERVER_MODEL_SCHEMA

if TYPE_CHECKING:
    from orchestration.publish import PublishedModel

KEPT_SCHEMA = "assessment_kept"  # dbt var assessment_kept_schema (its default)
# kept table -> dbt model computing the month
KEPT_TABLES = {
    "town_monthly": "assessment_town_monthly",
    "department_monthly": "assessment_department_monthly",
    "scores": "assessment_scores",
    "evidence": "assessment_evidence",
}
HISTORY_MODELS = [f"{model}_history" for model in KEPT_TABLES.values()]
SCHEMA_ENV = "HUB_PG_SCHEMA"  # the schema of the postgres output of dbt_project/profiles.yml
SCRATCH_SCHEMA_PREFIX = "assessment_month_"


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


# --- where dbt builds, and the engines --------------------------------------------------------------------------


@dataclass(frozen=True)
class DbtPlace:
    """Where one dbt invocation builds: a DuckDB file or a server schema (``location``), told to dbt by ``vars`` and
    environment variables ``env``. A server's password is only ever in ``env`` (Warehouse.dbt_env), never in argv."""

    location: str
    vars: Mapping[str, str]
    env: Mapping[str, str]


@dataclass(frozen=True)
class Served:
    as_of: date | None  # the as-of date of the published version readers see now


class MonthEngine(Protocol):
    """What differs between the engines; the flow around it is compute_month / refresh_history_models /
    republish."""

    def check_ready(self) -> None: ...

    def kept_months(self) -> dict[str, date]: ...

    def scratch(self, month: str, work: Path) -> AbstractContextManager[DbtPlace]:
        """A scratch build for the month, removed when the block ends (also on failure)."""
        ...

    def store_month(self, scratch: DbtPlace, month: str) -> dict[str, int]:
        """Replace the month's rows of every kept table with the scratch build's, in one transaction."""
        ...

    def build_place(self) -> DbtPlace:
        """The shared build, where the history models are rebuilt."""
        ...

    def served(self) -> Served | None:
        """The version readers see now; None before the first publish."""
        ...

    def publish(self, models: Sequence[PublishedModel], as_of: date | None) -> Path | str: ...


def month_engine(paths: HubPaths, warehouse: Warehouse | None = None) -> MonthEngine:
    """The engine of ``warehouse`` (DuckDB in ``paths`` when None or DuckDB)."""
    if warehouse is not None and warehouse.url:
        return ServerMonths(warehouse.url)
    return DuckDBMonths(paths)


def _dbt(args: list[str], *, place: DbtPlace, as_of: date, work: Path, project_dir: Path) -> None:
    from orchestration.resources import dbt_executable

    # The build and the month's date reach dbt as vars, as the hub's own dbt asset passes them; a server's
    # connection (and the scratch schema) as environment variables, as the code location passes them.
    dbt_vars = json.dumps({**place.vars, "as_of": as_of.isoformat()})
    command = [dbt_executable(), *args, "--vars", dbt_vars, "--project-dir", str(project_dir),
               "--profiles-dir", str(project_dir), "--target-path", str(work / "target"),
               "--log-path", str(work / "logs"), "--no-send-anonymous-usage-stats"]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=3600,
                          env={**os.environ, **place.env})
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-30:])
        raise RuntimeError(f"dbt {' '.join(args[:1])} 失败 / failed (as of {as_of}):\n{tail}")


# --- DuckDB: a copy of the build database file -------------------------------------------------------------------


def kept_months(build_db: Path) -> dict[str, date]:
    """month → as-of date of the kept town rows of a DuckDB build database (empty when nothing is kept yet)."""
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


def _duckdb_place(db: Path) -> DbtPlace:
    return DbtPlace(str(db), {"build_db": str(db)}, Warehouse().dbt_env())


@dataclass(frozen=True)
class DuckDBMonths:
    """The kept months in the DuckDB build database; a month is built on a copy of it."""

    paths: HubPaths

    def check_ready(self) -> None:
        if not self.paths.build_db.exists():
            raise FileNotFoundError(f"构建库不存在 / build database not found: {self.paths.build_db} "
                                    "(run the pipeline first)")

    def kept_months(self) -> dict[str, date]:
        return kept_months(self.paths.build_db)

    @contextmanager
    def scratch(self, month: str, work: Path) -> Iterator[DbtPlace]:
        copy = work / "month_build.duckdb"
        try:
            _copy_database(self.paths.build_db, copy)
            yield _duckdb_place(copy)
        finally:
            for leftover in (copy, copy.with_name(copy.name + ".wal")):
                leftover.unlink(missing_ok=True)

    def store_month(self, scratch: DbtPlace, month: str) -> dict[str, int]:
        return _store_month(self.paths.build_db, Path(scratch.location), month)

    def build_place(self) -> DbtPlace:
        return _duckdb_place(self.paths.build_db)

    def served(self) -> Served | None:
        from hub.core.pointer import read_current

        current = read_current(self.paths.serving)
        if current is None:
            return None
        con = duckdb.connect(str(current), read_only=True)
        try:
            row = con.execute("SELECT as_of FROM _snapshot").fetchone()
        finally:
            con.close()
        return Served(row[0] if row else None)

    def publish(self, models: Sequence[PublishedModel], as_of: date | None) -> Path:
        from orchestration.publish import publish_snapshot

        return publish_snapshot(self.paths.build_db, self.paths.serving, models, as_of=as_of).path


# --- PostgreSQL: a scratch schema on the server ------------------------------------------------------------------


def scratch_schema(month: str) -> str:
    return SCRATCH_SCHEMA_PREFIX + month_key(month).replace("-", "_")


def kept_months_on_server(url: str) -> dict[str, date]:
    """month → as-of date of the kept town rows on a server warehouse (empty when nothing is kept yet)."""
    import psycopg

    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con:
        exists = con.execute("SELECT to_regclass(%s)", (f"{KEPT_SCHEMA}.town_monthly",)).fetchone()
        if not exists or exists[0] is None:
            return {}
        rows = con.execute(
            f"SELECT month, max(as_of_date) FROM {quote_ident(KEPT_SCHEMA)}.town_monthly GROUP BY month"
        ).fetchall()
    return {str(m): d for m, d in rows}


def _server_columns(con: Any, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, type as SQL) of a table's columns; information_schema's data_type says only ARRAY for text[]."""
    rows = con.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (f"{quote_ident(schema)}.{quote_ident(table)}",),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _store_month_on_server(url: str, scratch: str, month: str) -> dict[str, int]:
    """Replace the month's rows of every kept table on the server with those of schema ``scratch``, in one
    transaction (readers of the kept tables see the month before or after, never half of it)."""
    import psycopg

    counts: dict[str, int] = {}
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con, con.transaction():
        # one writer of the kept tables at a time (a second deployment pointed at the same server)
        con.execute("SELECT pg_advisory_xact_lock(hashtext('hub.assessment.kept'))")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(KEPT_SCHEMA)}")
        for table, model in KEPT_TABLES.items():
            kept = f"{quote_ident(KEPT_SCHEMA)}.{quote_ident(table)}"
            source = f"{quote_ident(scratch)}.{quote_ident(model)}"
            con.execute(f"CREATE TABLE IF NOT EXISTS {kept} AS SELECT * FROM {source} WITH NO DATA")
            have = {name for name, _ in _server_columns(con, KEPT_SCHEMA, table)}
            columns = _server_columns(con, scratch, model)
            for name, dtype in columns:
                if name not in have:  # a column added to the model since earlier months were kept
                    con.execute(f"ALTER TABLE {kept} ADD COLUMN {quote_ident(name)} {dtype}")
            names = ", ".join(quote_ident(name) for name, _ in columns)
            con.execute(f"DELETE FROM {kept} WHERE month = %s", (month,))
            con.execute(f"INSERT INTO {kept} ({names}) SELECT {names} FROM {source} WHERE month = %s", (month,))
            row = con.execute(f"SELECT count(*) FROM {kept} WHERE month = %s", (month,)).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


@dataclass(frozen=True)
class ServerMonths:
    """The kept months in schema assessment_kept of a PostgreSQL warehouse; a month is built in a scratch schema
    of the same database (the raw layer and the seeds are read there, ``main`` is not touched)."""

    url: str

    def _place(self, schema: str) -> DbtPlace:
        return DbtPlace(schema, {}, {**Warehouse(self.url).dbt_env(), SCHEMA_ENV: schema})

    def _drop_schema(self, schema: str) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")

    def check_ready(self) -> None:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S) as con:
            row = con.execute("SELECT to_regclass('raw.load_log')").fetchone()
        if not row or row[0] is None:
            raise FileNotFoundError(f"服务器数仓尚无原始层 / the server warehouse {Warehouse(self.url)} has no raw "
                                    "layer yet (run the pipeline first)")

    def kept_months(self) -> dict[str, date]:
        return kept_months_on_server(self.url)

    @contextmanager
    def scratch(self, month: str, work: Path) -> Iterator[DbtPlace]:
        schema = scratch_schema(month)
        self._drop_schema(schema)  # left by a computation that died
        try:
            yield self._place(schema)
        finally:
            self._drop_schema(schema)

    def store_month(self, scratch: DbtPlace, month: str) -> dict[str, int]:
        return _store_month_on_server(self.url, scratch.location, month)

    def build_place(self) -> DbtPlace:
        return self._place(SERVER_MODEL_SCHEMA)

    def served(self) -> Served | None:
        import psycopg

        with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S) as con:
            exists = con.execute("SELECT to_regclass(%s)", (f"{SERVING}._snapshot",)).fetchone()
            if not exists or exists[0] is None:
                return None
            row = con.execute(f"SELECT as_of FROM {SERVING}._snapshot").fetchone()
        return Served(row[0] if row else None)

    def publish(self, models: Sequence[PublishedModel], as_of: date | None) -> str:
        from hub.core.personal_data import masked_column_kinds
        from orchestration.warehouse.serving import publish_on_server

        return publish_on_server(self.url, models, masked_column_kinds(), as_of=as_of,
                                 build_schema=SERVER_MODEL_SCHEMA).version


# --- the flow ----------------------------------------------------------------------------------------------------


def compute_month(paths: HubPaths, month: str, today: date, *, recompute_closed: bool = False,
                  project_dir: Path = DBT_PROJECT_DIR, refresh_history: bool = True,
                  warehouse: Warehouse | None = None) -> MonthResult:
    """Compute ``month`` (YYYY-MM) and keep it; see the module docstring. The caller holds the build (the Dagster
    asset runs in the duckdb_writer pool, as the pipeline's dbt and publish do on either engine). ``warehouse``:
    the engine (DuckDB in ``paths`` when None); the work files (dbt's target and logs) are in ``paths`` on both."""
    month = month_key(month)
    as_of = month_as_of(month, today)
    closed = as_of == month_end(month)
    engine = month_engine(paths, warehouse)
    engine.check_ready()
    kept = engine.kept_months()
    if closed and not recompute_closed and kept.get(month) == as_of:
        return MonthResult(month=month, as_of=as_of, skipped=True, closed=True)
    work = paths.data_dir / "assessment" / "work" / month
    work.mkdir(parents=True, exist_ok=True)
    with engine.scratch(month, work) as scratch:
        models = " ".join(f"+{m}" for m in KEPT_TABLES.values())
        # build, not run: the seeds are loaded again, so an edited indicator seed counts from this month on
        _dbt(["build", "--select", models, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"],
             place=scratch, as_of=as_of, work=work, project_dir=project_dir)
        _dbt(["test", "--select", " ".join(KEPT_TABLES.values()), "--indirect-selection", "cautious",
              "--exclude-resource-type", "unit_test"],
             place=scratch, as_of=as_of, work=work, project_dir=project_dir)
        counts = engine.store_month(scratch, month)
    if refresh_history:
        refresh_history_models(paths, as_of=today, project_dir=project_dir, warehouse=warehouse)
    (work / "result.json").write_text(json.dumps({"month": month, "as_of": as_of.isoformat(), "rows": counts}),
                                      encoding="utf-8")
    return MonthResult(month=month, as_of=as_of, row_counts=counts, closed=closed)


def refresh_history_models(paths: HubPaths, *, as_of: date, project_dir: Path = DBT_PROJECT_DIR,
                           warehouse: Warehouse | None = None) -> None:
    """Rebuild the assessment_*_history tables of the shared build from the kept tables (they read nothing
    computed as of a date, so the shared views stay as they are)."""
    work = paths.data_dir / "assessment" / "work" / "history"
    work.mkdir(parents=True, exist_ok=True)
    _dbt(["run", "--select", " ".join(HISTORY_MODELS)], place=month_engine(paths, warehouse).build_place(),
         as_of=as_of, work=work, project_dir=project_dir)


def republish(paths: HubPaths, manifest_path: Path | None = None, *,
              warehouse: Warehouse | None = None) -> Path | str | None:
    """A new serving snapshot (on a server: a new ``serving`` version) with the kept months, with the same
    published models and as-of date as the current one, so the pages show a month as soon as it is kept instead
    of after the next daily publish. None when nothing was published yet (the pipeline's first publish will
    carry them)."""
    from orchestration.publish import load_manifest, published_models

    engine = month_engine(paths, warehouse)
    served = engine.served()
    if served is None:
        return None
    if manifest_path is None:
        from orchestration.dbt_project import MANIFEST_PATH

        manifest_path = MANIFEST_PATH
    return engine.publish(published_models(load_manifest(manifest_path)), served.as_of)


def main(argv: list[str] | None = None) -> int:
    """``python -m orchestration.assessment.monthly --data-dir DIR --month YYYY-MM [--today YYYY-MM-DD]``: compute
    and keep one month outside Dagster (the same code as the asset; stop other writers of the build database).
    The warehouse is ``--warehouse``, else ``HUB_WAREHOUSE``, else DuckDB, as for ``hub run``."""
    from orchestration.resources import today_in_shanghai

    parser = argparse.ArgumentParser(description="计算并保存一个月的考核 / compute and keep one month")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--today", help="YYYY-MM-DD (default: today in Asia/Shanghai)")
    parser.add_argument("--recompute-closed", action="store_true")
    parser.add_argument("--no-publish", action="store_true", help="leave the serving snapshot to the next publish")
    parser.add_argument("--warehouse", help="postgresql://… (default: HUB_WAREHOUSE, else DuckDB)")
    args = parser.parse_args(argv)
    today = date.fromisoformat(args.today) if args.today else today_in_shanghai()
    paths = HubPaths(Path(args.data_dir).resolve())
    warehouse = Warehouse.from_setting(args.warehouse)
    result = compute_month(paths, args.month, today, recompute_closed=args.recompute_closed, warehouse=warehouse)
    state = "已保存，未重算 / kept, not recomputed" if result.skipped else f"rows {result.row_counts}"
    print(f"{result.month} as of {result.as_of} ({'closed' if result.closed else 'open'}): {state}")
    if not args.no_publish and not result.skipped:
        published = republish(paths, warehouse=warehouse)
        print(f"published {published}" if published else "nothing published yet: the next publish carries it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
