"""Versioned snapshots behind an atomically switched ``CURRENT`` pointer (ARCHITECTURE decision 1).

Used for the serving DuckDB files and for the search index directories. A reader resolves
``<root>/CURRENT`` to one version and keeps using it; a writer builds a new version next to the
old ones and only then replaces the pointer with ``os.replace`` (atomic on POSIX).
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

POINTER = "CURRENT"


def new_version_name(prefix: str) -> str:
    return f"{prefix}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"


def read_current(root: Path) -> Path | None:
    """The published version under ``root``, or None when nothing is published yet."""
    pointer = root / POINTER
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name:
        return None
    target = root / name
    return target if target.exists() else None


def switch_current(root: Path, version: Path, keep: int = 3) -> None:
    """Point ``root/CURRENT`` at ``version`` atomically, then prune all but the newest ``keep``."""
    root.mkdir(parents=True, exist_ok=True)
    if version.parent.resolve() != root.resolve():
        raise ValueError(f"{version} is not inside {root}")
    tmp = root / f".{POINTER}.{os.getpid()}.tmp"
    tmp.write_text(version.name, encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, root / POINTER)
    prune(root, keep=keep)


def versions(root: Path) -> list[Path]:
    """Published-or-built versions, oldest first (names sort by their timestamp)."""
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and p.name != POINTER)


def prune(root: Path, keep: int) -> None:
    current = read_current(root)
    old = [v for v in versions(root) if v != current]
    # Keep the newest `keep - 1` besides the current one, for rollback.
    for stale in old[: max(0, len(old) - (keep - 1))]:
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
