"""考核与督办 pages: the month's ranking of towns and departments with the change against last month and the
trend, the drill-down from each indicator to its evidence rows, a printable 督办单 per unit, and the Excel
export for the leadership meeting. Everything is read from the serving snapshot (the published
``assessment_*_history`` and ``followup_items`` views of the dbt project)."""

from __future__ import annotations

import io
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import duckdb
from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.params import FromPath, FromQuery
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Template
from markupsafe import Markup

from api.auth import AREA_ROLES, require
from api.catalog import Catalog
from api.dependencies import PRINCIPAL, SNAPSHOTS, PrincipalDep, SnapshotsDep, lease
from api.errors import problem
from api.routes.pages import page_error, render_page
from hub.core import charts

AREA = "towns"  # the bureau's staff and admins (api.auth.AREA_ROLES)
KINDS = {"town": "镇街", "department": "部门"}
MONTHLY = {"town": ("assessment_town_monthly_history", "town_code", "town_name"),
           "department": ("assessment_department_monthly_history", "dept", "dept_name")}
ITEM_KINDS = {
    "overdue_danger": "逾期隐患",
    "responsibility_gap": "责任缺位",
    "chain_break": "责任链断点",
    "uncovered_village": "网格未覆盖",
    "team_without_agreement": "救援队伍未签协议",
}
ESCALATION = {1: "提醒", 2: "督办", 3: "约谈通报"}  # names of seeds/followup_escalation.csv, for the print page


def _rows(cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    result = cursor.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def _has(db: Any, table: str) -> bool:
    return db.catalog.table(table) is not None


def _months(cursor: duckdb.DuckDBPyConnection) -> list[str]:
    return [r["month"] for r in _rows(cursor, "SELECT DISTINCT month FROM assessment_town_monthly_history "
                                              "ORDER BY month DESC")]


def _pick_month(months: list[str], month: str | None) -> str:
    if month and month not in months:
        raise problem(404, "unknown_month", f"没有 {month} 的考核结果", f"no assessment for month {month!r}")
    return month or months[0]


def previous_month(months: list[str], month: str) -> str | None:
    earlier = [m for m in months if m < month]
    return max(earlier) if earlier else None


def ranking(cursor: duckdb.DuckDBPyConnection, kind: str, month: str, before: str | None) -> list[dict[str, Any]]:
    """The month's units by rank, with total, grade and the change of score and rank against ``before``."""
    table, key, name = MONTHLY[kind]
    rows = _rows(cursor, f"SELECT {key} AS unit_id, {name} AS unit_name, total_score, grade, grade_name, score_rank, "
                         f"indicators_scored, rows_against, as_of_date, is_month_closed FROM {table} WHERE month = ? "
                         "ORDER BY score_rank, unit_name", [month])
    last = {r["unit_id"]: r for r in _rows(cursor, f"SELECT {key} AS unit_id, total_score, score_rank FROM {table} "
                                                   "WHERE month = ?", [before])} if before else {}
    for r in rows:
        prev = last.get(r["unit_id"])
        r["score_change"] = (r["total_score"] - prev["total_score"]) if prev and prev["total_score"] is not None \
            and r["total_score"] is not None else None
        r["rank_change"] = (prev["score_rank"] - r["score_rank"]) if prev else None  # positive: moved up
    return rows


def indicator_scores(cursor: duckdb.DuckDBPyConnection, kind: str, month: str) -> list[dict[str, Any]]:
    return _rows(cursor, "SELECT unit_id, indicator_code, indicator_name, weight, value, score, is_rate, "
                         "evidence_rows, rows_against FROM assessment_scores_history WHERE unit_kind = ? AND month = ? "
                         "ORDER BY unit_id, indicator_code", [kind, month])


def indicator_columns(scores: list[dict[str, Any]]) -> list[tuple[str, str, float]]:
    """(code, Chinese name, weight) of the month's indicators, in the seed's order of weight then name."""
    seen: dict[str, tuple[str, float]] = {}
    for s in scores:
        seen.setdefault(s["indicator_code"], (s["indicator_name"], s["weight"]))
    return sorted(((c, n, w) for c, (n, w) in seen.items()), key=lambda x: (-x[2], x[0]))


def trend_chart(points: list[dict[str, Any]], label: str) -> str:
    """Lines of total score by month; ``points``: month, series, score."""
    if not points:
        return charts.empty(label)
    spec = {
        "title": label,
        "width": 520,
        "height": 200,
        "data": {"values": [{"月份": p["month"], "系列": p["series"], "得分": round(p["score"], 2)} for p in points]},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "月份", "type": "ordinal", "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "得分", "type": "quantitative", "title": "综合得分", "scale": {"domain": [0, 100]}},
            "color": {"field": "系列", "type": "nominal", "title": None, "scale": {"scheme": "tableau10"}},
            "tooltip": [{"field": "月份"}, {"field": "系列"}, {"field": "得分"}],
        },
    }
    return charts.render(spec, label, "assessment-trend")


