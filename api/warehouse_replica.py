"""A local read-only replica of a PostgreSQL warehouse's current published version, as a serving snapshot.

Why a replica: docs/decisions/0013-serve-a-server-warehouse-from-a-local-replica.md. Table pages, town dossiers,
exports, quality and assessment pages keep the API's one SQL dialect (DuckDB) and its snapshot switching
(``api.versioned``): the replica is a DuckDB file in the snapshot format (``_tables``, ``_snapshot`` and one table
per published view) under ``<data dir>/serving/``, published with the same pointer functions as a pipeline
snapshot. Its name ends with the server version it mirrors (``serving-<time>-serving_v<time>.duckdb``) and its
``_snapshot`` row carries it in ``server_version``.

The copy reads the version schema itself (``serving_v…``), which never changes once published, rather than the
``serving`` views, which a publish may switch mid-copy: a replica holds one version, never a mix. Tables come over
as Arrow record batches (ADBC, PostgreSQL's binary COPY format) straight into DuckDB, never row by row. Several
API workers on one data directory make one replica per version: each takes an exclusive lock, looks again, and
only the first copies.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from hub.core.pointer import new_build_path, publish_build, read_current, version_name
from hub.core.quoting import quote_ident, sql_literal
from hub.core.serving_server import current_version

logger = logging.getLogger("api.warehouse")

SNAPSHOT_PREFIX = "serving"  # the pipeline's snapshot prefix: replicas and snapshots are one kind of version
LOCK_FILE = ".replica.lock"  # hidden: the pointer functions never list or prune dot files
CATALOG_TABLES = ("_tables", "_snapshot")
KEEP = 3
# PostgreSQL types whose Arrow form DuckDB reads as the type a DuckDB build gives the same column; anything else
# is cast on the server (NUMERIC to double precision as DuckDB builds compute it, JSON and the rest to text).
AS_IS = frozenset({
    "text", "character varying", "character", "bigint", "integer", "smallint", "double precision", "real",
    "boolean", "date", "timestamp without time zone", "timestamp with time zone", "ARRAY",
})
CASTS = {"numeric": "double precision"}


def replica_suffix(server_version: str) -> str:
    return f"-{server_version}.duckdb"


def mirrored_version(serving_root: Path) -> str | None:
    """The server version the published replica under ``serving_root`` mirrors (None: none, or not a replica)."""
    current = read_current(serving_root)
    if current is None or not current.name.endswith(".duckdb"):
        return None
    tail = current.name.removesuffix(".duckdb").rsplit("-", 1)[-1]
    return tail if tail.startswith("serving_v") else None


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """One mirror at a time per data directory (the kernel releases the lock however the process ends)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def mirror_current(url: str, serving_root: Path, keep: int = KEEP) -> str | None:
    """Make the replica of the server's current version unless it is the published one already.
    Returns the server version now served (None before the server's first publish)."""
    version = current_version(url)
    if version is None or mirrored_version(serving_root) == version:
        return version
    with _exclusive(serving_root / LOCK_FILE):
        if mirrored_version(serving_root) == version:  # another worker made it while this one waited
            return version
        name = version_name(SNAPSHOT_PREFIX, replica_suffix(version))
        build = new_build_path(serving_root, name)
        try:
            copy_version(url, version, build)
            publish_build(serving_root, build, name, keep=keep)
        finally:
            build.unlink(missing_ok=True)
            Path(f"{build}.wal").unlink(missing_ok=True)
    logger.info("serving the replica of %s", version)
    return version


def _select_list(cur: Any, version: str, table: str) -> str:
    """The table's columns, each cast on the server where DuckDB would not read its Arrow form as a build would."""
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
        "ORDER BY ordinal_position", parameters=(version, table))
    columns = cur.fetchall()
    if not columns:
        raise LookupError(f"{version}.{table} has no columns (the version was dropped?)")
    out = []
    for column, data_type in columns:
        quoted = quote_ident(column)
        cast = CASTS.get(data_type) or ("text" if data_type not in AS_IS else None)
        out.append(f"{quoted}::{cast} AS {quoted}" if cast else quoted)
    return ", ".join(out)


def copy_version(url: str, version: str, target: Path) -> None:
    """Every table of the version schema into a new DuckDB file at ``target``, in the snapshot format."""
    import adbc_driver_postgresql.dbapi as adbc

    con = duckdb.connect(str(target))
    try:
        with adbc.connect(url) as pg, pg.cursor() as cur:
            cur.execute(f"SELECT table_name FROM {quote_ident(version)}._tables ORDER BY table_name")
            tables = [row[0] for row in cur.fetchall()]
            for table in [*tables, *CATALOG_TABLES]:
                source = f"{quote_ident(version)}.{quote_ident(table)}"
                cur.execute(f"SELECT {_select_list(cur, version, table)} FROM {source}")
                batches = cur.fetch_record_batch()  # noqa: F841  (read by name by DuckDB's replacement scan)
                con.execute(f"CREATE TABLE main.{quote_ident(table)} AS SELECT * FROM batches")
        # the catalog as a DuckDB snapshot types it, and the server version this replica mirrors
        con.execute('ALTER TABLE _tables ALTER "columns" TYPE JSON')
        con.execute("ALTER TABLE _snapshot ALTER row_counts TYPE JSON")
        con.execute(f"ALTER TABLE _snapshot ADD COLUMN server_version VARCHAR DEFAULT {sql_literal(version)}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
