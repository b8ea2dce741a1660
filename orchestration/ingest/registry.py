"""区应急管理局 registers: CSV in UTF-8 with BOM (a missing BOM is tolerated), full snapshots."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import REGISTRY, Entity
from orchestration.ingest.staging import FilePart, rows_part

SOURCE = REGISTRY


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    header, rows = readers.csv_rows(readers.decode_utf8(data, source_file), source_file)
    return rows_part(entity, header, rows, source_file, source_file, content_hash)
