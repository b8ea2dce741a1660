"""Server-rendered web pages (Chinese labels, no JS framework, nothing from the internet).

Pages use the same services as the JSON API. The browser sends its key in a SameSite=Strict cookie
set by the login form; an unauthorised page renders the login form or a 403 page instead of JSON.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.response import Redirect, Template

from api.auth import (
    SESSION_COOKIE,
    Principal,
    authorize,
    check_credential,
    client_address,
    identify,
    identify_quietly,
)
from api.errors import problem
from api.masking import check_table_request, row_mask
from api.quality_reports import find_report, list_reports, load_report, report_html
from api.routes.search import document_page_context, search_page_context
from api.routes.towns import kb_documents
from api.state import serving_db
from api.table_query import OPERATORS, parse_table_request
from api.tables_service import table_page
from api.towns_service import link_documents, town_dossier, town_list

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


def _context(request: Request[Any, Any, Any], principal: Principal | None, **extra: Any) -> dict[str, Any]:
    return {"principal": principal, "path": request.url.path, "demo": request.app.state.settings.demo_mode, **extra}


def _page(request: Request[Any, Any, Any], template: str, principal: Principal | None, **extra: Any) -> Template:
    return Template(template_name=template, context=_context(request, principal, **extra))


def page_error(request: Request[Any, Any, Any], exc: ProblemDetailsException) -> Response[Any]:
    """Errors on pages are pages: the login form for 401, a short explanation otherwise."""
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    template = "login.html" if exc.status_code == 401 else "error.html"
    context = _context(
        request,
        identify_quietly(request),
        status=exc.status_code,
        message_zh=extra.get("message_zh", exc.detail),
        message_en=extra.get("message_en", ""),
        next=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )
    return Template(template_name=template, context=context, status_code=exc.status_code)


@get("/", include_in_schema=False, sync_to_thread=True)
def home(request: Request[Any, Any, Any], state: State) -> Template:
    principal = identify(request)
    snapshot = state.snapshots.current_path()
    return _page(request, "home.html", principal, snapshot=snapshot.name if snapshot else None)


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: str = "/") -> Template:
    return _page(request, "login.html", identify_quietly(request), next=next, status=None)


class LoginForm(msgspec.Struct):
    key: str
    next: str = "/"


@post("/login", include_in_schema=False, status_code=303, sync_to_thread=True)
def login(
    request: Request[Any, Any, Any],
    state: State,
    data: Annotated[LoginForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    found = check_credential(state, client_address(request), "key", data.key.strip())  # 429 past the failure limit
    if found is None:
        return Template(
            template_name="login.html",
            context=_context(request, None, next=data.next, status=401, message_zh="密钥无效或已吊销"),
            status_code=401,
        )
    target = data.next if data.next.startswith("/") and not data.next.startswith("//") else "/"
    response = Redirect(path=target, status_code=303)
    settings = state.settings
    # The cookie holds a server-side session id, never the key (api.keys: sessions).
    session_id = state.key_store.start_session(found.name, settings.session_hours)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", secure=settings.cookie_secure,
                        max_age=int(settings.session_hours * 3600))
    return response


@get("/logout", include_in_schema=False, sync_to_thread=True)
def logout(request: Request[Any, Any, Any], state: State) -> Redirect:
    if session_id := request.cookies.get(SESSION_COOKIE):
        state.key_store.end_session(session_id)
    response = Redirect(path="/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/search", include_in_schema=False, sync_to_thread=True)
def search_page(request: Request[Any, Any, Any], state: State) -> Template:
    """Grouped results, the true count, the relevance floor and errors in Chinese: see api.routes.search."""
    principal = authorize(request, "search")
    return _page(request, "search.html", principal, **search_page_context(state, request.query_params))


@get("/documents/{doc_path:path}", include_in_schema=False, sync_to_thread=True)
def document_page(request: Request[Any, Any, Any], state: State, doc_path: str, hit: str | None = None) -> Template:
    principal = authorize(request, "documents")
    return _page(request, "document.html", principal, **document_page_context(state, doc_path, hit))


@get("/tables", include_in_schema=False, sync_to_thread=True)
def tables_page(request: Request[Any, Any, Any], state: State) -> Template:
    principal = authorize(request, "tables")
    with serving_db(state) as db:
        tables = list(db.catalog.tables.values())
        return _page(request, "tables.html", principal, tables=tables, snapshot=db.path.name)


@get("/tables/{name:str}", include_in_schema=False, sync_to_thread=True)
def table_page_view(request: Request[Any, Any, Any], state: State, name: str) -> Template:
    principal = authorize(request, "tables")
    settings = state.settings
    query = page_query(list(request.query_params.multi_items()))
    with serving_db(state) as db:
        table = db.catalog.table(name)
        if table is None:
            raise problem(404, "unknown_table", f"没有名为 {name!r} 的数据表", f"no published table named {name!r}")
        req = parse_table_request(table, query, settings.page_size_default, settings.page_size_max)
        check_table_request(table, principal.role, [f.column for f in req.filters], req.sort, req.facets)
        page = table_page(db, req, row_mask(table, principal.role))
        tables = list(db.catalog.tables.values())
    base = [(k, v) for k, v in query if k not in ("_offset", "_after")]
    links = {
        "next": f"?{urlencode([*base, ('_offset', page['next_offset'])])}" if page["next_offset"] else None,
        "prev": f"?{urlencode([*base, ('_offset', max(0, req.offset - req.size))])}" if req.offset else None,
        "csv": f"/api/tables/{name}?{urlencode([*base, ('_format', 'csv')])}",
        "parquet": f"/api/tables/{name}?{urlencode([*base, ('_format', 'parquet')])}",
        "json": f"/api/tables/{name}?{urlencode(base)}",
    }
    sort_links = {}
    for col in table.column_names:
        rest = [(k, v) for k, v in base if k not in ("_sort", "_sort_desc")]
        direction = "_sort_desc" if req.sort == col and not req.descending else "_sort"
        sort_links[col] = f"?{urlencode([*rest, (direction, col)])}"
    return _page(
        request,
        "table.html",
        principal,
        table=table,
        tables=tables,
        page=page,
        req=req,
        links=links,
        sort_links=sort_links,
        operators=OPERATORS,
        operator_labels=OPERATOR_LABELS,
        filters=[f for f in req.filters],
        facets=page["facets"],
    )


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


@get("/towns", include_in_schema=False, sync_to_thread=True)
def towns_page(request: Request[Any, Any, Any], state: State, code: str | None = None) -> Template | Redirect:
    principal = authorize(request, "towns")
    if code:  # the town picker without JavaScript
        return Redirect(path=f"/towns/{quote(code, safe='')}")
    with serving_db(state) as db:
        towns = town_list(db)
    return _page(request, "towns.html", principal, towns=towns)


@get("/towns/{code:str}", include_in_schema=False, sync_to_thread=True)
def town_page(request: Request[Any, Any, Any], state: State, code: str) -> Template:
    principal = authorize(request, "towns")
    with serving_db(state) as db:
        found = town_dossier(db, code)
        towns = town_list(db)
        dossier_table = db.catalog.table("town_dossier")
        labels = {c.name: c.description for c in dossier_table.columns if c.description} if dossier_table else {}
    if found is None:
        raise problem(404, "unknown_town", f"没有镇街代码 {code!r}", f"no town with code {code!r}")
    link_documents(found, kb_documents(state))
    dossier = found["dossier"]
    # (label, met?, evidence): the dbt view names the row that meets each item as ``<item>_evidence``.
    items = [
        (label, dossier.get(col), dossier.get(col.removeprefix("has_") + "_evidence")) for col, label in READINESS_ITEMS
    ]
    return _page(request, "town.html", principal, town=found, dossier=dossier, items=items, towns=towns, labels=labels)


@get("/quality", include_in_schema=False, sync_to_thread=True)
def quality_page(request: Request[Any, Any, Any], state: State) -> Template:
    principal = authorize(request, "quality")
    reports = list_reports(state.settings.paths.quality_reports)
    latest = reports[0] if reports else None
    summary = load_report(latest, principal.role) if latest and latest.json_path else None  # masked per role
    return _page(request, "quality.html", principal, reports=reports, latest=latest, summary=summary)


@get("/quality/reports/{name:str}", include_in_schema=False, sync_to_thread=True)
def quality_report_html(request: Request[Any, Any, Any], state: State, name: str) -> Response[str]:
    principal = authorize(request, "quality")
    report = find_report(state.settings.paths.quality_reports, name)
    if report is None or report.html_path is None:
        raise problem(404, "no_quality_report", f"没有名为 {name!r} 的报告", f"no report named {name!r}")
    # Personal data masked per role, exactly as in the JSON and in tables.
    return Response(report_html(report, principal.role), media_type="text/html; charset=utf-8")


PAGE_ROUTES = [
    Router(
        path="/",
        route_handlers=[
            home,
            login_form,
            login,
            logout,
            search_page,
            document_page,
            tables_page,
            table_page_view,
            towns_page,
            town_page,
            quality_page,
            quality_report_html,
        ],
        exception_handlers={ProblemDetailsException: page_error},
    )
]
