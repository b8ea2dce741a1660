"""The read-only SQL guard of ``POST /api/sql`` and ``hub sql``: one SELECT that calls nothing it must not.

``check_statement`` lets exactly one SELECT through (on DuckDB's own statement splitter), and the
locked-down connection refuses files, network and settings. Three holes remain inside a plain
SELECT, closed by ``check_select`` on DuckDB's parse tree:
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

MAX_SQL_CHARS = 100_000
MAX_GENERATED = 10_000  # largest count/length/width a generating function may be asked for: DuckDB builds 2,048
# rows of a vector at once, so one value's size times 2,048 is what a single chunk can take (20 MB here)

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
        "to_base",  # to_base(n, radix, min_length) pads to min_length
        "bitstring",  # bitstring('1', length)
    }
)
FORMATTERS = frozenset({"printf", "format", "sprintf"})  # a width inside the format string, e.g. '%2000000000d'
_LONG_NUMBER = re.compile(r"\d{5,}")  # a width of 10,000 or more written into the format string
# A width or precision taken from an argument: printf's '%*d' / '%.*f', fmt's nested field '{:>{}}' / '{:{1}}'.
_ARGUMENT_WIDTH = re.compile(r"%[-+ #0]*(?:\d+\$)?\*|%[^a-zA-Z%]*\.\*|\{[^{}]*:[^{}]*\{")

# Catalog views and tables that show the server's settings, files, paths, extensions or secrets. A table
# reference by any of these names (in any schema: pg_catalog.pg_settings, information_schema.…, main.…) is
# refused; so is any reference into the pg_catalog schema, whose views wrap DuckDB's own (duckdb_settings()).
DENIED_TABLES = frozenset(
    {
        "pg_settings",
        "pg_file_settings",
        "pg_hba_file_rules",
        "pg_config",
        "pg_stat_activity",
        "pg_available_extensions",
        "pg_extension",
        "pg_tablespace",
        "pg_database",
        "duckdb_settings",
        "duckdb_databases",
        "duckdb_extensions",
        "duckdb_secrets",
        "duckdb_temporary_files",
        "duckdb_memory",
        "duckdb_logs",
        "information_schema_catalog_name",
    }
)
DENIED_SCHEMAS = frozenset({"pg_catalog"})
DENIED_TABLE_PREFIXES = ("pg_", "duckdb_", "pragma_")  # pg_catalog's views resolve without the schema name too
# information_schema views that name the database (= the snapshot file's name) are allowed: they show table and
# column names only, which the catalog API shows too. Tables of these names are denied anywhere.


class SqlRejected(ValueError):
    """A statement the guard refuses: an HTTP-like status, a stable code and the reason in Chinese and English."""

    def __init__(self, status: int, code: str, zh: str, en: str, **extra: Any) -> None:
        super().__init__(f"{zh} / {en}")
        self.status, self.code, self.zh, self.en, self.extra = status, code, zh, en, extra


def _refuse(zh: str, en: str, **extra: Any) -> SqlRejected:
    return SqlRejected(400, "not_allowed", zh, en, **extra)


_CARET = re.compile(r"^LINE (\d+): (.*)\n(\s*)\^", re.MULTILINE)
# An absolute path of two or more parts, as DuckDB prints them in errors (the server's own files included).
_PATH = re.compile(r"(?<![\w.])/(?:[^\s\"'/]+/)+[^\s\"']*")


def error_position(message: str) -> dict[str, int]:
    """Line and column (1-based) of DuckDB's caret under the offending text, when it shows one."""
    match = _CARET.search(message)
    if not match:
        return {}
    prefix = len(f"LINE {match.group(1)}: ")
    return {"line": int(match.group(1)), "column": len(match.group(3)) - prefix + 1}


def without_paths(message: str) -> str:
    """An engine message with the server's absolute paths replaced by ``<path>``."""
    return _PATH.sub("<path>", message)


def first_line(message: str) -> str:
    message = without_paths(message)
    return message.strip().splitlines()[0] if message.strip() else message


def check_statement(sql: str) -> str:
    """The single SELECT in ``sql``, or ``SqlRejected`` saying why it is refused."""
    if not sql or not sql.strip():
        raise SqlRejected(400, "empty_sql", "SQL 语句为空", "the SQL statement is empty", parameter="sql")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        message = str(exc)
        raise SqlRejected(
            400,
            "syntax_error",
            f"SQL 语法错误：{first_line(message)}",
            f"SQL syntax error: {first_line(message)}",
            duckdb_message=without_paths(message),
            **error_position(message),
        ) from None
    if len(statements) != 1:
        raise _refuse(
            f"只允许一条语句，收到 {len(statements)} 条", f"exactly one statement is allowed, got {len(statements)}"
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        raise _refuse(
            f"只允许 SELECT 查询，不允许 {kind} 语句",
            f"only SELECT queries are allowed, not {kind}",
            statement_type=kind,
        )
    check_select(sql)
    return sql


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
    """The format string must be a constant with small widths; a width taken from an argument (``%*d``,
    ``{:>{}}``) makes every other argument a size argument: each must be a constant, numbers at most
    ``MAX_GENERATED``."""
    first = (arguments[0].get("expression") or {}) if arguments else {}
    literal = first.get("literal") or {}
    text = str(literal.get("text", ""))
    if first.get("class") != "CONSTANT" or _LONG_NUMBER.search(text):
        raise _refuse(
            f"函数 {name} 的格式串必须是常数且宽度不超过 4 位数",
            f"the format string of {name} must be a constant without widths of 5 or more digits",
            function=name,
        )
    if _ARGUMENT_WIDTH.search(text):
        for argument in arguments[1:]:
            expression = argument.get("expression") or {}
            if expression.get("class") == "CONSTANT" and (expression.get("literal") or {}).get("kind") == "STRING":
                continue
            value = _constant_number(expression)
            if value is None or abs(value) > MAX_GENERATED:
                raise _refuse(
                    f"函数 {name} 的宽度来自参数（如 %*d、{{:>{{}}}}）时，参数必须是不超过 {MAX_GENERATED} 的常数",
                    f"when {name} takes a width from an argument (such as %*d or {{:>{{}}}}), its arguments must be "
                    f"constants of at most {MAX_GENERATED}",
                    function=name,
                )


def _table_references(tree: Any) -> list[tuple[str, str, str]]:
    """Every base-table reference in the tree as (catalog, schema, table), lower case; iterative."""
    found = []
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
                found.append((str(node.get("catalog_name") or "").lower(), str(node.get("schema_name") or "").lower(),
                              node["table_name"].lower()))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


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
        raise SqlRejected(
            400,
            "sql_too_long",
            f"SQL 语句过长（上限 {MAX_SQL_CHARS} 个字符）",
            f"the SQL statement is too long (limit {MAX_SQL_CHARS} characters)",
            limit=MAX_SQL_CHARS,
        )
    try:
        tree = parse_tree(sql)
    except RecursionError:
        raise SqlRejected(400, "sql_too_deep", "SQL 嵌套过深", "the SQL statement is nested too deeply") from None
    if tree.get("error"):
        return  # the statement check already parsed it; DuckDB will report the error when it runs
    for catalog, schema, table in _table_references(tree):
        if table in DENIED_TABLES or table.startswith(DENIED_TABLE_PREFIXES) or DENIED_SCHEMAS & {catalog, schema}:
            shown = ".".join(part for part in (catalog, schema, table) if part)
            raise _refuse(
                f"不允许查询 {shown}（服务器设置、文件或路径）",
                f"{shown} is not allowed (server settings, files or paths)",
                table=shown,
            )
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
