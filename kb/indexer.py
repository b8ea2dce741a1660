"""Build a search index version from a folder of documents, and publish it atomically.

Steps: fingerprint every supported file; reuse the parsed chunks of files unchanged since the
current version; load, chunk and describe the rest; embed (the cache makes known text free);
write chunks, BM25 and Chroma into a hidden build directory; rename it and switch ``CURRENT``.
When nothing changed, no new version is built.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from hub.core import pointer
from hub.core.safe_files import UnsafeFile, read_regular, refusal
from kb import layout
from kb.chunking import CHUNKER_VERSION, PATH_SEPARATOR, Chunk, chunk_text
from kb.embedding import Embedder, EmbeddingCache
from kb.loaders import SIDECAR_SUFFIX, UnreadableDocument, is_supported, load_document
from kb.metadata import extract_metadata
from kb.settings import KbSettings
from kb.tokenizer import TOKENIZER_VERSION, shared_tokenizer

log = logging.getLogger(__name__)
DIRECTORY_MANIFEST = "manifest.json"  # optional per-folder list of {"file": ..., metadata...}

# Called as progress(stage, done_increment, total) so the CLI can show bars and Dagster can log.
CHUNK_FIELDS = ("doc_id", "order", "heading_path", "start", "end", "text")
Progress = Callable[[str, int, int], None]


@dataclass
class SkippedFile:
    file: str
    reason: str


@dataclass
class IndexReport:
    version: Path | None
    documents: int = 0
    chunks: int = 0
    embedded: int = 0  # texts that went through the model
    cached: int = 0  # texts served by the embedding cache
    reused_documents: int = 0  # unchanged since the previous version: not parsed again
    changed_documents: list[str] = field(default_factory=list)
    removed_documents: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    unchanged: bool = False  # nothing changed: the current version stays
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": str(self.version) if self.version else None,
            "documents": self.documents,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "cached": self.cached,
            "reused_documents": self.reused_documents,
            "changed_documents": self.changed_documents,
            "removed_documents": self.removed_documents,
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 3),
        }


def embedding_text(chunk_heading_path: str, text: str) -> str:
    """What is embedded and BM25-indexed: the heading path gives a short passage its context."""
    return f"{chunk_heading_path}\n{text}"


def _directory_manifests(docs_dir: Path) -> dict[str, dict[str, Any]]:
    """Metadata declared in ``manifest.json`` files (a list of objects with ``file``), keyed by relative path."""
    declared: dict[str, dict[str, Any]] = {}
    for manifest in docs_dir.rglob(DIRECTORY_MANIFEST):
        try:
            entries = json.loads(read_regular(manifest, docs_dir).decode("utf-8-sig"))
        except (OSError, ValueError, UnsafeFile) as exc:
            log.warning("ignoring %s: %s", manifest, exc)
            continue
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if isinstance(entry, dict) and entry.get("file"):
                relative = (manifest.parent / str(entry["file"])).relative_to(docs_dir).as_posix()
                declared[relative] = {k: v for k, v in entry.items() if k != "file"}
    return declared


def _fingerprint(path: Path, declared: dict[str, Any], settings_key: str) -> str:
    digest = hashlib.sha256(read_regular(path, path.parent))
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_symlink() or sidecar.exists():
        digest.update(read_regular(sidecar, sidecar.parent))
    digest.update(json.dumps(declared, ensure_ascii=False, sort_keys=True, default=str).encode())
    digest.update(settings_key.encode())
    return digest.hexdigest()


def _settings_key(settings: KbSettings) -> str:
    """Anything that changes chunks, vectors or the BM25 index; a change re-parses every file."""
    return (
        f"{layout.FORMAT_VERSION}|{CHUNKER_VERSION}|{TOKENIZER_VERSION}|{settings.encoder_id}|"
        f"{settings.chunk_max_chars}|{settings.chunk_min_chars}|{settings.bm25_k1}|{settings.bm25_b}"
    )


def _read_previous(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    current = pointer.read_current(root)
    if current is None or not (current / layout.MANIFEST).exists():
        return {}, [], {}
    manifest = json.loads((current / layout.MANIFEST).read_text(encoding="utf-8"))
    documents = json.loads((current / layout.DOCUMENTS).read_text(encoding="utf-8"))
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for row in pq.read_table(current / layout.CHUNKS).to_pylist():
        by_doc.setdefault(row["doc_id"], []).append(row)
    return manifest, documents, by_doc


def _chroma_metadata(document: dict[str, Any], chunk_order: int) -> dict[str, Any]:
    """Never empty (Chroma rejects empty dicts); lists only when non-empty."""
    meta: dict[str, Any] = {"doc_id": document["doc_id"], "doc_type": document["doc_type"], "order": chunk_order}
    if document.get("year"):
        meta["year"] = int(document["year"])
    if document.get("issuer"):
        meta["issuer"] = document["issuer"]
    if document.get("hazards"):
        meta["hazards"] = list(document["hazards"])
    if document.get("towns"):
        meta["towns"] = list(document["towns"])
    return meta


def _parse(
    path: Path, doc_id: str, declared: dict[str, Any], settings: KbSettings
) -> tuple[dict[str, Any], list[Chunk]]:
    loaded = load_document(path)
    metadata = extract_metadata(loaded.text, {**declared, **loaded.metadata}, settings.town_aliases)
    chunks = chunk_text(loaded.text, metadata.title, settings.chunk_max_chars, settings.chunk_min_chars)
    if not chunks:
        raise UnreadableDocument(path, "切分后没有正文 / no text left after chunking")
    document = {"doc_id": doc_id, "file": doc_id, "path": str(path.resolve()), **metadata.to_dict()}
    document["chunk_count"] = len(chunks)
    return document, chunks


def build_index(
    docs_dir: Path,
    index_root: Path,
    settings: KbSettings | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> IndexReport:
    """Index every supported file under ``docs_dir`` into a new version under ``index_root`` and publish it."""
    started = datetime.now(UTC)
    settings = settings or KbSettings.from_env()
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"文档目录不存在 / documents folder not found: {docs_dir}")
    settings_key = _settings_key(settings)
    declared_by_file = _directory_manifests(docs_dir)
    previous_manifest, previous_documents, previous_chunks = _read_previous(index_root)
    previous_files: dict[str, str] = previous_manifest.get("files", {})
    previous_by_id = {d["doc_id"]: d for d in previous_documents}

    report = IndexReport(version=None)
    # Only regular files inside the folder are read: a link (to /etc/passwd, /proc/self/environ, a device, or
    # dangling), a FIFO or a device with a document's name is skipped unread, with the reason in the report.
    files = []
    for path in sorted(p for p in docs_dir.rglob("*") if is_supported(p) and not p.is_dir()):
        if reason := refusal(path, docs_dir):
            report.skipped.append(SkippedFile(path.relative_to(docs_dir).as_posix(), reason))
            log.warning("skipped %s: %s", path, reason)
        else:
            files.append(path)
    fingerprints: dict[str, str] = {}
    documents: list[dict[str, Any]] = []
    chunk_rows: list[dict[str, Any]] = []
    for path in files:
        doc_id = path.relative_to(docs_dir).as_posix()
        declared = declared_by_file.get(doc_id, {})
        try:
            fingerprint = _fingerprint(path, declared, settings_key)
        except OSError as exc:
            report.skipped.append(SkippedFile(doc_id, f"无法读取文件 / cannot read file: {exc.strerror}"))
            continue
        except UnsafeFile as unsafe:  # its sidecar is a link, or it became one since the listing
            report.skipped.append(SkippedFile(doc_id, unsafe.reason))
            continue
        if previous_files.get(doc_id) == fingerprint and doc_id in previous_by_id:
            document, rows = previous_by_id[doc_id], previous_chunks.get(doc_id, [])
            report.reused_documents += 1
        else:
            try:
                document, chunks = _parse(path, doc_id, declared, settings)
            except UnreadableDocument as exc:
                report.skipped.append(SkippedFile(doc_id, exc.reason))
                log.warning("skipped %s: %s", doc_id, exc.reason)
                continue
            rows = [
                {
                    "doc_id": doc_id,
                    "order": chunk.order,
                    "heading_path": chunk.heading_path_text,
                    "start": chunk.start,
                    "end": chunk.end,
                    "text": chunk.text,
                }
                for chunk in chunks
            ]
            report.changed_documents.append(doc_id)
        fingerprints[doc_id] = fingerprint
        documents.append(document)
        chunk_rows.extend({key: row[key] for key in CHUNK_FIELDS} for row in rows)
        if progress:
            progress("parse", 1, len(files))
    report.removed_documents = sorted(set(previous_files) - set(fingerprints))
    report.documents, report.chunks = len(documents), len(chunk_rows)

    current = pointer.read_current(index_root)
    same_store = current is not None and _dense_store_of(current) == ("server" if settings.chroma_url else "embedded")
    if current is not None and same_store and not report.changed_documents and not report.removed_documents:
        report.unchanged, report.version = True, current
        report.cached = report.chunks
        report.seconds = (datetime.now(UTC) - started).total_seconds()
        return report

    embedder = embedder or Embedder(settings, EmbeddingCache(settings.embedding_cache))
    before_embedded, before_cached = embedder.embedded_count, embedder.cached_count
    texts = [embedding_text(row["heading_path"], row["text"]) for row in chunk_rows]
    vectors = embedder.embed_passages(texts, (lambda n: progress("embed", n, len(texts))) if progress else None)
    report.embedded = embedder.embedded_count - before_embedded
    report.cached = embedder.cached_count - before_cached

    build = pointer.new_build_dir(index_root, layout.INDEX_PREFIX)
    try:
        manifest = {
            "model_id": settings.model_id,
            "encoder": settings.encoder,  # model, backend, quantisation: queries must be embedded the same way
            "dimension": int(vectors.shape[1]) if len(vectors) else embedder.dimension,
            "chunk_max_chars": settings.chunk_max_chars,
            "chunk_min_chars": settings.chunk_min_chars,
            "bm25": {"k1": settings.bm25_k1, "b": settings.bm25_b},
            "files": fingerprints,
            "skipped": [{"file": s.file, "reason": s.reason} for s in report.skipped],
        }
        before = _server_collections_by_version(index_root)
        write_version(build, documents, chunk_rows, texts, vectors, manifest, progress, settings)
        version = pointer.version_name(layout.INDEX_PREFIX)
        report.version = pointer.publish_build(index_root, build, version, keep=settings.keep_versions)
        _drop_pruned_collections(before)
    except BaseException:
        _drop_collection_of(build)  # its vectors on a Chroma server, if it got that far
        shutil.rmtree(build, ignore_errors=True)  # a failed build never becomes visible
        raise
    report.seconds = (datetime.now(UTC) - started).total_seconds()
    return report


def _dense_store_of(version: Path) -> str:
    try:
        manifest = json.loads((version / layout.MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "embedded"
    return str(layout.dense_store(manifest).get("store"))


def _server_collections_by_version(index_root: Path) -> dict[Path, tuple[str, str]]:
    """Each kept version whose vectors are on a Chroma server: (server url, collection)."""
    found: dict[Path, tuple[str, str]] = {}
    for version in pointer.versions(index_root):
        try:
            dense = layout.dense_store(json.loads((version / layout.MANIFEST).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
        if dense.get("store") == "server" and dense.get("collection"):
            found[version] = (str(dense.get("url") or ""), str(dense["collection"]))
    return found


def _drop_pruned_collections(before: dict[Path, tuple[str, str]]) -> None:
    """Versions pruned by the publish take their collections with them (readers of them have moved on)."""
    from kb.chroma_store import delete_collection

    for version, (url, name) in before.items():
        if not version.exists() and url:
            try:
                delete_collection(url, name)
            except Exception:  # the server is down: the collection stays, harmless
                log.warning("could not drop collection %s of pruned version %s", name, version.name, exc_info=True)


def _drop_collection_of(build: Path) -> None:
    try:
        dense = layout.dense_store(json.loads((build / layout.MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return
    if dense.get("store") == "server" and dense.get("url") and dense.get("collection"):
        from kb.chroma_store import delete_collection

        with contextlib.suppress(Exception):
            delete_collection(str(dense["url"]), str(dense["collection"]))


def write_version(
    build: Path,
    documents: list[dict[str, Any]],
    chunk_rows: list[dict[str, Any]],
    texts: list[str],
    vectors: np.ndarray,
    manifest: dict[str, Any],
    progress: Progress | None = None,
    settings: KbSettings | None = None,
) -> None:
    """Write chunks, documents, BM25 and Chroma for one version into ``build`` (not yet published).

    ``chunk_rows`` carry CHUNK_FIELDS; ``texts`` are what BM25 indexes (heading path + text), aligned
    with ``vectors``; ``settings`` gives the BM25 parameters (defaults if None). Public so benchmarks
    can build large synthetic versions the same way.
    """
    import bm25s

    from kb.chroma_store import build_collection

    ids = layout.chunk_ids(len(chunk_rows))
    table = pa.table(
        {
            "chunk_id": ids,
            "doc_id": [r["doc_id"] for r in chunk_rows],
            "order": pa.array([r["order"] for r in chunk_rows], pa.int32()),
            "heading_path": [r["heading_path"] for r in chunk_rows],
            "start": pa.array([r["start"] for r in chunk_rows], pa.int64()),
            "end": pa.array([r["end"] for r in chunk_rows], pa.int64()),
            "text": [r["text"] for r in chunk_rows],
        }
    )
    pq.write_table(table, build / layout.CHUNKS)
    (build / layout.DOCUMENTS).write_text(json.dumps(documents, ensure_ascii=False, indent=1), encoding="utf-8")

    tokenizer = shared_tokenizer()
    tokens = []
    for text in texts:
        tokens.append(tokenizer.tokenize(text) or [""])
        if progress:
            progress("bm25", 1, len(texts))
    bm25_settings = settings or KbSettings()
    retriever = bm25s.BM25(k1=bm25_settings.bm25_k1, b=bm25_settings.bm25_b)
    # An empty corpus still gets a loadable index (one empty placeholder row; searches find nothing).
    retriever.index(tokens or [[""]], show_progress=False)
    retriever.save(str(build / layout.BM25_DIR), show_progress=False)

    by_id = {d["doc_id"]: d for d in documents}
    metadatas = [_chroma_metadata(by_id[row["doc_id"]], row["order"]) for row in chunk_rows]
    url = (settings.chroma_url if settings else "") or ""
    dense: dict[str, Any] = {"store": "embedded"}
    if url:
        dense = {"store": "server", "collection": layout.server_collection_name(), "url": url}
        # Recorded before the upload, so a build that fails half-way knows which collection to drop.
        (build / layout.MANIFEST).write_text(json.dumps({"dense": dense}), encoding="utf-8")
    build_collection(
        build / layout.CHROMA_DIR,
        ids,
        vectors,
        metadatas,
        (lambda n: progress("chroma", n, len(ids))) if progress else None,
        url=url or None,
        name=dense.get("collection", layout.COLLECTION),
    )
    full_manifest = {
        "format": layout.FORMAT_VERSION,
        "dense": dense,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "path_separator": PATH_SEPARATOR,
        "documents": len(documents),
        "chunks": len(chunk_rows),
        **manifest,
    }
    (build / layout.MANIFEST).write_text(json.dumps(full_manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def move_to_server(index_root: Path, settings: KbSettings) -> Path | None:
    """Publish the current version again with its vectors on the Chroma server ``settings.chroma_url``.

    For an index built in embedded mode when the API starts several workers: chunks, documents and vectors
    are copied (nothing is embedded again) into a new version whose collection is on the server, and the
    pointer is switched once it is complete. Returns the new version, or None when there is nothing to do.
    """
    current = pointer.read_current(index_root)
    if not settings.chroma_url or current is None or _dense_store_of(current) == "server":
        return None
    from kb.chroma_store import read_vectors

    manifest = json.loads((current / layout.MANIFEST).read_text(encoding="utf-8"))
    documents = json.loads((current / layout.DOCUMENTS).read_text(encoding="utf-8"))
    rows = [{key: row[key] for key in CHUNK_FIELDS} for row in pq.read_table(current / layout.CHUNKS).to_pylist()]
    vectors = read_vectors(current / layout.CHROMA_DIR, layout.chunk_ids(len(rows)))
    texts = [embedding_text(row["heading_path"], row["text"]) for row in rows]
    kept = {k: v for k, v in manifest.items() if k not in ("format", "created", "dense", "documents", "chunks")}
    build = pointer.new_build_dir(index_root, layout.INDEX_PREFIX)
    try:
        before = _server_collections_by_version(index_root)
        write_version(build, documents, rows, texts, vectors, kept, None, settings)
        version = pointer.publish_build(
            index_root, build, pointer.version_name(layout.INDEX_PREFIX), keep=settings.keep_versions
        )
        _drop_pruned_collections(before)
    except BaseException:
        _drop_collection_of(build)
        shutil.rmtree(build, ignore_errors=True)
        raise
    return version
