"""区环境集团 (water supply): JSON Lines, UTF-8, snake_case keys, one file kind per entity."""

from __future__ import annotations

from orchestration.ingest.contracts import UTILITY, Entity
from orchestration.ingest.staging import FilePart, json_file_part

SOURCE = UTILITY


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    return json_file_part(source_file, data, content_hash)
