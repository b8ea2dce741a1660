"""区应急管理局 registers: CSV in UTF-8 with BOM (a missing BOM is tolerated), full snapshots."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest import readers
from orchestration.ingest.contracts import REGISTRY, Entity
from orchestration.ingest.staging import Staged, stage_rows

SOURCE = REGISTRY


def stage_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, where: str) -> Staged:
    header, rows = readers.csv_rows(readers.decode_utf8(path.read_bytes(), where))
    return stage_rows(con, entity, header, rows, where)
