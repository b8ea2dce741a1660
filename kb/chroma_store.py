"""The dense side: a Chroma persistent collection with cosine distance and our own embedding function."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb.layout import COLLECTION


def _client(path: Path):  # type: ignore[no-untyped-def]
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def _embedding_function(encode: Callable[[list[str]], np.ndarray] | None):  # type: ignore[no-untyped-def]
    from chromadb.api.types import Documents, EmbeddingFunction

    class HubEmbeddingFunction(EmbeddingFunction[Documents]):
        """Our model, so Chroma never reaches for its default (which would download one)."""

        def __init__(self) -> None:
            self._encode = encode

        def __call__(self, input: Documents) -> list[np.ndarray]:
            if self._encode is None:
                raise RuntimeError("this collection is queried with precomputed embeddings only")
            return list(self._encode(list(input)))

        @staticmethod
        def name() -> str:
            return "hub-kb"

        def get_config(self) -> dict[str, Any]:
            return {}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> HubEmbeddingFunction:
            return HubEmbeddingFunction()

        def default_space(self) -> str:  # type: ignore[override]
            return "cosine"

    return HubEmbeddingFunction()


def build_collection(
    path: Path,
    ids: Sequence[str],
    vectors: np.ndarray,
    metadatas: Sequence[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> None:
    client = _client(path)
    collection = client.create_collection(
        COLLECTION,
        # Chroma's default space is l2; our vectors are compared by angle. Its default search breadth
        # (ef_search 100) equals the candidates we ask for, which misses some of the true top 100.
        configuration={"hnsw": {"space": "cosine", "ef_construction": 200, "ef_search": 200}},
        embedding_function=_embedding_function(None),
        metadata={"built_by": "kb.indexer"},
    )
    step = client.get_max_batch_size()
    for offset in range(0, len(ids), step):
        collection.add(
            ids=list(ids[offset : offset + step]),
            embeddings=vectors[offset : offset + step],
            metadatas=list(metadatas[offset : offset + step]),
        )
        if progress:
            progress(min(step, len(ids) - offset))
    _close(client)


def _close(client: Any) -> None:
    # Releases the shared system (refcounted per path) so the build directory can be renamed.
    with contextlib.suppress(Exception):  # best effort: the data is already persisted
        client.close()


class DenseIndex:
    """Read side; one client per index version, queried with precomputed query vectors."""

    def __init__(self, path: Path, encode: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self._client = _client(path)
        self._collection = self._client.get_collection(COLLECTION, embedding_function=_embedding_function(encode))

    def close(self) -> None:
        _close(self._client)

    def count(self) -> int:
        return int(self._collection.count())

    def query(self, vector: np.ndarray, n_results: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        total = self.count()
        if total == 0 or n_results <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[vector],
            n_results=min(n_results, total),
            where=where,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [(chunk_id, 1.0 - float(distance)) for chunk_id, distance in zip(ids, distances, strict=True)]