def _level_trend(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    points = []
    for kind, (table, _, _) in MONTHLY.items():
        for r in _rows(cursor, f"SELECT month, avg(total_score) AS score FROM {table} WHERE total_score IS NOT NULL "
                               "GROUP BY month ORDER BY month"):
            points.append({"month": r["month"], "series": f"{KINDS[kind]}平均分", "score": r["score"]})
    return points


def evidence_link(catalog: Catalog, table: str, key: str, role: str) -> str | None:
    """The evidence row's page when the evidence is a published table with a one-column row key, for a role that
    may open the tables (staff, who may not, gets the key as text)."""
    published = catalog.table(table)
    if published is None or len(published.key) != 1 or role not in AREA_ROLES["tables"]:
        return None
    value = key.split(":", 1)[0] if table == "town_readiness" else key  # "<town>:<六有 item>"
    return f"/tables/{table}/row?{urlencode({published.key[0]: value})}"


class AssessmentController(Controller):
    """考核与督办: the month's ranking, one unit's indicators and evidence, its 督办单, the Excel export."""

    path = "/assessment"
    guards = (require(AREA),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SNAPSHOTS, **PRINCIPAL}
    # Not under the pages' router (api.app registers it on its own): its errors are pages too, 401 the login form.
    exception_handlers: ClassVar[dict[Any, Any]] = {ProblemDetailsException: page_error}

    @get("/", sync_to_thread=True)
    def overview(self, request: Request[Any, Any, Any], snapshots: SnapshotsDep, principal: PrincipalDep,
                 month: FromQuery[str | None] = None) -> Template:
        with lease(snapshots) as db:
            if not _has(db, "assessment_town_monthly_history"):
                return render_page(request, "assessment.html", principal, month=None, months=[])
            cursor = db.cursor()
            months = _months(cursor)
            if not months:
                return render_page(request, "assessment.html", principal, month=None, months=[])
            chosen = _pick_month(months, month)
            before = previous_month(months, chosen)
            open_items = {r["unit_id"]: r["n"] for r in _rows(
                cursor, "SELECT unit_id, count(*) AS n FROM followup_items GROUP BY unit_id")} \
                if _has(db, "followup_items") else {}
            levels = []
            for kind in KINDS:
                rows = ranking(cursor, kind, chosen, before)
                for r in rows:
                    r["open_items"] = open_items.get(r["unit_id"], 0)
                levels.append({"kind": kind, "label": KINDS[kind], "rows": rows})
            chart = trend_chart(_level_trend(cursor), "镇街、部门月度平均得分")
        export = f"/assessment/export.xlsx?{urlencode({'month': chosen})}"
        return render_page(request, "assessment.html", principal, month=chosen, months=months, before=before,
                     levels=levels, chart=Markup(chart), export=export)

    @get("/{kind:str}/{unit_id:str}", sync_to_thread=True)
    def unit(self, request: Request[Any, Any, Any], snapshots: SnapshotsDep, principal: PrincipalDep,
             kind: FromPath[str], unit_id: FromPath[str], month: FromQuery[str | None] = None) -> Template:
        if kind not in KINDS:
            raise problem(404, "unknown_kind", f"没有考核层级 {kind!r}", f"no assessment level {kind!r}")
        with lease(snapshots) as db:
            if not _has(db, "assessment_scores_history"):
                raise problem(404, "no_assessment", "快照中还没有考核结果", "the snapshot has no assessment yet")
            cursor = db.cursor()
            months = _months(cursor)
            chosen = _pick_month(months, month) if months else None
            table, key, name = MONTHLY[kind]
            found = _rows(cursor, f"SELECT *, {key} AS unit_id, {name} AS unit_name FROM {table} "
                                  f"WHERE month = ? AND {key} = ?", [chosen, unit_id])
            if not found:
                raise problem(404, "unknown_unit", f"{chosen} 没有 {unit_id} 的考核结果",
                              f"no assessment of {unit_id!r} in {chosen}")
            scores = sorted((s for s in indicator_scores(cursor, kind, chosen) if s["unit_id"] == unit_id),
                            key=lambda s: (-s["weight"], s["indicator_code"]))
            evidence = _rows(cursor, "SELECT indicator_code, evidence_table, evidence_key, evidence_detail, numerator, "
                                     "denominator, counts_against FROM assessment_evidence_history WHERE unit_kind = ? "
                                     "AND unit_id = ? AND month = ? ORDER BY indicator_code, counts_against DESC, "
                                     "evidence_key", [kind, unit_id, chosen])
            history = _rows(cursor, f"SELECT month, total_score, score_rank FROM {table} WHERE {key} = ? "
                                    "ORDER BY month", [unit_id])
            for row in evidence:
                row["link"] = evidence_link(db.catalog, row["evidence_table"], row["evidence_key"], principal.role)
        by_indicator: dict[str, list[dict[str, Any]]] = {}
        for row in evidence:
            by_indicator.setdefault(row["indicator_code"], []).append(row)
        points = [{"month": h["month"], "series": found[0]["unit_name"], "score": h["total_score"]}
                  for h in history if h["total_score"] is not None]
        return render_page(request, "assessment_unit.html", principal, kind=kind, kind_label=KINDS[kind], month=chosen,
                     months=months, unit=found[0], scores=scores, evidence=by_indicator, history=history,
                     chart=Markup(trend_chart(points, f"{found[0]['unit_name']} 综合得分走势")),
                     notice=f"/assessment/notice/{quote(unit_id)}")

    @get("/notice/{unit_id:str}", sync_to_thread=True)
    def notice(self, request: Request[Any, Any, Any], snapshots: SnapshotsDep, principal: PrincipalDep,
               unit_id: FromPath[str]) -> Template:
        with lease(snapshots) as db:
            if not _has(db, "followup_items"):
                raise problem(404, "no_followup", "快照中还没有督办事项", "the snapshot has no follow-up items yet")
            items = _rows(db.cursor(), "SELECT * FROM followup_items WHERE unit_id = ? "
                                       "ORDER BY escalation_level DESC NULLS LAST, age_days DESC NULLS LAST, item_key",
                          [unit_id])
        if not items:
            raise problem(404, "no_items", f"{unit_id} 目前没有督办事项", f"no open follow-up items for {unit_id!r}")
        for item in items:
            item["kind_label"] = ITEM_KINDS.get(item["item_kind"], item["item_kind"])
            item["level_label"] = ESCALATION.get(item["escalation_level"] or 0, "待升级")
        return render_page(request, "notice.html", principal, unit_name=items[0]["unit_name"], unit_id=unit_id,
                     items=items, as_of=items[0]["as_of_date"])

    @get("/export.xlsx", sync_to_thread=True)
    def export(self, snapshots: SnapshotsDep, month: FromQuery[str | None] = None) -> Response[bytes]:
        with lease(snapshots) as db:
            if not _has(db, "assessment_town_monthly_history"):
                raise problem(404, "no_assessment", "快照中还没有考核结果", "the snapshot has no assessment yet")
            cursor = db.cursor()
            months = _months(cursor)
            if not months:
                raise problem(404, "no_assessment", "快照中还没有考核结果", "the snapshot has no assessment yet")
            chosen = _pick_month(months, month)
            content = workbook_bytes(cursor, chosen, previous_month(months, chosen))
        filename = quote(f"萧山区应急管理考核_{chosen}.xlsx")
        return Response(content=content, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})


