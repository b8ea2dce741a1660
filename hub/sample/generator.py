"""``generate``: write all five sources' sample exports under one folder, in the formats of docs/sources.md."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.sample.breaks import BreakLog
from hub.sample.events import EVENT_COUNTS, write_events
from hub.sample.registry import write_registry
from hub.sample.urban import write_urban
from hub.sample.utility import write_utility
from hub.sample.water import write_water

SCALES = tuple(EVENT_COUNTS)


def today_in_shanghai() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def generate(
    out: Path,
    seed: int = 7,
    scale: str = "small",
    as_of: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write DIR/<source>/... and return rows written per file ("<source>/<file>", "#<sheet>" for xlsx sheets),
    plus "planted/<source>__<entity>:<kind>" → contract-breaking rows planted on purpose."""
    if scale not in SCALES:
        raise ValueError(f"scale 必须是 {'|'.join(SCALES)} / scale must be one of {SCALES}, got {scale!r}")
    as_of = as_of or today_in_shanghai()
    out = Path(out)
    log = BreakLog({})
    counts, registry = write_registry(out, seed, scale, as_of, log)
    counts.update(write_water(out, seed, as_of, log))
    counts.update(write_urban(out, seed, scale, as_of, log))
    counts.update(write_utility(out, seed, scale, as_of, log))
    counts.update(write_events(out, seed, scale, as_of, registry.grid_codes, log, progress))
    counts.update({f"planted/{key}": value for key, value in sorted(log.counts.items())})
    return counts
