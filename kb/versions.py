"""Index versions under one root, behind an atomically switched ``CURRENT`` pointer (ARCHITECTURE decision 1).

kb must not import orchestration, so it keeps this small copy of the idea: build into a hidden
temporary directory, rename it to its version name, then replace ``CURRENT`` with ``os.replace``.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

POINTER = "CURRENT"
PREFIX = "index-"


def new_build_dir(root: Path) -> Path:
    """A hidden directory to build into; readers never look at hidden names."""
    root.mkdir(parents=True, exist_ok=True)
    build = root / f".build-{os.getpid()}-{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    build.mkdir()
    return build


def current_version(root: Path) -> Path | None:
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    target = root / name if name else None
    return target if target is not None and target.is_dir() else None


def publish(root: Path, build: Path, keep: int = 3) -> Path:
    """Rename the finished build to a version name, switch CURRENT to it, prune old versions."""
    version = root / f"{PREFIX}{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    os.replace(build, version)
    pointer_tmp = root / f".{POINTER}.{os.getpid()}.tmp"
    pointer_tmp.write_text(version.name, encoding="utf-8")
    with open(pointer_tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(pointer_tmp, root / POINTER)
    _prune(root, keep)
    return version


def all_versions(root: Path) -> list[Path]:
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def _prune(root: Path, keep: int) -> None:
    current = current_version(root)
    older = [v for v in all_versions(root) if v != current]
    for stale in older[: max(0, len(older) - max(0, keep - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    # Builds left by a process that died half-way.
    for leftover in root.glob(".build-*"):
        pid = leftover.name.split("-")[1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (a leftover's owner died if not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