def workbook_bytes(cursor: duckdb.DuckDBPyConnection, month: str, before: str | None) -> bytes:
    """One sheet per level (镇街考核, 部门考核) for the leadership meeting: rank, unit, total, grade, change against
    last month, then each indicator's value and score; Chinese headers, frozen header row and first columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    book.remove(book.active)
    for kind, label in KINDS.items():
        sheet = book.create_sheet(f"{label}考核")
        rows = ranking(cursor, kind, month, before)
        scores = indicator_scores(cursor, kind, month)
        columns = indicator_columns(scores)
        by_unit = {(s["unit_id"], s["indicator_code"]): s for s in scores}
        header = ["排名", f"{label}代码" if kind == "town" else "部门", "名称", "综合得分", "等级",
                  f"较上月（{before}）得分变化" if before else "较上月得分变化", "排名变化（+上升）"]
        for _, name, weight in columns:
            header += [f"{name}（指标值）", f"{name}（得分，权重{weight:g}）"]
        sheet.append(header)
        for r in rows:
            line: list[Any] = [r["score_rank"], r["unit_id"], r["unit_name"], _round(r["total_score"]),
                               r["grade_name"], _round(r["score_change"]), r["rank_change"]]
            for code, _, _ in columns:
                s = by_unit.get((r["unit_id"], code)) or {}
                line += [_round(s.get("value"), 4), _round(s.get("score"))]
            sheet.append(line)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="F2F4F7")
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        sheet.freeze_panes = "D2"  # the header row, and rank / code / name, stay in view
        for index in range(1, len(header) + 1):
            letter = sheet.cell(row=1, column=index).column_letter
            sheet.column_dimensions[letter].width = 12 if index != 3 else 18
        sheet.row_dimensions[1].height = 36
        sheet.print_title_rows = "1:1"
        sheet.oddHeader.center.text = f"萧山区应急管理工作月度考核 · {label} · {month}"
        sheet.page_setup.orientation = "landscape"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)
