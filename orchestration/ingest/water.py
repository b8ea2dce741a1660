"""区林水局 (water): one .xlsx workbook per export, one sheet per entity, Chinese headers."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import WATER, Entity
from orchestration.ingest.staging import FilePart, rows_part

SOURCE = WATER


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    assert entity.sheet is not None
    header, rows = readers.xlsx_sheet_rows(data, entity.sheet, source_file)
    return rows_part(entity, header, rows, f"{source_file} 工作表/sheet {entity.sheet}", source_file, content_hash)
