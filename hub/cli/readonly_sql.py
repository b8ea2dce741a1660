"""``hub sql``: one guarded read-only SELECT against a published snapshot (the API's guard, without HTTP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from hub.core.sql_guard import SqlRejected, check_statement, first_line


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
