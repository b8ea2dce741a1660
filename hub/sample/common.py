"""Shared helpers of the sample generator: seeded randomness, date formats, file writers, mess rates.

Every random choice flows from ``rng(seed, part)`` so the same seed gives byte-identical files,
and one part's volume never shifts another part's random stream.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path


@dataclass(frozen=True)
class MessRates:
    """How often the generator writes a value the way messy real exports do (documented in docs/sample-data.md)."""

    town_short_name: float = 0.10  # 瓜沥
    town_prefixed_name: float = 0.08  # 萧山区瓜沥镇
    town_old_code: float = 0.04  # 330181113 (code before the 2001 district change)
    event_town_code_empty: float = 0.15  # townCode left empty
    event_local_time: float = 0.30  # event times as 'yyyy-MM-dd HH:mm:ss' instead of ISO-8601 +08:00
    utility_local_time: float = 0.20
    csv_slash_date: float = 0.20  # '2024/5/1' (or '2024/5/1 8:30') instead of '2024-05-01' in CSV files
    xlsx_text_date: float = 0.15  # '2024/5/1' as text instead of an Excel date cell
    dept_canonical: float = 0.45  # the rest of department names use one of the variants
    unknown_dept: float = 0.005  # a department name no crosswalk knows (parses, maps to nothing)
    contract_break: float = 0.002  # rows that break the contract (at least one per breakable entity)


RATES = MessRates()


def rng(seed: int, *parts: object) -> random.Random:
    """A random stream private to one part of the output (string seeds hash the same in every process)."""
    return random.Random(":".join([str(seed), *map(str, parts)]))


def iso_offset(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


def local_datetime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def iso_date(day: date) -> str:
    return day.strftime("%Y-%m-%d")


def slash_date(day: date) -> str:
    return f"{day.year}/{day.month}/{day.day}"


def slash_datetime(moment: datetime) -> str:
    return f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment.minute:02d}"


def csv_date(r: random.Random, day: date | None) -> str:
    if day is None:
        return ""
    return slash_date(day) if r.random() < RATES.csv_slash_date else iso_date(day)


def csv_datetime(r: random.Random, moment: datetime | None) -> str:
    if moment is None:
        return ""
    return slash_datetime(moment) if r.random() < RATES.csv_slash_date else local_datetime(moment)


def weighted(r: random.Random, choices: Sequence[tuple[str, float]]) -> str:
    return r.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[dict[str, object]], encoding: str) -> int:
    """Write rows (dicts keyed by header names; a missing key is an empty cell) with CRLF line ends, as Excel does."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(["" if row.get(name) is None else row[name] for name in header])
        count += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    # utf-8-sig writes the BOM spreadsheet software puts in; gbk fails loudly on a character GBK lacks.
    with atomic_path(path) as temp:
        temp.write_bytes(buffer.getvalue().encode(encoding))
    return count


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Write to a hidden temp file beside ``path``, then rename: a file sensor or the feed never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.part")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def json_line(record: dict[str, object]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path: Path, records: Iterable[dict[str, object]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_path(path) as temp, temp.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json_line(record))
            out.write("\n")
            count += 1
    return count


def stamp(day: date) -> str:
    return day.strftime("%Y%m%d")
