"""The town page's data: the ``town_dossier`` row plus the town's detail rows from other published tables.

Detail tables are optional: a snapshot that lacks one still yields the dossier, with that section
empty and named in ``missing`` so the page can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.serving_db import ServingDb
from hub.core.quoting import quote_ident

DOSSIER_TABLE = "town_dossier"
DETAIL_LIMIT = 200


@dataclass(frozen=True)
class DetailSection:
    key: str
    table_candidates: tuple[str, ...]  # the first one published is used
    order_by: tuple[str, ...]  # first existing column wins, descending when ``newest_first``
    newest_first: bool = False


SECTIONS = (
    DetailSection("hidden_dangers", ("hidden_danger_register",), ("days_open", "overdue_days"), newest_first=True),
    DetailSection("teams", ("rescue_teams", "town_rescue_teams"), ("headcount",), newest_first=True),
    DetailSection("plans", ("emergency_plans", "plans", "town_plans"), ("revised_date", "effective_date"), True),
    DetailSection("events", ("town_events", "events", "recent_events"), ("report_time", "reported_at"), True),
    DetailSection("grid", ("grid_coverage",), ("village_code",)),
    DetailSection("capacity", ("rescue_capacity",), ("town_code",)),
    DetailSection("readiness", ("town_readiness",), ("town_code",)),
)


def _rows(db: ServingDb, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.cursor()
    try:
        result = cursor.execute(sql, params)
        names = [d[0] for d in result.description or []]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        cursor.close()


def town_list(db: ServingDb) -> list[dict[str, Any]]:
    table = db.catalog.table(DOSSIER_TABLE)
    if table is None:
        return []
    wanted = [c for c in ("town_code", "town_name", "readiness_score") if table.column(c)]
    cols = ", ".join(quote_ident(c) for c in wanted)
    return _rows(db, f"SELECT {cols} FROM {quote_ident(DOSSIER_TABLE)} ORDER BY town_code", [])


def town_dossier(db: ServingDb, town_code: str) -> dict[str, Any] | None:
    if db.catalog.table(DOSSIER_TABLE) is None:
        return None
    found = _rows(db, f"SELECT * FROM {quote_ident(DOSSIER_TABLE)} WHERE town_code = ?", [town_code])
    if not found:
        return None
    result: dict[str, Any] = {"town_code": town_code, "dossier": found[0], "missing": [], "snapshot": db.path.name}
    for section in SECTIONS:
        table = next((db.catalog.table(n) for n in section.table_candidates if db.catalog.table(n)), None)
        if table is None or table.column("town_code") is None:
            result[section.key] = []
            result["missing"].append(section.table_candidates[0])
            continue
        order = next((c for c in section.order_by if table.column(c)), None)
        direction = " DESC" if section.newest_first else ""
        order_sql = f" ORDER BY {quote_ident(order)}{direction} NULLS LAST" if order else ""
        result[section.key] = _rows(
            db,
            f"SELECT * FROM {quote_ident(table.name)} WHERE town_code = ?{order_sql} LIMIT {DETAIL_LIMIT}",
            [town_code],
        )
    return result


def link_documents(found: dict[str, Any], documents: list[dict[str, Any]]) -> None:
    """Attach the knowledge-base documents of the town, and each plan's document id by its file name."""
    by_file = {str(d.get("file", "")).rsplit("/", 1)[-1]: d["doc_id"] for d in documents}
    for plan in found.get("plans", []):
        name = plan.get("file_name")
        plan["doc_id"] = by_file.get(str(name)) if name else None
    code = found["town_code"]
    found["documents"] = [
        {k: d.get(k) for k in ("doc_id", "title", "doc_type", "date", "file")}
        for d in documents
        if code in (d.get("towns") or [])
    ]


def section_totals(db: ServingDb, town_code: str) -> dict[str, int]:
    """How many rows each detail section has for the town (the page shows at most ``DETAIL_LIMIT``)."""
    totals: dict[str, int] = {}
    for section in SECTIONS:
        table = next((db.catalog.table(n) for n in section.table_candidates if db.catalog.table(n)), None)
        if table is None or table.column("town_code") is None:
            continue
        found = _rows(db, f"SELECT count(*) AS n FROM {quote_ident(table.name)} WHERE town_code = ?", [town_code])
        totals[section.key] = int(found[0]["n"])
    return totals


def events_by_month(db: ServingDb, town_code: str) -> list[dict[str, Any]]:
    """The town's events per report month and first-level category, for the dossier's chart."""
    table = db.catalog.table("town_events")
    if table is None or not all(table.column(c) for c in ("town_code", "report_time", "category_l1")):
        return []
    return _rows(
        db,
        "SELECT strftime(report_time, '%Y-%m') AS month, category_l1 AS type, count(*) AS events "
        'FROM "town_events" WHERE town_code = ? AND report_time IS NOT NULL GROUP BY ALL ORDER BY 1, 2',
        [town_code],
    )


def overdue_days(db: ServingDb, town_code: str) -> list[int]:
    """Days past the deadline of each of the town's overdue hidden dangers."""
    table = db.catalog.table("hidden_danger_register")
    if table is None or not all(table.column(c) for c in ("town_code", "is_overdue", "overdue_days")):
        return []
    found = _rows(
        db,
        'SELECT overdue_days FROM "hidden_danger_register" WHERE town_code = ? AND is_overdue AND overdue_days > 0',
        [town_code],
    )
    return [int(r["overdue_days"]) for r in found]
