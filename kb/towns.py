"""Towns mentioned in a text, by the names in the town reference (``hub.core.towns``)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from hub.core.towns import normalise_town, read_town_aliases

__all__ = ["normalise_town", "towns_in"]

# Short names of two or three characters ("河上", "进化", "新街") are ordinary words too; only longer ones count.
MIN_SHORT_NAME_CHARS = 4
GENERIC_NAMES = frozenset({"经济技术开发区", "开发区"})


@lru_cache(maxsize=4)
def town_name_patterns(aliases_csv: Path) -> tuple[re.Pattern[str], dict[str, str]]:
    """One regex over every usable name (longest first) and the map name → town_code."""
    names: dict[str, str] = {}
    for row in read_town_aliases(aliases_csv):
        if row.kind in ("name", "prefixed_name") or (
            row.kind == "short_name" and len(row.alias) >= MIN_SHORT_NAME_CHARS and row.alias not in GENERIC_NAMES
        ):
            names[row.alias] = row.town_code
    ordered = sorted(names, key=len, reverse=True)
    return re.compile("|".join(re.escape(name) for name in ordered)), names


def towns_in(text: str, aliases_csv: Path) -> list[str]:
    """Town codes mentioned in the text, in order of first mention."""
    pattern, names = town_name_patterns(aliases_csv)
    if not names:
        return []
    codes: list[str] = []
    for match in pattern.finditer(text):
        code = names[match.group(0)]
        if code not in codes:
            codes.append(code)
    return codes
