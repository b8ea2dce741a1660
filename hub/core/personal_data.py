"""Which published columns are personal data, and how each is masked: the one list the API's masking, its
masked SQL copy and the PostgreSQL ``serving_masked`` views all read.

Grid workers' and responsible persons' names and phone numbers are personal data. Duty staff (``staff``) and
administrators see them in full; every other role gets them masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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


def masked_column_kinds() -> dict[str, str]:
    """Column name → mask kind (name, phone, text)."""
    return {name: rule.kind.value for name, rule in MASK_RULES.items()}
