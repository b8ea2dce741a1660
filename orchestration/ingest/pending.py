"""Which sources have files the build database has not logged yet: what ingest would actually load.

The same test ingest uses to skip reading a file (its size and mtime are those logged with its newest
hash, ``known_digests``), asked beforehand and read-only: by ``hub run`` to choose the ingest assets
to run, and by the landing sensors so that files already loaded (e.g. by ``hub run``) start no run.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest.contracts import SOURCES, SOURCES_BY_NAME, Entity
from orchestration.ingest.load import FileStat, _unchanged_digest, entity_files, file_stat, known_digests


def source_has_new_files(con: duckdb.DuckDBPyConnection | None, source: str, landing: Path) -> bool:
    """Whether a file of ``source`` is not loaded as it is now (``con`` None: nothing is logged yet)."""
    for entity in SOURCES_BY_NAME[source].entities:
        files = entity_files(entity, landing)
        if not files:
            continue
        known = _logged(con, entity)
        for path in files:
            if _unchanged_digest(known, path.relative_to(landing).as_posix(), file_stat(path)) is None:
                return True
    return False


def open_build_db(build_db: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection, or None when the database does not exist yet. Raises duckdb.Error when another
    process holds it for writing."""
    return duckdb.connect(str(build_db), read_only=True) if build_db.exists() else None


def sources_with_new_files(build_db: Path, landing: Path) -> set[str]:
    """Sources with at least one file not loaded as it is now (every source with files when unreadable)."""
    try:
        con = open_build_db(build_db)
    except duckdb.Error:
        con = None  # held by a writer now: let ingest look at every source
    try:
        return {s.name for s in SOURCES if source_has_new_files(con, s.name, landing)}
    finally:
        if con is not None:
            con.close()


def _logged(con: duckdb.DuckDBPyConnection | None, entity: Entity) -> dict[str, tuple[FileStat, str]]:
    if con is None:
        return {}
    try:
        return known_digests(con, entity)
    except duckdb.CatalogException:  # no load log yet
        return {}
