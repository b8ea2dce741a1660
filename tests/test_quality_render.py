"""The daily report's page as a clerk reads it: times said in Beijing time and explained, no "±0" beside
"首次运行，无对比", each quarantine reason with its row count once, and trend charts drawn by hub.core.charts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from orchestration.quality.history import DepartmentRun, TrendPoint
from orchestration.quality.render import render_html


def check(name: str, kind: str, status: str, findings: list[dict[str, Any]], failing: int) -> dict[str, Any]:
    return {
        "check_name": name, "kind": kind, "source": "urban", "status": status, "title": name,
        "measured_value": float(failing), "unit": "行", "threshold": "0 行", "owner_dept": "区城管局",
        "failing_rows": failing, "note": "", "findings": findings, "previous_status": None,
    }


def report(previous_run_at: str | None) -> dict[str, Any]:
    checks = [
        check("quarantine:urban", "quarantine", "warn",
              [{"key": "未知镇街 / unknown town", "value": "3 行"}, {"key": "必填字段为空 / required field is empty",
                                                                  "value": "1 行"}], 4),
        check("uniqueness:urban.cases", "uniqueness", "fail", [{"key": "CG1", "field": "案件编号", "value": "CG1",
                                                               "reason": "编号重复"}], 1),
    ]
    return {
        "report_name": "quality_20261204_043440_abcdef12", "run_id": "abcdef1234", "run_at": "2026-12-04 04:34:40",
        "as_of": "2026-12-03", "previous_run_id": None, "previous_run_at": previous_run_at,
        "summary": {"pass": 0, "warn": 1, "fail": 1, "total": 2},
        "departments": [{"department": "区城管局", "fail": 1, "warn": 1, "pass": 0,
                         "change": {"fail": 0, "warn": 0, "pass": 0}, "newly_failing": []}],
        "source_labels": {"urban": "区城管局"}, "checks": checks,
    }


def test_first_run_shows_no_change_figures() -> None:
    html = render_html(report(None), {}, {})
    assert "首次运行，无对比" in html
    assert "±0" not in html and "较上次" not in html
    assert "北京时间" in html and "数据基准日 2026-12-03" in html and "报告生成于 2026-12-04 04:34:40" in html


def test_later_run_shows_the_change_since_the_previous_run() -> None:
    html = render_html(report("2026-12-03 07:00:00"), {}, {})
    assert "±0" in html and "较上次" in html and "对比上次运行 2026-12-03 07:00:00（北京时间）" in html


def test_quarantine_summary_gives_each_reason_its_count_once() -> None:
    html = render_html(report(None), {}, {})
    block = html.split('data-check="quarantine:urban"', 1)[1].split('data-check="', 1)[0]
    table = block.split('class="findings quarantine-reasons"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<th>([^<]+)</th>", table) == ["原因", "行数"]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td></tr>", table)
    assert rows == [("未知镇街 / unknown town", "3 行"), ("必填字段为空 / required field is empty", "1 行")]


def test_trend_charts_come_from_the_shared_chart_module() -> None:
    start = datetime(2026, 12, 1, 7)
    points = [TrendPoint(start + timedelta(days=i), s, v, int(v)) for i, (s, v) in
              enumerate([("fail", 3.0), ("warn", 1.0), ("fail", 1.0)])]
    runs = [DepartmentRun(start + timedelta(days=i), 0, 1, 1) for i in range(3)]
    html = render_html(report("2026-12-03 07:00:00"), {"uniqueness:urban.cases": points}, {"区城管局": runs})
    trend = html.split('data-check="uniqueness:urban.cases"', 1)[1]
    assert 'class="marks trend"' in trend.split("</svg>", 1)[0]
    assert 'class="marks status-runs"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', "")
