"""Read-only SQL against the serving snapshot: exactly one SELECT, bounded in time and rows.

The statement check is the boundary; the locked-down connection (read-only, no external access,
configuration locked, memory/thread/time limits, see ``serving_db``) is defence in depth.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from api.errors import problem
from api.sql_guard import check_select


@dataclass
class SqlResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float


_CARET = re.compile(r"^LINE (\d+): (.*)\n(\s*)\^", re.MULTILINE)


def _position(message: str) -> dict[str, int]:
    """Line and column (1-based) of DuckDB's caret under the offending text, when it shows one."""
    match = _CARET.search(message)
    if not match:
        return {}
    prefix = len(f"LINE {match.group(1)}: ")
    return {"line": int(match.group(1)), "column": len(match.group(3)) - prefix + 1}


# An absolute path of two or more parts, as DuckDB prints them in errors (the server's own files included).
_PATH = re.compile(r"(?<![\w.])/(?:[^\s\"'/]+/)+[^\s\"']*")


def _without_paths(message: str) -> str:
    return _PATH.sub("<path>", message)


def _first_line(message: str) -> str:
    message = _without_paths(message)
    return message.strip().splitlines()[0] if message.strip() else message


def check_statement(sql: str) -> str:
    """The single SELECT in ``sql``, or a 400 saying why it is refused."""
    if not sql or not sql.strip():
        raise problem(400, "empty_sql", "SQL 语句为空", "the SQL statement is empty", parameter="sql")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        message = str(exc)
        raise problem(
            400,
            "syntax_error",
            f"SQL 语法错误：{_first_line(message)}",
            f"SQL syntax error: {_first_line(message)}",
            duckdb_message=_without_paths(message),
            **_position(message),
        ) from None
    if len(statements) != 1:
        raise problem(
            400,
            "not_allowed",
            f"只允许一条语句，收到 {len(statements)} 条",
            f"exactly one statement is allowed, got {len(statements)}",
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        raise problem(
            400,
            "not_allowed",
            f"只允许 SELECT 查询，不允许 {kind} 语句",
            f"only SELECT queries are allowed, not {kind}",
            statement_type=kind,
        )
    check_select(sql)
    return sql


def run_select(cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None, row_limit: int,
               timeout_ms: int) -> SqlResult:
    """Run one checked SELECT on ``cursor`` (a fresh cursor of a serving connection; closed here)."""
    check_statement(sql)
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
            duckdb_message=_first_line(str(exc)),
        ) from None
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        message = str(exc)
        raise problem(
            400,
            "sql_error",
            f"SQL 错误：{_first_line(message)}",
            f"SQL error: {_first_line(message)}",
            duckdb_message=_without_paths(message),
            **_position(message),
        ) from None
    except duckdb.Error as exc:
        message = str(exc)
        raise problem(
            400,
            "sql_error",
            f"查询失败：{_first_line(message)}",
            f"query failed: {_first_line(message)}",
            duckdb_message=_without_paths(message),
        ) from None
    finally:
        timer.cancel()
        cursor.close()
    elapsed = (time.perf_counter() - started) * 1000
    columns = [{"name": d[0], "type": str(d[1])} for d in description]
    return SqlResult(columns, [list(r) for r in rows[:row_limit]], len(rows) > row_limit, round(elapsed, 1))
