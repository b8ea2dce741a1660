"""Serve whichever version a ``CURRENT`` pointer names, switching without downtime.

Why build and serve are separate: docs/decisions/0005-build-and-serve-are-separate-snapshots.md.

Each request leases the current version. A cheap ``stat`` of the pointer on every lease notices a
new publish; the new version is opened for new requests while leases on the old one finish on it,
and the old one is closed once its last lease ends. A half-built version is never seen because
the pointer is only switched (atomically) after the version is complete.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from hub.core.pointer import POINTER, read_current

R = TypeVar("R")
logger = logging.getLogger("api.versioned")


class NotPublishedError(RuntimeError):
    """Nothing is published under the root yet."""


@dataclass(eq=False)
class Version(Generic[R]):
    path: Path
    resource: R
    leases: int = 0
    retired: bool = False
    closed: bool = field(default=False)


class VersionedResource(Generic[R]):
    def __init__(self, root: Path, open_fn: Callable[[Path], R], close_fn: Callable[[R], None]) -> None:
        self.root = root
        self._open = open_fn
        self._close = close_fn
        self._lock = threading.Lock()
        self._current: Version[R] | None = None
        self._pointer_stamp: tuple[int, int, int] | None = None
        self._retired: list[Version[R]] = []

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.root / POINTER)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        """Called with the lock held: open the newly published version if the pointer moved."""
        stamp = self._stamp()
        if stamp == self._pointer_stamp and self._current is not None:
            return
        target = read_current(self.root)
        if target is None:
            self._pointer_stamp = stamp
            return
        if self._current is not None and self._current.path == target:
            self._pointer_stamp = stamp
            return
        try:
            new = Version(path=target, resource=self._open(target))
        except Exception:  # a broken publish must not take the service down: keep serving the current one
            logger.exception("cannot open published version %s; still serving %s", target, self._current)
            self._pointer_stamp = stamp  # retried when the pointer moves again
            if self._current is None:
                raise
            return
        old, self._current = self._current, new
        self._pointer_stamp = stamp
        if old is not None:
            old.retired = True
            self._retired.append(old)
            self._close_idle()

    def _close_idle(self) -> None:
        for version in [v for v in self._retired if v.leases == 0]:
            self._retired.remove(version)
            version.closed = True
            self._close(version.resource)

    def acquire(self) -> Version[R]:
        """Lease the current version; pair with ``release`` (or use ``lease``)."""
        with self._lock:
            self._refresh()
            version = self._current
            if version is None:
                raise NotPublishedError(str(self.root))
            version.leases += 1
            return version

    def release(self, version: Version[R]) -> None:
        with self._lock:
            version.leases -= 1
            if version.retired:
                self._close_idle()

    @contextmanager
    def lease(self) -> Iterator[Version[R]]:
        version = self.acquire()
        try:
            yield version
        finally:
            self.release(version)

    def current_path(self) -> Path | None:
        with self._lock:
            self._refresh()
            return self._current.path if self._current else None

    def close(self) -> None:
        with self._lock:
            for version in [*self._retired, *([self._current] if self._current else [])]:
                if not version.closed:
                    version.closed = True
                    self._close(version.resource)
            self._retired.clear()
            self._current = None
            self._pointer_stamp = None
