"""区城管局 (urban management): CSV encoded in GBK, transcoded in Python."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import URBAN, Entity
from orchestration.ingest.staging import FilePart, rows_part

SOURCE = URBAN


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    text, notes = readers.decode_gbk(data, source_file)
    header, rows = readers.csv_rows(text, source_file)
    part = rows_part(entity, header, rows, source_file, source_file, content_hash)
    part.notes = notes + part.notes
    return part
