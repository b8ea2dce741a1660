"""Charts as inline SVG, drawn from Vega-Lite specs by vl-convert (offline: no browser, no CDN, no network).

One module for the web pages (api) and the daily quality report (orchestration): each ``*_chart`` builds a
Vega-Lite spec from plain rows and returns the SVG text to embed in HTML. Colours carry meaning: green is
good, red is bad (status colours, the readiness score scale). Text is Chinese; the SVG names the CJK fonts
and the browser draws them. Rendering a spec costs tens of milliseconds, so identical specs are cached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import Any

import vl_convert

FONT = "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, PingFang SC, sans-serif"
STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#ef9f00", "fail": "#c62828"}
STATUS_LABELS = {"pass": "通过", "warn": "警告", "fail": "不通过"}
# Worst to best: the same five steps as the pages' score-0 … score-4 classes.
SCORE_COLOURS = ("#c62828", "#ef6c00", "#f9a825", "#7cb342", "#2e7d32")
STATUS_SCALE = {"domain": list(STATUS_LABELS.values()), "range": list(STATUS_COLOURS.values())}
MET_SCALE = {"domain": ["达标", "未达标", "未知"], "range": ["#2e7d32", "#c62828", "#9e9e9e"]}
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # an identifier only: vl-convert bundles the schema

_CONFIG: dict[str, Any] = {
    "font": FONT,
    "background": "transparent",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "titleFontWeight": "normal", "gridColor": "#eef0f4"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
    "title": {"fontSize": 13, "anchor": "start", "fontWeight": "bold"},
}


@lru_cache(maxsize=512)
def _render(spec_json: str) -> str:
    return str(vl_convert.vegalite_to_svg(json.loads(spec_json)))


def render(spec: dict[str, Any], label: str, css_class: str = "chart") -> str:
    """The SVG of a Vega-Lite spec, labelled for screen readers (role=img, aria-label) and tagged with a class."""
    full = {"$schema": SCHEMA, "config": _CONFIG, **spec}
    svg = _render(json.dumps(full, ensure_ascii=False, sort_keys=True, default=str)).strip()
    svg = svg.replace('class="marks"', f'class="marks {escape(css_class)}"', 1)
    if "xlink:" not in svg.replace("xmlns:xlink", ""):  # an unused namespace: the page names no other address
        svg = svg.replace(' xmlns:xlink="http://www.w3.org/1999/xlink"', "", 1)
    return re.sub(r"^<svg ", f'<svg role="img" aria-label="{escape(label)}" ', svg, count=1)


def score_colour(score: float, low: float, high: float) -> str:
    share = 0.0 if high <= low else min(1.0, max(0.0, (score - low) / (high - low)))
    return SCORE_COLOURS[round(share * (len(SCORE_COLOURS) - 1))]


def count_axis(top: float) -> dict[str, Any]:
    """An axis of whole counts: Vega would tick 0.5 steps up to a maximum of 2 (and tickMinStep is not honoured)."""
    return {"format": "d", "tickCount": max(1, min(5, int(top)))}


def empty(label: str) -> str:
    return f'<p class="chart-empty">{escape(label)}：暂无数据</p>'


# --- the web pages -----------------------------------------------------------------------------------------


def readiness_bars(rows: Sequence[dict[str, Any]], max_score: int = 6, width: int = 640) -> str:
    """One horizontal bar per town, its length and colour the 六有 score (red 0 … green 6)."""
    label = "各镇街六有得分"
    values = [
        {"镇街": r["town_name"], "得分": score, "colour": score_colour(score, 0, max_score)}
        for r in rows
        if (score := r.get("readiness_score")) is not None
    ]
    if not values:
        return empty(label)
    axis = {"labelLimit": 200, "labelPadding": 6}
    y = {"field": "镇街", "type": "nominal", "sort": "-x", "title": None, "axis": axis}
    spec = {
        "width": width,
        "height": {"step": 18},
        "padding": {"left": 16, "top": 4, "right": 8, "bottom": 4},
        "data": {"values": values},
        "encoding": {"y": y},
        "layer": [
            {
                "mark": {"type": "bar", "cornerRadiusEnd": 2},
                "encoding": {
                    "x": {"field": "得分", "type": "quantitative", "scale": {"domain": [0, max_score]},
                          "axis": {"tickCount": max_score, "format": "d"}, "title": f"六有得分（满分 {max_score}）"},
                    "color": {"field": "colour", "type": "nominal", "scale": None},
                    "tooltip": [{"field": "镇街"}, {"field": "得分"}],
                },
            },
            {
                "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11, "fontWeight": "bold"},
                "encoding": {"x": {"field": "得分", "type": "quantitative"}, "text": {"field": "得分"},
                             "color": {"field": "colour", "type": "nominal", "scale": None}},
            },
        ],
    }
    return render(spec, label, "readiness")


def events_by_month(rows: Sequence[dict[str, Any]], width: int = 420) -> str:
    """Stacked bars: events per month, split by type. ``rows``: month (YYYY-MM), type, events."""
    label = "每月事件数（按类型）"
    if not rows:
        return empty(label)
    per_month: dict[str, float] = {}
    for r in rows:
        per_month[r["month"]] = per_month.get(r["month"], 0) + (r["events"] or 0)
    spec = {
        "title": label,
        "width": width,
        "height": 180,
        "data": {"values": [{"月份": r["month"], "类型": r["type"] or "未分类", "事件数": r["events"]} for r in rows]},
        "mark": "bar",
        "encoding": {
            "x": {"field": "月份", "type": "ordinal", "title": None, "axis": {"labelAngle": 0}},
            "y": {"field": "事件数", "type": "quantitative", "title": "事件数",
                  "axis": count_axis(max(per_month.values()))},
            # twenty colours: the four platforms have a dozen event types, and ten repeated two of them
            "color": {"field": "类型", "type": "nominal", "title": "类型", "scale": {"scheme": "tableau20"}},
            "tooltip": [{"field": "月份"}, {"field": "类型"}, {"field": "事件数"}],
        },
    }
    return render(spec, label, "events")


OVERDUE_BUCKETS = ("1–30 天", "31–90 天", "91–180 天", "180 天以上")


def overdue_bucket(days: int) -> str:
    return OVERDUE_BUCKETS[0 if days <= 30 else 1 if days <= 90 else 2 if days <= 180 else 3]


def overdue_by_age(days: Sequence[int], width: int = 320) -> str:
    """How long the overdue dangers are past their deadline, in four age buckets (redder when older)."""
    label = "逾期隐患（按逾期时长）"
    if not days:
        return empty(label)
    counts = dict.fromkeys(OVERDUE_BUCKETS, 0)
    for d in days:
        counts[overdue_bucket(d)] += 1
    values = [{"逾期时长": k, "隐患数": v} for k, v in counts.items()]
    spec = {
        "title": label,
        "width": width,
        "height": 180,
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {"field": "逾期时长", "type": "ordinal", "sort": list(OVERDUE_BUCKETS), "title": None,
                  "axis": {"labelAngle": 0}},
            "y": {"field": "隐患数", "type": "quantitative", "title": "隐患数",
                  "axis": count_axis(max(counts.values()))},
            "color": {"field": "逾期时长", "type": "ordinal", "sort": list(OVERDUE_BUCKETS), "legend": None,
                      "scale": {"range": ["#f9a825", "#ef6c00", "#d84315", "#b71c1c"]}},
            "tooltip": [{"field": "逾期时长"}, {"field": "隐患数"}],
        },
    }
    return render(spec, label, "overdue")


def readiness_evidence(items: Sequence[tuple[str, bool | None, str | None]], width: int = 420) -> str:
    """The six 六有 items as a strip: green met, red not met, grey unknown; the evidence as the tooltip."""
    label = "六有达标情况与依据"
    values = [
        {"项目": name, "达标": "达标" if ok else ("未达标" if ok is False else "未知"), "依据": evidence or "—", "n": 1}
        for name, ok, evidence in items
    ]
    spec = {
        "title": label,
        "width": width,
        "height": 60,
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "rect", "stroke": "white", "strokeWidth": 3, "cornerRadius": 4},
                "encoding": {
                    "x": {"field": "项目", "type": "nominal", "sort": None, "title": None,
                          "axis": {"labelAngle": 0, "orient": "top"}},
                    "color": {"field": "达标", "type": "nominal", "title": None,
                              "scale": MET_SCALE},
                    "tooltip": [{"field": "项目"}, {"field": "达标"}, {"field": "依据"}],
                },
            },
            {
                "mark": {"type": "text", "color": "white", "fontSize": 12, "fontWeight": "bold"},
                "encoding": {"x": {"field": "项目", "type": "nominal", "sort": None}, "text": {"field": "达标"}},
            },
        ],
    }
    return render(spec, label, "readiness-evidence")


# --- the quality report ------------------------------------------------------------------------------------


def _run_axis(times: Sequence[str]) -> dict[str, Any]:
    """Runs in order along x, labelled by month-day at the first and the last run only."""
    return {
        "field": "运行时间",
        "type": "ordinal",
        "title": None,
        "sort": None,
        "axis": {"values": sorted({times[0], times[-1]}), "labelExpr": "slice(datum.label, 5, 10)", "labelAngle": 0,
                 "ticks": False},
    }


def check_trend(points: Sequence[dict[str, Any]], unit: str, width: int = 300, height: int = 80) -> str:
    """A check's measured value over the runs, one dot per run coloured by that run's status.
    ``points``: run_at (datetime or text), measured_value, status."""
    label = f"趋势（最近 {len(points)} 次运行，单位：{unit}）"
    values = [
        {"运行时间": str(p["run_at"])[:19], "测量值": p["measured_value"], "结果": STATUS_LABELS.get(p["status"], "")}
        for p in points
        if p.get("measured_value") is not None
    ]
    if len(values) < 2:
        return f'<p class="chart-empty">{escape(label)}：运行两次以上才有趋势</p>'
    x = _run_axis([v["运行时间"] for v in values])
    spec = {
        "width": width,
        "height": height,
        "data": {"values": values},
        "layer": [
            {"mark": {"type": "line", "color": "#1565c0", "strokeWidth": 1.5},
             "encoding": {"x": x, "y": {"field": "测量值", "type": "quantitative", "title": unit}}},
            {
                "mark": {"type": "point", "filled": True, "size": 30},
                "encoding": {
                    "x": x,
                    "y": {"field": "测量值", "type": "quantitative"},
                    "color": {"field": "结果", "type": "nominal", "legend": None,
                              "scale": STATUS_SCALE},
                    "tooltip": [{"field": "运行时间"}, {"field": "测量值"}, {"field": "结果"}],
                },
            },
        ],
    }
    return render(spec, label, "trend")


def status_runs(runs: Sequence[dict[str, Any]], width: int = 320, height: int = 100) -> str:
    """Stacked bars per run: how many checks failed, warned and passed. ``runs``: run_at, fail, warn, pass."""
    label = f"各次运行检查结果（最近 {len(runs)} 次）"
    if not runs:
        return empty(label)
    values = [
        {"运行时间": str(r["run_at"])[:19], "结果": STATUS_LABELS[s], "检查数": r[s]}
        for r in runs
        for s in ("fail", "warn", "pass")
    ]
    spec = {
        "width": width,
        "height": height,
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "x": _run_axis([str(r["run_at"])[:19] for r in runs]),
            "y": {"field": "检查数", "type": "quantitative", "title": "检查数"},
            "color": {"field": "结果", "type": "nominal", "title": None, "scale": STATUS_SCALE},
            "order": {"field": "结果", "sort": "descending"},
            "tooltip": [{"field": "运行时间"}, {"field": "结果"}, {"field": "检查数"}],
        },
    }
    return render(spec, label, "status-runs")
