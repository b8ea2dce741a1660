"""How the web pages show a published table: Chinese names, key columns first, cells coloured by meaning.

Everything here reads the dbt column ``meta`` carried in the snapshot's ``_tables`` (see the dbt YAML):
- ``order: n``       key columns, shown first in this order (the rest keep the model's order);
- ``good_when: bool`` a yes/no column whose ``true`` is good (or bad): ✓/✗ coloured by meaning, not by value;
- ``scale: [lo, hi]`` a score: its cell is coloured from red (lo) to green (hi);
- ``value_labels``    what a coded value means (等级 一般 → 一般隐患, 高 → 高风险), also for each part of a
                      list joined with 、 (water、housing → 水利、住建); publish fills it from a seed when the
                      YAML says ``value_labels_from``;
- ``facet: true``     suggested as a facet;
- ``link``            a row link, with ``{column}`` (or ``{column:%Y-%m}``) filled from the row.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from api.catalog import Column, TableInfo
from api.table_query import YES_NO, read_boolean, takes_yes_no

SCORE_STEPS = 5  # score-0 (worst) … score-4 (best)
DIM_PREFIX = "dim_"

_DBT_WORDING = (
    (re.compile(r"\s*\((?:see )?[\w./-]+\.md\)"), ""),  # "(docs/sources.md)"
    (re.compile(r"\bShared view\b[^.;]*[.;]?\s*", re.IGNORECASE), ""),
    (re.compile(r"\bvar\s+as_of\b"), "the as-of date"),
    (re.compile(r"\bvar\s+(\w+)"), r"\1"),
    (re.compile(r"\bseeds/[\w.]+"), "reference data"),
    (re.compile(r"\s{2,}"), " "),
)


def display_value(value: Any, column: str = "") -> str:
    """A cell as a person reads it: rates and shares as percentages, other decimals rounded."""
    if isinstance(value, float):
        if "_rate" in column or column.endswith("_share"):
            return f"{value:.1%}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


# The Chinese name at the head of a description and the rest: "隐患总台账 / one row per …"; a name ending in a
# full-width bracket has no space before the slash ("部门月度考核（历月）/ one row per …").
_LABELLED = re.compile(r"\s*(?P<label>[^/\n]{1,24}?)\s*/\s+(?P<rest>.*)", re.DOTALL)


def table_label(table: TableInfo) -> str:
    """The Chinese name at the head of the description ("隐患总台账 / …"), else the table name."""
    found = _LABELLED.match(table.description or "")
    return found["label"] if found else table.name


def plain_description(table: TableInfo) -> str:
    """What a reader is told about the table: its Chinese summary, else the description without its Chinese
    label and without dbt wording (variables, file references)."""
    if table.summary:
        return table.summary
    found = _LABELLED.match(table.description or "")
    text = found["rest"] if found else (table.description or "")
    for pattern, replacement in _DBT_WORDING:
        text = pattern.sub(replacement, text)
    return text.strip()


# The shared accountability views every department queries, in the order a reader meets them.
SHARED_VIEWS = (
    "hidden_danger_register",
    "responsibility_matrix",
    "responsibility_chain_breaks",
    "town_readiness",
    "grid_coverage",
    "rescue_capacity",
    "event_handling",
    "town_dossier",
)
TABLE_GROUPS = ("共享视图", "明细与核对", "维表")


def table_group(table: TableInfo) -> str:
    if table.name in SHARED_VIEWS:
        return TABLE_GROUPS[0]
    return TABLE_GROUPS[2] if table.name.startswith(DIM_PREFIX) else TABLE_GROUPS[1]


def table_order(tables: list[TableInfo]) -> list[TableInfo]:
    """Shared views first (in their reading order), then detail tables, dimension (``dim_*``) tables last."""

    def key(t: TableInfo) -> tuple[int, int, str]:
        group = TABLE_GROUPS.index(table_group(t))
        return group, SHARED_VIEWS.index(t.name) if t.name in SHARED_VIEWS else 0, t.name

    return sorted(tables, key=key)


def ordered_columns(table: TableInfo) -> list[Column]:
    keyed = sorted((c for c in table.columns if isinstance(c.meta.get("order"), int)), key=lambda c: c.meta["order"])
    return [*keyed, *(c for c in table.columns if not isinstance(c.meta.get("order"), int))]


def good_when(column: Column) -> bool | None:
    value = column.meta.get("good_when")
    return value if isinstance(value, bool) else None


def bool_cell(value: bool, good: bool | None) -> tuple[str, str]:
    """(css class, text) of a yes/no cell: ``good``/``bad`` by meaning, ``neutral`` when the column has none."""
    text = "✓ 是" if value else "✗ 否"
    if good is None:
        return "neutral", text
    return ("good" if value == good else "bad"), text


def score_class(value: Any, low: float, high: float) -> str:
    """``score-0`` (at or below ``low``) … ``score-4`` (at or above ``high``)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or high <= low:
        return ""
    share = min(1.0, max(0.0, (float(value) - low) / (high - low)))
    return f"score-{round(share * (SCORE_STEPS - 1))}"


