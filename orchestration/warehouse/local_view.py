"""A DuckDB connection that sees a server warehouse's dbt models next to the build database's raw layer.

The quality report's checks are written in DuckDB SQL over ``raw.*`` (validated and kept in the DuckDB build
database on both engines) and the dbt quality models (``quality_freshness`` …), which a server warehouse builds on
the server. Rather than a second dialect of every check, the models the report reads are fetched from the server
as Arrow (ADBC, a handful of small tables) into an in-memory DuckDB database whose ``raw`` schema is views over the
build database, attached read-only. The checks then run unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from hub.core.quoting import quote_ident, sql_literal
from hub.core.serving_server import CONNECT_TIMEOUT_S
from orchestration.ingest.schema import RAW_SCHEMA

BUILD_ALIAS = "build"
SERVER_MODEL_SCHEMA = "main"  # where dbt's target postgres builds the models (dbt_project/profiles.yml)


def server_tables(url: str, schema: str = SERVER_MODEL_SCHEMA) -> set[str]:
    """Tables and views of ``schema`` on the server."""
    import psycopg

    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con:
        rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                           (schema,)).fetchall()
    return {name for (name,) in rows}


def with_server_models(build_db: Path, url: str, models: Sequence[str]) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB: ``raw.*`` are views over ``build_db``; each of ``models`` that exists on the server is a
    table in ``main``. The caller closes it."""
    import adbc_driver_postgresql.dbapi as adbc

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {sql_literal(str(build_db))} AS {BUILD_ALIAS} (READ_ONLY)")
        con.execute(f"CREATE SCHEMA {RAW_SCHEMA}")
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ?",
            [BUILD_ALIAS, RAW_SCHEMA],
        ).fetchall():
            name = quote_ident(table)
            con.execute(f"CREATE VIEW {RAW_SCHEMA}.{name} AS SELECT * FROM {BUILD_ALIAS}.{RAW_SCHEMA}.{name}")
        present = server_tables(url)
        with adbc.connect(url) as pg, pg.cursor() as cur:
            for model in (m for m in models if m in present):
                cur.execute(f"SELECT * FROM {SERVER_MODEL_SCHEMA}.{quote_ident(model)}")
                arrow_table = cur.fetch_arrow_table()  # noqa: F841  (read by name in the next statement)
                con.execute(f"CREATE TABLE main.{quote_ident(model)} AS SELECT * FROM arrow_table")
    except BaseException:
        con.close()
        raise
    return con
