"""Run table requests on a serving snapshot: one page as JSON, facets, CSV and Parquet exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from api.catalog import TableInfo
from api.errors import problem
from api.masking import RowMask, mask_value
from api.serving_db import ServingDb
from api.table_query import TableRequest, count_query, encode_cursor, facet_query, rows_query

CSV_CHUNK_ROWS = 2000
UTF8_BOM = "\ufeff"


def _bad_value(message: str) -> Exception:
    """A value DuckDB could not convert that the request check let through: no engine text for the reader."""
    del message  # DuckDB's wording ("Conversion Error: …") is not for people; the parsed check names the column
    return problem(
        400, "bad_value", "筛选值与列的类型不符，请检查筛选条件", "a filter value does not match its column type"
    )


def _run(db: ServingDb, sql: str, params: list[Any]) -> duckdb.DuckDBPyConnection:
    cursor = db.cursor()
    try:
        return cursor.execute(sql, params)
    except duckdb.ConversionException as exc:
        cursor.close()
        raise _bad_value(str(exc)) from None
    except duckdb.InterruptException:
        cursor.close()
        raise problem(400, "timeout", "查询超时", "query timed out") from None


def published_table(db: ServingDb, name: str) -> TableInfo:
    """The published table ``name`` of this snapshot, else a 404 naming it."""
    table = db.catalog.table(name)
    if table is None:
        zh, en = f"没有名为 {name!r} 的数据表", f"no published table named {name!r}"
        raise problem(404, "unknown_table", zh, en, table=name)
    return table


def matching_rows(db: ServingDb, req: TableRequest) -> int:
    """How many rows the request's filters and search let through (counted once per snapshot)."""
    return int(_counted(db, *count_query(req), lambda cursor: cursor.fetchone()[0]))


def table_page(db: ServingDb, req: TableRequest, mask: RowMask | None = None) -> dict[str, Any]:
    names = req.table.column_names
    cursor = _run(db, *rows_query(req))
    try:
        fetched = cursor.fetchall()
    finally:
        cursor.close()
    has_more = len(fetched) > req.size
    page = fetched[: req.size]
    rows = [dict(zip(names, mask.row(row[:-1]) if mask else row[:-1], strict=True)) for row in page]
    if req.columns:
        rows = [{name: row[name] for name in req.column_names} for row in rows]
    next_after = None
    if has_more and page:
        last = page[-1]
        sort_value = last[names.index(req.sort)] if req.sort else None
        next_after = encode_cursor(req.sort, req.descending, sort_value, int(last[-1]))
    total = matching_rows(db, req)
    return {
        "table": req.table.name,
        "columns": [{"name": c.name, "type": c.type, "description": c.description}
                    for c in req.table.columns if c.name in req.column_names],
        "rows": rows,
        "total": total,
        "offset": req.offset,
        "size": req.size,
        "sort": req.sort,
        "sort_desc": req.descending,
        "next_after": next_after,
        "next_offset": req.offset + req.size if has_more and req.after is None else None,
        "facets": facet_counts(db, req),
        "snapshot": db.path.name,
    }


def _counted(db: ServingDb, sql: str, params: list[Any], read: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
    """A count or facet query's answer, from the snapshot's cache when this query was counted before."""

    def count() -> Any:
        cursor = _run(db, sql, params)
        try:
            return read(cursor)
        finally:
            cursor.close()

    return db.counts.get_or_compute((sql, repr(params)), count)[0]


def facet_counts(db: ServingDb, req: TableRequest) -> dict[str, list[dict[str, Any]]]:
    def read(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
        return [{"value": value, "count": int(n)} for value, n in cursor.fetchall()]

    # each facet as a fresh list: a caller may change what it gets, never the cached copy
    return {
        column: [dict(item) for item in _counted(db, *facet_query(req, column), read)] for column in req.facets
    }


# A text cell starting with one of these is a formula to spreadsheet software (=HYPERLINK(...), +cmd|..., @SUM,
# and tab / CR variants): it is written with a leading single quote, so it shows as the text it is (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(db: ServingDb, req: TableRequest, row_limit: int, mask: RowMask | None = None) -> Iterator[bytes]:
    """CSV as UTF-8 with a BOM (so spreadsheet software reads the Chinese right), streamed in chunks."""
    sql, params = rows_query(req, paged=req.size_given)
    cursor = _run(db, sql, params)
    try:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write(UTF8_BOM)
        writer.writerow(req.column_names)
        kept = [req.table.column_names.index(name) for name in req.column_names]
        sent = 0
        while sent < row_limit:
            rows = cursor.fetchmany(min(CSV_CHUNK_ROWS, row_limit - sent))
            if not rows:
                break
            if req.size_given:
                rows = rows[: max(0, req.size - sent)]
            masked = (mask.row(row[:-1]) if mask else row[:-1] for row in rows)
            writer.writerows([csv_cell(values[i]) for i in kept] for values in masked)
            sent += len(rows)
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            if req.size_given and sent >= req.size:
                break
        if buffer.tell():
            yield buffer.getvalue().encode("utf-8")
    finally:
        cursor.close()


def parquet_bytes(db: ServingDb, req: TableRequest, row_limit: int, mask: RowMask | None = None) -> bytes:
    sql, params = rows_query(req, paged=req.size_given)
    if req.size_given:
        params[-2] = req.size  # rows_query asks for one extra row to detect a next page
    cursor = db.cursor()
    try:
        table = cursor.sql(sql, params=params).to_arrow_table()
    except duckdb.ConversionException as exc:
        raise _bad_value(str(exc)) from None
    finally:
        cursor.close()
    table = table.drop_columns(["__rowid"]).slice(0, row_limit)
    if mask:
        for index, rule in mask.rules.items():
            values = [mask_value(rule, v) for v in table.column(index).to_pylist()]
            table = table.set_column(index, table.field(index), pa.array(values, table.field(index).type))
    sink = io.BytesIO()
    pq.write_table(table.select(req.column_names), sink, compression="zstd")
    return sink.getvalue()
