"""Load staged files into the raw layer: good rows to raw.<source>__<entity>, bad rows to raw.quarantine.

Public API (others call it; keep it stable):
- ``ingest_source(con, source, landing_dir, as_of=None) -> SourceSummary``
- ``ingest_landing(db_path, landing_dir) -> list[SourceSummary]``
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import duckdb

from orchestration.ingest import four_platforms, problems, registry, urban, utility, water
from orchestration.ingest.contracts import SOURCES, SOURCES_BY_NAME, Entity
from orchestration.ingest.schema import RAW_SCHEMA, ensure_raw_schema, quote, raw_table_name
from orchestration.ingest.staging import Staged
from orchestration.ingest.summary import FileResult, SourceSummary
from orchestration.ingest.towns import ensure_town_aliases
from orchestration.ingest.validate import build_checked, sql_str

SHANGHAI = ZoneInfo("Asia/Shanghai")

SOURCE_MODULES: dict[str, ModuleType] = {
    "four_platforms": four_platforms,
    "water": water,
    "urban": urban,
    "utility": utility,
    "registry": registry,
}

# Event versions arrive both as daily files and over the HTTP feed: a row whose content is
# already stored (same key, same row hash) is not inserted again.
SKIP_EXISTING_ROWS = {"four_platforms"}

StageFile = Callable[[duckdb.DuckDBPyConnection, Entity, Path, str], Staged]


def now_local() -> datetime:
    """Load time as naive Asia/Shanghai wall-clock time, like every timestamp in the raw layer."""
    return datetime.now(SHANGHAI).replace(tzinfo=None)


def new_load_id(source: str, entity: str) -> str:
    # Sorts by time, so "the latest load" is also the greatest id.
    return f"{datetime.now(SHANGHAI):%Y%m%dT%H%M%S%f}-{source}-{entity}-{uuid.uuid4().hex[:6]}"


def file_hash(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def already_loaded(con: duckdb.DuckDBPyConnection, entity: Entity, content_hash: str) -> bool:
    """Same content loaded before; for snapshots only when it is the latest snapshot.

    (Results are fetched with fetchall: DuckDB 2 keeps a half-fetched result open and then refuses
    other work on the connection, such as registering an Arrow table.)
    """
    if entity.snapshot:
        latest = con.execute(
            f"SELECT file_hash FROM {RAW_SCHEMA}.load_log WHERE source_system = ? AND entity = ? "
            "AND status IN ('loaded', 'rejected') ORDER BY finished_at DESC, load_id DESC LIMIT 1",
            [entity.source, entity.name],
        ).fetchall()
        return bool(latest) and latest[0][0] == content_hash
    found = con.execute(
        f"SELECT 1 FROM {RAW_SCHEMA}.load_log WHERE source_system = ? AND entity = ? AND file_hash = ? "
        "AND status IN ('loaded', 'rejected') LIMIT 1",
        [entity.source, entity.name, content_hash],
    ).fetchall()
    return bool(found)


def _log(con: duckdb.DuckDBPyConnection, load_id: str, entity: Entity, result: FileResult, content_hash: str | None,
         started_at: datetime) -> None:
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}.load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, entity.source, entity.name, result.source_file, content_hash, result.rows_read, result.rows_loaded,
         result.rows_quarantined, result.status, result.message or None, started_at, now_local()],
    )


def record_rejection(con: duckdb.DuckDBPyConnection, entity: Entity, source_file: str, content_hash: str | None,
                     rejection: problems.FileRejected) -> FileResult:
    """A file (or one entity's sheet) that cannot be read: one quarantine row and a load_log row."""
    load_id, started_at = new_load_id(entity.source, entity.name), now_local()
    result = FileResult(source_file, entity.name, "rejected", message=rejection.reason)
    result.reasons[problems.reason_kind(rejection.reason)] += 1
    con.execute(
        f"INSERT INTO {RAW_SCHEMA}.quarantine VALUES (?, ?, ?, NULL, ?, NULL, ?, NULL, ?, ?)",
        [entity.source, entity.name, source_file, rejection.field, rejection.reason, load_id, started_at],
    )
    _log(con, load_id, entity, result, content_hash, started_at)
    return result


def load_staged(con: duckdb.DuckDBPyConnection, staged: Staged, source_file: str, content_hash: str | None,
                skip_existing: bool = False) -> FileResult:
    """Validate a staged batch and write good rows, quarantine rows and the load log in one transaction."""
    entity = staged.entity
    load_id, loaded_at = new_load_id(entity.source, entity.name), now_local()
    checked = build_checked(con, entity, staged.relation)
    table = raw_table_name(entity)
    typed = ", ".join(f"t{i}" for i in range(len(entity.fields)))
    columns = ", ".join(quote(f.name) for f in entity.fields)
    lineage = '"_source_system", "_source_file", "_row_number", "_load_id", "_loaded_at", "_row_hash"'
    good = "len(_problems) = 0 AND _duplicate_of IS NULL"
    existing = f" AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r._row_hash = c._row_hash)" if skip_existing else ""
    key_idx = [entity.field_names.index(k) for k in entity.key]
    key_text = " || ' / ' || ".join(f"coalesce(s{i}, '')" for i in key_idx) or "''"
    duplicate_reason = (
        f"{sql_str(problems.DUPLICATED_ID + ': ')} || '\"' || {key_text} || '\" (首次出现于第 / first at row ' "
        "|| _duplicate_of || ')'"
    )
    params = [entity.source, source_file, load_id, loaded_at]
    result = FileResult(source_file, entity.name, "loaded", rows_read=staged.rows_read, message="; ".join(staged.notes))
    con.begin()
    try:
        row = con.execute(
            f"INSERT INTO {table} ({columns}, {lineage}) "
            f"SELECT {typed}, ?, ?, _row_number, ?, ?, _row_hash FROM {checked} c WHERE {good}{existing} "
            "ORDER BY _row_number",
            params,
        ).fetchall()
        result.rows_loaded = row[0][0]
        con.execute(
            f"""
            INSERT INTO {RAW_SCHEMA}.quarantine
            SELECT ?, {sql_str(entity.name)}, ?, _row_number, p.field, p.value, p.reason,
                   left(_raw_record, {problems.MAX_RECORD_CHARS}), ?, ?
            FROM (SELECT _row_number, _raw_record, unnest(_problems) AS p FROM {checked})
            UNION ALL
            SELECT ?, {sql_str(entity.name)}, ?, _row_number, {sql_str(" + ".join(entity.key))}, {key_text},
                   {duplicate_reason}, left(_raw_record, {problems.MAX_RECORD_CHARS}), ?, ?
            FROM {checked} WHERE len(_problems) = 0 AND _duplicate_of IS NOT NULL
            """,
            params + params,
        )
        counts = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE NOT ({good})) FROM {checked}
            """
        ).fetchall()
        result.rows_quarantined = counts[0][0]
        result.rows_unchanged = result.rows_read - result.rows_loaded - result.rows_quarantined
        for kind, count in con.execute(
            f"""
            SELECT split_part(p.reason, ': ', 1), count(*)
            FROM (SELECT unnest(_problems) AS p FROM {checked}) GROUP BY 1
            UNION ALL
            SELECT {sql_str(problems.DUPLICATED_ID)}, count(*) FROM {checked}
            WHERE len(_problems) = 0 AND _duplicate_of IS NOT NULL HAVING count(*) > 0
            """
        ).fetchall():
            result.reasons[kind] += count
        _log(con, load_id, entity, result, content_hash, loaded_at)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {checked}")
    return result


def load_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, landing_dir: Path) -> FileResult:
    """Load one file for one entity (a workbook is loaded once per sheet/entity)."""
    source_file = path.relative_to(landing_dir).as_posix()
    content_hash = file_hash(path)
    if already_loaded(con, entity, content_hash):
        result = FileResult(source_file, entity.name, "skipped_duplicate",
                            message="内容与已入库文件相同 / same content already loaded")
        _log(con, new_load_id(entity.source, entity.name), entity, result, content_hash, now_local())
        return result
    stage_file: StageFile = SOURCE_MODULES[entity.source].stage_file
    try:
        staged = stage_file(con, entity, path, source_file)
    except problems.FileRejected as rejection:
        return record_rejection(con, entity, source_file, content_hash, rejection)
    try:
        return load_staged(con, staged, source_file, content_hash, skip_existing=entity.source in SKIP_EXISTING_ROWS)
    finally:
        staged.drop(con)


def source_files(source: str, landing_dir: Path) -> list[tuple[Path, Entity]]:
    """Every (file, entity) to load under landing_dir/<source>/, in file-name order."""
    folder = landing_dir / source
    found = [
        (path, entity)
        for entity in SOURCES_BY_NAME[source].entities
        for path in folder.glob(entity.file_pattern)
        if path.is_file()
    ]
    order = {e.name: i for i, e in enumerate(SOURCES_BY_NAME[source].entities)}
    return sorted(found, key=lambda pe: (pe[0].name, order[pe[1].name]))


def ingest_source(con: duckdb.DuckDBPyConnection, source: str, landing_dir: Path,
                  as_of: date | None = None) -> SourceSummary:
    """Load every matching file under landing_dir/<source>/ in name order.

    ``as_of`` is accepted for a stable interface; validation does not depend on it (dates after
    the as-of date are a quality finding, not a contract break).
    """
    if source not in SOURCES_BY_NAME:
        known = ", ".join(SOURCES_BY_NAME)
        raise ValueError(f"未知数据源 / unknown source {source!r} (known: {known})")
    landing_dir = Path(landing_dir).resolve()
    ensure_raw_schema(con)
    ensure_town_aliases(con)
    summary = SourceSummary(source)
    for path, entity in source_files(source, landing_dir):
        summary.add(load_file(con, entity, path, landing_dir))
    return summary


def ingest_landing(db_path: Path, landing_dir: Path) -> list[SourceSummary]:
    """Load all five sources from landing_dir into the DuckDB file db_path."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path)) as con:
        ensure_raw_schema(con)
        return [ingest_source(con, s.name, landing_dir) for s in SOURCES]
