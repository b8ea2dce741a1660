"""DDL of the raw layer, derived from the contracts: one table per entity plus quarantine and load log.

Schema ``raw`` in the build database. dbt declares these tables as sources
(``source('<source>', '<entity>')`` → ``raw.<source>__<entity>``), so the Dagster ingest
asset keys ``[<source>, <entity>]`` equal the dbt source keys.
"""

from __future__ import annotations

import duckdb

from hub.core.quoting import quote_ident
from orchestration.ingest.contracts import ENTITIES, Entity, FieldType

RAW_SCHEMA = "raw"

SQL_TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "VARCHAR",
    FieldType.INT: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.DATE: "DATE",
    FieldType.DATETIME: "TIMESTAMP",
    FieldType.BOOL: "BOOLEAN",
    FieldType.TEXT_LIST: "VARCHAR[]",
    FieldType.JSON: "JSON",
    FieldType.TOWN: "VARCHAR",
    FieldType.TOWN_CODE: "VARCHAR",
    FieldType.VILLAGE_CODE: "VARCHAR",
}

LINEAGE_DDL = (
    '"_source_system" VARCHAR NOT NULL',
    '"_source_file" VARCHAR NOT NULL',  # file name, or the request URL for the HTTP feed
    '"_row_number" BIGINT NOT NULL',  # 1-based data row (line, sheet row below the header, item index)
    '"_load_id" VARCHAR NOT NULL',
    '"_loaded_at" TIMESTAMP NOT NULL',
    '"_row_hash" VARCHAR NOT NULL',  # md5 of the row's contract fields, for idempotent re-loads
)

QUARANTINE_DDL = f"""
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.quarantine (
    source_system VARCHAR NOT NULL,
    entity VARCHAR,              -- NULL when a whole file is rejected
    source_file VARCHAR NOT NULL,
    row_number BIGINT,           -- NULL when a whole file is rejected
    field VARCHAR,               -- the offending field, NULL for row- or file-level reasons
    value VARCHAR,               -- the offending value as it arrived (truncated)
    reason VARCHAR NOT NULL,     -- in words, Chinese first: 日期格式无法识别 / unparseable date ...
    raw_record VARCHAR,          -- the row as it arrived (truncated), to fix it at the source
    load_id VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
)
"""

LOAD_LOG_DDL = f"""
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.load_log (
    load_id VARCHAR NOT NULL,
    source_system VARCHAR NOT NULL,
    entity VARCHAR,
    source_file VARCHAR NOT NULL,
    file_hash VARCHAR,           -- content hash; a file already loaded with this hash is skipped
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    status VARCHAR NOT NULL,     -- loaded | skipped_duplicate | rejected
    message VARCHAR,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    file_size BIGINT,            -- size and st_mtime_ns when the file was read: unchanged means not read again
    file_mtime_ns BIGINT         -- (NULL for HTTP pages and for files too freshly written to trust the mtime)
)
"""

# Columns added to raw.load_log after its first release: build databases made before get them on the next run.
LOAD_LOG_ADDED_COLUMNS = ("file_size BIGINT", "file_mtime_ns BIGINT")


def raw_table_name(entity: Entity) -> str:
    return f"{RAW_SCHEMA}.{quote_ident(entity.table)}"


def raw_table_ddl(entity: Entity) -> str:
    columns = [f"{quote_ident(f.name)} {SQL_TYPES[f.type]}" for f in entity.fields]
    return f"CREATE TABLE IF NOT EXISTS {raw_table_name(entity)} (\n    " + ",\n    ".join(
        [*columns, *LINEAGE_DDL]
    ) + "\n)"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema, every entity table, the quarantine and the load log if missing; add load-log
    columns that an older build database lacks."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
    for entity in ENTITIES:
        con.execute(raw_table_ddl(entity))
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_LOG_DDL)
    for column in LOAD_LOG_ADDED_COLUMNS:
        con.execute(f"ALTER TABLE {RAW_SCHEMA}.load_log ADD COLUMN IF NOT EXISTS {column}")
