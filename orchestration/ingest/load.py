"""Load files into the raw layer: good rows to raw.<source>__<entity>, bad rows to raw.quarantine.

All new files of one entity in one run form one batch (one staging table, one validation, one
insert, one transaction, one ``_load_id``); raw.load_log keeps one row per file.

A file is skipped when its content was loaded before (md5 in raw.load_log). Unchanged files are not
even read: when a file's size and st_mtime_ns equal those logged with its newest hash, that hash is
taken as is, like git's index. So a file rewritten in place with different content but the same size
and mtime would be missed (``touch`` it to have it read again); nothing reloads the landing folder
in full (``hub run --rebuild-all`` rebuilds dbt models, it does not re-read files), so this applies
to every run. A file modified less than ``RACY_NS`` before it was read is re-read next time, since a
same-size rewrite within one timestamp tick would not change its mtime.

Public API (others call it; keep it stable):
- ``ingest_source(con, source, landing_dir, as_of=None) -> SourceSummary``
- ``ingest_landing(db_path, landing_dir) -> list[SourceSummary]``
- ``load_parts(con, entity, parts, ...) -> list[FileResult]`` (used by the HTTP feed client)
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from stat import S_ISDIR
from types import ModuleType
from typing import NamedTuple
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from hub.core.quoting import quote_ident, sql_literal
from hub.core.safe_files import UnsafeFile, read_regular, refusal
from orchestration.ingest import four_platforms, problems, registry, urban, utility, water
from orchestration.ingest.contracts import SOURCES, SOURCES_BY_NAME, Entity
from orchestration.ingest.schema import RAW_SCHEMA, ensure_raw_schema, raw_table_name
from orchestration.ingest.staging import FilePart, stage_batch
from orchestration.ingest.summary import FileResult, SourceSummary
from orchestration.ingest.towns import ensure_town_aliases
from orchestration.ingest.validate import build_checked

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

# Input bytes validated and loaded per batch: large enough that per-batch overhead vanishes, small
# enough that memory stays bounded (the decoded text, its Arrow copy and DuckDB's checked table).
MAX_BATCH_BYTES = 96 * 1024 * 1024

# An mtime this close to the moment of reading is not trusted for skipping: a same-size rewrite within
# one timestamp tick (coarse on some file systems: 2 s on FAT, 1 s on some network shares) keeps it.
RACY_NS = 3 * 1_000_000_000

OnFile = Callable[[FileResult], None]  # progress: called once per file loaded, skipped or rejected
ReadFile = Callable[[Entity, bytes, str, str], FilePart]  # (entity, file bytes, source_file, content hash)
Rejection = tuple[FilePart, problems.FileRejected]


class FileStat(NamedTuple):
    size: int
    mtime_ns: int | None  # None when written too recently to trust (RACY_NS)


def file_stat(path: Path) -> FileStat:
    st = path.lstat()  # never through a link: links are refused, not read
    trusted = st.st_mtime_ns < time.time_ns() - RACY_NS  # taken before the read, so it bounds the read time
    return FileStat(st.st_size, st.st_mtime_ns if trusted else None)


def now_local() -> datetime:
    """Load time as naive Asia/Shanghai wall-clock time, like every timestamp in the raw layer."""
    return datetime.now(SHANGHAI).replace(tzinfo=None)


def new_load_id(source: str, entity: str) -> str:
    # Sorts by time, so "the latest load" is also the greatest id.
    return f"{datetime.now(SHANGHAI):%Y%m%dT%H%M%S%f}-{source}-{entity}-{uuid.uuid4().hex[:6]}"


def content_hash(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def loaded_hashes(con: duckdb.DuckDBPyConnection, entity: Entity) -> set[str]:
    """Content hashes whose re-load is skipped: every file loaded (or rejected) before, except that
    for snapshots only the latest one counts (going back to an older snapshot is a new load).

    (Results are fetched with fetchall: DuckDB 2 keeps a half-fetched result open and then refuses
    other work on the connection, such as registering an Arrow table.)
    """
    rows = con.execute(
        f"SELECT file_hash FROM {RAW_SCHEMA}.load_log WHERE source_system = ? AND entity = ? "
        "AND status IN ('loaded', 'rejected') AND file_hash IS NOT NULL ORDER BY finished_at DESC, load_id DESC",
        [entity.source, entity.name],
    ).fetchall()
    if entity.snapshot:
        return {rows[0][0]} if rows else set()
    return {h for (h,) in rows}


def known_digests(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, tuple[FileStat, str]]:
    """Per file name: the size, mtime and hash logged with its newest hash. The same size and mtime now
    mean the same content, so the hash is taken without reading the file."""
    rows = con.execute(
        f"SELECT source_file, file_size, file_mtime_ns, file_hash FROM {RAW_SCHEMA}.load_log "
        "WHERE source_system = ? AND entity = ? AND file_hash IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY source_file ORDER BY finished_at DESC, load_id DESC) = 1",
        [entity.source, entity.name],
    ).fetchall()
    return {f: (FileStat(size, mtime), h) for f, size, mtime, h in rows if size is not None and mtime is not None}


def _insert_good_rows(con: duckdb.DuckDBPyConnection, entity: Entity, checked: str, load_id: str,
                      loaded_at: datetime, skip_existing: bool) -> None:
    table = raw_table_name(entity)
    typed = ", ".join(f"t{i}" for i in range(len(entity.fields)))
    columns = ", ".join(quote_ident(f.name) for f in entity.fields)
    lineage = '"_source_system", "_source_file", "_row_number", "_load_id", "_loaded_at", "_row_hash"'
    where = "NOT _bad AND _duplicate_of IS NULL"
    qualify = ""
    if skip_existing:
        where += f" AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r._row_hash = c._row_hash)"
        qualify = " QUALIFY row_number() OVER (PARTITION BY _row_hash ORDER BY _file_index, _row_number) = 1"
    con.execute(
        f"INSERT INTO {table} ({columns}, {lineage}) "
        f"SELECT {typed}, ?, _source_file, _row_number, ?, ?, _row_hash FROM {checked} c WHERE {where}{qualify}",
        [entity.source, load_id, loaded_at],
    )


def _quarantine_bad_rows(con: duckdb.DuckDBPyConnection, entity: Entity, records: str, checked: str, load_id: str,
                         loaded_at: datetime) -> None:
    key_text = " || ' / ' || ".join(f"coalesce(k{n}, '')" for n in range(len(entity.key))) or "''"
    duplicate_reason = (
        f"{sql_literal(problems.DUPLICATED_ID + ': ')} || '\"' || {key_text} || '\" (首次出现于第 / first at row ' "
        "|| _duplicate_of || ')'"
    )
    record = f"left(s._raw_record, {problems.MAX_RECORD_CHARS})"
    # The raw record comes from the staged rows, joined for bad rows only.
    con.execute(
        f"""
        INSERT INTO {RAW_SCHEMA}.quarantine
        SELECT $source, $entity, b._source_file, b._row_number, b.field, b.value, b.reason, {record}, $load_id, $at
        FROM (
            SELECT _file_index, _source_file, _row_number, p.field, p.value, p.reason
            FROM (SELECT _file_index, _source_file, _row_number, unnest(_problems) AS p FROM {checked} WHERE _bad)
            UNION ALL
            SELECT _file_index, _source_file, _row_number, {sql_literal(" + ".join(entity.key))}, {key_text},
                   {duplicate_reason}
            FROM {checked} WHERE NOT _bad AND _duplicate_of IS NOT NULL
        ) b JOIN {records} s USING (_file_index, _row_number)
        ORDER BY b._file_index, b._row_number
        """,
        {"source": entity.source, "entity": entity.name, "load_id": load_id, "at": loaded_at},
    )


def _count_per_file(con: duckdb.DuckDBPyConnection, entity: Entity, checked: str, load_id: str,
                    results: dict[str, FileResult]) -> None:
    for source_file, read, bad in con.execute(
        f"SELECT _source_file, count(*), count(*) FILTER (WHERE _bad OR _duplicate_of IS NOT NULL) "
        f"FROM {checked} GROUP BY 1"
    ).fetchall():
        results[source_file].rows_read, results[source_file].rows_quarantined = read, bad
    for source_file, loaded in con.execute(
        f"SELECT _source_file, count(*) FROM {raw_table_name(entity)} WHERE _load_id = ? GROUP BY 1", [load_id]
    ).fetchall():
        results[source_file].rows_loaded = loaded
    for source_file, kind, count in con.execute(
        f"""
        SELECT _source_file, split_part(p.reason, ': ', 1), count(*)
        FROM (SELECT _source_file, unnest(_problems) AS p FROM {checked} WHERE _bad) GROUP BY 1, 2
        UNION ALL
        SELECT _source_file, {sql_literal(problems.DUPLICATED_ID)}, count(*) FROM {checked}
        WHERE NOT _bad AND _duplicate_of IS NOT NULL GROUP BY 1
        """
    ).fetchall():
        results[source_file].reasons[kind] += count
    for result in results.values():
        result.rows_unchanged = result.rows_read - result.rows_loaded - result.rows_quarantined


def _record_rejections(con: duckdb.DuckDBPyConnection, entity: Entity, rejections: Sequence[Rejection],
                       load_id: str, loaded_at: datetime) -> list[FileResult]:
    results = []
    for part, rejection in rejections:
        result = FileResult(part.source_file, entity.name, "rejected", message=rejection.reason)
        result.reasons[problems.reason_kind(rejection.reason)] += 1
        con.execute(
            f"INSERT INTO {RAW_SCHEMA}.quarantine VALUES (?, ?, ?, NULL, ?, NULL, ?, NULL, ?, ?)",
            [entity.source, entity.name, part.source_file, rejection.field, rejection.reason, load_id, loaded_at],
        )
        results.append(result)
    return results


def _log_files(con: duckdb.DuckDBPyConnection, entity: Entity, results: Sequence[FileResult],
               hashes: dict[str, str | None], stats: Mapping[str, FileStat], load_id: str,
               started_at: datetime) -> None:
    """One raw.load_log row per file, inserted from one Arrow table (executemany costs ~7 ms a row)."""
    file_stats = [stats.get(r.source_file) for r in results]  # None for HTTP pages
    log = pa.table({
        "source_file": pa.array([r.source_file for r in results], pa.string()),
        "file_hash": pa.array([hashes.get(r.source_file) for r in results], pa.string()),
        "rows_read": pa.array([r.rows_read for r in results], pa.int64()),
        "rows_loaded": pa.array([r.rows_loaded for r in results], pa.int64()),
        "rows_quarantined": pa.array([r.rows_quarantined for r in results], pa.int64()),
        "status": pa.array([r.status for r in results], pa.string()),
        "message": pa.array([r.message or None for r in results], pa.string()),
        "file_size": pa.array([s.size if s else None for s in file_stats], pa.int64()),
        "file_mtime_ns": pa.array([s.mtime_ns if s else None for s in file_stats], pa.int64()),
    })
    con.register("ingest_load_log_rows", log)
    try:
        con.execute(
            f"INSERT INTO {RAW_SCHEMA}.load_log SELECT $load_id, $source, $entity, source_file, file_hash, rows_read, "
            "rows_loaded, rows_quarantined, status, message, $started, $finished, file_size, file_mtime_ns "
            "FROM ingest_load_log_rows",
            {"load_id": load_id, "source": entity.source, "entity": entity.name, "started": started_at,
             "finished": now_local()},
        )
    finally:
        con.unregister("ingest_load_log_rows")


def load_parts(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    parts: Sequence[FilePart],
    rejections: Sequence[Rejection] = (),
    skipped: Sequence[FilePart] = (),
    skip_existing: bool = False,
    file_stats: Mapping[str, FileStat] | None = None,
) -> list[FileResult]:
    """Validate the parts as one batch and write good rows, quarantine rows and one load_log row per
    file (loaded, rejected or skipped_duplicate) in one transaction. Returns one result per file.
    ``file_stats`` (by source_file) is logged so that unchanged files need not be read next time."""
    load_id, loaded_at = new_load_id(entity.source, entity.name), now_local()
    hashes = {p.source_file: p.content_hash for p in [*parts, *skipped, *(p for p, _ in rejections)]}
    staged = checked = None
    try:
        staged = stage_batch(con, entity, parts) if parts else None
        checked = build_checked(con, entity, staged.relation) if staged else None
        con.begin()
        try:
            loaded: dict[str, FileResult] = {}
            all_rejections = list(rejections)
            if staged and checked:
                all_rejections += staged.rejected
                loaded = {p.source_file: FileResult(p.source_file, entity.name, "loaded", message="; ".join(p.notes))
                          for p in staged.parts}
                _insert_good_rows(con, entity, checked, load_id, loaded_at, skip_existing)
                _quarantine_bad_rows(con, entity, staged.records, checked, load_id, loaded_at)
                _count_per_file(con, entity, checked, load_id, loaded)
            results = [
                *loaded.values(),
                *_record_rejections(con, entity, all_rejections, load_id, loaded_at),
                *(FileResult(p.source_file, entity.name, "skipped_duplicate",
                             message="内容与已入库文件相同 / same content already loaded") for p in skipped),
            ]
            _log_files(con, entity, results, hashes, file_stats or {}, load_id, loaded_at)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    finally:
        if checked:
            con.execute(f"DROP TABLE IF EXISTS {checked}")
        if staged:
            staged.drop(con)
    order = {name: i for i, name in enumerate(sorted(hashes))}
    return sorted(results, key=lambda r: order.get(r.source_file, 0))


def ingest_entity(con: duckdb.DuckDBPyConnection, entity: Entity, paths: Sequence[Path],
                  landing_dir: Path, batch_bytes: int = MAX_BATCH_BYTES,
                  on_file: OnFile | None = None) -> list[FileResult]:
    """Read every new file of one entity (skipping content already loaded, unread when its size and
    mtime are unchanged) and load them in batches of about ``batch_bytes`` of input, so memory stays
    bounded at any scale."""
    read_file: ReadFile = SOURCE_MODULES[entity.source].read_file
    skip_existing = entity.source in SKIP_EXISTING_ROWS
    results: list[FileResult] = []
    parts: list[FilePart] = []
    rejections: list[Rejection] = []
    skipped: list[FilePart] = []
    pending_bytes = 0
    seen = loaded_hashes(con, entity)
    known = known_digests(con, entity)
    stats: dict[str, FileStat] = {}
    for path in paths:
        source_file = path.relative_to(landing_dir).as_posix()
        # Only regular files inside the source folder are read: a link (to /etc/passwd, /proc/self/environ,
        # /dev/zero, or dangling), a device or a FIFO is refused unread, with the reason in the load log.
        if refused := refusal(path, path.parent):
            rejections.append((FilePart(source_file, None), problems.FileRejected(f"{refused} ({source_file})")))
            continue
        stat = stats[source_file] = file_stat(path)
        digest = _unchanged_digest(known, source_file, stat)
        data = b""
        if digest not in seen:  # new or changed, or a snapshot to go back to: read it
            try:
                data = read_regular(path, path.parent)  # read once: hashed, then parsed; O_NOFOLLOW
            except UnsafeFile as unsafe:  # swapped for a link or a FIFO since it was listed
                rejected = problems.FileRejected(f"{unsafe.reason} ({source_file})")
                rejections.append((FilePart(source_file, None), rejected))
                continue
            digest = content_hash(data)
        if digest in seen:
            skipped.append(FilePart(source_file, digest))
            continue
        seen.add(digest)
        try:
            if not data or data.isspace():  # a failed export, not a quiet day: say so instead of loading 0 rows
                raise problems.FileRejected(f"{problems.EMPTY_FILE}: {source_file}")
            parts.append(read_file(entity, data, source_file, digest))
            pending_bytes += len(data)
        except problems.FileRejected as rejection:
            rejections.append((FilePart(source_file, digest), rejection))
        if pending_bytes >= batch_bytes:
            results += _reported(load_parts(con, entity, parts, rejections, skipped, skip_existing, stats), on_file)
            parts, rejections, skipped, pending_bytes = [], [], [], 0
    if parts or rejections or skipped:
        results += _reported(load_parts(con, entity, parts, rejections, skipped, skip_existing, stats), on_file)
    return results


def _unchanged_digest(known: dict[str, tuple[FileStat, str]], source_file: str, stat: FileStat) -> str | None:
    """The logged hash of the file if its size and mtime are those logged with it, else None."""
    logged = known.get(source_file)
    return logged[1] if logged and logged[0] == stat and stat.mtime_ns is not None else None


def _reported(results: list[FileResult], on_file: OnFile | None) -> list[FileResult]:
    if on_file is not None:
        for result in results:
            on_file(result)
    return results


def source_file_count(source: str, landing_dir: Path) -> int:
    """How many (file, entity) loads ingest_source will report, for progress bars."""
    return sum(len(entity_files(e, Path(landing_dir))) for e in SOURCES_BY_NAME[source].entities)


def entity_files(entity: Entity, landing_dir: Path) -> list[Path]:
    """The entity's entries under landing_dir/<source>/, in name order: regular files, and links, devices or
    FIFOs with a matching name (these are refused with a reason by ``ingest_entity``, never read); not
    sub-folders."""
    folder = landing_dir / entity.source
    return sorted(p for p in folder.glob(entity.file_pattern) if not S_ISDIR(p.lstat().st_mode))


def ingest_source(con: duckdb.DuckDBPyConnection, source: str, landing_dir: Path,
                  as_of: date | None = None, *, on_file: OnFile | None = None,
                  warehouse: str | None = None) -> SourceSummary:
    """Load every matching file under landing_dir/<source>/ in name order.

    ``as_of`` is accepted for a stable interface; validation does not depend on it (dates after
    the as-of date are a quality finding, not a contract break). ``warehouse``: a postgresql:// URL whose
    raw schema then receives every load it lacks (orchestration.warehouse.postgres.sync_raw).
    """
    if source not in SOURCES_BY_NAME:
        known = ", ".join(SOURCES_BY_NAME)
        raise ValueError(f"未知数据源 / unknown source {source!r} (known: {known})")
    landing_dir = Path(landing_dir).resolve()
    con.execute("SET enable_progress_bar = false")  # the CLI and Dagster report progress themselves
    ensure_raw_schema(con)
    ensure_town_aliases(con)
    summary = SourceSummary(source)
    for entity in SOURCES_BY_NAME[source].entities:
        files = entity_files(entity, landing_dir)
        if files:
            for result in ingest_entity(con, entity, files, landing_dir, on_file=on_file):
                summary.add(result)
    if warehouse:
        from orchestration.warehouse.postgres import sync_raw

        sync_raw(con, warehouse)
    return summary


def ingest_landing(db_path: Path, landing_dir: Path, warehouse: str | None = None) -> list[SourceSummary]:
    """Load all five sources from landing_dir into the DuckDB file db_path (and, given a postgresql:// URL
    as ``warehouse``, into that server's raw schema)."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path)) as con:
        ensure_raw_schema(con)
        return [ingest_source(con, s.name, landing_dir, warehouse=warehouse) for s in SOURCES]
