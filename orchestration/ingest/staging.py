"""Get any file into one shape: a DuckDB relation of VARCHAR columns, one per contract field.

Every staged relation has ``_row_number`` (1-based line, data row or item index),
``_raw_record`` (the row as it arrived, for the quarantine), ``_parse_error`` (set when the
row itself could not be read) and one VARCHAR column per contract field (NULL when absent).
The contract-driven validator (validate.py) then works the same for all five sources.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from orchestration.ingest import problems
from orchestration.ingest.contracts import Entity
from orchestration.ingest.schema import quote

_names = itertools.count(1)


@dataclass
class Staged:
    relation: str  # temp table in the connection; dropped by drop()
    entity: Entity
    rows_read: int
    notes: list[str] = field(default_factory=list)

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"DROP TABLE IF EXISTS {self.relation}")


def _check_columns(entity: Entity, present: Iterable[str], where: str) -> list[str]:
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


def stage_rows(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    header: Sequence[str | None],
    rows: Iterable[tuple[int, Sequence[str | None]]],
    where: str,
) -> Staged:
    """Stage tabular rows (CSV, xlsx) given as (row number, cells as text) under a header row."""
    names = [(h or "").strip() for h in header]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name not in index:  # a repeated header keeps its first column
            index[name] = i
    notes = _check_columns(entity, index, where)
    width = len(names)
    row_numbers: list[int] = []
    records: list[str] = []
    errors: list[str | None] = []
    columns: dict[str, list[str | None]] = {f.name: [] for f in entity.fields}
    for row_number, cells in rows:
        row_numbers.append(row_number)
        record = {names[i] or f"#{i + 1}": cell for i, cell in enumerate(cells) if i < width}
        overflow = [c for c in cells[width:] if c not in (None, "")]
        if overflow:
            record["#overflow"] = overflow  # type: ignore[assignment]
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
    relation = f"ingest_staged_{next(_names)}"
    arrow_name = f"{relation}_arrow"
    con.register(arrow_name, table)
    try:
        renames = ", ".join(f"c{i} AS {quote(f.name)}" for i, f in enumerate(entity.fields))
        con.execute(
            f"CREATE TEMP TABLE {relation} AS "
            f"SELECT _row_number, _raw_record, _parse_error, {renames} FROM {arrow_name}"
        )
    finally:
        con.unregister(arrow_name)
    return Staged(relation, entity, len(row_numbers), notes)


def stage_json_lines(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    lines: Sequence[str],
    where: str,
    row_numbers: Sequence[int] | None = None,
) -> Staged:
    """Stage JSON objects given as text lines; fields are extracted inside DuckDB (one parse per line).

    A line that is not valid JSON (e.g. truncated) or not an object keeps its row number and is
    quarantined by the validator; the other lines load.
    """
    if row_numbers is None:
        row_numbers = range(1, len(lines) + 1)
    kept = [(n, line) for n, line in zip(row_numbers, lines, strict=True) if line.strip()]
    table = pa.table(
        {
            "_row_number": pa.array([n for n, _ in kept], pa.int64()),
            "line": pa.array([line for _, line in kept], pa.string()),
        }
    )
    relation = f"ingest_staged_{next(_names)}"
    arrow_name = f"{relation}_arrow"
    paths = "[" + ", ".join("'$." + quote(f.name).replace("'", "''") + "'" for f in entity.fields) + "]"
    extracted = ", ".join(f"v[{i + 1}] AS {quote(f.name)}" for i, f in enumerate(entity.fields))
    con.register(arrow_name, table)
    try:
        con.execute(
            f"""
            CREATE TEMP TABLE {relation} AS
            SELECT _row_number, line AS _raw_record,
                   CASE WHEN NOT valid THEN '{problems.INVALID_JSON_LINE}'
                        WHEN NOT is_object THEN '{problems.NOT_JSON_OBJECT}' END AS _parse_error,
                   {extracted}
            FROM (
                SELECT _row_number, line, valid, is_object,
                       CASE WHEN is_object THEN json_extract_string(line, {paths}) END AS v
                FROM (
                    SELECT _row_number, line, json_valid(line) AS valid,
                           coalesce(CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' END, false) AS is_object
                    FROM {arrow_name}
                )
            )
            """
        )
    finally:
        con.unregister(arrow_name)
    keys = con.execute(
        f"SELECT DISTINCT unnest(json_keys(_raw_record)) FROM {relation} WHERE _parse_error IS NULL"
    ).fetchall()
    staged = Staged(relation, entity, len(kept))
    if staged.rows_read and any(True for _ in keys):
        try:
            staged.notes = _check_columns(entity, (k for (k,) in keys), where)
        except problems.FileRejected:
            staged.drop(con)
            raise
    return staged
