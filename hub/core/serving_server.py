"""The read side of a PostgreSQL warehouse's published views: names, the current version, readers' login roles.

The publish itself (orchestration.warehouse.serving.publish_on_server) writes a version schema
``serving_v<time>`` and switches the views of ``serving`` (group role ``hub_read_full``) and ``serving_masked``
(``hub_read_masked``) to it. Readers (the API, ``hub sql``, a BI tool) need only what is here, so the API can
serve from the server without importing the orchestration.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

SERVING = "serving"
SERVING_MASKED = "serving_masked"
VERSION_PREFIX = "serving_v"
READ_FULL = "hub_read_full"
READ_MASKED = "hub_read_masked"
CONNECT_TIMEOUT_S = 10  # an unreachable host fails in seconds instead of the TCP default of minutes

SQL_ROLE_SETTINGS = {
    "statement_timeout": "5s",
    "default_transaction_read_only": "on",
    "idle_in_transaction_session_timeout": "10s",
    "search_path": SERVING_MASKED,
    "work_mem": "16MB",
    "temp_file_limit": "256MB",
}


def current_version(url: str) -> str | None:
    """The version schema the ``serving`` views read, None before the first publish."""
    import psycopg

    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con:
        row = con.execute(
            "SELECT DISTINCT t.table_schema FROM information_schema.view_table_usage t "
            "WHERE t.view_schema = %s AND t.table_schema LIKE %s", (SERVING, VERSION_PREFIX + "%"),
        ).fetchone()
    return row[0] if row else None


def ensure_login_role(url: str, role: str, password: str, group: str = READ_MASKED,
                      settings: Mapping[str, str] = SQL_ROLE_SETTINGS) -> None:
    """A login role for readers (the API's connection for a role, the analysts' SQL sandbox, a BI tool): member of
    ``group`` only, no CREATE anywhere, no temporary tables, and the given settings as its defaults
    (statement_timeout, default_transaction_read_only …). It gets none of pg_read_server_files,
    pg_write_server_files, pg_execute_server_program (never granted), so COPY … TO PROGRAM, pg_read_file and
    server-side lo_import are refused by the server itself."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as con:
        exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        con.execute(sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION "
                            "NOBYPASSRLS CONNECTION LIMIT 20 PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)))
        con.execute(sql.SQL("ALTER ROLE {} INHERIT").format(sql.Identifier(role)))
        con.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(role)))
        database = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        con.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for name, value in settings.items():
            con.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                sql.Identifier(role), sql.Identifier(name), sql.Literal(value)))


def plain_value(value: Any, is_json: bool = False) -> Any:
    """A PostgreSQL value as a DuckDB snapshot gives it: NUMERIC as int or float, json/jsonb (``is_json``: psycopg
    has already parsed it) as JSON text; arrays stay lists, as DuckDB's are."""
    import json

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if is_json and value is not None:
        return json.dumps(value, ensure_ascii=False)
    return value
