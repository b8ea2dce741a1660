"""The daily data-quality reports (HTML + JSON files in ``HubPaths.quality_reports``), read-only.

A report quotes rows it found wrong, and some of those rows are about people (a flood-duty roster's
``责任对象编号 / 行政责任人 / 姓名 / 年度`` key). Roles that get personal data masked in tables get the report
masked by the same rules (``api.masking``): ``load_report`` masks each finding's key, value and reason by
the finding's source fields, then every other place in the report where the same text appears, and every
mobile number; ``report_html`` applies exactly those replacements to the HTML of the same report. An HTML
report without its JSON cannot be masked and is not shown to such roles.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.errors import problem
from api.masking import MASK_RULES, SOURCE_FIELD_RULES, SOURCE_KEY_FIELDS, mask_phone, mask_value, sees_personal_data


@dataclass(frozen=True)
class ReportFile:
    name: str  # file stem, shared by the JSON and the HTML of one report
    json_path: Path | None
    html_path: Path | None
    modified: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modified": self.modified.isoformat(timespec="seconds"),
            "json": f"/api/quality/reports/{self.name}" if self.json_path else None,
            "html": f"/quality/reports/{self.name}" if self.html_path else None,
        }


def list_reports(root: Path) -> list[ReportFile]:
    """Reports newest first; a report is the JSON and/or HTML files sharing one stem."""
    if not root.is_dir():
        return []
    stems: dict[str, dict[str, Path]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html") and not path.name.startswith("."):
            stems.setdefault(path.stem, {})[path.suffix] = path
    reports = [
        ReportFile(
            name=stem,
            json_path=files.get(".json"),
            html_path=files.get(".html"),
            modified=datetime.fromtimestamp(max(p.stat().st_mtime for p in files.values()), UTC),
        )
        for stem, files in stems.items()
    ]
    return sorted(reports, key=lambda r: (r.modified, r.name), reverse=True)


def find_report(root: Path, name: str) -> ReportFile | None:
    return next((r for r in list_reports(root) if r.name == name), None)


def load_json(report: ReportFile) -> Any:
    assert report.json_path is not None
    return json.loads(report.json_path.read_text(encoding="utf-8"))


KEY_SEPARATOR = " / "  # how the report joins the fields of a composite key
FIELD_SEPARATOR = " + "  # how it names them


def _finding_replacements(check: dict[str, Any], finding: dict[str, Any], out: dict[str, str]) -> None:
    """Collect original → masked text for the personal values one finding quotes."""
    entity = f"{check.get('source')}.{check.get('entity')}"
    rules = SOURCE_FIELD_RULES.get(entity, {})
    key_fields = SOURCE_KEY_FIELDS.get(entity, ())

    def add(value: Any, rule_name: str) -> None:
        if isinstance(value, str) and len(value.strip()) >= 2:
            out[value] = mask_value(MASK_RULES[rule_name], value)

    key = finding.get("key")
    if isinstance(key, str) and key_fields:
        parts = key.split(KEY_SEPARATOR)
        for name, part in zip(key_fields, parts, strict=False):
            if name in rules:
                add(part, rules[name])
    fields = str(finding.get("field") or "").split(FIELD_SEPARATOR)
    value = finding.get("value")
    if len(fields) == 1:
        rule = rules.get(fields[0]) or (fields[0] if fields[0] in MASK_RULES else None)
        if rule:
            add(value, rule)
    elif isinstance(value, str):  # a composite key as the value (uniqueness): mask its personal parts
        for name, part in zip(fields, value.split(KEY_SEPARATOR), strict=False):
            rule = rules.get(name) or (name if name in MASK_RULES else None)
            if rule:
                add(part, rule)


def report_replacements(report: Any) -> dict[str, str]:
    """Original → masked text for every personal value the report's findings quote."""
    out: dict[str, str] = {}
    for check in report.get("checks") or [] if isinstance(report, dict) else []:
        if isinstance(check, dict):
            for finding in check.get("findings") or []:
                if isinstance(finding, dict):
                    _finding_replacements(check, finding, out)
    return {k: v for k, v in out.items() if k != v}


def mask_text_with(text: str, replacements: dict[str, str]) -> str:
    if replacements:
        pattern = re.compile("|".join(re.escape(k) for k in sorted(replacements, key=len, reverse=True)))
        text = pattern.sub(lambda m: replacements[m.group(0)], text)
    return mask_phone(text)


def _mask_tree(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mask_text_with(value, replacements)
    if isinstance(value, list):
        return [_mask_tree(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _mask_tree(v, replacements) for k, v in value.items()}
    return value


def load_report(report: ReportFile, role: str) -> Any:
    """The report's JSON as ``role`` may see it: personal values masked unless the role sees them in tables."""
    data = load_json(report)
    if sees_personal_data(role):
        return data
    return _mask_tree(data, report_replacements(data))


def report_html(report: ReportFile, role: str) -> str:
    """The report's HTML as ``role`` may see it, masked with the replacements of its own JSON."""
    assert report.html_path is not None
    html = report.html_path.read_text(encoding="utf-8")
    if sees_personal_data(role):
        return html
    if report.json_path is None:
        raise problem(404, "no_quality_report", f"报告 {report.name} 无法脱敏，不能向此角色展示",
                      f"report {report.name} cannot be masked for this role", name=report.name)
    replacements = report_replacements(load_json(report))
    escaped = {_html_escape(k): _html_escape(v) for k, v in replacements.items()}
    return mask_text_with(html, {**replacements, **escaped})


def _html_escape(text: str) -> str:
    from html import escape

    return escape(text, quote=True)
