"""Server-rendered web pages (Chinese labels, no JS framework, nothing from the internet).

Pages use the same services as the JSON API. The browser sends its key in a SameSite=Strict cookie
set by the login form; an unauthorised page renders the login form or a 403 page instead of JSON.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, FromPath, FromQuery, Parameter
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template
from markupsafe import Markup

from api.auth import (
    AREA_ROLES,
    SESSION_COOKIE,
    Principal,
    check_credential,
    client_address,
    identify,
    identify_quietly,
    require,
)
from api.catalog import Column
from api.dependencies import (
    PRINCIPAL,
    SEARCH,
    SETTINGS,
    SNAPSHOTS,
    PrincipalDep,
    SearchDep,
    SettingsDep,
    SnapshotsDep,
    lease,
)
from api.errors import problem
from api.keys import KeyStore
from api.limits import http_problem
from api.masking import check_table_request, protected_columns, row_mask, sees_personal_data
from api.quality_reports import ReportFile, find_report, list_reports, load_report, report_html
from api.routes.search import (
    DOC_TYPES,
    MODE_LABELS,
    MODES,
    PAGE_SIZE,
    SearchResponse,
    document_or_404,
    query_terms,
    run_search,
    search_filters,
    search_url,
    similar,
)
from api.routes.sql_page import SQL_PAGE_ROUTES
from api.routes.towns import documents
from api.row_view import find_row, key_pairs, referencing_tables, row_href
from api.search_service import SearchHolder
from api.serving_db import ServingDb
from api.settings import ApiSettings
from api.table_display import (
    Cell,
    display_cell,
    display_value,
    dossier_row_link,
    facet_link,
    filter_summary,
    form_value,
    ordered_columns,
    plain_description,
    score_class,
    suggested_facets,
    table_group,
    table_label,
    table_order,
    value_text,
)
from api.table_query import OPERATORS, Filter, editable_sql, parse_table_request, search_columns
from api.tables_service import published_table, table_page
from api.towns_service import (
    events_by_month,
    link_documents,
    overdue_days,
    section_totals,
    town_dossier,
    town_list,
)
from hub.core import charts

READINESS_ITEMS = (
    ("has_leadership", "有班子"),
    ("has_mechanism", "有机制"),
    ("has_plan", "有预案"),
    ("has_team", "有队伍"),
    ("has_supplies", "有物资"),
    ("has_drill", "有演练"),
)
OPERATOR_LABELS = {
    "eq": "等于",
    "ne": "不等于",
    "gt": "大于",
    "gte": "大于等于",
    "lt": "小于",
    "lte": "小于等于",
    "in": "属于（逗号分隔）",
    "contains": "包含",
    "isnull": "为空（true/false）",
}


# The menu: (href, label, area). An entry shows only when the signed-in role may open its area.
NAV = (
    ("/search", "搜索", "search"),
    ("/tables", "数据表", "tables"),
    ("/sql", "SQL 查询", "sql"),
    ("/towns", "镇街", "towns"),
    ("/assessment", "考核督办", "towns"),
    ("/quality", "数据质量", "quality"),
)


def nav_items(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    return [(href, label) for href, label, area in NAV if principal.role in AREA_ROLES[area]]


def page_context(request: Request[Any, Any, Any], principal: Principal | None, **extra: Any) -> dict[str, Any]:
    settings: ApiSettings = request.app.state.settings
    return {
        "principal": principal,
        "path": request.url.path,
        "demo": settings.demo_mode,
        "session_hours": settings.session_hours,  # the login form says how long a sign-in lasts
        "nav": nav_items(principal),
        **extra,
    }


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page (not an API client): HTML is acceptable and the path is not under /api."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith(("/api/", "/schema"))


def not_found_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """An unknown address: an HTML page for a browser, the JSON problem for API clients."""
    if not wants_html(request):
        return http_problem(exc).to_response(request)
    context = page_context(
        request,
        identify_quietly(request),
        status=404,
        message_zh=f"没有这个页面：{request.url.path}",
        message_en=f"no page at {request.url.path}",
    )
    return Template(template_name="error.html", context=context, status_code=404)


def render_page(request: Request[Any, Any, Any], template: str, principal: Principal | None, **extra: Any) -> Template:
    return Template(template_name=template, context=page_context(request, principal, **extra))


def message_zh(exc: ProblemDetailsException) -> str:
    """What a page says about an error: the Chinese half of our problems (api.errors), else Litestar's detail."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    return str(extra.get("message_zh") or exc.detail)


