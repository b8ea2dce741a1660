"""Turn a table request's query string into SQL with bound parameters.

Column and sort names are checked against the catalog (``TableInfo``) and only then quoted;
every value is a bound parameter, cast to the column's type by DuckDB.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api.catalog import TableInfo
from api.errors import problem
from hub.core.personal_data import MASK_RULES
from hub.core.quoting import quote_ident, sql_literal

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull")
SQL_COMPARISON = {"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
RESERVED = ("_sort", "_sort_desc", "_size", "_offset", "_after", "_facet", "_format", "_search", "_col")
FORMATS = ("json", "csv", "parquet")
FACET_LIMIT = 30
MAX_SEARCH_CHARS = 100


def search_columns(table: TableInfo) -> list[str]:
    """The columns ``_search`` looks in: the text columns, never a personal one (a search must not tell a masked
    reader whose name or number a row holds)."""
    return [c.name for c in table.columns if c.type.upper() == "VARCHAR" and c.name not in MASK_RULES]


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: str


@dataclass
class TableRequest:
    table: TableInfo
    filters: list[Filter] = field(default_factory=list)
    sort: str | None = None
    descending: bool = False
    size: int = 50
    size_given: bool = False
    offset: int = 0
    after: str | None = None
    facets: list[str] = field(default_factory=list)
    format: str = "json"
    search: str = ""  # a word to find in any of the table's text columns (_search)
    columns: list[str] = field(default_factory=list)  # _col: the columns the answer holds (empty: all)

    @property
    def column_names(self) -> list[str]:
        """The columns of the answer, in the table's order: those ``_col`` names, else every column. Rows are read,
        masked and paged whole and cut down last, so masking and the keyset cursor never see a partial row."""
        if not self.columns:
            return self.table.column_names
        return [name for name in self.table.column_names if name in self.columns]


def _bad(param: str, zh: str, en: str) -> Exception:
    return problem(400, "bad_parameter", f"参数 {param}：{zh}", f"parameter {param}: {en}", parameter=param)


def _check_column(table: TableInfo, name: str, param: str) -> str:
    if table.column(name) is None:
        return_names = ", ".join(table.column_names)
        raise _bad(
            param,
            f"表 {table.name} 没有列 {name!r}（可用列：{return_names}）",
            f"table {table.name} has no column {name!r} (columns: {return_names})",
        )
    return name


def _int_param(param: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _bad(param, f"必须是整数，收到 {raw!r}", f"must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise _bad(param, f"必须在 {minimum} 到 {maximum} 之间", f"must be between {minimum} and {maximum}")
    return value


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUMBER_TYPES = ("DOUBLE", "FLOAT", "REAL", "DECIMAL")
# The spellings of a yes/no that a filter takes (those DuckDB casts to BOOLEAN), and the words the pages show,
# which are taken back as well.
BOOLEAN_SPELLINGS = {"true": True, "t": True, "1": True, "yes": True, "y": True,
                     "false": False, "f": False, "0": False, "no": False, "n": False}
YES_NO = {True: "是", False: "否"}
CHINESE_BOOLEANS = {word: str(truth).lower() for truth, word in YES_NO.items()}


def read_boolean(value: str) -> bool | None:
    """A filter's yes/no as a truth value; None if it is not one."""
    return BOOLEAN_SPELLINGS.get(value.strip().lower())


def _date_like(value: str) -> None:
    """Dates as DuckDB reads them (2026-06-30, 2026-6-3, with or without a time): a real calendar day."""
    found = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", value)
    if not found:
        raise ValueError(value)
    date(int(found[1]), int(found[2]), int(found[3]))


def _expected_type(col_type: str) -> tuple[str, str, Any] | None:
    """(中文, English, parser) for a column type whose filter values can be checked before the query runs."""
    base = col_type.upper().split("(")[0].strip()
    if base in _INTEGER_TYPES:
        return "整数", "an integer", int
    if base in _NUMBER_TYPES:
        return "数字", "a number", float
    if base == "DATE":
        return "日期（如 2026-06-30）", "a date (YYYY-MM-DD)", _date_like
    if base.startswith("TIMESTAMP"):
        return "日期时间（如 2026-06-30 08:00）", "a date-time (YYYY-MM-DD HH:MM)", _date_like
    if base == "BOOLEAN":

        def boolean(value: str) -> bool:
            if read_boolean(value) is None:
                raise ValueError(value)
            return True

        return "是/否（true 或 false）", "true or false", boolean
    return None


def takes_yes_no(table: TableInfo, column: str, op: str) -> bool:
    """Whether a filter's value is a yes/no (a boolean column's, or any column's ``isnull``): it may be 是/否."""
    described = table.column(column)
    return op == "isnull" or (op != "contains" and described is not None and described.is_boolean)


