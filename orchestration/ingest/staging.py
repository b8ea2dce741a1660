"""Get files into one shape: a DuckDB temp table of VARCHAR columns, one per contract field.

All new files of one entity in one run are staged together as one batch, so the validator and
the loader run once per entity, not once per file. The staged table has ``_file_index`` and
``_source_file`` (which file), ``_row_number`` (1-based line, data row or item index),
``_raw_record`` (the row as it arrived, for the quarantine), ``_parse_error`` (set when the row
itself could not be read) and one VARCHAR column per contract field (NULL when absent).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.core.quoting import quote_ident
from orchestration.ingest import problems, readers
from orchestration.ingest.contracts import Entity
from orchestration.ingest.readers import name_key

_names = itertools.count(1)


@dataclass
class FilePart:
    """One file (or HTTP page) read for one entity, not yet validated."""

    source_file: str
    content_hash: str | None
    notes: list[str] = field(default_factory=list)
    lines: pa.Array | None = None  # JSON Lines: one object per line (strings); parsed inside DuckDB
    line_numbers: pa.Array | None = None  # int64, 1-based line of each element of `lines`
    table: pa.Table | None = None  # tabular files: _row_number, _raw_record, _parse_error, c0..cN


@dataclass
class StagedBatch:
    relation: str  # temp view of the staged columns over `records`; dropped by drop()
    records: str  # the registered Arrow table: _file_index, _source_file, _row_number, _raw_record, ...
    entity: Entity
    parts: list[FilePart]  # the files whose rows are in the relation, in load order
    rejected: list[tuple[FilePart, problems.FileRejected]] = field(default_factory=list)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP VIEW IF EXISTS {self.relation}")
        con.unregister(self.records)


def check_columns(entity: Entity, present: Iterable[str], where: str) -> list[str]:
    """Reject when a required column is missing; return a note naming ignored extra columns."""
    present = set(present)
    missing = [f.name for f in entity.fields if f.required and f.name not in present]
    if missing:
        names = "、".join(f'"{m}"' for m in missing)
        raise problems.FileRejected(f"{problems.MISSING_COLUMN}: {names} in {where}", field=missing[0])
    extra = sorted(present - set(entity.field_names))
    if extra:
        return [f"忽略多余列 / extra columns ignored in {where}: " + ", ".join(extra)]
    return []


def json_lines_part(source_file: str, lines: pa.Array | Sequence[str], content_hash: str | None) -> FilePart:
    """A JSON Lines file (or an HTTP page's items as JSON texts); blank lines are dropped but keep
    the numbering of the others."""
    array = lines if isinstance(lines, pa.Array | pa.ChunkedArray) else pa.array(lines, pa.large_string())
    numbers = pa.array(np.arange(1, len(array) + 1, dtype=np.int64))
    # A regex fails at the first character of a JSON line: no copy of every line, unlike a trim.
    blank = pc.match_substring_regex(array, r"^\s*$")
    keep = pc.invert(pc.fill_null(blank, True))
    return FilePart(source_file, content_hash, lines=pc.filter(array, keep), line_numbers=pc.filter(numbers, keep))


def json_file_part(source_file: str, data: bytes, content_hash: str | None) -> FilePart:
    """A JSON Lines file, or one JSON array of objects saved in its place (read item by item, with a note)."""
    records, notes = readers.json_records(data, source_file)
    part = json_lines_part(source_file, records, content_hash)
    part.notes += notes
    return part


TITLE_ROWS_SCANNED = 10  # rows above the header (a sheet title, an export date) a spreadsheet may carry


def _header_text(cell: str | None) -> str:
    # A second BOM (a file saved twice, or two exports pasted together) stays glued to the first header name.
    return (cell or "").lstrip("\ufeff").strip()


def header_key(name: str | None) -> str:
    """A header cell as compared with the contract: 库容（万m3） matches 库容(万m³), " 姓名 " matches 姓名."""
    return name_key(_header_text(name))


def _contract_names(entity: Entity, header: Sequence[str | None]) -> list[str]:
    """Each header cell as the contract's field name it stands for, else as written (trimmed)."""
    by_key = {header_key(f.name): f.name for f in entity.fields}
    return [by_key.get(header_key(h), _header_text(h)) for h in header]


def _missing_fields(entity: Entity, header: Sequence[str | None]) -> int:
    present = set(_contract_names(entity, header))
    return sum(1 for f in entity.fields if f.required and f.name not in present)


def find_header(
    entity: Entity, header: Sequence[str | None], rows: Iterable[tuple[int, Sequence[str | None]]]
) -> tuple[Sequence[str | None], Iterable[tuple[int, Sequence[str | None]]], int]:
    """The header row: the first row unless it lacks required columns and one of the next
    TITLE_ROWS_SCANNED rows has them all (title rows above the header). Returns the header, the data
    rows after it (numbered as in the file) and how many rows above it were skipped."""
    if _missing_fields(entity, header) == 0:
        return header, rows, 0
    rows = iter(rows)
    peeked = list(itertools.islice(rows, TITLE_ROWS_SCANNED))
    for position, (_, cells) in enumerate(peeked):
        if _missing_fields(entity, cells) == 0:
            return cells, itertools.chain(peeked[position + 1:], rows), position + 1
    return header, itertools.chain(peeked, rows), 0


def rows_part(
    entity: Entity,
    header: Sequence[str | None],
    rows: Iterable[tuple[int, Sequence[str | None]]],
    where: str,
    source_file: str,
    content_hash: str | None,
) -> FilePart:
    """A tabular file (CSV, xlsx sheet) given as (row number, cells as text) under a header row."""
    header, rows, skipped = find_header(entity, header, rows)
    names = [_header_text(h) for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(_contract_names(entity, header)):
        if name and name not in index:  # a repeated header keeps its first column
            index[name] = i
    notes = check_columns(entity, index, where)
    if skipped:
        notes.append(f"跳过表头上方 {skipped} 行 / {skipped} row(s) above the header skipped in {where}")
    width = len(names)
    row_numbers: list[int] = []
    records: list[str] = []
    errors: list[str | None] = []
    columns: dict[str, list[str | None]] = {f.name: [] for f in entity.fields}
    for row_number, cells in rows:
        row_numbers.append(row_number)
        record: dict[str, object] = {names[i] or f"#{i + 1}": cell for i, cell in enumerate(cells) if i < width}
        overflow = [c for c in cells[width:] if c not in (None, "")]
        if overflow:
            record["#overflow"] = overflow
            errors.append(f'{problems.CELL_COUNT}: "{len(cells)} vs {width}"')
        else:
            errors.append(None)
        records.append(json.dumps(record, ensure_ascii=False)[: problems.MAX_RECORD_CHARS])
        for name, values in columns.items():
            i = index.get(name)
            values.append(cells[i] if i is not None and i < len(cells) else None)
    table = pa.table(
        {
            "_row_number": pa.array(row_numbers, pa.int64()),
            "_raw_record": pa.array(records, pa.string()),
            "_parse_error": pa.array(errors, pa.string()),
            **{f"c{i}": pa.array(columns[f.name], pa.string()) for i, f in enumerate(entity.fields)},
        }
    )
    return FilePart(source_file, content_hash, notes=notes, table=table)


def _file_columns(parts: Sequence[FilePart], lengths: Sequence[int]) -> dict[str, pa.Array]:
    index = pa.array(np.repeat(np.arange(len(lengths), dtype=np.int32), lengths))
    names = pa.array([p.source_file for p in parts], pa.string())
    return {"_file_index": index, "_source_file": pc.take(names, index)}


def stage_batch(con: duckdb.DuckDBPyConnection, entity: Entity, parts: Sequence[FilePart]) -> StagedBatch:
    """Stage all parts (all JSON Lines, or all tabular) of one entity as one temp view.

    The view is not materialized: the validator reads it once into its own table, which saves
    copying every field (and the whole raw line) through an intermediate table.
    """
    relation = f"ingest_staged_{next(_names)}"
    arrow_name = f"{relation}_arrow"
    parts = list(parts)
    if parts and parts[0].lines is not None:
        lengths = [len(p.lines) for p in parts if p.lines is not None]
        table = pa.table({
            **_file_columns(parts, lengths),
            "_row_number": pa.chunked_array([p.line_numbers for p in parts], pa.int64()),
            "_raw_record": pa.chunked_array([p.lines.cast(pa.large_string()) for p in parts if p.lines is not None]),
        })
        paths = "[" + ", ".join("'$." + quote_ident(f.name).replace("'", "''") + "'" for f in entity.fields) + "]"
        extracted = ", ".join(f"v[{i + 1}] AS {quote_ident(f.name)}" for i, f in enumerate(entity.fields))
        # One JSON parse per line: json_extract_string with a list of paths returns all fields at once.
        select = f"""
            SELECT _file_index, _source_file, _row_number, _raw_record,
                   CASE WHEN NOT valid THEN '{problems.INVALID_JSON_LINE}'
                        WHEN NOT is_object THEN '{problems.NOT_JSON_OBJECT}' END AS _parse_error,
                   {extracted}
            FROM (
                -- try() turns a parse error into NULL: invalid JSON costs no second parse to detect.
                -- A valid line starting with a brace is an object (cheaper than json_type).
                SELECT *, v IS NOT NULL AS valid, v IS NOT NULL AND starts_with(ltrim(_raw_record), '{{') AS is_object
                FROM (SELECT *, try(json_extract_string(_raw_record, {paths})) AS v FROM {arrow_name})
            )
        """
    else:
        tables = [p.table for p in parts if p.table is not None]
        lengths = [t.num_rows for t in tables]
        empty = {f"c{i}": pa.array([], pa.string()) for i in range(len(entity.fields))}
        body = pa.concat_tables(tables) if tables else pa.table({
            "_row_number": pa.array([], pa.int64()), "_raw_record": pa.array([], pa.string()),
            "_parse_error": pa.array([], pa.string()), **empty,
        })
        table = pa.table({**_file_columns(parts, lengths), **{n: body[n] for n in body.column_names}})
        renames = ", ".join(f"c{i} AS {quote_ident(f.name)}" for i, f in enumerate(entity.fields))
        select = (f"SELECT _file_index, _source_file, _row_number, _raw_record, _parse_error, {renames} "
                  f"FROM {arrow_name}")
    con.register(arrow_name, table)
    batch = StagedBatch(relation, arrow_name, entity, parts)
    try:
        keep = ""
        if parts and parts[0].lines is not None:
            rejected = _check_json_keys(con, batch)
            if rejected:
                keep = f" WHERE _file_index NOT IN ({', '.join(map(str, rejected))})"
        con.execute(f"CREATE TEMP VIEW {relation} AS SELECT * FROM ({select}){keep}")
    except BaseException:
        con.unregister(arrow_name)
        raise
    return batch


def _check_json_keys(con: duckdb.DuckDBPyConnection, batch: StagedBatch) -> list[int]:
    """JSON Lines have no header: the keys seen in a file are its columns. A file missing a
    required key in every line is rejected; returns the rejected files' indexes."""
    keys = dict(con.execute(
        f"SELECT _file_index, list(DISTINCT k) FROM (SELECT _file_index, unnest(try(json_keys(_raw_record))) AS k "
        f"FROM {batch.records} WHERE starts_with(ltrim(_raw_record), '{{')) GROUP BY 1"
    ).fetchall())
    rejected: list[int] = []
    for index, part in enumerate(batch.parts):
        if index not in keys:
            continue  # no readable line: every line is quarantined on its own
        try:
            part.notes += check_columns(batch.entity, keys[index], part.source_file)
        except problems.FileRejected as rejection:
            batch.rejected.append((part, rejection))
            rejected.append(index)
    batch.parts = [p for i, p in enumerate(batch.parts) if i not in rejected]
    return rejected
