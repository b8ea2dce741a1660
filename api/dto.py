"""Typed responses of the JSON API (msgspec Structs), so every 200 response has a schema in OpenAPI.

Field names stay English (the API's contract); descriptions are bilingual.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class ColumnInfo(msgspec.Struct):
    name: str
    type: Annotated[str, _doc("DuckDB 类型 / DuckDB type")]
    description: str


class TableSummary(msgspec.Struct):
    name: str
    description: str
    rows: int
    columns: list[ColumnInfo]
    summary: Annotated[str, _doc("中文说明：这张表每行是什么 / what a row is, in Chinese, for readers")] = ""
    key: Annotated[list[str], _doc("记录键：唯一确定一行的列（dbt 唯一性测试）/ the columns that identify a row "
                                   "(its dbt uniqueness test); filter on all of them to get one row")] = []


class TableList(msgspec.Struct):
    snapshot: Annotated[str, _doc("快照文件 / snapshot file")]
    built: dict[str, Any]
    tables: list[TableSummary]


class FacetCount(msgspec.Struct):
    value: Any
    count: int


class TablePage(msgspec.Struct):
    """One page of a table; ``_format=csv|parquet`` returns a file instead (every matching row)."""

    table: str
    columns: list[ColumnInfo]
    rows: Annotated[list[dict[str, Any]], _doc("行（列名 → 值）/ rows (column → value)")]
    total: Annotated[int, _doc("符合条件的行数 / rows matching the filters")]
    offset: int
    size: int
    sort: str | None
    sort_desc: bool
    next_after: Annotated[str | None, _doc("下一页游标 / cursor of the next page (_after)")]
    next_offset: int | None
    facets: dict[str, list[FacetCount]]
    snapshot: str


class HealthStatus(msgspec.Struct):
    status: Annotated[str, _doc("ok | no_snapshot")]
    snapshot: str | None
    search_index: str | None
    demo_mode: bool
    engine: Annotated[str, _doc("duckdb | postgres: where the served tables come from")] = "duckdb"
    # on postgres: the server's version schema served now (the server's address is not said here, no key needed)
    warehouse_version: str | None = None


class TownSummary(msgspec.Struct):
    town_code: str
    town_name: str
    readiness_score: int | None = None


class TownList(msgspec.Struct):
    towns: list[TownSummary]
    snapshot: str


class QualityReportFile(msgspec.Struct):
    name: str
    modified: str
    json: str | None
    html: str | None


class QualityReportList(msgspec.Struct):
    reports: list[QualityReportFile]
    message: str | None


class StatusCounts(msgspec.Struct, rename={"passed": "pass", "warned": "warn", "failed": "fail"}):
    passed: int
    warned: int
    failed: int


class QualitySummary(StatusCounts, rename={"passed": "pass", "warned": "warn", "failed": "fail"}):
    total: int


class DepartmentSummary(msgspec.Struct, rename={"passed": "pass", "warned": "warn", "failed": "fail"}):
    department: str
    passed: int
    warned: int
    failed: int
    change: StatusCounts
    newly_failing: list[str]


class TrendPoint(msgspec.Struct):
    run_at: str
    status: str
    measured_value: float | None


class QualityCheck(msgspec.Struct):
    check_name: str
    kind: str
    source: str
    entity: str | None
    owner_dept: str
    severity: str
    status: Annotated[str, _doc("pass | warn | fail")]
    measured_value: float | None
    threshold: str
    unit: str
    failing_rows: int
    total_rows: int | None
    title: str
    note: str
    findings: Annotated[list[dict[str, Any]], _doc("需要整改的行 / rows to fix (key, field, value, reason, location)")]
    findings_truncated: bool = False
    status_label: str = ""
    kind_label: str = ""
    previous_status: str | None = None
    trend: list[TrendPoint] = []


class QualityReport(msgspec.Struct):
    """One day's data-quality report (times in Asia/Shanghai; ``as_of`` is the date the data runs up to)."""

    report_name: str
    run_id: str
    run_at: Annotated[str, _doc("报告生成时间（北京时间）/ generated at, Asia/Shanghai")]
    as_of: Annotated[str | None, _doc("数据基准日 / the date the data runs up to")]
    previous_run_id: str | None
    previous_run_at: str | None
    summary: QualitySummary
    departments: list[DepartmentSummary]
    source_labels: dict[str, str]
    checks: list[QualityCheck]
    newly_failing: list[str] = []


class TownDocument(msgspec.Struct):
    """A knowledge-base document about the town (open it at ``/api/documents/{doc_id}``)."""

    doc_id: str
    title: str
    doc_type: str
    date: Annotated[str | None, _doc("YYYY-MM-DD 或 YYYY-MM / as known")]
    file: str


Rows = Annotated[list[dict[str, Any]], _doc("该镇街在此表中的行，最多 200 行 / the town's rows, at most 200")]


class TownDossier(msgspec.Struct):
    """A town's ``town_dossier`` row and its rows of the detail tables; tables the snapshot lacks are in ``missing``."""

    town_code: str
    dossier: Annotated[dict[str, Any], _doc("town_dossier 的一行 / the town's row of town_dossier")]
    hidden_dangers: Rows
    teams: Rows
    plans: Annotated[list[dict[str, Any]], _doc("预案行，doc_id 为知识库文档 / plan rows, doc_id: its document")]
    events: Rows
    grid: Rows
    capacity: Rows
    readiness: Rows
    documents: list[TownDocument]
    missing: Annotated[list[str], _doc("快照中没有的明细表 / detail tables the snapshot does not publish")]
    snapshot: Annotated[str, _doc("快照文件 / snapshot file")]
