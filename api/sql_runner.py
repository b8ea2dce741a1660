"""Read-only SQL against the serving snapshot: exactly one SELECT, bounded in time and rows.

The statement check is the boundary; the locked-down connection (read-only, no external access,
configuration locked, memory/thread/time limits, see ``serving_db``) is defence in depth.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from api.errors import problem
from hub.core.sql_guard import SqlRejected, check_statement, error_position, first_line, without_paths


@dataclass
class SqlResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


def run_select(cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None, row_limit: int,
               timeout_ms: int) -> SqlResult:
    """Run one checked SELECT on ``cursor`` (a fresh cursor of a serving connection; closed here)."""
    try:
        check_statement(sql)
    except SqlRejected as refused:
        cursor.close()
        raise problem(refused.status, refused.code, refused.zh, refused.en, **refused.extra) from None
    # Backstop for max_execution_time: interrupt from a timer a little after the limit.
    timer = threading.Timer(timeout_ms / 1000 + 1.0, cursor.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        result = cursor.execute(sql, params or None)
        rows = result.fetchmany(row_limit + 1)
        description = result.description or []
    except duckdb.InterruptException:
        raise problem(
            400,
            "timeout",
            f"查询超时（上限 {timeout_ms} 毫秒）",
            f"query timed out (limit {timeout_ms} ms)",
            timeout_ms=timeout_ms,
        ) from None
    except duckdb.PermissionException as exc:
        raise problem(
            400,
            "not_allowed",
            "不允许访问文件、网络或扩展",
            "access to files, network or extensions is not allowed",
            duckdb_message=first_line(str(exc)),
        ) from None
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        message = str(exc)
        raise problem(
            400,
            "sql_error",
            f"SQL 错误：{first_line(message)}",
            f"SQL error: {first_line(message)}",
            duckdb_message=without_paths(message),
            **error_position(message),
        ) from None
    except duckdb.Error as exc:
        message = str(exc)
        raise problem(
            400,
            "sql_error",
            f"查询失败：{first_line(message)}",
            f"query failed: {first_line(message)}",
            duckdb_message=without_paths(message),
        ) from None
    finally:
        timer.cancel()
        cursor.close()
    elapsed = (time.perf_counter() - started) * 1000
    columns = [{"name": d[0], "type": str(d[1])} for d in description]
    return SqlResult(columns, [list(r) for r in rows[:row_limit]], len(rows) > row_limit, round(elapsed, 1))
