"""区环境集团 (water supply): JSON Lines, UTF-8, snake_case keys, one file kind per entity."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import UTILITY, Entity
from orchestration.ingest.staging import FilePart, json_lines_part

SOURCE = UTILITY


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    records, notes = readers.json_records(data, source_file)
    part = json_lines_part(source_file, records, content_hash)
    part.notes += notes
    return part
