"""The data dictionary of a serving snapshot, read from its ``_tables`` and ``_snapshot`` tables.

Every table, column and sort name that arrives in a request is looked up here before it is
quoted into SQL, so identifiers can only ever be names that exist in the snapshot.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from hub.core.quoting import quote_ident

LABEL_END = re.compile(r"\s*/\s+")  # "中文 / English" or "中文/ English"; not the slash in "是/否"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # dbt column meta (web pages)

    @property
    def is_boolean(self) -> bool:
        return self.type.upper() == "BOOLEAN"

    @property
    def label(self) -> str:
        """The Chinese label of the description ("是否逾期 / …" or "镇街（原值）/ …" → the Chinese part), else the
        column name. A slash inside the label ("是/否") has no space after it, so it is not the separator."""
        head = LABEL_END.split(self.description, maxsplit=1)[0].strip()
        return head if head and len(head) <= 20 else self.name


@dataclass(frozen=True)
class TableInfo:
    name: str
    description: str
    columns: tuple[Column, ...]
    row_count: int = 0
    summary: str = ""  # the Chinese description readers see (dbt meta.summary); empty in older snapshots

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def key(self) -> tuple[str, ...]:
        """The columns that identify a row (publish marks them from the model's dbt uniqueness test); empty in
        snapshots published before keys were recorded."""
        marked = [c for c in self.columns if isinstance(c.meta.get("key"), int)]
        return tuple(c.name for c in sorted(marked, key=lambda c: c.meta["key"]))


@dataclass(frozen=True)
class Catalog:
    tables: dict[str, TableInfo]
    snapshot: dict[str, Any] = field(default_factory=dict)

    def table(self, name: str) -> TableInfo | None:
        return self.tables.get(name)


def _parse_columns(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return []
    return [c for c in raw if isinstance(c, dict) and c.get("name")] if isinstance(raw, list) else []


def load_catalog(conn: duckdb.DuckDBPyConnection) -> Catalog:
    """Tables listed in ``_tables`` that really exist, with their real column types from DuckDB."""
    real: dict[str, dict[str, str]] = {}
    for table, column, dtype in conn.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'main' order by table_name, ordinal_position"
    ).fetchall():
        real.setdefault(table, {})[column] = dtype
    documented: dict[str, tuple[str, list[dict[str, Any]], str]] = {}
    if "_tables" in real:
        summary = "summary" if "summary" in real["_tables"] else "''"  # snapshots published before it had none
        for name, description, columns, chinese in conn.execute(
            f"select table_name, description, columns, {summary} from _tables order by table_name"
        ).fetchall():
            documented[name] = (description or "", _parse_columns(columns), chinese or "")
    tables: dict[str, TableInfo] = {}
    for name, (description, doc_columns, summary) in documented.items():
        if name not in real:
            continue  # documented but not published: never expose a name that is not in the file
        col_doc = {str(c["name"]): str(c.get("description") or "") for c in doc_columns}
        col_meta = {str(c["name"]): c["meta"] for c in doc_columns if isinstance(c.get("meta"), dict)}
        columns = tuple(
            Column(col, dtype, col_doc.get(col, ""), col_meta.get(col, {})) for col, dtype in real[name].items()
        )
        count = conn.execute(f"select count(*) from {quote_ident(name)}").fetchone()
        tables[name] = TableInfo(name, description, columns, int(count[0]) if count else 0, summary)
    snapshot: dict[str, Any] = {}
    if "_snapshot" in real:
        cur = conn.execute("select * from _snapshot limit 1")
        row = cur.fetchone()
        if row is not None:
            snapshot = {d[0]: _jsonable(v) for d, v in zip(cur.description, row, strict=True)}
            if isinstance(snapshot.get("row_counts"), str):
                with contextlib.suppress(json.JSONDecodeError):
                    snapshot["row_counts"] = json.loads(snapshot["row_counts"])
    return Catalog(tables, snapshot)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict | list):
        return value
    return str(value)