class _UrlFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            raise KeyError("null")
        return quote(format(value, format_spec), safe="")


_FORMATTER = _UrlFormatter()


def row_link(template: str, row: dict[str, Any]) -> str | None:
    """The ``link`` template filled from the row (values URL-encoded); None when a value it needs is empty."""
    try:
        return _FORMATTER.format(template, **row)
    except (KeyError, ValueError, TypeError, IndexError):
        return None


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""
    href: str | None = None
    title: str = ""


def display_cell(column: Column, value: Any, row: dict[str, Any], fmt: Any) -> Cell:
    """One cell as the page shows it; ``fmt`` turns a plain value into text (numbers, rates)."""
    meta = column.meta
    link = row_link(meta["link"], row) if isinstance(meta.get("link"), str) else None
    if value is None:
        return Cell("—", "null")
    if isinstance(value, bool):
        css, text = bool_cell(value, good_when(column))
        return Cell(text, css, link)
    label = value_label(column, value)
    if label is not None and label != str(value):
        return Cell(label, "", link, title=f"原值 {value}")
    scale = meta.get("scale")
    css = "num" if isinstance(value, int | float) else ""
    if isinstance(scale, list) and len(scale) == 2:
        css = f"{css} {score_class(value, float(scale[0]), float(scale[1]))}".strip()
    return Cell(fmt(value, column.name), css, link)


def dossier_row_link(cell: Cell) -> Cell:
    """For a role that cannot open the town pages: a link to ``/towns/<code>`` becomes the town's row page of
    the ``town_dossier`` table, which it can open."""
    if cell.href and cell.href.startswith("/towns/"):
        code = cell.href.removeprefix("/towns/")
        return Cell(cell.text, cell.css, f"/tables/town_dossier/row?town_code={code}", cell.title)
    return cell


def value_text(column: Column, value: Any) -> str:
    """A value as a person reads it in a facet or the filter summary."""
    if value is None:
        return "（空）"
    if isinstance(value, bool) or str(value).lower() in ("true", "false"):
        return YES_NO[value is True or str(value).lower() == "true"]
    label = value_label(column, value)
    return str(value) if label is None else label


LIST_SEPARATOR = "、"  # how the models join several values in one cell (dbt listagg)


def value_label(column: Column, value: Any) -> str | None:
    """The Chinese label of a coded value, or of every part of a 、-joined list of them; None if it has none."""
    labels = column.meta.get("value_labels")
    if not isinstance(labels, dict):
        return None
    text = str(value)
    if text in labels:
        return str(labels[text])
    parts = text.split(LIST_SEPARATOR)
    if len(parts) > 1 and all(part in labels for part in parts):
        return LIST_SEPARATOR.join(str(labels[part]) for part in parts)
    return None


OPERATOR_WORDS = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "属于",
    "contains": "包含",
    "isnull": "为空",
}


def form_value(table: TableInfo, f: Any) -> str:
    """A filter's value as the filter form shows it: a boolean as 是/否, as the table shows it (and as it may be
    typed back); anything else as given."""
    if not takes_yes_no(table, f.column, f.op):
        return str(f.value)
    truths = [(part, read_boolean(part)) for part in str(f.value).split(",")]
    return ",".join(part if truth is None else YES_NO[truth] for part, truth in truths)


def filter_summary(table: TableInfo, filters: list[Any], total: int, search: str = "") -> str:
    """"174 行，条件：是否逾期 = 是、等级 = 重大隐患" in plain Chinese (with a search: 含“山塘”)."""
    if not filters and not search:
        return f"{total} 行（未筛选）"
    parts = [f"含“{search}”"] if search else []
    for f in filters:
        column = table.column(f.column)
        label = column.label if column else f.column
        if f.op == "isnull":
            parts.append(f"{label} {'为空' if read_boolean(f.value) else '不为空'}")
        elif f.op == "in":
            values = "、".join(value_text(column, v) if column else v for v in f.value.split(","))
            parts.append(f"{label} 属于 {values}")
        else:
            shown = value_text(column, f.value) if column else f.value
            parts.append(f"{label} {OPERATOR_WORDS.get(f.op, f.op)} {shown}")
    return f"{total} 行，条件：" + "；".join(parts)


def facet_link(base: list[tuple[str, str]], column: str, value: Any) -> str:
    """The page filtered to ``column = value`` (or ``column`` empty), keeping the other filters and facets."""
    kept = [(k, v) for k, v in base if k not in (column, f"{column}__isnull", "_offset", "_after")]
    if value is None:
        return "?" + urlencode([*kept, (f"{column}__isnull", "true")])
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return "?" + urlencode([*kept, (column, text)])


def suggested_facets(table: TableInfo, active: list[str]) -> list[Column]:
    return [c for c in ordered_columns(table) if c.meta.get("facet") and c.name not in active]
