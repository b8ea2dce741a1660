"""Sample data for all five source systems, and a simulator of the four-platforms HTTP feed.

``generate`` and ``add_day`` are imported lazily so that ``feed_server`` stays light to import.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path


def generate(out: Path, seed: int = 7, scale: str = "small", as_of: date | None = None) -> dict[str, int]:
    """Write all five sources under ``out``; see hub.sample.generator.generate."""
    from hub.sample.generator import generate as _generate

    return _generate(out, seed=seed, scale=scale, as_of=as_of)


def add_day(out: Path, seed: int = 7, day: date | None = None, scale: str = "small") -> dict[str, int]:
    """Write one more day of events; see hub.sample.add_day.add_day."""
    from hub.sample.add_day import add_day as _add_day

    return _add_day(out, seed=seed, day=day, scale=scale)


__all__ = ["add_day", "generate"]
