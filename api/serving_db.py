"""Open a serving snapshot read-only and locked down (ARCHITECTURE "facts found the hard way").

One DuckDB database instance per snapshot file, opened once with one configuration (a second
``connect`` to the same file with another configuration fails); each request gets its own cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from api.catalog import Catalog, load_catalog
from api.masked_copy import masked_copy
from api.masking import sees_personal_data
from api.settings import ApiSettings
from api.versioned import VersionedResource


@dataclass
class ServingDb:
    path: Path
    conn: duckdb.DuckDBPyConnection
    catalog: Catalog
    masked_conn: duckdb.DuckDBPyConnection  # the same snapshot with personal columns masked (api.masked_copy)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.conn.cursor()

    def sql_cursor(self, role: str) -> duckdb.DuckDBPyConnection:
        """For a user's own SQL: roles that get personal data masked query the masked copy."""
        return (self.conn if sees_personal_data(role) else self.masked_conn).cursor()

    def close(self) -> None:
        self.conn.close()
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
            "lock_configuration": True,
        },
    )


def open_serving_db(path: Path, settings: ApiSettings) -> ServingDb:
    conn = _connect_locked(path, settings)
    masked = _connect_locked(masked_copy(path, settings.paths.api_dir), settings)
    return ServingDb(path=path, conn=conn, catalog=load_catalog(conn), masked_conn=masked)


def serving_snapshots(settings: ApiSettings) -> VersionedResource[ServingDb]:
    return VersionedResource(
        settings.paths.serving,
        open_fn=lambda path: open_serving_db(path, settings),
        close_fn=lambda db: db.close(),
    )
