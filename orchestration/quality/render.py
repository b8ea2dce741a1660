"""The report as one self-contained HTML page (inline CSS, inline SVG; nothing loaded from the network).

Order, for a department clerk: the summary by department (pass / warn / fail and the change since
the previous run), then per department and source every check that is not passing, with its
measured value, threshold, 30-run trend and the rows to fix; passing checks are listed last, folded.
"""

from __future__ import annotations

from html import escape
from typing import Any

from orchestration.quality.charts import STATUS_COLOURS, department_chart, trend_chart
from orchestration.quality.history import DepartmentRun, TrendPoint
from orchestration.quality.results import STATUS_LABELS, CheckResult

MAX_ROWS_SHOWN = 50  # rows to fix shown per check in the page; the JSON has up to 200

CSS = """
body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif;
margin:0;padding:16px 24px;color:#222;background:#fafafa;line-height:1.5}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #1565c0;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px;color:#1565c0} .meta{color:#555;font-size:13px}
table{border-collapse:collapse;background:#fff;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top} th{background:#eef3fb}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;white-space:nowrap}
.pass{background:#2e7d32}.warn{background:#ef9f00}.fail{background:#c62828}
.up{color:#c62828}.down{color:#2e7d32}.check{background:#fff;border:1px solid #ddd;border-left:5px solid #999;
padding:8px 12px;margin:10px 0}.check.fail{border-left-color:#c62828}.check.warn{border-left-color:#ef9f00}
.check-head{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}.facts{min-width:320px;flex:1}
.facts div{font-size:13px}.label{color:#666;display:inline-block;min-width:5em}summary{cursor:pointer;color:#1565c0}
.legend span{margin-right:12px;font-size:12px}.dept-cards{display:flex;flex-wrap:wrap;gap:12px}
.dept-card{background:#fff;border:1px solid #ddd;padding:8px 12px}
"""


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>'


def _delta(value: int, bad_when_up: bool, first_run: bool = False) -> str:
    if first_run:
        return ""  # nothing to compare with: no "±0" next to "首次运行，无对比"
    if value == 0:
        return '<span class="muted">±0</span>'
    css = ("up" if value > 0 else "down") if bad_when_up else ("down" if value > 0 else "up")
    return f'<span class="{css}">{value:+d}</span>'


def _measured(check: dict[str, Any]) -> str:
    value = check["measured_value"]
    if value is None:
        return "—"
    text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return f"{text} {check['unit']}"


def _quarantine_reasons(check: dict[str, Any]) -> str:
    """The quarantine summary: one row per reason with its row count (the count once, not as value and reason)."""
    rows = "".join(
        f'<tr><td>{escape(str(f.get("key") or ""))}</td><td class="num">{escape(str(f.get("value") or ""))}</td></tr>'
        for f in check["findings"]
    )
    return (
        f"<details open><summary>隔离原因（共 {check['failing_rows']} 行）</summary>"
        f'<table class="findings quarantine-reasons"><tr><th>原因</th><th>行数</th></tr>{rows}</table></details>'
    )


def _findings_table(check: dict[str, Any]) -> str:
    findings = check["findings"]
    if not findings:
        return ""
    if check.get("kind") == "quarantine":
        return _quarantine_reasons(check)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(f.get(col, '') or ''))}</td>" for col in ("key", "field", "value", "reason",
                                                                                   "location")) + "</tr>"
        for f in findings[:MAX_ROWS_SHOWN]
    )
    more = len(findings) - MAX_ROWS_SHOWN
    tail = f'<p class="meta">另有 {more} 行见 JSON 报告 / {more} more rows in the JSON report</p>' if more > 0 else ""
    heading = f'需要整改的行（共 {check["failing_rows"]} 行）' if check["failing_rows"] else "问题说明"
    return (
        f"<details open><summary>{heading}</summary>"
        '<table class="findings"><tr><th>编号 / 键</th><th>字段</th><th>值</th><th>原因</th><th>位置</th></tr>'
        f"{rows}</table>{tail}</details>"
    )


def _check_block(check: dict[str, Any], trend: list[TrendPoint], department: str) -> str:
    previous = check.get("previous_status")
    change = f"（上次：{STATUS_LABELS.get(previous, previous)}）" if previous and previous != check["status"] else ""
    note = f'<div><span class="label">说明</span>{escape(check["note"])}</div>' if check.get("note") else ""
    return (
        f'<div class="check {escape(check["status"])}" data-check="{escape(check["check_name"])}" '
        f'data-dept="{escape(department)}">'
        f'<div class="check-head"><div class="facts"><div>{_badge(check["status"])} <strong>{escape(check["title"])}'
        f"</strong> {escape(change)}</div>"
        f'<div><span class="label">检查项</span><code>{escape(check["check_name"])}</code></div>'
        f'<div><span class="label">测量值</span>{escape(_measured(check))}'
        + (f'（问题 {check["failing_rows"]} 行）' if check["failing_rows"] else "") + "</div>"
        f'<div><span class="label">阈值</span>{escape(check["threshold"])}</div>'
        f'<div><span class="label">责任部门</span>{escape(check["owner_dept"])}</div>{note}</div>'
        f"<div>{trend_chart(trend, check['unit'])}</div></div>"
        f"{_findings_table(check)}</div>"
    )


