"""区林水局 (water): one .xlsx workbook per export, one sheet per entity, Chinese headers."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.ingest import readers
from orchestration.ingest.contracts import WATER, Entity
from orchestration.ingest.staging import Staged, stage_rows

SOURCE = WATER


def stage_file(con: duckdb.DuckDBPyConnection, entity: Entity, path: Path, where: str) -> Staged:
    assert entity.sheet is not None
    header, rows = readers.xlsx_sheet_rows(path, entity.sheet, where)
    return stage_rows(con, entity, header, rows, f"{where} 工作表/sheet {entity.sheet}")
