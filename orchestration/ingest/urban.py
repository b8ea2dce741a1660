"""区城管局 (urban management): CSV encoded in GBK, transcoded in Python."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest import readers
from orchestration.ingest.contracts import URBAN, Entity
from orchestration.ingest.staging import Staged, stage_rows

SOURCE = URBAN


def stage_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, where: str) -> Staged:
    text, notes = readers.decode_gbk(path.read_bytes(), where)
    header, rows = readers.csv_rows(text)
    staged = stage_rows(con, entity, header, rows, where)
    staged.notes = notes + staged.notes
    return staged
