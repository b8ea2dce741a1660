"""File names inside one index version directory (shared by the indexer and the searcher)."""

from __future__ import annotations

from pathlib import Path

MANIFEST = "manifest.json"  # model, settings, (file, fingerprint) per document, skipped files
DOCUMENTS = "documents.json"  # one metadata object per document
CHUNKS = "chunks.parquet"  # one row per chunk: chunk_id, doc_id, order, heading_path, start, end, text
BM25_DIR = "bm25"
INDEX_PREFIX = "index"  # index versions are named index-<timestamp>
CHROMA_DIR = "chroma"
COLLECTION = "kb_chunks"  # embedded: one store per version directory, always this name
SERVER_COLLECTION_PREFIX = "kb-chunks-"  # on a Chroma server: one collection per index version
FORMAT_VERSION = 2  # 2: Chroma ef_search/ef_construction 200, BM25 k1/b in the manifest


def chunk_ids(count: int) -> list[str]:
    """Chroma ids are the row numbers of chunks.parquet, so a hit maps straight to its row."""
    return [f"c{row}" for row in range(count)]


def row_of(chunk_id: str) -> int:
    return int(chunk_id[1:])


def manifest_path(version: Path) -> Path:
    return version / MANIFEST


def server_collection_name() -> str:
    """A new version's collection on a Chroma server: unique, sortable by creation time."""
    import os
    from datetime import datetime

    return f"{SERVER_COLLECTION_PREFIX}{datetime.now().strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}"


def dense_store(manifest: dict) -> dict:
    """Where a version's vectors are: {"store": "embedded"} (its chroma/ folder) or {"store": "server", ...}."""
    found = manifest.get("dense")
    return found if isinstance(found, dict) else {"store": "embedded"}
