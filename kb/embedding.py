"""Text embeddings through sentence-transformers, cached by (model id, text hash).

The cache is a SQLite file outside the index versions, so re-indexing unchanged text costs a
lookup, not a forward pass. Missing texts are embedded in length-sorted batches (less padding).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.settings import KbSettings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ProgressCallback = Callable[[int], None]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading bars on every CLI call
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_MODELS: dict[str, SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()


def load_model(model_path: str) -> SentenceTransformer:
    """One model instance per path and process (loading takes seconds)."""
    with _MODELS_LOCK:
        if model_path not in _MODELS:
            if not Path(model_path).exists():
                raise FileNotFoundError(
                    f"嵌入模型路径不存在 / embedding model path does not exist: {model_path} (setting HUB_KB_MODEL)"
                )
            _MODELS[model_path] = _sentence_transformer(Path(model_path))
        return _MODELS[model_path]


def _sentence_transformer(path: Path) -> SentenceTransformer:
    """A sentence-transformers folder as it is; a bare Hugging Face encoder (the bundled m3e-small has no
    modules.json) with mean pooling, as m3e was trained and as sentence-transformers would guess, said here
    rather than left to a log line that reads like an error."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    if (path / "modules.json").exists():
        return SentenceTransformer(str(path), device="cpu", local_files_only=True)
    encoder = Transformer(str(path))
    pooling = Pooling(encoder.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[encoder, pooling], device="cpu")


class EmbeddingCache:
    """(model id, sha256 of text) → float32 vector, in SQLite."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(str(path), check_same_thread=False, timeout=60)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, text_hash TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_hash))"
        )
        self._lock = threading.Lock()

    def get_many(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            for offset in range(0, len(unique), 500):
                batch = unique[offset : offset + 500]
                placeholders = ",".join("?" * len(batch))
                rows = self._connection.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({placeholders})",
                    [model_id, *batch],
                ).fetchall()
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model_id: str, items: Sequence[tuple[str, np.ndarray]]) -> None:
        with self._lock, self._connection:
            self._connection.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, vector) VALUES (?, ?, ?)",
                [(model_id, key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in items],
            )

    def close(self) -> None:
        self._connection.close()


class Embedder:
    """Embeds passages (cached) and queries (not cached: they are short and many) with one model."""

    def __init__(self, settings: KbSettings, cache: EmbeddingCache | None = None) -> None:
        self.settings = settings
        self.model_id = settings.model_id
        self._cache = cache
        self._encode_lock = threading.Lock()
        self.embedded_count = 0  # texts that went through the model (not served by the cache)
        self.cached_count = 0

    @property
    def model(self) -> SentenceTransformer:
        return load_model(self.settings.model_path)

    @property
    def dimension(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; keep working with either name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter() or 0)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._encode_lock:  # one forward pass at a time; torch already uses every core
            vectors = self.model.encode(
                list(texts),
                batch_size=self.settings.embed_batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def embed_passages(self, texts: Sequence[str], progress: ProgressCallback | None = None) -> np.ndarray:
        """Vectors for all texts, in order; only texts missing from the cache go through the model."""
        hashes = [text_hash(text) for text in texts]
        positions = Counter(hashes)  # a text repeated in the corpus is embedded once
        known = self._cache.get_many(self.model_id, list(positions)) if self._cache else {}
        missing = {key: text for key, text in zip(hashes, texts, strict=True) if key not in known}
        done_from_cache = sum(count for key, count in positions.items() if key in known)
        self.cached_count += done_from_cache
        if progress:
            progress(done_from_cache)
        # Length-sorted batches: similar lengths pad less, which is most of the speed on CPU.
        ordered = sorted(missing.items(), key=lambda item: len(item[1]))
        batch = max(1, self.settings.embed_batch_size) * 4
        for offset in range(0, len(ordered), batch):
            part = ordered[offset : offset + batch]
            vectors = self._encode([text for _, text in part])
            new = [(key, vector) for (key, _), vector in zip(part, vectors, strict=True)]
            known.update(new)
            if self._cache:
                self._cache.put_many(self.model_id, new)
            self.embedded_count += len(part)
            if progress:
                progress(sum(positions[key] for key, _ in part))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([known[key] for key in hashes])
