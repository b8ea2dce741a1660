"""The DuckDB resource every ingest asset writes through (the build database under HUB_DATA_DIR)."""

from __future__ import annotations

from dagster_duckdb import DuckDBResource

from hub.core.paths import HubPaths

DUCKDB_RESOURCE_KEY = "duckdb"
# All DuckDB writers share this Dagster concurrency pool; its limit of 1 is set in dagster.yaml.
DUCKDB_WRITER_POOL = "duckdb_writer"


def duckdb_resource(paths: HubPaths | None = None) -> DuckDBResource:
    """A DuckDBResource on ``paths.build_db`` (default: HubPaths.from_env()); creates the folder."""
    paths = paths or HubPaths.from_env()
    paths.build_db.parent.mkdir(parents=True, exist_ok=True)
    return DuckDBResource(database=str(paths.build_db))
