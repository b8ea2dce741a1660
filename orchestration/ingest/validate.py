"""One contract-driven SQL validator for all five sources.

From a staged relation (staging.py) it builds one temp table with, per row, the typed value of
every contract field, the list of problems (field, value, reason — one per problem) and a
duplicated-key flag. Good rows are those with no problem and no earlier row of the same key.
"""

from __future__ import annotations

import itertools

import duckdb

from orchestration.ingest import problems
from orchestration.ingest.contracts import Entity, Field, FieldType
from orchestration.ingest.schema import quote
from orchestration.ingest.towns import TOWN_ALIASES_TABLE

T = FieldType
_names = itertools.count(1)

# Characters trimmed from every value: ASCII blanks and the ideographic space.
TRIM_CHARS = "' \t\r\n\u3000'"

DATE_FORMATS = "['%Y-%m-%d', '%Y/%m/%d', '%Y%m%d', '%Y.%m.%d', '%Y-%m-%d %H:%M:%S', '%Y/%m/%d %H:%M:%S']"
LOCAL_DATETIME_FORMATS = "['%Y/%m/%d %H:%M:%S', '%Y/%m/%d %H:%M', '%Y-%m-%d %H:%M', '%Y/%m/%d']"


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def typed_expr(f: Field, v: str) -> str:
    """SQL computing the typed value of text column ``v`` (already trimmed, '' → NULL); NULL when it does not parse."""
    if f.type is T.INT:
        return f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+(\\.0*)?') THEN TRY_CAST({v} AS BIGINT) END"
    if f.type is T.FLOAT:
        return f"TRY_CAST({v} AS DOUBLE)"
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
        return f"CASE WHEN json_valid({v}) THEN CAST({v} AS JSON) END"
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


def _problem(condition: str, f: Field | None, value: str, reason: str) -> str:
    field_sql = sql_str(f.name) if f else "NULL::VARCHAR"
    return (
        f"CASE WHEN {condition} THEN {{'field': {field_sql}, 'value': left({value}, {problems.MAX_VALUE_CHARS}), "
        f"'reason': {reason}}} END"
    )


def _with_value(reason: str, v: str) -> str:
    return f"{sql_str(reason + ': ')} || '\"' || left({v}, 200) || '\"'"


def problem_exprs(f: Field, v: str, t: str) -> list[str]:
    """One CASE per way field ``f`` can break the contract (v: trimmed text, t: typed value)."""
    found = []
    if f.required:
        found.append(_problem(f"{v} IS NULL", f, "NULL::VARCHAR", sql_str(problems.REQUIRED_EMPTY)))
    if f.type in TYPE_REASONS:
        found.append(_problem(f"{v} IS NOT NULL AND {t} IS NULL", f, v, _with_value(TYPE_REASONS[f.type], v)))
    if f.allowed:
        allowed = ", ".join(sql_str(a) for a in f.allowed)
        found.append(_problem(f"{v} NOT IN ({allowed})", f, v, _with_value(problems.NOT_ALLOWED, v)))
    return found


def build_checked(con: duckdb.DuckDBPyConnection, entity: Entity, staged_relation: str) -> str:
    """Create a temp table of checked rows and return its name.

    Columns: _file_index, _source_file, _row_number, _raw_record, t0..tN (typed values in contract
    order), _row_hash, _problems (list of {field, value, reason}), _duplicate_of (row number of the
    first row of the same file with the same key: a batch, for duplicates, is one file), s0..sN.
    """
    fields = entity.fields
    trimmed = ", ".join(
        f"nullif(trim(CAST({quote(f.name)} AS VARCHAR), {TRIM_CHARS}), '') AS s{i}" for i, f in enumerate(fields)
    )
    typed = ", ".join(f"{typed_expr(f, f's{i}')} AS t{i}" for i, f in enumerate(fields))
    checks = [_problem("_parse_error IS NOT NULL", None, "NULL::VARCHAR", "_parse_error")]
    for i, f in enumerate(fields):
        # A row that could not be read at all gets one problem, not one per empty field.
        checks += [f"CASE WHEN _parse_error IS NULL THEN {c} END" for c in problem_exprs(f, f"s{i}", f"t{i}")]
    as_text = ", ".join(f"CAST(t{i} AS VARCHAR)" for i in range(len(fields)))
    row_hash = f"md5(CAST(to_json([{as_text}]) AS VARCHAR))"
    key_cols = [f"t{entity.field_names.index(k)}" for k in entity.key]
    if key_cols:
        partition = ", ".join(key_cols)
        # Only rows without other problems compete for a key: the first good row wins.
        first_of_key = (
            "CASE WHEN len(_problems) = 0 THEN "
            f"min(_row_number) OVER (PARTITION BY _file_index, len(_problems) = 0, {partition}) END"
        )
    else:
        first_of_key = "NULL::BIGINT"
    relation = f"ingest_checked_{next(_names)}"
    con.execute(
        f"""
        CREATE TEMP TABLE {relation} AS
        WITH trimmed AS (
            SELECT _file_index, _source_file, _row_number, _raw_record, _parse_error, {trimmed} FROM {staged_relation}
        ),
        typed AS (SELECT *, {typed} FROM trimmed),
        checked AS (
            SELECT *, list_filter([{", ".join(checks)}], lambda p: p IS NOT NULL) AS _problems, {row_hash} AS _row_hash
            FROM typed
        )
        SELECT _file_index, _source_file, _row_number, _raw_record, {", ".join(f"t{i}" for i in range(len(fields)))},
               _row_hash, _problems,
               CASE WHEN _first_of_key < _row_number THEN _first_of_key END AS _duplicate_of,
               {", ".join(f"s{i}" for i in range(len(fields)))}
        FROM (SELECT *, {first_of_key} AS _first_of_key FROM checked)
        """
    )
    return relation
