"""基层治理四平台 events: daily JSON Lines exports (the HTTP feed is feed_client.py)."""

from __future__ import annotations

from orchestration.ingest.contracts import FOUR_PLATFORMS, Entity
from orchestration.ingest.staging import FilePart, json_file_part

SOURCE = FOUR_PLATFORMS


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    return json_file_part(source_file, data, content_hash)
