"""Read-only SQL against the serving snapshot: exactly one SELECT, bounded in time, rows and bytes.

Rows are fetched a few at a time from DuckDB's streaming result while their size is added up; past
``max_bytes`` the query is interrupted and closed (nothing more is computed or held) and the answer is
413 ``result_too_large``: a response is never larger than the cap, whatever the row limit allows.

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


def value_bytes(value: Any) -> int:
    """About how many bytes a value takes in a JSON answer (iterative: values can nest deeply)."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) * 3 if not item.isascii() else len(item)
        elif isinstance(item, bytes | bytearray):
            total += len(item) * 4  # escaped in JSON
        elif isinstance(item, dict):
            total += 2
            for key, inner in item.items():
                total += len(str(key)) + 4
                stack.append(inner)
        elif isinstance(item, list | tuple):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 12
    return total


MAX_PARAM_DEPTH = 3  # a parameter is a value, or a list/struct of values, or a list of those
MAX_PARAM_ITEMS = 10_000  # values in all parameters together


def check_params(params: Any) -> None:
    """Bound parameters are small values: a nesting depth of at most ``MAX_PARAM_DEPTH`` and at most
    ``MAX_PARAM_ITEMS`` values (binding a 900-deep list kept DuckDB busy for seconds). Iterative."""
    if params is None:
        return
    if not isinstance(params, dict):
        raise problem(400, "bad_parameter", "params 必须是对象", "params must be an object", parameter="params")
    items, stack = 0, [(value, 1) for value in params.values()]
    while stack:
        value, depth = stack.pop()
        items += 1
        if depth > MAX_PARAM_DEPTH or items > MAX_PARAM_ITEMS:
            raise problem(
                400,
                "bad_parameter",
                f"参数嵌套过深或过多（最多 {MAX_PARAM_DEPTH} 层、{MAX_PARAM_ITEMS} 个值）",
                f"parameters nested too deeply or too many (at most {MAX_PARAM_DEPTH} levels, "
                f"{MAX_PARAM_ITEMS} values)",
                parameter="params",
            )
        if isinstance(value, dict):
            stack.extend((inner, depth + 1) for inner in value.values())
        elif isinstance(value, list):
            stack.extend((inner, depth + 1) for inner in value)


FETCH_ROWS = 64  # per fetch from the streaming result: small enough that one batch cannot overshoot far


def result_too_large(max_bytes: int, rows: int) -> Exception:
    return problem(
        413,
        "result_too_large",
        f"查询结果过大（超过 {max_bytes} 字节，已在第 {rows} 行停止）；请减少列、行或用导出",
        f"the result is too large (over {max_bytes} bytes, stopped at row {rows}); select fewer columns or rows, "
        "or use a table export",
        max_bytes=max_bytes,
    )


def run_select(cursor: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None, row_limit: int,
               timeout_ms: int, max_bytes: int = 20_000_000) -> SqlResult:
    """Run one checked SELECT on ``cursor`` (a fresh cursor of a serving connection; closed here)."""
    try:
        check_params(params)
        check_statement(sql)
    except SqlRejected as refused:
        cursor.close()
        raise problem(refused.status, refused.code, refused.zh, refused.en, **refused.extra) from None
    except Exception:
        cursor.close()
        raise
    # Backstop for max_execution_time: interrupt from a timer a little after the limit.
    timer = threading.Timer(timeout_ms / 1000 + 1.0, cursor.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        result = cursor.execute(sql, params or None)
        description = result.description or []
        rows: list[Any] = []
        size = 0
        while len(rows) <= row_limit:
            batch = result.fetchmany(min(FETCH_ROWS, row_limit + 1 - len(rows)))
            if not batch:
                break
            rows.extend(batch)
            size += sum(value_bytes(row) for row in batch)
            if size > max_bytes:
                cursor.interrupt()  # stop the query itself, not only the transfer
                raise result_too_large(max_bytes, len(rows))
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
