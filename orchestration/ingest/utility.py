"""区环境集团 (water supply): JSON Lines, UTF-8, snake_case keys, one file kind per entity."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest import readers
from orchestration.ingest.contracts import UTILITY, Entity
from orchestration.ingest.staging import Staged, stage_json_lines

SOURCE = UTILITY


def stage_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, where: str) -> Staged:
    text = readers.decode_utf8(path.read_bytes(), where)
    return stage_json_lines(con, entity, readers.text_lines(text), where)
