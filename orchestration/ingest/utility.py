"""区环境集团 (water supply): JSON Lines, UTF-8, snake_case keys, one file kind per entity."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import UTILITY, Entity
from orchestration.ingest.staging import FilePart, json_lines_part

SOURCE = UTILITY


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    return json_lines_part(source_file, readers.utf8_lines(data, source_file), content_hash)
