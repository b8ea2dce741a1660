"""What a read-only SELECT may call: the second check of ``POST /api/sql``, on DuckDB's own parse tree.

The statement-type check (sql_runner) lets only SELECT through, and the locked-down connection
refuses files, network and settings. Three holes remain inside a plain SELECT, closed here:
- functions that show the server's files, settings or logs (``duckdb_databases()`` prints the
  snapshot's path, ``current_setting('temp_directory')`` a directory) or run SQL from a string
  (``query``, ``query_table``), which would skip these checks;
- scalar functions that build one huge value in a single call (``repeat('x', 2e9)`` ran for a
  minute at 7 GB although the time limit was 2 s: neither the memory limit nor ``interrupt()``
  reaches inside one function call), so their size arguments must be small constants;
- very long statements, whose parse alone costs seconds.
The parse tree comes from ``json_serialize_sql`` (DuckDB's json extension, built in).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import duckdb

from api.errors import problem

MAX_SQL_CHARS = 100_000
MAX_GENERATED = 1_000_000  # largest count/length a generating function may be asked for

# Families of functions that read files, inspect the server or its storage.
DENIED_PREFIXES = ("duckdb_", "pragma_", "read_", "parquet_", "sqlite_", "postgres_", "mysql_", "iceberg_", "delta_")
DENIED_NAMES = frozenset(
    {
        "current_setting",
        "getenv",
        "getvariable",
        "glob",
        "sniff_csv",
        "query",
        "query_table",
        "checkpoint",
        "force_checkpoint",
        "enable_logging",
        "disable_logging",
        "truncate_duckdb_logs",
        "test_all_types",
        "test_vector_types",
        "load_extension",
        "which_secret",
        "json_serialize_sql",
        "json_deserialize_sql",
        "json_execute_serialized_sql",
    }
)
# Scalar functions whose output size is set by an argument: each such argument must be a small constant.
GENERATORS = frozenset(
    {
        "repeat",
        "lpad",
        "rpad",
        "range",
        "generate_series",
        "list_resize",
        "array_resize",
        "list_repeat",
        "bar",
    }
)
FORMATTERS = frozenset({"printf", "format", "sprintf"})  # a width inside the format string, e.g. '%2000000000d'
_LONG_NUMBER = re.compile(r"\d{7,}")


def _refuse(zh: str, en: str, **extra: Any) -> Exception:
    return problem(400, "not_allowed", zh, en, **extra)


def _is_denied(name: str) -> bool:
    return name in DENIED_NAMES or name.startswith(DENIED_PREFIXES)


def _constant_number(node: dict[str, Any]) -> float | None:
    if node.get("class") != "CONSTANT":
        return None
    literal = node.get("literal") or {}
    try:
        return float(literal.get("text", ""))
    except (TypeError, ValueError):
        return None


def _check_generator(name: str, arguments: list[dict[str, Any]]) -> None:
    for argument in arguments:
        expression = argument.get("expression") or {}
        if expression.get("class") == "CONSTANT" and (expression.get("literal") or {}).get("kind") == "STRING":
            continue  # the text being repeated or padded, not a size
        value = _constant_number(expression)
        if value is None or abs(value) > MAX_GENERATED:
            raise _refuse(
                f"函数 {name} 的长度或个数参数必须是不超过 {MAX_GENERATED} 的常数",
                f"the size arguments of {name} must be constants of at most {MAX_GENERATED}",
                function=name,
            )


def _check_formatter(name: str, arguments: list[dict[str, Any]]) -> None:
    first = (arguments[0].get("expression") or {}) if arguments else {}
    literal = first.get("literal") or {}
    if first.get("class") != "CONSTANT" or _LONG_NUMBER.search(str(literal.get("text", ""))):
        raise _refuse(
            f"函数 {name} 的格式串必须是常数且宽度不超过 6 位数",
            f"the format string of {name} must be a constant without widths of 7 or more digits",
            function=name,
        )


def _functions(tree: Any) -> list[tuple[str, bool, list[dict[str, Any]]]]:
    """Every function call in the tree as (name, is_table_function, arguments); iterative, as trees can be deep."""
    found = []
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, under_table_ref = stack.pop()
        if isinstance(node, dict):
            if node.get("class") == "FUNCTION" and isinstance(node.get("function_name"), str):
                found.append((node["function_name"].lower(), under_table_ref, node.get("arguments") or []))
            is_table_ref = node.get("type") == "TABLE_FUNCTION"
            for key, value in node.items():
                stack.append((value, is_table_ref and key == "function"))
        elif isinstance(node, list):
            stack.extend((item, False) for item in node)
    return found


_parser: duckdb.DuckDBPyConnection | None = None
_parser_lock = threading.Lock()


def parse_tree(sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of ``sql``, from an in-memory database (parsing touches no snapshot)."""
    global _parser
    with _parser_lock:
        if _parser is None:
            _parser = duckdb.connect(config={"enable_external_access": False})
        cursor = _parser.cursor()  # one cursor per call: cursors of one connection may run in parallel threads
    try:
        raw = cursor.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    finally:
        cursor.close()
    return json.loads(raw[0]) if raw else {}


def check_select(sql: str) -> None:
    """Refuse (400, not_allowed) a SELECT that is too long or calls what it must not."""
    if len(sql) > MAX_SQL_CHARS:
        raise problem(
            400,
            "sql_too_long",
            f"SQL 语句过长（上限 {MAX_SQL_CHARS} 个字符）",
            f"the SQL statement is too long (limit {MAX_SQL_CHARS} characters)",
            limit=MAX_SQL_CHARS,
        )
    try:
        tree = parse_tree(sql)
    except RecursionError:
        raise problem(400, "sql_too_deep", "SQL 嵌套过深", "the SQL statement is nested too deeply") from None
    if tree.get("error"):
        return  # the statement check already parsed it; DuckDB will report the error when it runs
    for name, is_table_function, arguments in _functions(tree):
        if _is_denied(name):
            raise _refuse(
                f"不允许调用函数 {name}（读取文件、服务器设置或动态 SQL）",
                f"function {name} is not allowed (files, server settings or dynamic SQL)",
                function=name,
            )
        if name in GENERATORS and not is_table_function:
            _check_generator(name, arguments)
        if name in FORMATTERS:
            _check_formatter(name, arguments)
