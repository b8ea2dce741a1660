"""Personal data in served rows: one rule per column, applied for every role that does not need it.

Grid workers' and responsible persons' names and phone numbers are personal data. Duty staff
(``staff``) and administrators call these people and see them in full; analysts work with counts
and rates and get them masked (``孙某艳`` → ``孙**``, ``13800000001`` → ``138****0001``) in table
pages, exports and the web UI. They may not filter, sort or facet on such a column (the answers
would reveal the values one probe at a time). Their SQL runs on a copy of the snapshot with these
columns masked in the file (``api.masked_copy``): SQL can rebuild a value in too many ways (casts,
struct access, string functions) for masking its results to be safe.

``hub.core.personal_data.MASK_RULES`` is the one place that says which column is personal data; a
published column whose name is listed there is masked wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.catalog import TableInfo
from api.errors import problem
from hub.core.personal_data import (  # noqa: F401  (re-exported: the API's callers import them from here)
    MASK_RULES,
    ROLES_SEEING_PERSONAL_DATA,
    SOURCE_FIELD_RULES,
    SOURCE_KEY_FIELDS,
    MaskKind,
    MaskRule,
)

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_QUOTED_PERSON = re.compile(r"((?:联络员|网格员|责任人)\s*(?:[A-Za-z]{1,4}\d{2,}\s*)?)([\u4e00-\u9fff·]{2,4})")


def sees_personal_data(role: str) -> bool:
    return role in ROLES_SEEING_PERSONAL_DATA


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def mask_phone(text: str) -> str:
    return _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mask_text(text: str) -> str:
    return mask_phone(_QUOTED_PERSON.sub(lambda m: m.group(1) + mask_name(m.group(2)), text))


def mask_value(rule: MaskRule, value: Any) -> Any:
    if not isinstance(value, str):
        return value  # NULL stays NULL; numbers and dates are never personal here
    if rule.kind is MaskKind.NAME:
        return mask_name(value)
    if rule.kind is MaskKind.PHONE:
        return mask_phone(value) if _PHONE.search(value) else "*" * len(value)
    return mask_text(value)


def protected_columns(table: TableInfo) -> dict[str, MaskRule]:
    return {c.name: MASK_RULES[c.name] for c in table.columns if c.name in MASK_RULES}


@dataclass(frozen=True)
class RowMask:
    """Masks the protected columns of one table's rows (tuples in the table's column order)."""

    rules: dict[int, MaskRule]

    def row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(mask_value(self.rules[i], v) if i in self.rules else v for i, v in enumerate(row))


def row_mask(table: TableInfo, role: str) -> RowMask | None:
    """The mask for ``role`` reading ``table``; None when nothing needs masking."""
    if sees_personal_data(role):
        return None
    rules = {i: MASK_RULES[c.name] for i, c in enumerate(table.columns) if c.name in MASK_RULES}
    return RowMask(rules) if rules else None


def _refuse(param: str, column: str) -> Exception:
    return problem(
        403,
        "personal_data",
        f"列 {column} 含个人信息，当前角色不能按它筛选、排序或分面",
        f"column {column} holds personal data; this role may not filter, sort or facet on it",
        parameter=param,
        column=column,
    )


def check_table_request(
    table: TableInfo, role: str, filters: Sequence[str], sort: str | None, facets: Sequence[str]
) -> None:
    """Refuse filters, sort and facets on protected columns for roles that get them masked."""
    if sees_personal_data(role):
        return
    protected = protected_columns(table)
    for column in filters:
        if column in protected:
            raise _refuse(column, column)
    if sort in protected:
        raise _refuse("_sort", sort)
    for column in facets:
        if column in protected:
            raise _refuse("_facet", column)