def page_error(request: Request[Any, Any, Any], exc: ProblemDetailsException) -> Response[Any]:
    """Errors on pages are pages: the login form for 401, a short explanation otherwise."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    template = "login.html" if exc.status_code == 401 else "error.html"
    context = page_context(
        request,
        identify_quietly(request),
        status=exc.status_code,
        message_zh=message_zh(exc),
        message_en=extra.get("message_en", ""),
        next=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )
    return Template(template_name=template, context=context, status_code=exc.status_code)


def _key_store(state: State) -> KeyStore:
    return state.key_store  # type: ignore[no-any-return]


# The sign-in pages' key store (api.dependencies provides the other services; this one only the pages use).
KEY_STORE = {"key_store": Provide(_key_store, sync_to_thread=False)}
KeyStoreDep = NamedDependency[KeyStore]


class LoginForm(msgspec.Struct):
    key: str
    next: str = "/"


class HomePages(Controller):
    """首页, signing in and signing out: open to everyone; the home page offers only what the caller may open."""

    path = "/"
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **SNAPSHOTS, **KEY_STORE}

    @get("/", sync_to_thread=True)
    def home(self, request: Request[Any, Any, Any], snapshots: SnapshotsDep) -> Template:
        principal = identify(request)  # a client over its failed-login budget gets its 429 as a page
        snapshot = None
        if snapshots.current_path() is not None:  # the home page also answers before anything is published
            with lease(snapshots) as db:
                snapshot = snapshot_info(db)
        return render_page(request, "home.html", principal, snapshot=snapshot)

    @get("/login")
    async def login_form(self, request: Request[Any, Any, Any], next: FromQuery[str] = "/") -> Template:
        return render_page(request, "login.html", identify_quietly(request), next=next, status=None)

    @post("/login", status_code=303, sync_to_thread=True)
    def login(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        key_store: KeyStoreDep,
        data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[Any]:
        # The same check as the authentication middleware's (the app's key store and failed-login limiter):
        # 429 past the failure limit, a failure counted against the address.
        found = check_credential(request.app.state, client_address(request), "key", data.key.strip())
        if found is None:
            return Template(
                template_name="login.html",
                context=page_context(request, None, next=data.next, status=401, message_zh="密钥无效或已吊销"),
                status_code=401,
            )
        target = data.next if data.next.startswith("/") and not data.next.startswith("//") else "/"
        response = Redirect(path=target, status_code=303)
        # The cookie holds a server-side session id, never the key (api.keys: sessions).
        session_id = key_store.start_session(found.name, settings.session_hours)
        response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict",
                            secure=settings.cookie_secure, max_age=int(settings.session_hours * 3600))
        return response

    @get("/logout", sync_to_thread=True)
    def logout(self, request: Request[Any, Any, Any], key_store: KeyStoreDep) -> Redirect:
        if session_id := request.cookies.get(SESSION_COOKIE):
            key_store.end_session(session_id)
        response = Redirect(path="/login")
        response.delete_cookie(SESSION_COOKIE)
        return response


class SearchPages(Controller):
    """搜索: results grouped by document with the true count and a relevance floor, and similar cases."""

    path = "/search"
    guards = (require("search"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SEARCH, **PRINCIPAL}

    @get("/", sync_to_thread=True)
    def search_page(
        self, request: Request[Any, Any, Any], search_holder: SearchDep, principal: PrincipalDep
    ) -> Template:
        context = search_page_context(search_holder, request.query_params)
        return render_page(request, "search.html", principal, **context)


class DocumentPages(Controller):
    """A knowledge-base document with its chunks in order; ``hit`` (a chunk's order) is the one a result opened."""

    path = "/documents"
    guards = (require("documents"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SEARCH, **PRINCIPAL}

    @get("/{doc_path:path}", sync_to_thread=True)
    def document_page(
        self,
        request: Request[Any, Any, Any],
        search_holder: SearchDep,
        principal: PrincipalDep,
        doc_path: FromPath[str],
        hit: FromQuery[str | None] = None,
        back: FromQuery[str | None] = None,
    ) -> Template:
        doc_id = doc_path.lstrip("/")
        with search_holder.lease() as index:
            doc = document_or_404(index, doc_id)
        hit_order = int(hit) if hit and hit.isdigit() else None
        # 返回搜索结果: only ever to our own results page (the address comes from the query string)
        back_url = back if back and back.startswith("/search?") else None
        return render_page(
            request, "document.html", principal, doc=doc, hit=hit_order, doc_url=quote(doc_id), back=back_url
        )


def search_page_context(holder: SearchHolder, params: Any) -> dict[str, Any]:
    """What search.html shows for the query string ``params``: grouped results, the count, or a Chinese error.

    Bad parameters (an unknown mode, a year that is not a number, an unknown type or town) are said, not ignored.
    """
    get_param = params.get
    q, mode = (get_param("q") or "").strip(), get_param("mode") or "hybrid"
    type_value, hazard, town = get_param("type") or "", get_param("hazard") or "", get_param("town") or ""
    year_value, doc = (get_param("year") or "").strip(), get_param("doc") or ""
    similar_text, case_id = get_param("similar") or "", get_param("case_id") or ""
    errors: list[str] = []
    if mode not in MODES:
        errors.append(f"参数 mode 无效：“{mode}”，可选：混合（hybrid）、关键词（bm25）、语义（vector）")
    year: int | None = None
    if year_value:
        if year_value.isdigit() and 1900 <= int(year_value) <= 2100:
            year = int(year_value)
        else:
            errors.append(f"年份无效：“{year_value}”，请填写四位数字年份，如 2023")
    if type_value and type_value not in DOC_TYPES:
        errors.append(f"类型无效：“{type_value}”，可选：{'、'.join(DOC_TYPES)}")
    result: SearchResponse | None = None
    similar_results: list[Any] = []
    if q and not errors:
        try:
            filters = search_filters(type_value or None, hazard or None, town or None, year, doc or None)
            result, _ = run_search(holder, q, mode, filters, PAGE_SIZE)
        except ProblemDetailsException as exc:  # a town no crosswalk knows, nothing published
            errors.append(message_zh(exc))
    if (similar_text.strip() or case_id) and not errors:
        try:
            similar_results = similar(holder, None if case_id else similar_text, case_id or None, 5)
        except ProblemDetailsException as exc:  # an unknown case
            errors.append(message_zh(exc))
    doc_title = None
    if result is not None and doc:
        doc_title = result.groups[0].title if result.groups else doc
    return {
        "q": q,
        "mode": mode,
        "type": type_value,
        "hazard": hazard,
        "town": town,
        "year": year_value,
        "doc": doc,
        "doc_title": doc_title,
        "all_results_url": search_url(
            {"q": q, "mode": mode, "type": type_value, "hazard": hazard, "town": town, "year": year_value}
        ),
        "similar": similar_text,
        "case_id": case_id,
        "result": result,
        "results": result.results if result else [],
        "similar_results": similar_results,
        "error": "；".join(errors) or None,
        "modes": MODE_LABELS,
        "doc_types": DOC_TYPES,
        "terms": query_terms(q or similar_text),
    }


def page_query(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The filter form's rows (col, op, val) and sort picker as API query keys, empty fields dropped."""
    cols = [v for k, v in items if k == "col"]
    ops = [v for k, v in items if k == "op"]
    vals = [v for k, v in items if k == "val"]
    query = [(k, v) for k, v in items if v != "" and k not in ("col", "op", "val", "_format", "_sort_pick", "_desc")]
    for col, op, val in zip(cols, ops, vals, strict=False):
        if col and val != "":
            query.append((col if op == "eq" else f"{col}__{op}", val))
    pick = next((v for k, v in items if k == "_sort_pick" and v), None)
    if pick and not any(k in ("_sort", "_sort_desc") for k, _ in query):
        descending = any(k == "_desc" and v for k, v in items)
        query.append(("_sort_desc" if descending else "_sort", pick))
    return query


READINESS_MAX = len(READINESS_ITEMS)
EVENTS_SHOWN = 20
# (section, table, [(column, heading)]): the dossier's detail tables, cells coloured and linked by column meta.
DOSSIER_SECTIONS = (
    ("hidden_dangers", "hidden_danger_register", [
        ("danger_id", "编号"), ("level", "等级"), ("category", "类别"), ("owner_dept", "责任单位"),
        ("deadline", "整改期限"), ("status", "状态"), ("is_overdue", "逾期"), ("overdue_days", "逾期天数"),
    ]),
    ("teams", "rescue_teams", [
        ("team_id", "编号"), ("team_name", "名称"), ("team_type", "类型"), ("headcount", "人数"),
        ("specialty", "专长"), ("is_qualified", "资质达标"), ("has_agreement", "签订协议"),
    ]),
    ("events", "town_events", [
        ("event_id", "编号"), ("title", "标题"), ("report_time", "上报时间"), ("status", "状态"),
        ("urgency", "紧急程度"), ("dept", "处置部门"),
    ]),
    ("grid", "grid_coverage", [
        ("village_code", "村社代码"), ("village_name", "村社"), ("workers_in_post", "在岗网格员"),
        ("is_uncovered", "无人覆盖"),
    ]),
)


def _section(db: Any, table_name: str, rows: list[dict[str, Any]], wanted: list[tuple[str, str]],
             link_rows: bool = False) -> dict[str, Any]:
    """Headings and display cells of one detail table: the crosswalk's canonical names, colours by meaning. With
    ``link_rows`` (a role that may open the tables) the first cell, an id, opens the row's own page; without it no
    cell links into the tables, which that role cannot open."""
    table = db.catalog.table(table_name)
    columns = [
        (table.column(key) if table and table.column(key) else Column(key, "VARCHAR"), heading)
        for key, heading in wanted
        if rows and key in rows[0]
    ]
    cells = [[display_cell(col, row.get(col.name), row, display_value) for col, _ in columns] for row in rows]
    if not link_rows:
        cells = [[Cell(c.text, c.css, None, c.title) if (c.href or "").startswith("/tables/") else c for c in shown]
                 for shown in cells]
    elif table is not None and table.key:
        for row, shown in zip(rows, cells, strict=True):
            first = shown[0] if shown else None
            if first is not None and first.href is None and first.css != "null":
                shown[0] = Cell(first.text, first.css, row_href(table, row), first.title)
    return {"headings": [heading for _, heading in columns], "rows": cells}


SHANGHAI = ZoneInfo("Asia/Shanghai")
_REPORT_TIME = re.compile(r"(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})")
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)


def snapshot_info(db: ServingDb) -> dict[str, Any]:
    """What a reader wants to know about the data served: the day it runs up to and when it was published (in
    Beijing time; the publisher writes the server's local time), and the snapshot file for whoever asks."""
    built = db.catalog.snapshot.get("built_at")
    built_at = datetime.fromisoformat(built).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if built else None
    return {"as_of": db.catalog.snapshot.get("as_of"), "built_at": built_at, "file": db.path.name}


def report_time(report: ReportFile) -> str:
    """When the report was generated, in Beijing time: from its name (quality_YYYYMMDD_HHMMSS_…, written in
    Asia/Shanghai), else the file's modification time converted to Asia/Shanghai."""
    if found := _REPORT_TIME.search(report.name):
        y, mo, d, h, mi, se = found.groups()
        return f"{y}-{mo}-{d} {h}:{mi}:{se}"
    return report.modified.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


DEFAULT_FACETS = 3  # facets shown on a table page that asks for none: the first columns its metadata suggests


class TablesPages(Controller):
    """数据表: the list of published tables and one table's page."""

    path = "/tables"
    guards = (require("tables"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **SNAPSHOTS, **PRINCIPAL}

    @get("/", sync_to_thread=True)
    def tables_page(
        self, request: Request[Any, Any, Any], snapshots: SnapshotsDep, principal: PrincipalDep
    ) -> Template:
        with lease(snapshots) as db:
            tables = table_order(list(db.catalog.tables.values()))
            cards = [(t, table_label(t), plain_description(t), table_group(t)) for t in tables]
            return render_page(request, "tables.html", principal, tables=cards, snapshot=snapshot_info(db))

    @get("/{name:str}", sync_to_thread=True)
    def table_page_view(
        self,
        request: Request[Any, Any, Any],
        settings: SettingsDep,
        snapshots: SnapshotsDep,
        principal: PrincipalDep,
        name: FromPath[str],
    ) -> Template:
        # items(): the pairs in the URL's order (multi_items() groups keys in set order, which changes from one
        # process to the next: the summary, the form and the SQL would list the filters in a different order)
        query = page_query(list(request.query_params.items()))
        with lease(snapshots) as db:
            table = published_table(db, name)
            if {v for k, v in query if k == "_col"} >= set(table.column_names):  # every box ticked: no choice made
                query = [(k, v) for k, v in query if k != "_col"]
            req = parse_table_request(table, query, settings.page_size_default, settings.page_size_max)
            check_table_request(table, principal.role, [f.column for f in req.filters], req.sort, req.facets)
            request_facets = any(k == "_facet" for k, _ in query)
            if not request_facets:
                protected = protected_columns(table) if not sees_personal_data(principal.role) else set()
                filtered = {f.column for f in req.filters}
                req.facets = [
                    c.name for c in suggested_facets(table, []) if c.name not in protected and c.name not in filtered
                ][:DEFAULT_FACETS]
            # whole rows for the page (a row's link needs its key, shown or not); the columns are picked below
            page = table_page(db, dataclasses.replace(req, columns=[]), row_mask(table, principal.role))
            tables = table_order(list(db.catalog.tables.values()))
        base = [(k, v) for k, v in query if k not in ("_offset", "_after")]
        # An export holds every matching row: the page's size, offset, cursor and facets stay on the page.
        export = [(k, v) for k, v in query if k not in ("_offset", "_after", "_size", "_facet")]
        links = {
            "next": f"?{urlencode([*base, ('_offset', page['next_offset'])])}" if page["next_offset"] else None,
            "prev": f"?{urlencode([*base, ('_offset', max(0, req.offset - req.size))])}" if req.offset else None,
            "csv": f"/api/tables/{name}?{urlencode([*export, ('_format', 'csv')])}",
            "parquet": f"/api/tables/{name}?{urlencode([*export, ('_format', 'parquet')])}",
            "json": f"/api/tables/{name}?{urlencode([*export, ('_size', settings.page_size_max)])}",
            # the same rows as SQL to edit (as Datasette's "View and edit SQL"), for roles that may use the SQL page
            "sql": "/sql?" + urlencode({"q": editable_sql(req)}) if principal.role in AREA_ROLES["sql"] else None,
        }
        sort_links = {}
        for col in table.column_names:
            rest = [(k, v) for k, v in base if k not in ("_sort", "_sort_desc")]
            direction = "_sort_desc" if req.sort == col and not req.descending else "_sort"
            sort_links[col] = f"?{urlencode([*rest, (direction, col)])}"
        columns = ordered_columns(table)
        shown = [c for c in columns if c.name in req.column_names]
        rows = [[display_cell(c, row.get(c.name), row, display_value) for c in shown] for row in page["rows"]]
        if principal.role not in AREA_ROLES["towns"]:  # no dossier page for this role: link the dossier's row
            rows = [[dossier_row_link(cell) for cell in row] for row in rows]
        row_links = [row_href(table, row) for row in page["rows"]]
        facets = [
            {
                "column": table.column(col),
                "items": [
                    {**item, "text": value_text(table.column(col), item["value"]),  # type: ignore[arg-type]
                     "href": facet_link(base, col, item["value"])}
                    for item in counts
                ],
                "remove": "?" + urlencode([(k, v) for k, v in base if not (k == "_facet" and v == col)]),
            }
            for col, counts in page["facets"].items()
        ]
        active = {f.column for f in req.filters}
        suggestions = [
            (c, "?" + urlencode([*base, ("_facet", c.name)]))
            for c in suggested_facets(table, req.facets)
            if c.name not in active
        ]
        return render_page(
            request,
            "table.html",
            principal,
            table=table,
            label=table_label(table),
            description=plain_description(table),
            tables=[(t, table_label(t), table_group(t)) for t in tables],
            page=page,
            req=req,
            links=links,
            sort_links=sort_links,
            columns=columns,
            shown_columns=shown,
            rows=rows,
            row_links=row_links,
            json_rows=settings.page_size_max,  # a JSON answer is one page: the most rows it can hold
            operators=OPERATORS,
            operator_labels=OPERATOR_LABELS,
            filters=[Filter(f.column, f.op, form_value(table, f)) for f in req.filters],
            facets=facets,
            request_facets=request_facets,
            suggestions=suggestions,
            summary=filter_summary(table, req.filters, page["total"], req.search),
            searchable=bool(search_columns(table)),
        )

    @get("/{name:str}/row", sync_to_thread=True)
    def row_page_view(
        self, request: Request[Any, Any, Any], snapshots: SnapshotsDep, principal: PrincipalDep, name: FromPath[str]
    ) -> Template:
        """One row on its own: every column with its label, the links its cells carry, and the other tables that
        hold its key."""
        query = list(request.query_params.items())
        with lease(snapshots) as db:
            table = published_table(db, name)
            row = find_row(db, table, query, principal.role)
            referenced = referencing_tables(db, table, row, principal.role)
        fields = [(c, display_cell(c, row.get(c.name), row, display_value)) for c in ordered_columns(table)]
        if principal.role not in AREA_ROLES["towns"]:
            fields = [(c, dossier_row_link(cell)) for c, cell in fields]
        key = key_pairs(table, row)
        return render_page(
            request,
            "row.html",
            principal,
            table=table,
            label=table_label(table),
            key_text=" · ".join(display_value(row.get(c), c) for c in table.key),
            fields=fields,
            referenced=referenced,
            in_table=f"/tables/{name}?{urlencode(key)}",
            as_json=f"/api/tables/{name}?{urlencode(key)}",
        )


class TownsPages(Controller):
    """镇街: the towns with their readiness bars, and one town's dossier."""

    path = "/towns"
    guards = (require("towns"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SNAPSHOTS, **SEARCH, **PRINCIPAL}

    @get("/", sync_to_thread=True)
    def towns_page(
        self,
        request: Request[Any, Any, Any],
        snapshots: SnapshotsDep,
        principal: PrincipalDep,
        code: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        if code:  # the town picker without JavaScript
            return Redirect(path=f"/towns/{quote(code, safe='')}")
        with lease(snapshots) as db:
            towns = town_list(db)
        for town in towns:
            town["score_class"] = score_class(town.get("readiness_score"), 0, READINESS_MAX)
        chart = charts.readiness_bars(towns, READINESS_MAX) if towns else None
        return render_page(request, "towns.html", principal, towns=towns, chart=Markup(chart) if chart else None)

    @get("/{code:str}", sync_to_thread=True)
    def town_page(
        self,
        request: Request[Any, Any, Any],
        snapshots: SnapshotsDep,
        search_holder: SearchDep,
        principal: PrincipalDep,
        code: FromPath[str],
        events: Annotated[str | None, Parameter(description="all: 显示全部近期事件（至多 200 条）")] = None,
    ) -> Template:
        # a role that cannot open the tables gets the rest of the events here instead of a link into them
        in_tables = principal.role in AREA_ROLES["tables"]
        with lease(snapshots) as db:
            found = town_dossier(db, code)
            if found is None:
                raise problem(404, "unknown_town", f"没有镇街代码 {code!r}", f"no town with code {code!r}")
            towns = town_list(db)
            totals = section_totals(db, code)
            monthly = events_by_month(db, code)
            overdue = overdue_days(db, code)
            all_events = events == "all" and not in_tables
            found["events"] = found["events"][: None if all_events else EVENTS_SHOWN]
            sections = {key: _section(db, table, found.get(key, []), wanted, in_tables)
                        for key, table, wanted in DOSSIER_SECTIONS}
            dossier_table = db.catalog.table("town_dossier")
            facts = []
            if dossier_table:
                for column in dossier_table.columns:
                    key = column.name
                    if key in ("town_code", "town_name", "readiness_score", "as_of_date") or key.startswith("has_"):
                        continue
                    if key.endswith("_evidence"):
                        continue
                    cell = display_cell(column, found["dossier"].get(key), found["dossier"], display_value)
                    facts.append((column, cell))
        link_documents(found, documents(search_holder))
        dossier = found["dossier"]
        # (label, met?, evidence): the dbt view names the row that meets each item as ``<item>_evidence``.
        items = [
            (label, dossier.get(col), dossier.get(col.removeprefix("has_") + "_evidence"))
            for col, label in READINESS_ITEMS
        ]
        town_charts = {
            "evidence": charts.readiness_evidence(items),
            "events": charts.events_by_month(monthly),
            "overdue": charts.overdue_by_age(overdue),
        }
        return render_page(
            request,
            "town.html",
            principal,
            town=found,
            dossier=dossier,
            items=items,
            towns=towns,
            facts=facts,
            sections=sections,
            totals=totals,
            events_shown=EVENTS_SHOWN,
            score_css=score_class(dossier.get("readiness_score"), 0, READINESS_MAX),
            charts={k: Markup(v) for k, v in town_charts.items()},
            in_tables=in_tables,
            links={
                "dangers": f"/tables/hidden_danger_register?{urlencode({'town_code': code})}",
                "overdue": f"/tables/hidden_danger_register?{urlencode({'town_code': code, 'is_overdue': 'true'})}",
                "events": f"/tables/town_events?{urlencode({'town_code': code, '_sort_desc': 'report_time'})}",
            } if in_tables else {"events": None if all_events else f"/towns/{quote(code, safe='')}?events=all#events"},
        )


class QualityPages(Controller):
    """数据质量: the latest report inline, and each report's own HTML file."""

    path = "/quality"
    guards = (require("quality"),)
    include_in_schema = False
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **PRINCIPAL}

    @get("/", sync_to_thread=True)
    def quality_page(self, request: Request[Any, Any, Any], settings: SettingsDep, principal: PrincipalDep) -> Template:
        """The latest report inline in the page (its body; its styles from /static/quality-report.css)."""
        reports = list_reports(settings.paths.quality_reports)
        latest = reports[0] if reports else None
        summary = load_report(latest, principal.role) if latest and latest.json_path else None  # masked per role
        body = None
        if latest and latest.html_path and (latest.json_path or sees_personal_data(principal.role)):
            found = _BODY.search(report_html(latest, principal.role))
            body = found.group(1) if found else None
        return render_page(
            request,
            "quality.html",
            principal,
            reports=[(r, report_time(r)) for r in reports],
            latest=latest,
            latest_time=report_time(latest) if latest else None,
            summary=summary,
            report_body=Markup(body) if body else None,  # our own report, escaped when it was rendered
        )

    @get("/reports/{name:str}", sync_to_thread=True)
    def quality_report_html(self, settings: SettingsDep, principal: PrincipalDep, name: FromPath[str]) -> Response[str]:
        report = find_report(settings.paths.quality_reports, name)
        if report is None or report.html_path is None:
            raise problem(404, "no_quality_report", f"没有名为 {name!r} 的报告", f"no report named {name!r}")
        # Personal data masked per role, exactly as in the JSON and in tables.
        return Response(report_html(report, principal.role), media_type="text/html; charset=utf-8")


PAGE_ROUTES = [
    Router(
        path="/",
        route_handlers=[
            HomePages,
            SearchPages,
            DocumentPages,
            TablesPages,
            TownsPages,
            QualityPages,
            *SQL_PAGE_ROUTES,
        ],
        exception_handlers={ProblemDetailsException: page_error},
    )
]
