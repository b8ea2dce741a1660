"""Which sources have files the build database has not logged yet: what a one-shot run must ingest.

The same test ingest uses to skip reading a file (its size and mtime are those logged with its newest
hash, ``known_digests``), asked before the run, read-only: a source with no new or changed file would
load nothing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest.contracts import SOURCES, Entity
from orchestration.ingest.load import FileStat, _unchanged_digest, entity_files, file_stat, known_digests


def sources_with_new_files(build_db: Path, landing: Path) -> set[str]:
    """Sources with at least one file not loaded as it is now (every source with files when nothing is logged)."""
    try:
        con = duckdb.connect(str(build_db), read_only=True) if build_db.exists() else None
    except duckdb.Error:
        con = None  # unreadable now: let ingest look at every source
    pending: set[str] = set()
    try:
        for source in SOURCES:
            for entity in source.entities:
                files = entity_files(entity, landing)
                if not files or source.name in pending:
                    continue
                known = _logged(con, entity)
                for path in files:
                    name = path.relative_to(landing).as_posix()
                    if _unchanged_digest(known, name, file_stat(path)) is None:
                        pending.add(source.name)
                        break
    finally:
        if con is not None:
            con.close()
    return pending


def _logged(con: duckdb.DuckDBPyConnection | None, entity: Entity) -> dict[str, tuple[FileStat, str]]:
    if con is None:
        return {}
    try:
        return known_digests(con, entity)
    except duckdb.CatalogException:  # no load log yet
        return {}
