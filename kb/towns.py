"""Towns mentioned in a text, by the names in the project's crosswalk (dbt_project/seeds/town_aliases.csv)."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

# Short names of two or three characters ("河上", "进化", "新街") are ordinary words too; only longer ones count.
MIN_SHORT_NAME_CHARS = 4
GENERIC_NAMES = frozenset({"经济技术开发区", "开发区"})


@lru_cache(maxsize=4)
def town_name_patterns(aliases_csv: Path) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex over every usable name (longest first) and the map name → town_code."""
    names: dict[str, str] = {}
    with aliases_csv.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            alias, kind = row["alias"].strip(), row["alias_kind"].strip()
            if kind in ("name", "prefixed_name") or (
                kind == "short_name" and len(alias) >= MIN_SHORT_NAME_CHARS and alias not in GENERIC_NAMES
            ):
                names[alias] = row["town_code"].strip()
    ordered = sorted(names, key=len, reverse=True)
    return re.compile("|".join(re.escape(name) for name in ordered)), names


def towns_in(text: str, aliases_csv: Path) -> list[str]:
    """Town codes mentioned in the text, in order of first mention."""
    if not aliases_csv.exists():
        return []
    pattern, names = town_name_patterns(aliases_csv)
    codes: list[str] = []
    for match in pattern.finditer(text):
        code = names[match.group(0)]
        if code not in codes:
            codes.append(code)
    return codes


def normalise_town(value: str, aliases_csv: Path) -> str | None:
    """A town code from any alias (name, short name or code), for filters and front matter."""
    value = value.strip()
    if not value or not aliases_csv.exists():
        return None
    with aliases_csv.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["alias"].strip() == value or row["town_code"].strip() == value:
                return row["town_code"].strip()
    return None
