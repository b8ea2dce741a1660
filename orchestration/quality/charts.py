"""The report's charts, drawn by the shared chart module (``hub.core.charts``: Vega-Lite rendered to inline SVG
by vl-convert, offline): a check's trend over the runs and a department's pass / warn / fail per run.

Colours follow the status: green pass, amber warn, red fail. The SVG is embedded in the HTML page, so the
report stays one self-contained file that loads nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.core import charts
from orchestration.quality.history import DepartmentRun, TrendPoint

STATUS_COLOURS = charts.STATUS_COLOURS


def trend_chart(points: Sequence[TrendPoint], unit: str, width: int = 300, height: int = 80) -> str:
    """The measured value over the runs, one dot per run coloured by its status."""
    rows = [{"run_at": p.run_at, "measured_value": p.measured_value, "status": p.status} for p in points]
    return charts.check_trend(rows, unit, width, height)


def department_chart(runs: Sequence[DepartmentRun], width: int = 320, height: int = 100) -> str:
    """Stacked bars per run: how many of the department's checks failed, warned and passed."""
    rows = [{"run_at": r.run_at, "fail": r.failed, "warn": r.warned, "pass": r.passed} for r in runs]
    return charts.status_runs(rows, width, height)