def _check_value(table: TableInfo, f: Filter) -> None:
    """A value that cannot be read as its column's type is the caller's mistake: say which column wants what."""
    if f.op in ("contains", "isnull"):
        return
    column = table.column(f.column)
    expected = _expected_type(column.type) if column else None
    if column is None or expected is None:
        return
    zh, en, parse = expected
    for value in f.value.split(",") if f.op == "in" else [f.value]:
        try:
            parse(value.strip())
        except (ValueError, TypeError):
            label = column.label
            raise problem(
                400,
                "bad_value",
                f"筛选条件“{label}”（列 {column.name}）需要{zh}，收到 {value!r}",
                f"the filter on column {column.name} needs {en}, got {value!r}",
                parameter=f.column,
                expected_type=column.type,
            ) from None


def parse_table_request(
    table: TableInfo, query: Iterable[tuple[str, str]], default_size: int, max_size: int
) -> TableRequest:
    req = TableRequest(table=table, size=default_size)
    for key, value in query:
        if key.startswith("_"):
            _apply_reserved(req, key, value, max_size)
            continue
        column, _, op = key.partition("__")
        op = op or "eq"
        if op not in OPERATORS:
            raise _bad(key, f"不支持的运算符 {op!r}（可用：{', '.join(OPERATORS)}）", f"unknown operator {op!r}")
        _check_column(table, column, key)
        if takes_yes_no(table, column, op):
            value = ",".join(CHINESE_BOOLEANS.get(part.strip(), part) for part in value.split(","))
        if op == "isnull" and read_boolean(value) is None:
            raise _bad(key, "取值必须是 是/否（true 或 false）", "value must be true or false")
        req.filters.append(Filter(column, op, value))
        _check_value(table, req.filters[-1])
    if req.after is not None and req.offset:
        raise _bad("_after", "不能与 _offset 同时使用", "cannot be combined with _offset")
    if req.after is not None:
        _decode_cursor(req)  # now, not when an export has already started streaming its 200
    return req


def _apply_reserved(req: TableRequest, key: str, value: str, max_size: int) -> None:
    table = req.table
    if key not in RESERVED:
        reserved = ", ".join(RESERVED)
        raise _bad(key, f"未知参数（保留参数：{reserved}）", f"unknown parameter (reserved: {reserved})")
    if key in ("_sort", "_sort_desc"):
        if req.sort is not None:
            raise _bad(key, "只能指定一个排序列", "only one sort column is allowed")
        req.sort = _check_column(table, value, key)
        req.descending = key == "_sort_desc"
    elif key == "_size":
        req.size = _int_param(key, value, 1, max_size)
        req.size_given = True
    elif key == "_offset":
        req.offset = _int_param(key, value, 0, 10**9)
    elif key == "_after":
        req.after = value
    elif key == "_facet":
        for name in (v.strip() for v in value.split(",")):
            if name and name not in req.facets:
                req.facets.append(_check_column(table, name, key))
    elif key == "_col":
        for name in (v.strip() for v in value.split(",")):
            if name and name not in req.columns:
                req.columns.append(_check_column(table, name, key))
    elif key == "_search":
        req.search = value.strip()
        if len(req.search) > MAX_SEARCH_CHARS:
            raise _bad(key, f"不能超过 {MAX_SEARCH_CHARS} 个字", f"at most {MAX_SEARCH_CHARS} characters")
        if req.search and not search_columns(table):
            raise _bad(key, "本表没有可搜索的文字列", "this table has no text column to search")
    elif key == "_format":
        if value not in FORMATS:
            raise _bad(key, f"必须是 {'|'.join(FORMATS)} 之一", f"must be one of {'|'.join(FORMATS)}")
        req.format = value


def where_clause(req: TableRequest, literal: bool = False) -> tuple[str, list[Any]]:
    """The filters as SQL, each value a ``?`` parameter (returned in order), or, with ``literal``, written in as a
    literal both DuckDB and PostgreSQL read as the column's type (for the SQL page, which may run on either)."""
    params: list[Any] = []

    def typed(value: str, col_type: str) -> str:
        if literal:
            return typed_literal(value, col_type)
        params.append(value)
        return f"CAST(? AS {col_type})"

    def text(value: str) -> str:
        if literal:
            return sql_literal(value)
        params.append(value)
        return "?"

    def contains(col: str, value_sql: str) -> str:
        if literal:  # PostgreSQL has no contains() for text; both have strpos
            return f"strpos(lower(CAST({col} AS VARCHAR)), lower({value_sql})) > 0"
        return f"contains(lower(CAST({col} AS VARCHAR)), lower({value_sql}))"

    parts: list[str] = []
    for f in req.filters:
        col = quote_ident(f.column)
        col_type = req.table.column(f.column).type  # type: ignore[union-attr]  # checked when parsed
        if f.op in SQL_COMPARISON:
            parts.append(f"{col} {SQL_COMPARISON[f.op]} {typed(f.value, col_type)}")
        elif f.op == "in":
            parts.append(f"{col} IN ({', '.join(typed(v, col_type) for v in f.value.split(','))})")
        elif f.op == "contains":
            parts.append(contains(col, text(f.value)))
        elif f.op == "isnull":
            parts.append(f"{col} IS {'' if read_boolean(f.value) else 'NOT '}NULL")
    if req.search:
        found = [contains(quote_ident(name), text(req.search)) for name in search_columns(req.table)]
        parts.append("(" + " OR ".join(found) + ")")
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def typed_literal(value: str, col_type: str) -> str:
    """A checked filter value as a literal of its column's type: true/false, a bare number, else a quoted string
    (which both engines read as a date, a time or text by what it is compared with)."""
    base = col_type.split("(")[0].strip().upper()
    if base == "BOOLEAN" and read_boolean(value) is not None:
        return str(read_boolean(value)).lower()
    if base in _INTEGER_TYPES + _NUMBER_TYPES and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value.strip()):
        return value.strip()
    return sql_literal(value)