def _passing_table(checks: list[dict[str, Any]], trends: dict[str, list[TrendPoint]]) -> str:
    if not checks:
        return ""
    rows = "".join(
        f'<tr><td>{_badge(c["status"])}</td><td>{escape(c["title"])}</td><td class="num">{escape(_measured(c))}</td>'
        f'<td>{escape(c["threshold"])}</td><td class="num">{_pass_streak(trends.get(c["check_name"], []))}</td></tr>'
        for c in checks
    )
    return (
        f"<details><summary>通过的检查（{len(checks)} 项）</summary><table><tr><th>状态</th><th>检查</th>"
        f"<th>测量值</th><th>阈值</th><th>连续通过</th></tr>{rows}</table></details>"
    )


def _pass_streak(trend: list[TrendPoint]) -> str:
    streak = 0
    for point in reversed(trend):
        if point.status != "pass":
            break
        streak += 1
    return f"{streak} 次"


def _department_summary(
    departments: list[dict[str, Any]], dept_trends: dict[str, list[DepartmentRun]], first_run: bool = False
) -> str:
    rows = "".join(
        f'<tr><td><a href="#dept-{escape(d["department"])}">{escape(d["department"])}</a></td>'
        f'<td class="num">{d["fail"]} {_delta(d["change"]["fail"], True, first_run)}</td>'
        f'<td class="num">{d["warn"]} {_delta(d["change"]["warn"], True, first_run)}</td>'
        f'<td class="num">{d["pass"]} {_delta(d["change"]["pass"], False, first_run)}</td>'
        f'<td>{"、".join(escape(n) for n in d["newly_failing"]) or "—"}</td></tr>'
        for d in departments
    )
    runs = {d["department"]: dept_trends.get(d["department"], []) for d in departments}
    cards = "".join(
        f'<div class="dept-card"><strong>{escape(name)}</strong><br>{department_chart(dept_runs)}</div>'
        for name, dept_runs in runs.items()
        if len(dept_runs) >= 2
    )
    change = "" if first_run else "（较上次）"
    legend = "".join(
        f'<span><svg width="10" height="10"><rect width="10" height="10" fill="{colour}"/></svg> '
        f"{STATUS_LABELS[status]}</span>"
        for status, colour in STATUS_COLOURS.items()
    )
    return (
        f'<h2 id="summary">按部门汇总</h2><table class="dept-summary"><tr><th>责任部门</th><th>不通过{change}</th>'
        f"<th>警告{change}</th><th>通过{change}</th><th>新出现的不通过</th></tr>{rows}</table>"
        f'<div class="legend">{legend}</div><div class="dept-cards">{cards}</div>'
    )


def render_html(report: dict[str, Any], trends: dict[str, list[TrendPoint]],
                dept_trends: dict[str, list[DepartmentRun]]) -> str:
    totals = report["summary"]
    checks: list[dict[str, Any]] = report["checks"]
    sections = []
    for dept in report["departments"]:
        name = dept["department"]
        owned = [c for c in checks if name in c["owner_dept"].split("、")]
        parts = [f'<h2 id="dept-{escape(name)}">{escape(name)}</h2>']
        for source in dict.fromkeys(c["source"] for c in owned):
            problems = [c for c in owned if c["source"] == source and c["status"] != "pass"]
            passing = [c for c in owned if c["source"] == source and c["status"] == "pass"]
            label = escape(report["source_labels"].get(source, source))
            parts.append(f'<h3>数据源：{label}（<code>{escape(source)}</code>）</h3>')
            parts += [_check_block(c, trends.get(c["check_name"], []), name) for c in problems]
            if not problems:
                parts.append('<p class="meta">本数据源所有检查均通过。</p>')
            parts.append(_passing_table(passing, trends))
        sections.append("".join(parts))
    previous = report.get("previous_run_at")
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>数据质量日报 {escape(report['as_of'] or '')}</title><style>{CSS}</style></head><body>"
        f"<h1>萧山区应急管理数据枢纽 · 数据质量日报</h1>"
        f'<p class="meta times">数据基准日 {escape(report["as_of"] or "—")}（数据截至该日） · '
        f'报告生成于 {escape(report["run_at"])}（北京时间） · 运行 {escape(report["run_id"][:8])}'
        + (f" · 对比上次运行 {escape(previous)}（北京时间）" if previous else " · 首次运行，无对比") + "</p>"
        f'<p>共 {totals["total"]} 项检查：{_badge("fail")} {totals["fail"]} 项 · '
        f'{_badge("warn")} {totals["warn"]} 项 · {_badge("pass")} {totals["pass"]} 项</p>'
        + _department_summary(report["departments"], dept_trends, first_run=not previous)
        + "".join(sections)
        + '<p class="meta">说明：时间均为北京时间（Asia/Shanghai）。“数据基准日”是数据所截至的日期，'
        "“报告生成于”是本次检查运行的时间。每项未通过检查的趋势图显示最近 30 次运行的测量值，圆点颜色表示当次结果。"
        "需要整改的行列出编号、字段、原值和原因；被入库隔离的行另给出文件名和行号，请在源系统中修正后重新导出。</p>"
        "</body></html>"
    )


def result_dicts(results: list[CheckResult], previous: dict[str, str],
                 trends: dict[str, list[TrendPoint]]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        data = r.as_dict()
        data["previous_status"] = previous.get(r.check_name)
        data["trend"] = [
            {"run_at": p.run_at.isoformat(timespec="seconds"), "status": p.status, "measured_value": p.measured_value}
            for p in trends.get(r.check_name, [])
        ]
        out.append(data)
    return out
