"""One ``hub run`` at a time per data directory: an exclusive lock on ``<data dir>/.hub-run.lock``.

The kernel releases the lock when its process ends, however it ends, so a killed run never leaves a
stale lock behind. The lock file names the holder's process id for the message the second run prints.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".hub-run.lock"


class DataDirBusy(Exception):
    """Another run holds the data directory."""


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise DataDirBusy(
                f"另一个 hub run（进程 {holder}）正在使用数据目录 {data_dir}，请等它结束后再运行 / another hub run "
                f"(process {holder}) is using the data directory {data_dir}; run again when it has finished"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
