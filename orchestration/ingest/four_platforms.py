"""基层治理四平台 events: daily JSON Lines exports (the HTTP feed is feed_client.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest import readers
from orchestration.ingest.contracts import FOUR_PLATFORMS, Entity
from orchestration.ingest.staging import Staged, stage_json_lines

SOURCE = FOUR_PLATFORMS


def stage_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, where: str) -> Staged:
    text = readers.decode_utf8(path.read_bytes(), where)
    return stage_json_lines(con, entity, readers.text_lines(text), where)
