"""``hub sql``: one guarded read-only SELECT against a published snapshot (the API's guard, without HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from hub.core.serving_server import CONNECT_TIMEOUT_S, plain_value
from hub.core.sql_guard import SqlRejected, check_statement, first_line

JSON_TYPE_OIDS = (114, 3802)  # PostgreSQL's json and jsonb


def run_readonly_select(path: Path, sql: str, timeout_ms: int = 30_000) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of one guarded SELECT, on a read-only, locked-down connection to ``path``."""
    check_statement(sql)
    con = duckdb.connect(
        str(path),
        read_only=True,
        config={"enable_external_access": False, "max_execution_time": timeout_ms, "lock_configuration": True},
    )
    try:
        cursor = con.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    except duckdb.Error as exc:
        message = first_line(str(exc))
        raise SqlRejected(400, "sql_error", f"查询失败：{message}", f"query failed: {message}") from None
    finally:
        con.close()


def run_readonly_select_server(url: str, sql: str, timeout_ms: int = 30_000, schema: str = "serving"
                               ) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The same guarded SELECT on a PostgreSQL warehouse's published views (schema ``serving``), in a read-only
    transaction with a statement timeout, rolled back afterwards."""
    import psycopg

    check_statement(sql)
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_ms)} -c search_path={schema}"
    try:
        with psycopg.connect(url, options=options, connect_timeout=CONNECT_TIMEOUT_S) as con:
            try:
                cursor = con.execute(sql)  # type: ignore[arg-type]  # a guarded, user-given statement
                described = cursor.description or []
                json_columns = [d.type_code in JSON_TYPE_OIDS for d in described]
                rows = [tuple(plain_value(v, is_json) for v, is_json in zip(row, json_columns, strict=True))
                        for row in cursor.fetchall()]
                return [d.name for d in described], rows
            finally:
                con.rollback()
    except psycopg.Error as exc:
        message = first_line(str(exc))
        raise SqlRejected(400, "sql_error", f"查询失败：{message}", f"query failed: {message}") from None
