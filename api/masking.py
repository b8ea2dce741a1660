"""Personal data in served rows: one rule per column, applied for every role that does not need it.

Grid workers' and responsible persons' names and phone numbers are personal data. Duty staff
(``staff``) and administrators call these people and see them in full; analysts work with counts
and rates and get them masked (``孙某艳`` → ``孙**``, ``13800000001`` → ``138****0001``) in table
pages, exports and the web UI. They may not filter, sort or facet on such a column (the answers
would reveal the values one probe at a time). Their SQL runs on a copy of the snapshot with these
columns masked in the file (``api.masked_copy``): SQL can rebuild a value in too many ways (casts,
struct access, string functions) for masking its results to be safe.

``MASK_RULES`` is the one place that says which column is personal data; a published column
whose name is listed here is masked wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.catalog import TableInfo
from api.errors import problem

ROLES_SEEING_PERSONAL_DATA = frozenset({"staff", "admin"})


class MaskKind(StrEnum):
    NAME = "name"  # a person's name: keep the surname
    PHONE = "phone"  # a phone number: keep the first 3 and last 4 digits
    TEXT = "text"  # free text that may quote names (联络员 <工号> <姓名>) and phone numbers


@dataclass(frozen=True)
class MaskRule:
    kind: MaskKind
    why: str


N, P, T = MaskKind.NAME, MaskKind.PHONE, MaskKind.TEXT
MASK_RULES: dict[str, MaskRule] = {
    # names of grid workers, liaisons and responsible persons
    "liaison_name": MaskRule(N, "镇街联络员姓名 / the town liaison's name (registry grid_workers.姓名)"),
    "worker_name": MaskRule(N, "网格员姓名 / a grid worker's name (registry grid_workers.姓名)"),
    "person_name": MaskRule(N, "责任人姓名 / a responsible person's name (water flood_duty.姓名)"),
    "responsible_person": MaskRule(N, "责任人姓名 / a responsible person's name"),
    "duty_person": MaskRule(N, "值班人姓名 / the person on duty"),
    "contact_name": MaskRule(N, "联系人姓名 / a contact person's name"),
    # their phone numbers
    "phone": MaskRule(P, "电话 / a phone number"),
    "mobile": MaskRule(P, "手机 / a mobile number (registry grid_workers.手机)"),
    "contact_phone": MaskRule(P, "联系电话 / a contact number (water flood_duty.联系电话)"),
    "liaison_phone": MaskRule(P, "联络员电话 / the liaison's number"),
    "worker_phone": MaskRule(P, "网格员电话 / a grid worker's number"),
    # evidence texts that quote the liaison by name
    "mechanism_evidence": MaskRule(T, "有机制的证据，含联络员姓名 / readiness evidence quoting the liaison's name"),
    "evidence_detail": MaskRule(T, "考核依据说明，可引用联络员姓名 / assessment evidence; quotes the liaison's name"),
}

# The same people in the raw sources, as the quality report quotes them (finding keys, values and reasons):
# "<source>.<entity>" → source field → the MASK_RULES entry it is masked by. ``SOURCE_KEY_FIELDS`` is the
# entity's key as the report joins it with " / " (tests check both against the ingest contracts).
SOURCE_FIELD_RULES: dict[str, dict[str, str]] = {
    "water.flood_duty": {"姓名": "person_name", "联系电话": "contact_phone"},
    "registry.grid_workers": {"姓名": "worker_name", "手机": "mobile"},
}
SOURCE_KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "water.flood_duty": ("责任对象编号", "责任类别", "姓名", "年度"),
    "registry.grid_workers": ("工号",),
}

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
