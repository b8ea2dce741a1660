"""The raw layer on a PostgreSQL server: DDL from the contracts, and the bulk copy of loads from DuckDB.

Ingest stays as it is: files are read, validated and quarantined in the DuckDB build database (contracts,
lineage columns, load log, duplicate detection). ``sync_raw`` then copies to the server every load that the
server does not hold yet, in bulk (Arrow record batches through ADBC ``adbc_ingest``, i.e. binary COPY, into a
temporary table, then one INSERT … SELECT per table on the server): the entity tables of ``raw``,
``raw.quarantine`` and ``raw.load_log``. All of it is one server transaction, so the server holds a load
completely or not at all; a crash between the DuckDB commit and the server commit is repaired by the next
sync (it compares the ``_load_id`` values on both sides), so a rerun ends equal to an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb

from hub.core.quoting import quote_ident
from hub.core.serving_server import CONNECT_TIMEOUT_S
from orchestration.ingest.contracts import ENTITIES, Entity, FieldType
from orchestration.ingest.schema import RAW_SCHEMA

PG_TYPES: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.INT: "bigint",
    FieldType.FLOAT: "double precision",
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamp",
    FieldType.BOOL: "boolean",
    FieldType.TEXT_LIST: "text[]",
    FieldType.JSON: "jsonb",
    FieldType.TOWN: "text",
    FieldType.TOWN_CODE: "text",
    FieldType.VILLAGE_CODE: "text",
}

LINEAGE = (
    ("_source_system", "text not null"),
    ("_source_file", "text not null"),
    ("_row_number", "bigint not null"),
    ("_load_id", "text not null"),
    ("_loaded_at", "timestamp not null"),
    ("_row_hash", "text not null"),
)

QUARANTINE = (
    ("source_system", "text not null"), ("entity", "text"), ("source_file", "text not null"),
    ("row_number", "bigint"), ("field", "text"), ("value", "text"), ("reason", "text not null"),
    ("raw_record", "text"), ("load_id", "text not null"), ("loaded_at", "timestamp not null"),
)

LOAD_LOG = (
    ("load_id", "text not null"), ("source_system", "text not null"), ("entity", "text"),
    ("source_file", "text not null"), ("file_hash", "text"), ("rows_read", "bigint not null"),
    ("rows_loaded", "bigint not null"), ("rows_quarantined", "bigint not null"), ("status", "text not null"),
    ("message", "text"), ("started_at", "timestamp not null"), ("finished_at", "timestamp not null"),
    ("file_size", "bigint"), ("file_mtime_ns", "bigint"),
)


@dataclass(frozen=True)
class RawTable:
    name: str  # table name inside schema raw
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)
    load_id_column: str
    index_columns: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{RAW_SCHEMA}.{quote_ident(self.name)}"

    def ddl(self) -> list[str]:
        cols = ",\n    ".join(f"{quote_ident(n)} {t}" for n, t in self.columns)
        statements = [f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n    {cols}\n)"]
        for column in self.index_columns:
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {quote_ident(f'{self.name}__{column.strip(chr(95))}')} "
                f"ON {self.qualified} ({quote_ident(column)})"
            )
        return statements


def entity_table(entity: Entity) -> RawTable:
    columns = tuple((f.name, PG_TYPES[f.type]) for f in entity.fields) + LINEAGE
    return RawTable(entity.table, columns, "_load_id", ("_load_id",))


RAW_TABLES: tuple[RawTable, ...] = (
    *(entity_table(e) for e in ENTITIES),
    RawTable("quarantine", QUARANTINE, "load_id", ("load_id",)),
    RawTable("load_log", LOAD_LOG, "load_id", ("load_id",)),
)


def ensure_raw_schema(pg) -> None:
    """Create schema raw and every raw table on the server if missing (the same tables as in DuckDB)."""
    cur = pg.cursor()
    try:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
        for table in RAW_TABLES:
            for statement in table.ddl():
                cur.execute(statement)
    finally:
        cur.close()


@dataclass
class SyncResult:
    loads: dict[str, int] = field(default_factory=dict)  # table -> loads copied
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _duck_select(table: RawTable) -> str:
    """The DuckDB select list: JSON as text (cast back to jsonb on the server)."""
    parts = []
    for name, pg_type in table.columns:
        column = quote_ident(name)
        parts.append(f"CAST({column} AS VARCHAR) AS {column}" if pg_type == "jsonb" else column)
    return ", ".join(parts)


def _pg_select(table: RawTable) -> str:
    parts = []
    for name, pg_type in table.columns:
        column = quote_ident(name)
        parts.append(f"{column}::jsonb" if pg_type == "jsonb" else column)
    return ", ".join(parts)


def _missing_load_ids(duck: duckdb.DuckDBPyConnection, pg_cur, table: RawTable) -> list[str]:
    column = quote_ident(table.load_id_column)
    local = {r[0] for r in duck.execute(f"SELECT DISTINCT {column} FROM {table.qualified}").fetchall()}
    if not local:
        return []
    pg_cur.execute(f"SELECT DISTINCT {column} FROM {table.qualified}")
    remote = {r[0] for r in pg_cur.fetchall()}
    return sorted(local - remote)


def _copy_loads(duck: duckdb.DuckDBPyConnection, pg_cur, table: RawTable, load_ids: Sequence[str],
                batch_rows: int) -> int:
    """Copy the rows of the given loads: Arrow batches from DuckDB, binary COPY (ADBC ingest) into a temporary
    table, one INSERT … SELECT into the raw table."""
    staging = f"hub_sync_{table.name}"
    reader = duck.sql(
        f"SELECT {_duck_select(table)} FROM {table.qualified} WHERE {quote_ident(table.load_id_column)} "
        f"IN (SELECT unnest($ids::VARCHAR[]))",
        params={"ids": list(load_ids)},
    ).to_arrow_reader(batch_rows)
    pg_cur.execute(f"DROP TABLE IF EXISTS {quote_ident(staging)}")
    pg_cur.adbc_ingest(staging, reader, mode="create", temporary=True)
    columns = ", ".join(quote_ident(n) for n, _ in table.columns)
    pg_cur.execute(f"INSERT INTO {table.qualified} ({columns}) SELECT {_pg_select(table)} FROM {quote_ident(staging)}")
    copied = pg_cur.rowcount
    pg_cur.execute(f"DROP TABLE {quote_ident(staging)}")
    return int(copied) if copied is not None and copied >= 0 else 0


def sync_raw(duck: duckdb.DuckDBPyConnection, url: str, tables: Iterable[RawTable] = RAW_TABLES,
             batch_rows: int = 200_000) -> SyncResult:
    """Copy to the server's raw schema every load (by load id) of the DuckDB raw layer that it lacks, in one
    server transaction. Idempotent: a second call copies nothing."""
    import adbc_driver_postgresql.dbapi as adbc

    result = SyncResult()
    with adbc.connect(url) as pg:
        ensure_raw_schema(pg)
        pg.commit()
        cur = pg.cursor()
        try:
            # one writer at a time: two syncs of the same loads would otherwise both copy them
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('hub.raw.sync'))")
            for table in tables:
                missing = _missing_load_ids(duck, cur, table)
                if missing:
                    result.loads[table.name] = len(missing)
                    result.rows[table.name] = _copy_loads(duck, cur, table, missing, batch_rows)
            pg.commit()
        except BaseException:
            pg.rollback()
            raise
        finally:
            cur.close()
    return result


def sources_behind_server(duck: duckdb.DuckDBPyConnection, url: str) -> set[str]:
    """Sources with a load in the DuckDB load log that the server lacks (a warehouse added to a data directory
    built on DuckDB, or a sync that died): their ingest must run, and sync, again."""
    import psycopg

    local = duck.execute(f"SELECT DISTINCT source_system, load_id FROM {RAW_SCHEMA}.load_log").fetchall()
    if not local:
        return set()
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as pg:
        exists = pg.execute("SELECT to_regclass(%s)", (f"{RAW_SCHEMA}.load_log",)).fetchone()
        remote = set() if not exists or exists[0] is None else {
            r[0] for r in pg.execute(f"SELECT DISTINCT load_id FROM {RAW_SCHEMA}.load_log").fetchall()}
    return {source for source, load_id in local if load_id not in remote}
