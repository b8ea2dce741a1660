"""区应急管理局 registers: CSV in UTF-8 with BOM (a missing BOM is tolerated), full snapshots.

A register saved as GBK (what "CSV (逗号分隔)" in a Chinese Excel writes) is read as GBK, with a note: the
header check that follows rejects the file if that reading is wrong, so the previous snapshot stays then."""

from __future__ import annotations

from orchestration.ingest import readers
from orchestration.ingest.contracts import REGISTRY, Entity
from orchestration.ingest.problems import FileRejected
from orchestration.ingest.staging import FilePart, rows_part

SOURCE = REGISTRY


def read_file(entity: Entity, data: bytes, source_file: str, content_hash: str) -> FilePart:
    notes: list[str] = []
    try:
        text = readers.decode_utf8(data, source_file)
    except FileRejected as not_utf8:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise not_utf8 from None
        notes.append(f"文件为 GBK 编码而非 UTF-8，已按 GBK 读取 / {source_file} is GBK, not UTF-8; read as GBK")
    header, rows = readers.csv_rows(text, source_file)
    part = rows_part(entity, header, rows, source_file, source_file, content_hash)
    part.notes += notes
    return part
