"""The town reference: the 27 towns and every name variant and old code of each (the dbt seeds).

The seeds are the one source; ingest loads the alias file into DuckDB, the knowledge base matches
names in text, the sample generator builds its geography from them, all through this module.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from hub.core.paths import SEEDS_DIR

TOWNS_SEED = SEEDS_DIR / "towns.csv"
TOWN_ALIASES_SEED = SEEDS_DIR / "town_aliases.csv"


@dataclass(frozen=True)
class TownAlias:
    alias: str
    town_code: str
    kind: str  # code | old_code | name | short_name | prefixed_name


@dataclass(frozen=True)
class TownRow:
    code: str
    name: str
    kind: str  # 街道 | 镇 | 平台


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


@lru_cache(maxsize=4)
def read_towns(path: Path = TOWNS_SEED) -> tuple[TownRow, ...]:
    return tuple(TownRow(r["town_code"], r["town_name"], r["town_kind"]) for r in _rows(path))


@lru_cache(maxsize=4)
def read_town_aliases(path: Path = TOWN_ALIASES_SEED) -> tuple[TownAlias, ...]:
    """Every alias → town code; empty when the file is missing (a KB used outside the repository)."""
    if not path.exists():
        return ()
    return tuple(TownAlias(r["alias"], r["town_code"], r["alias_kind"]) for r in _rows(path))


def normalise_town(value: str, path: Path = TOWN_ALIASES_SEED) -> str | None:
    """A town code from any alias (name, short name, old code or code), or None."""
    value = value.strip()
    if not value:
        return None
    for alias in read_town_aliases(path):
        if value in (alias.alias, alias.town_code):
            return alias.town_code
    return None
