"""One check's outcome, and the rule that turns a measurement into pass / warn / fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUS_ORDER = {PASS: 0, WARN: 1, FAIL: 2}
STATUS_LABELS = {PASS: "通过", WARN: "警告", FAIL: "不通过"}

ERROR, WARNING = "error", "warning"

# Kinds of check, with the words a department clerk reads.
KIND_LABELS: dict[str, str] = {
    "freshness": "及时性",
    "volume": "数据量",
    "completeness": "完整性（必填字段）",
    "validity": "有效性（格式、取值、日期、坐标）",
    "uniqueness": "唯一性（编号重复）",
    "referential": "关联完整性",
    "crosswalk": "代码映射（镇街、单位、类别）",
    "consistency": "跨部门一致性",
    "quarantine": "入库隔离",
}
KIND_ORDER = {kind: i for i, kind in enumerate(KIND_LABELS)}

# Severity per kind: a "warning" kind never fails a run, it only warns.
KIND_SEVERITY: dict[str, str] = {
    "freshness": ERROR,
    "volume": ERROR,
    "completeness": ERROR,
    "validity": WARNING,
    "uniqueness": ERROR,
    "referential": ERROR,
    "crosswalk": WARNING,
    "consistency": WARNING,
    "quarantine": WARNING,
}

# Share of failing rows still tolerated as a warning (above it: fail), for row-level checks.
ROW_TOLERANCE: dict[str, float] = {
    "completeness": 0.01,
    "validity": 0.01,
    "uniqueness": 0.0,
    "referential": 0.01,
    "crosswalk": 0.01,
    "consistency": 0.0,
}


@dataclass
class Finding:
    """One row to fix: its key, the field and value at fault, and why."""

    key: str
    reason: str
    field: str | None = None
    value: str | None = None
    location: str | None = None  # file and row, when the row never made it into the hub (quarantine)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class CheckResult:
    check_name: str  # "<kind>:<source>[.<entity>]", stable across runs: the history key
    kind: str
    source: str
    entity: str | None
    owner_dept: str  # one department, or several joined by "、" (cross-source findings)
    severity: str
    status: str
    measured_value: float | None
    threshold: str  # in words: "≤ 1 天", "≤ 1%（共 300 行）" ...
    unit: str  # unit of measured_value, for the chart axis: 天 | 行 | %
    failing_rows: int = 0
    total_rows: int | None = None
    title: str = ""  # in Chinese, e.g. "区城管局 · 城管案件 · 完整性（必填字段）"
    note: str = ""  # extra words for the clerk (reasons, baseline ...)
    findings: list[Finding] = field(default_factory=list)

    @property
    def owners(self) -> list[str]:
        return [o for o in self.owner_dept.split("、") if o]

    def sample_keys(self, limit: int = 20) -> list[str]:
        return [f.key for f in self.findings[:limit]]

    def as_dict(self, max_findings: int = 200) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [f.as_dict() for f in self.findings[:max_findings]]
        data["findings_truncated"] = len(self.findings) > max_findings
        data["status_label"] = STATUS_LABELS[self.status]
        data["kind_label"] = KIND_LABELS.get(self.kind, self.kind)
        return data


def row_status(kind: str, failing: int, total: int | None) -> str:
    """Pass with no failing row; warn within the kind's tolerated share (or for warning-only kinds); else fail."""
    if failing <= 0:
        return PASS
    if KIND_SEVERITY.get(kind) == WARNING:
        return WARN
    share = failing / total if total else 1.0
    return WARN if share <= ROW_TOLERANCE.get(kind, 0.0) else FAIL


def row_threshold(kind: str, total: int | None) -> str:
    tolerance = ROW_TOLERANCE.get(kind, 0.0)
    scope = f"（共 {total} 行）" if total is not None else ""
    if KIND_SEVERITY.get(kind) == WARNING:
        return f"0 行；有则警告{scope}"
    if tolerance == 0:
        return f"0 行{scope}"
    return f"≤ {tolerance:.0%} 警告，超过则不通过{scope}"


def share_percent(failing: int, total: int | None) -> float:
    return round(100.0 * failing / total, 3) if total else (100.0 if failing else 0.0)
