"""Open a serving snapshot read-only and locked down (defence in depth: the boundary is hub/core/sql_guard.py).

One DuckDB database instance per snapshot file, opened once with one configuration (a second
``connect`` to the same file with another configuration fails); each request gets its own cursor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from api.catalog import Catalog, load_catalog
from api.errors import problem
from api.masked_copy import masked_copy
from api.masking import sees_personal_data
from api.settings import ApiSettings
from api.versioned import VersionedResource
from hub.core.lru import LruCache

logger = logging.getLogger(__name__)


@dataclass
class ServingDb:
    path: Path
    conn: duckdb.DuckDBPyConnection
    catalog: Catalog
    masked_conn: duckdb.DuckDBPyConnection | None  # the snapshot with personal columns masked (api.masked_copy)
    # (query, parameters) → count or facet counts of this snapshot, which never changes once published
    counts: LruCache[tuple[str, str], Any]

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.conn.cursor()

    def sql_cursor(self, role: str) -> duckdb.DuckDBPyConnection:
        """For a user's own SQL: roles that get personal data masked query the masked copy."""
        if sees_personal_data(role):
            return self.conn.cursor()
        if self.masked_conn is None:
            raise problem(503, "masked_copy_unavailable", "脱敏副本不可用，暂不能为此角色执行 SQL；表格接口照常可用",
                          "the masked copy is unavailable, so SQL is off for this role; /api/tables still works")
        return self.masked_conn.cursor()

    def close(self) -> None:
        self.conn.close()
        if self.masked_conn is not None:
            self.masked_conn.close()


def _connect_locked(path: Path, settings: ApiSettings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        str(path),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "memory_limit": settings.memory_limit,
            "threads": settings.threads,
            "max_execution_time": settings.sql_timeout_ms,
            # A sort or join larger than memory may spill this much to disk, no more (then it fails).
            "max_temp_directory_size": settings.max_temp_directory_size,
            "lock_configuration": True,
        },
    )


def open_serving_db(path: Path, settings: ApiSettings) -> ServingDb:
    conn = _connect_locked(path, settings)
    counts: LruCache[tuple[str, str], Any] = LruCache(settings.count_cache_size)
    if settings.warehouse_url:  # users' SQL runs on the server (api.warehouse_sql): no masked copy to make
        return ServingDb(path=path, conn=conn, catalog=load_catalog(conn), masked_conn=None, counts=counts)
    try:
        masked = _connect_locked(masked_copy(path, settings.paths.api_dir), settings)
    except (OSError, duckdb.Error):  # e.g. a read-only data directory: serve the rest, refuse only that SQL
        logger.exception("cannot make the masked copy of %s", path)
        masked = None
    return ServingDb(path=path, conn=conn, catalog=load_catalog(conn), masked_conn=masked, counts=counts)


def serving_snapshots(settings: ApiSettings) -> VersionedResource[ServingDb]:
    return VersionedResource(
        settings.paths.serving,
        open_fn=lambda path: open_serving_db(path, settings),
        close_fn=lambda db: db.close(),
    )
