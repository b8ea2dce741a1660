"""One row of a published table on a page of its own, as Datasette has: ``/tables/<name>/row?<key>``.

A row is addressed by the table's key (``TableInfo.key``: the columns its dbt uniqueness test holds unique),
written as the table page's own filters (``register_id=…``; ``<column>__isnull=true`` for an empty key part),
so the lookup goes through the same parser, masking and SQL as any table page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar.plugins.problem_details import ProblemDetailsException

from api.catalog import Catalog, TableInfo
from api.errors import problem
from api.masking import protected_columns, row_mask, sees_personal_data
from api.serving_db import ServingDb
from api.table_display import table_label, table_order
from api.table_query import TableRequest, parse_table_request
from api.tables_service import matching_rows, table_page


def key_pairs(table: TableInfo, row: dict[str, Any]) -> list[tuple[str, str]]:
    """The row's key as query parameters of the table API and pages."""
    pairs = []
    for column in table.key:
        value = row.get(column)
        if value is None:
            pairs.append((f"{column}__isnull", "true"))
        elif isinstance(value, bool):
            pairs.append((column, "true" if value else "false"))
        else:
            pairs.append((column, str(value)))
    return pairs


def row_href(table: TableInfo, row: dict[str, Any]) -> str | None:
    """The row's own page; None for a table without a recorded key."""
    return f"/tables/{table.name}/row?{urlencode(key_pairs(table, row))}" if table.key else None


def row_request(table: TableInfo, query: list[tuple[str, str]]) -> TableRequest:
    """The lookup of one row: every key column named once (``col=value`` or ``col__isnull=true``), nothing else."""
    if not table.key:
        raise problem(404, "no_row_key", f"数据表 {table_label(table)} 没有记录键，无法单独打开一行",
                      f"table {table.name!r} records no key: its rows have no page of their own")
    allowed = {name for column in table.key for name in (column, f"{column}__isnull")}
    unknown = [k for k, _ in query if k not in allowed]
    if unknown:
        raise problem(400, "invalid_row_key", f"参数 {unknown[0]} 不是本表的记录键；记录键：{'、'.join(table.key)}",
                      f"parameter {unknown[0]!r} is not part of the row key ({', '.join(table.key)})",
                      parameter=unknown[0])
    given = [k.removesuffix("__isnull") for k, _ in query]
    for column in table.key:
        if given.count(column) != 1:
            raise problem(400, "invalid_row_key", f"参数 {column} 缺失或重复：记录键为 {'、'.join(table.key)}",
                          f"parameter {column!r} is missing or repeated: the row key is {', '.join(table.key)}",
                          parameter=column)
    return parse_table_request(table, [*query, ("_size", "2")], 2, 2)


def find_row(db: ServingDb, table: TableInfo, query: list[tuple[str, str]], role: str) -> dict[str, Any]:
    """The row the key names, masked for ``role``; 404 when there is none."""
    page = table_page(db, row_request(table, query), row_mask(table, role))
    if not page["rows"]:
        shown = "、".join(f"{k.removesuffix('__isnull')}={'空' if k.endswith('__isnull') else v}" for k, v in query)
        raise problem(404, "row_not_found", f"{table_label(table)} 中没有 {shown} 的记录（可能已在新的快照中变化）",
                      f"no row of {table.name!r} with {shown}")
    return dict(page["rows"][0])


def referencing_tables(db: ServingDb, table: TableInfo, row: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Other tables holding this row's one-column key in a column of the same name, with how many rows do
    (as Datasette's "links from other tables"): a town's events, dangers and teams from its ``town_code``."""
    if len(table.key) != 1 or row.get(table.key[0]) is None:
        return []
    column, value = table.key[0], str(row[table.key[0]])
    found = []
    catalog: Catalog = db.catalog
    for other in table_order(list(catalog.tables.values())):
        if other.name == table.name or other.column(column) is None:
            continue
        if not sees_personal_data(role) and column in protected_columns(other):
            continue
        try:
            req = parse_table_request(other, [(column, value), ("_size", "1")], 1, 1)
        except ProblemDetailsException:  # the same name with another type there: not the same thing
            continue
        count = matching_rows(db, req)
        if count:
            found.append({"table": other, "label": table_label(other), "count": count,
                          "href": f"/tables/{other.name}?{urlencode([(column, value)])}"})
    return found
