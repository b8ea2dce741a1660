"""``/api/quality/...``: the data-quality reports, readable with any key."""

from __future__ import annotations

from typing import ClassVar

import msgspec
from litestar import Controller, get
from litestar.di import Provide
from litestar.params import FromPath

from api.auth import require
from api.dependencies import PRINCIPAL, SETTINGS, PrincipalDep, SettingsDep
from api.dto import QualityReport, QualityReportFile, QualityReportList
from api.errors import problem
from api.quality_reports import find_report, list_reports, load_report
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED

NO_REPORT = (
    "还没有数据质量报告（运行 hub quality report 生成）",
    "no data-quality report yet (run `hub quality report`)",
)


class QualityController(Controller):
    path = "/api/quality/reports"
    tags = ("quality",)
    guards = (require("quality"),)
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **PRINCIPAL}

    @get("/", responses=ERROR_RESPONSES, summary="数据质量报告列表 / data-quality reports", sync_to_thread=True)
    def quality_reports(self, settings: SettingsDep) -> QualityReportList:
        reports = list_reports(settings.paths.quality_reports)
        return QualityReportList(
            reports=[msgspec.convert(r.summary(), QualityReportFile) for r in reports],
            message=None if reports else " / ".join(NO_REPORT),
        )

    @get(
        "/latest",
        responses={**ERROR_RESPONSES, **NOT_FOUND},
        summary="最新数据质量报告 / the latest data-quality report (JSON)",
        sync_to_thread=True,
    )
    def latest_quality_report(self, settings: SettingsDep, principal: PrincipalDep) -> QualityReport:
        with_json = [r for r in list_reports(settings.paths.quality_reports) if r.json_path]
        if not with_json:
            raise problem(404, "no_quality_report", *NO_REPORT)
        # personal data masked as in tables
        return msgspec.convert(load_report(with_json[0], principal.role), QualityReport)

    @get(
        "/{name:str}",
        responses={**ERROR_RESPONSES, **NOT_FOUND},
        summary="一份数据质量报告 / one data-quality report (JSON)",
        sync_to_thread=True,
    )
    def quality_report(self, name: FromPath[str], settings: SettingsDep, principal: PrincipalDep) -> QualityReport:
        report = find_report(settings.paths.quality_reports, name)
        if report is None or report.json_path is None:
            raise problem(404, "no_quality_report", f"没有名为 {name!r} 的报告", f"no report named {name!r}")
        return msgspec.convert(load_report(report, principal.role), QualityReport)  # personal data masked
