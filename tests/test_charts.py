"""The dossier's charts as drawn by vl-convert (real SVG): counts on whole ticks, one colour per event type."""

from __future__ import annotations

import re

from hub.core.charts import events_by_month, overdue_by_age


def axis_labels(svg: str) -> list[str]:
    return re.findall(r">(\d+(?:\.\d+)?)</text>", svg)


def test_a_count_axis_has_whole_ticks_only() -> None:
    """Two overdue dangers at most drew ticks at 0.5, 1.5: half a danger means nothing to a reader."""
    svg = overdue_by_age([3, 200, 250])
    ticks = axis_labels(svg)
    assert ticks and all("." not in t for t in ticks), ticks
    assert len(ticks) == len(set(ticks)), ticks  # whole numbers, each once (no "1, 1" from rounding 0.5 steps)
    events = events_by_month([{"month": "2026-11", "type": "城市管理", "events": 1}])
    assert all("." not in t for t in axis_labels(events)), axis_labels(events)


def test_each_of_a_dozen_event_types_has_its_own_colour() -> None:
    """Ten colours for twelve types drew 公共服务 and 食品安全 in the same blue."""
    types = ["公共服务", "城市管理", "安全生产", "市容环境", "水利安全", "消防安全",
             "环境卫生", "环境噪声", "矛盾纠纷", "违法建设", "食品安全", "交通安全"]
    svg = events_by_month([{"month": "2026-11", "type": t, "events": i + 1} for i, t in enumerate(types)])
    bar_fills = set(re.findall(r'<path[^>]*fill="(#[0-9a-fA-F]{6})"[^>]*role="graphics-symbol"', svg))
    bar_fills |= set(re.findall(r'<path[^>]*role="graphics-symbol"[^>]*fill="(#[0-9a-fA-F]{6})"', svg))
    assert len(bar_fills) == len(types), bar_fills
