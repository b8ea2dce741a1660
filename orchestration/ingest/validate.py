"""One contract-driven SQL validator for all five sources.

From a staged relation (staging.py) it builds one temp table with, per row, the typed value of
every contract field, the list of problems (field, value, reason — one per problem) and a
duplicated-key flag. Good rows are those with no problem and no earlier row of the same key.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import duckdb

from hub.core.quoting import quote_ident, sql_literal
from orchestration.ingest import problems
from orchestration.ingest.contracts import Entity, Field, FieldType
from orchestration.ingest.towns import TOWN_ALIASES_TABLE

T = FieldType
_names = itertools.count(1)

# Characters trimmed from every value (SQL literals): ASCII blanks and the ideographic space.
TRIM_CHARS = "' \t\r\n\u3000'"
EDGE_BLANK = "'^[ \t\r\n\u3000]|[ \t\r\n\u3000]$'"

# 2024年5月1日 is how Chinese forms and spreadsheets write a date by hand.
DATE_FORMATS = ("['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y.%m.%d', '%Y-%m-%d %H:%M:%S', '%Y/%m/%d %H:%M:%S', "
                "'%Y年%m月%d日', '%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M']")
LOCAL_DATETIME_FORMATS = ("['%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y-%m-%d %H:%M', '%Y/%m/%d', "
                          "'%Y年%m月%d日 %H:%M:%S', '%Y年%m月%d日 %H:%M', '%Y年%m月%d日']")


def trimmed_expr(column: str) -> str:
    """The column's text without leading/trailing blanks, '' → NULL. trim() with a character set is
    slow on long texts, so it runs only where a regex (RE2, fast) finds a blank at either end."""
    text = f"CAST({column} AS VARCHAR)"
    return (f"nullif(CASE WHEN regexp_matches({text}, {EDGE_BLANK}) THEN trim({text}, {TRIM_CHARS}) "
            f"ELSE {text} END, '')")


INT_PATTERN = "'[+-]?[0-9]+(\\.0*)?'"
FULL_WIDTH_NUMBER_CHARS, ASCII_NUMBER_CHARS = "０１２３４５６７８９．－＋，", "0123456789.-+,"


def plain_number(v: str) -> str:
    """A number as hand-typed in Chinese spreadsheets, made plain: full-width digits (１２) as ASCII, and
    thousands separators (1,234.5) dropped when they group digits by three."""
    ascii_text = f"translate({v}, {sql_literal(FULL_WIDTH_NUMBER_CHARS)}, {sql_literal(ASCII_NUMBER_CHARS)})"
    return (f"CASE WHEN regexp_full_match({ascii_text}, '[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]+)?') "
            f"THEN replace({ascii_text}, ',', '') ELSE {ascii_text} END")


def typed_expr(f: Field, v: str) -> str:
    """SQL computing the typed value of text column ``v`` (already trimmed, '' → NULL); NULL when it does not parse."""
    if f.type is T.INT:
        # The plain form first: the normalised one is computed only for the rows it does not match.
        plain = plain_number(v)
        return (f"CASE WHEN regexp_full_match({v}, {INT_PATTERN}) THEN TRY_CAST({v} AS BIGINT) "
                f"WHEN regexp_full_match({plain}, {INT_PATTERN}) THEN TRY_CAST({plain} AS BIGINT) END")
    if f.type is T.FLOAT:
        # NaN and Infinity parse as DOUBLE but are not measurements; they would poison sums and averages.
        plain = plain_number(v)
        return (f"CASE WHEN isfinite(TRY_CAST({v} AS DOUBLE)) THEN TRY_CAST({v} AS DOUBLE) "
                f"WHEN isfinite(TRY_CAST({plain} AS DOUBLE)) THEN TRY_CAST({plain} AS DOUBLE) END")
    if f.type is T.BOOL:
        return (
            f"CASE WHEN lower({v}) IN ('是', 'true', '1', 'y', 'yes') THEN true "
            f"WHEN lower({v}) IN ('否', 'false', '0', 'n', 'no') THEN false END"
        )
    if f.type is T.DATE:
        # Excel stores dates as days since 1899-12-30; a number of up to 5 digits is such a serial.
        return (
            f"CASE WHEN regexp_full_match({v}, '[0-9]{{1,5}}(\\.[0-9]+)?') "
            f"THEN CAST(DATE '1899-12-30' + CAST(floor(CAST({v} AS DOUBLE)) AS INTEGER) AS DATE) "
            f"ELSE CAST(try_strptime({v}, {DATE_FORMATS}) AS DATE) END"
        )
    if f.type is T.DATETIME:
        # With an offset: convert to Asia/Shanghai wall-clock time; without: it already is local time.
        return (
            f"CASE WHEN regexp_matches({v}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
            f"THEN timezone('Asia/Shanghai', TRY_CAST({v} AS TIMESTAMPTZ)) "
            f"ELSE coalesce(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {LOCAL_DATETIME_FORMATS})) END"
        )
    if f.type is T.TEXT_LIST:
        return f"CASE WHEN json_valid({v}) AND json_type({v}) = 'ARRAY' THEN json_transform({v}, '[\"VARCHAR\"]') END"
    if f.type is T.JSON:
        return f"TRY_CAST({v} AS JSON)"  # one parse; NULL when invalid
    if f.type is T.TOWN:
        return f"CASE WHEN EXISTS (SELECT 1 FROM {TOWN_ALIASES_TABLE} a WHERE a.alias = {v}) THEN {v} END"
    if f.type is T.TOWN_CODE:
        return (
            f"CASE WHEN regexp_full_match({v}, '[0-9]{{9}}') AND "
            f"EXISTS (SELECT 1 FROM {TOWN_ALIASES_TABLE} a WHERE a.alias = {v}) THEN {v} END"
        )
    if f.type is T.VILLAGE_CODE:
        return f"CASE WHEN regexp_full_match({v}, '[0-9]{{12}}') THEN {v} END"
    return v


TYPE_REASONS: dict[FieldType, str] = {
    T.INT: problems.NOT_INTEGER,
    T.FLOAT: problems.NOT_NUMBER,
    T.BOOL: problems.BAD_BOOL,
    T.DATE: problems.BAD_DATE,
    T.DATETIME: problems.BAD_DATETIME,
    T.TEXT_LIST: problems.BAD_LIST,
    T.JSON: problems.BAD_JSON_VALUE,
    T.TOWN: problems.UNKNOWN_TOWN,
    T.TOWN_CODE: problems.BAD_TOWN_CODE,
    T.VILLAGE_CODE: problems.BAD_VILLAGE_CODE,
}


@dataclass(frozen=True)
class Check:
    """One way a row can break the contract: when ``condition`` holds, a problem {field, value, reason}."""

    condition: str
    field: str | None
    value: str
    reason: str

    def problem(self) -> str:
        field_sql = sql_literal(self.field) if self.field else "NULL::VARCHAR"
        return (f"CASE WHEN {self.condition} THEN {{'field': {field_sql}, "
                f"'value': left({self.value}, {problems.MAX_VALUE_CHARS}), 'reason': {self.reason}}} END")


def _with_value(reason: str, v: str) -> str:
    return f"{sql_literal(reason + ': ')} || '\"' || left({v}, 200) || '\"'"


def field_checks(f: Field, v: str, t: str) -> list[Check]:
    """Every way field ``f`` can break the contract (v: trimmed text, t: typed value)."""
    found = []
    if f.required:
        found.append(Check(f"{v} IS NULL", f.name, "NULL::VARCHAR", sql_literal(problems.REQUIRED_EMPTY)))
    if f.type in TYPE_REASONS:
        found.append(Check(f"{v} IS NOT NULL AND {t} IS NULL", f.name, v, _with_value(TYPE_REASONS[f.type], v)))
    if f.allowed:
        allowed = ", ".join(sql_literal(a) for a in f.allowed)
        found.append(Check(f"{v} NOT IN ({allowed})", f.name, v, _with_value(problems.NOT_ALLOWED, v)))
    return found


def _mark_duplicates(con: duckdb.DuckDBPyConnection, relation: str, key_columns: list[str]) -> None:
    """Set _duplicate_of on every good row whose key already appeared on an earlier good row of the
    same file. (A GROUP BY on the key alone, not a window: a window would drag every column along.)"""
    keys = ", ".join(key_columns)
    same_key = " AND ".join(f"c.{k} IS NOT DISTINCT FROM f.{k}" for k in key_columns)
    con.execute(
        f"""
        UPDATE {relation} c SET _duplicate_of = f.first_row
        FROM (SELECT _file_index, {keys}, min(_row_number) AS first_row FROM {relation}
              WHERE NOT _bad GROUP BY ALL HAVING count(*) > 1) f
        WHERE NOT c._bad AND c._file_index = f._file_index AND {same_key} AND c._row_number > f.first_row
        """
    )


def build_checked(con: duckdb.DuckDBPyConnection, entity: Entity, staged_relation: str) -> str:
    """Create a temp table of checked rows and return its name.

    Columns: _file_index, _source_file, _row_number, t0..tN (typed values in contract order),
    _row_hash, _bad (any problem), _problems (list of {field, value, reason}; NULL when none),
    _duplicate_of (row number of the first good row of the same file with the same key: for
    duplicates a batch is one file), and the key fields' trimmed text k0..kM.
    """
    fields = entity.fields
    trimmed = ", ".join(f"{trimmed_expr(quote_ident(f.name))} AS s{i}" for i, f in enumerate(fields))
    typed = ", ".join(f"{typed_expr(f, f's{i}')} AS t{i}" for i, f in enumerate(fields))
    # A row that could not be read at all gets one problem, not one per empty field.
    checks = [Check("_parse_error IS NOT NULL", None, "NULL::VARCHAR", "_parse_error")] + [
        Check(f"_parse_error IS NULL AND {c.condition}", c.field, c.value, c.reason)
        for i, f in enumerate(fields)
        for c in field_checks(f, f"s{i}", f"t{i}")
    ]
    any_problem = " OR ".join(f"coalesce({c.condition}, false)" for c in checks)
    # The list of problems is built only for bad rows (CASE evaluates its branch for those rows only).
    problem_list = (f"CASE WHEN _bad THEN list_filter([{', '.join(c.problem() for c in checks)}], "
                    "lambda p: p IS NOT NULL) END")
    # Unit separator between fields, NUL for NULL: distinct rows give distinct texts.
    as_text = ", ".join(f"coalesce(CAST(t{i} AS VARCHAR), chr(0))" for i in range(len(fields)))
    row_hash = f"md5(concat_ws(chr(31), {as_text}))"
    key_idx = [entity.field_names.index(k) for k in entity.key]
    key_text = "".join(f", s{i} AS k{n}" for n, i in enumerate(key_idx))
    relation = f"ingest_checked_{next(_names)}"
    con.execute(
        f"""
        CREATE TEMP TABLE {relation} AS
        WITH trimmed AS (
            SELECT _file_index, _source_file, _row_number, _parse_error, {trimmed} FROM {staged_relation}
        ),
        typed AS (SELECT *, {typed} FROM trimmed),
        flagged AS (SELECT *, {any_problem} AS _bad FROM typed)
        SELECT _file_index, _source_file, _row_number, {", ".join(f"t{i}" for i in range(len(fields)))},
               {row_hash} AS _row_hash, _bad, {problem_list} AS _problems,
               NULL::BIGINT AS _duplicate_of{key_text}
        FROM flagged
        """
    )
    if key_idx:
        _mark_duplicates(con, relation, [f"t{i}" for i in key_idx])
    return relation
