"""Versions under one root behind an atomically switched ``CURRENT`` pointer.

The one implementation used for the serving DuckDB snapshots and for the search index versions.
A writer builds under a hidden name (``.build-<pid>-…``, which readers never look at), renames the
finished build to its version name, and only then replaces ``<root>/CURRENT`` with ``os.replace``
(atomic on POSIX). A reader resolves the pointer once and keeps using that version. Builds left by
a process that died half-way are removed by the next switch.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

POINTER = "CURRENT"
BUILD_PREFIX = ".build-"


def version_name(prefix: str, suffix: str = "") -> str:
    """A new version name; names of one prefix sort by their creation time."""
    return f"{prefix}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}{suffix}"


def new_build_path(root: Path, name: str) -> Path:
    """A hidden path to build ``name`` into, owned by this process (not created)."""
    root.mkdir(parents=True, exist_ok=True)
    return root / f"{BUILD_PREFIX}{os.getpid()}-{name}"


def new_build_dir(root: Path, prefix: str) -> Path:
    """A hidden, empty directory to build a new ``prefix`` version into."""
    build = new_build_path(root, version_name(prefix))
    build.mkdir()
    return build


def read_current(root: Path) -> Path | None:
    """The published version under ``root``, or None when nothing is published yet."""
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name:
        return None
    target = root / name
    return target if target.exists() else None


def publish_build(root: Path, build: Path, version: str, keep: int = 3) -> Path:
    """Rename a finished build to ``version``, point ``CURRENT`` at it, prune old versions."""
    final = root / version
    os.replace(build, final)
    switch_current(root, final, keep=keep)
    return final


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


def versions(root: Path, prefix: str = "") -> list[Path]:
    """Published-or-kept versions, oldest first (names of one prefix sort by their timestamp)."""
    if not root.exists():
        return []
    return sorted(
        p for p in root.iterdir() if not p.name.startswith(".") and p.name != POINTER and p.name.startswith(prefix)
    )


def prune(root: Path, keep: int) -> None:
    """Keep the current version and the newest ``keep - 1`` others (for rollback); drop dead builds."""
    current = read_current(root)
    old = [v for v in versions(root) if v != current]
    for stale in old[: max(0, len(old) - max(0, keep - 1))]:
        _remove(stale)
    remove_dead_builds(root)


def remove_dead_builds(root: Path) -> list[Path]:
    """Remove builds (and their side files) whose owning process no longer runs."""
    removed = []
    for leftover in root.glob(f"{BUILD_PREFIX}*"):
        owner = leftover.name[len(BUILD_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not process_alive(int(owner)):
            _remove(leftover)
            removed.append(leftover)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a leftover's owner died if not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
