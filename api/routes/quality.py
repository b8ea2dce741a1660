"""``/api/quality/...``: the data-quality reports, readable with any key."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import State

from api.auth import require
from api.errors import problem
from api.quality_reports import find_report, list_reports, load_report
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED

NO_REPORT = ("还没有数据质量报告（运行 hub quality 生成）", "no data-quality report yet (run `hub quality`)")


@get(
    "/api/quality/reports",
    guards=[require("quality")],
    security=SECURED,
    responses=ERROR_RESPONSES,
    tags=["quality"],
    summary="数据质量报告列表 / data-quality reports",
    sync_to_thread=True,
)
def quality_reports(state: State) -> dict[str, Any]:
    reports = list_reports(state.settings.paths.quality_reports)
    return {"reports": [r.summary() for r in reports], "message": None if reports else " / ".join(NO_REPORT)}


@get(
    "/api/quality/reports/latest",
    guards=[require("quality")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **NOT_FOUND},
    tags=["quality"],
    summary="最新数据质量报告 / the latest data-quality report (JSON)",
    sync_to_thread=True,
)
def latest_quality_report(request: Request[Any, Any, Any], state: State) -> Any:
    with_json = [r for r in list_reports(state.settings.paths.quality_reports) if r.json_path]
    if not with_json:
        raise problem(404, "no_quality_report", *NO_REPORT)
    return load_report(with_json[0], request.state.principal.role)  # personal data masked as in tables


@get(
    "/api/quality/reports/{name:str}",
    guards=[require("quality")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **NOT_FOUND},
    tags=["quality"],
    summary="一份数据质量报告 / one data-quality report (JSON)",
    sync_to_thread=True,
)
def quality_report(request: Request[Any, Any, Any], state: State, name: str) -> Any:
    report = find_report(state.settings.paths.quality_reports, name)
    if report is None or report.json_path is None:
        raise problem(404, "no_quality_report", f"没有名为 {name!r} 的报告", f"no report named {name!r}")
    return load_report(report, request.state.principal.role)  # personal data masked as in tables