def editable_sql(req: TableRequest) -> str:
    """The page's query as an analyst would write it, values in place, for the SQL page to open and edit."""
    where, _ = where_clause(req, literal=True)
    order = f" ORDER BY {quote_ident(req.sort)}{' DESC' if req.descending else ''} NULLS LAST" if req.sort else ""
    offset = f" OFFSET {req.offset}" if req.offset else ""
    columns = ", ".join(quote_ident(c) for c in req.column_names) if req.columns else "*"
    return f"SELECT {columns} FROM {quote_ident(req.table.name)}{where}{order} LIMIT {req.size}{offset}"


def encode_cursor(sort: str | None, descending: bool, value: Any, rowid: int) -> str:
    payload = {"s": sort, "d": descending, "v": None if value is None else str(value), "r": rowid}
    return base64.urlsafe_b64encode(json.dumps(payload, ensure_ascii=False).encode()).decode().rstrip("=")


def _decode_cursor(req: TableRequest) -> tuple[str | None, int]:
    assert req.after is not None
    try:
        raw = req.after + "=" * (-len(req.after) % 4)
        payload = json.loads(base64.urlsafe_b64decode(raw.encode()))
        value, rowid = payload["v"], int(payload["r"])
        same_sort = payload["s"] == req.sort and bool(payload["d"]) == req.descending
    except (ValueError, KeyError, TypeError):
        raise _bad("_after", "翻页游标无效", "invalid paging cursor") from None
    if not same_sort:
        raise _bad("_after", "游标与当前排序不一致", "cursor was made for another sort order")
    if value is not None and not isinstance(value, str):
        raise _bad("_after", "翻页游标无效", "invalid paging cursor")
    return value, rowid


def _keyset_condition(req: TableRequest) -> tuple[str, list[Any]]:
    """Rows after the cursor in the order (sort IS NULL, sort [DESC], rowid): NULLs always last."""
    value, rowid = _decode_cursor(req)
    if req.sort is None:
        return "rowid > ?", [rowid]
    col = quote_ident(req.sort)
    if value is None:
        # Written as CASE: `col IS NULL AND rowid > ?` with ORDER BY col ... LIMIT hits an internal error in DuckDB 2.0.
        return f"(CASE WHEN {col} IS NULL THEN rowid > ? ELSE false END)", [rowid]
    col_type = req.table.column(req.sort).type  # type: ignore[union-attr]
    beyond = "<" if req.descending else ">"
    cond = (
        f"(({col} IS NOT NULL AND ({col} {beyond} CAST(? AS {col_type}) "
        f"OR ({col} = CAST(? AS {col_type}) AND rowid > ?))) OR {col} IS NULL)"
    )
    return cond, [value, value, rowid]


def order_clause(req: TableRequest) -> str:
    if req.sort is None:
        return " ORDER BY rowid"
    col = quote_ident(req.sort)
    return f" ORDER BY {col} IS NULL, {col}{' DESC' if req.descending else ''}, rowid"


def rows_query(req: TableRequest, paged: bool = True) -> tuple[str, list[Any]]:
    """Select the requested rows plus their rowid (last column, for the next keyset cursor)."""
    where, params = where_clause(req)
    if req.after is not None:
        cond, extra = _keyset_condition(req)
        where = f"{where} AND {cond}" if where else f" WHERE {cond}"
        params = [*params, *extra]
    cols = ", ".join(quote_ident(c) for c in req.table.column_names)
    sql = f"SELECT {cols}, rowid AS __rowid FROM {quote_ident(req.table.name)}{where}{order_clause(req)}"
    if paged:
        sql += " LIMIT ? OFFSET ?"
        params = [*params, req.size + 1, req.offset]
    return sql, params


def count_query(req: TableRequest) -> tuple[str, list[Any]]:
    where, params = where_clause(req)
    return f"SELECT count(*) FROM {quote_ident(req.table.name)}{where}", params


def facet_query(req: TableRequest, column: str) -> tuple[str, list[Any]]:
    where, params = where_clause(req)
    col = quote_ident(column)
    sql = (
        f"SELECT {col} AS value, count(*) AS n FROM {quote_ident(req.table.name)}{where} "
        f"GROUP BY {col} ORDER BY n DESC, value NULLS LAST LIMIT {FACET_LIMIT}"
    )
    return sql, params
