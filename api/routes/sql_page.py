"""``/sql``: the read-only SQL page for analysts (editor, results, CSV export, a shareable link).

The query runs through the same sandbox as ``POST /api/sql`` (``api.routes.sql.run_user_sql``: one SELECT, time,
row and memory limits, the masked copy, or the server's masked views, for roles that get personal data masked)
and is audited the same way. The query lives in the URL (``/sql?q=…``), so a link shares it; the page is a
GET form, so the session cookie (sent on GET only) is enough.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any, ClassVar
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromQuery
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Template

from api.auth import Principal, require
from api.dependencies import SNAPSHOTS, SnapshotsDep, lease
from api.table_display import table_label, table_order
from api.tables_service import UTF8_BOM, csv_cell

MAX_SQL_CHARS = 20_000  # a query in a URL: long enough for any hand-written query, short of header limits

# (title, query): saved examples an analyst can start from.
EXAMPLES = (
    (
        "各镇街逾期隐患数",
        "SELECT town_name AS 镇街, count(*) AS 逾期隐患, max(overdue_days) AS 最长逾期天数\n"
        "FROM hidden_danger_register\nWHERE is_overdue\nGROUP BY town_name\nORDER BY 逾期隐患 DESC",
    ),
    (
        "六有得分最低的镇街",
        "SELECT town_name AS 镇街, readiness_score AS 六有得分\nFROM town_readiness\n"
        "ORDER BY readiness_score, town_name\nLIMIT 10",
    ),
    (
        "无人覆盖的村社",
        "SELECT town_name AS 镇街, village_name AS 村社\nFROM grid_coverage\nWHERE is_uncovered\nORDER BY 1, 2",
    ),
    (
        "各部门最近一个月的按时办结率",
        "SELECT dept AS 部门, month AS 月份, events AS 事件数, round(on_time_rate * 100, 1) AS 按时办结率\n"
        "FROM event_handling\nWHERE month = (SELECT max(month) FROM event_handling)\nORDER BY 事件数 DESC",
    ),
    (
        "责任缺位或冲突的事项",
        "SELECT domain AS 领域, task AS 事项, level AS 层级, has_gap AS 缺位, has_conflict AS 冲突\n"
        "FROM responsibility_matrix\nWHERE has_gap OR has_conflict\nORDER BY level_rank, domain",
    ),
)


def schema_outline(snapshots: Any) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(table, Chinese name, [(column, Chinese label, type)]) of every published table, in the tables page's
    order: what an analyst writes SQL against, beside the editor."""
    with lease(snapshots) as db:
        return [
            (t.name, table_label(t), [(c.name, c.label if c.label != c.name else "", c.type) for c in t.columns])
            for t in table_order(list(db.catalog.tables.values()))
        ]


def result_labels(schema: list[tuple[str, str, list[tuple[str, str, str]]]], sql: str) -> dict[str, str]:
    """Column name → Chinese label, for the results table's headers: a result column named like a column of a
    table the query reads (FROM or JOIN) gets that column's label; else like a published column that every table
    labels the same way. Other names (aliases, expressions) stay as they are."""
    seen: dict[str, set[str]] = {}
    for _, _, columns in schema:
        for name, label, _ in columns:
            if label:
                seen.setdefault(name, set()).add(label)
    labels = {name: next(iter(found)) for name, found in seen.items() if len(found) == 1}
    read = {found.lower() for found in re.findall(r'\b(?:from|join)\s+"?([A-Za-z_][A-Za-z0-9_]*)', sql, re.IGNORECASE)}
    for table, _, columns in schema:
        if table.lower() in read:
            labels.update((name, label) for name, label, _ in columns if label)
    return labels


def _run(request: Request[Any, Any, Any], state: State, sql: str, action: str) -> Any:
    from api.routes.sql import run_user_sql

    principal: Principal = request.user  # authorised by the controller's guard
    return run_user_sql(state, principal, sql, None, action)


class SqlPages(Controller):
    """SQL 查询: the editor and results page, and its CSV export."""

    path = "/sql"
    guards = (require("sql"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SNAPSHOTS}

    @get("/", sync_to_thread=True)
    def sql_page(
        self, request: Request[Any, Any, Any], state: State, snapshots: SnapshotsDep, q: FromQuery[str] = ""
    ) -> Template:
        from api.routes.pages import page_context  # the page layout's shared context (menu, who is signed in)

        sql = q.strip()[:MAX_SQL_CHARS]
        schema = schema_outline(snapshots)
        result, error, snapshot = None, None, None
        if sql:
            try:
                result, snapshot = _run(request, state, sql, "sql_page")
            except ProblemDetailsException as exc:
                extra = exc.extra if isinstance(exc.extra, dict) else {}
                error = extra.get("message_zh") or exc.detail
        context = page_context(
            request,
            request.user,
            sql=sql,
            result=result,
            rows=result.rows if result else [],
            error=error,
            snapshot=snapshot,
            row_limit=state.settings.sql_row_limit,
            examples=[(title, text, "/sql?" + urlencode({"q": text})) for title, text in EXAMPLES],
            schema=schema,
            labels=result_labels(schema, sql),
            share=("/sql?" + urlencode({"q": sql})) if sql else None,
            export=("/sql/export.csv?" + urlencode({"q": sql})) if sql else None,
        )
        return Template(template_name="sql.html", context=context, status_code=400 if error else 200)

    @get("/export.csv", sync_to_thread=True)
    def sql_export(self, request: Request[Any, Any, Any], state: State, q: FromQuery[str] = "") -> Response[bytes]:
        """The query's result as CSV (UTF-8 with a BOM for spreadsheet software), up to the SQL row limit."""
        result, _ = _run(request, state, q.strip()[:MAX_SQL_CHARS], "export_sql_csv")
        buffer = io.StringIO()
        buffer.write(UTF8_BOM)
        writer = csv.writer(buffer)
        writer.writerow([c["name"] for c in result.columns])
        writer.writerows([csv_cell(v) for v in row] for row in result.rows)
        return Response(
            buffer.getvalue().encode("utf-8"),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="query.csv"'},
        )


SQL_PAGE_ROUTES = [SqlPages]
