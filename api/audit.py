"""Audit log: one JSON line per SQL statement and export, with key name, time and statement."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# json.dumps escapes ASCII control characters but keeps these raw with ensure_ascii=False, and a reader
# splitting on line boundaries (str.splitlines) would cut a hostile statement's record in two.
LINE_BREAKS_OUTSIDE_ASCII = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


class AuditLog:
    def __init__(self, api_dir: Path) -> None:
        self.path = api_dir / "audit.jsonl"
        self._lock = threading.Lock()

    def write(self, key_name: str, action: str, statement: str, **details: Any) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "key": key_name,
            "action": action,
            "statement": statement,
            **details,
        }
        line = json.dumps(record, ensure_ascii=False, default=str).translate(LINE_BREAKS_OUTSIDE_ASCII) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
