"""Inline SVG charts (no library, no network): a check's trend line and a department's stacked bars.

Colours follow the status: green pass, amber warn, red fail. Text uses the CJK fonts the viewer
has; the SVG is embedded in the HTML page, so the report stays one self-contained file.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from orchestration.quality.history import DepartmentRun, TrendPoint

STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#ef9f00", "fail": "#c62828"}
FONT = "'Noto Sans CJK SC','WenQuanYi Micro Hei','Microsoft YaHei','PingFang SC',sans-serif"


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}".rstrip("0").rstrip(".")


def trend_chart(points: Sequence[TrendPoint], unit: str, width: int = 320, height: int = 96) -> str:
    """A line of the measured value over the runs, one dot per run coloured by its status."""
    values = [p.measured_value for p in points]
    known = [v for v in values if v is not None]
    label = f"趋势（最近 {len(points)} 次运行，单位：{unit}）"
    if not known:
        return f'<svg class="trend" role="img" aria-label="{escape(label)}" width="{width}" height="{height}"></svg>'
    left, right, top, bottom = 40, 8, 14, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    low, high = min(0.0, min(known)), max(known)
    span = high - low or 1.0

    def x(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - (v - low) / span * plot_h

    path = " ".join(
        f"{'M' if i == 0 or values[i - 1] is None else 'L'}{x(i):.1f},{y(v):.1f}"
        for i, v in enumerate(values) if v is not None
    )
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{STATUS_COLOURS.get(p.status, "#777")}">'
        f"<title>{p.run_at:%m-%d %H:%M} {escape(_fmt(v))} {escape(unit)}</title></circle>"
        for i, (p, v) in enumerate(zip(points, values, strict=True)) if v is not None
    )
    first, last = points[0].run_at, points[-1].run_at
    return (
        f'<svg class="trend" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10">'
        f"<title>{escape(label)}</title>"
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#bbb"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#bbb"/>'
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" fill="#555">{escape(_fmt(high))}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#555">{escape(_fmt(low))}</text>'
        f'<text x="{left}" y="{height - 6}" fill="#555">{first:%m-%d}</text>'
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="#555">{last:%m-%d}</text>'
        f'<text x="{left + 4}" y="{top - 4}" fill="#333">{escape(unit)}</text>'
        f'<path d="{path}" fill="none" stroke="#1565c0" stroke-width="1.5"/>{dots}</svg>'
    )


def department_chart(runs: Sequence[DepartmentRun], width: int = 360, height: int = 120) -> str:
    """Stacked bars per run: how many of the department's checks failed, warned and passed."""
    label = f"各次运行检查结果（最近 {len(runs)} 次）：红=不通过，黄=警告，绿=通过"
    if not runs:
        return f'<svg class="dept-trend" role="img" aria-label="{escape(label)}" width="{width}" height="1"></svg>'
    left, right, top, bottom = 30, 8, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    most = max(r.passed + r.warned + r.failed for r in runs) or 1
    slot = plot_w / len(runs)
    bar = max(2.0, slot * 0.7)
    bars = []
    for i, run in enumerate(runs):
        x = left + i * slot + (slot - bar) / 2
        base = top + plot_h
        tip = f"{run.run_at:%Y-%m-%d %H:%M} 不通过 {run.failed} / 警告 {run.warned} / 通过 {run.passed}"
        for count, status in ((run.failed, "fail"), (run.warned, "warn"), (run.passed, "pass")):
            h = plot_h * count / most
            base -= h
            if count:
                bars.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                            f'fill="{STATUS_COLOURS[status]}"><title>{escape(tip)}</title></rect>')
    return (
        f'<svg class="dept-trend" role="img" aria-label="{escape(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10"><title>{escape(label)}</title>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#bbb"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" fill="#555">{most}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#555">0</text>'
        f'<text x="{left}" y="{height - 6}" fill="#555">{runs[0].run_at:%m-%d}</text>'
        f'<text x="{width - right}" y="{height - 6}" text-anchor="end" fill="#555">{runs[-1].run_at:%m-%d}</text>'
        + "".join(bars) + "</svg>"
    )
