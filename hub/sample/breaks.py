"""Rows that break a source contract, planted at a low seeded rate so quarantine and quality reports have work.

The kinds rotate so every breakable entity gets a variety; which field to spoil is read from the
contract (its date, required, town and enum fields), not hard-coded per file.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from hub.sample.common import RATES
from orchestration.ingest.contracts import Entity, Field, FieldType

BREAK_KINDS = ("bad_date", "missing_required", "duplicate_key", "unknown_town", "bad_enum")
UNKNOWN_TOWN_NAME = "不存在镇"
UNKNOWN_TOWN_CODE = "330109999"
BAD_DATES = ("2024-13-45", "昨天下午", "2024/02/30", "0000-00-00 25:61:00")
BAD_ENUM = "其他（待定）"

Record = dict[str, object]


@dataclass
class BreakLog:
    """What was planted, per kind, so docs and tests can rely on counts."""

    counts: dict[str, int]

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _candidates(entity: Entity, kind: str) -> list[Field]:
    match kind:
        case "bad_date":
            return [
                f
                for f in entity.fields
                if f.type in (FieldType.DATE, FieldType.DATETIME) and f.name not in ("updatedAt",)
            ]  # updatedAt stays valid: the feed orders by it
        case "missing_required":
            return [f for f in entity.fields if f.required and f.name not in entity.key]
        case "unknown_town":
            return [f for f in entity.fields if f.type in (FieldType.TOWN, FieldType.TOWN_CODE)]
        case "bad_enum":
            return [f for f in entity.fields if f.allowed]
        case "duplicate_key":
            return list(entity.fields) if entity.key else []
    raise ValueError(kind)


def break_record(r: random.Random, entity: Entity, record: Record, kind_index: int) -> tuple[str, list[Record]]:
    """Spoil one record; returns the kind used and the rows to write in its place (two for a duplicate)."""
    for step in range(len(BREAK_KINDS)):
        kind = BREAK_KINDS[(kind_index + step) % len(BREAK_KINDS)]
        fields = _candidates(entity, kind)
        if not fields:
            continue
        spoilt = dict(record)
        target = r.choice(fields)
        if kind == "duplicate_key":
            copy = dict(record)
            return kind, [spoilt, copy]
        if kind == "bad_date":
            spoilt[target.name] = r.choice(BAD_DATES)
        elif kind == "missing_required":
            spoilt.pop(target.name, None)
        elif kind == "unknown_town":
            spoilt[target.name] = UNKNOWN_TOWN_CODE if target.type == FieldType.TOWN_CODE else UNKNOWN_TOWN_NAME
        elif kind == "bad_enum":
            spoilt[target.name] = BAD_ENUM
        return kind, [spoilt]
    return "none", [record]


def inject_breaks(
    r: random.Random, entity: Entity, records: Sequence[Record], log: BreakLog, rate: float = RATES.contract_break
) -> list[Record]:
    """Spoil about ``rate`` of the records (at least one) at seeded positions; returns the rows to write."""
    if not records:
        return []
    how_many = max(1, round(len(records) * rate))
    chosen = set(r.sample(range(len(records)), min(how_many, len(records))))
    result: list[Record] = []
    kind_index = r.randrange(len(BREAK_KINDS))
    for i, record in enumerate(records):
        if i in chosen:
            kind, rows = break_record(r, entity, record, kind_index)
            log.add(f"{entity.table}:{kind}")
            kind_index += 1
            result.extend(rows)
        else:
            result.append(record)
    return result
