"""The dense side: a Chroma collection with cosine distance and our own embedding function.

Embedded (default): a persistent store inside each index version directory, for one process. With
``HUB_CHROMA_URL`` the vectors live on a Chroma server (``chroma run``), one collection per index version,
so several API processes (``hub serve --workers N``) read the same vectors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from kb.layout import COLLECTION

RETRIES = 20  # a restarting Chroma server: retry a query for up to ~10 s before giving up
RETRY_PAUSE = 0.5
log = logging.getLogger(__name__)


def _client(path: Path):  # type: ignore[no-untyped-def]
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def http_client(url: str):  # type: ignore[no-untyped-def]
    """A client of the Chroma server at ``url`` (``http://host:port``)."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    parsed = urlparse(url if "://" in url else f"http://{url}")
    return chromadb.HttpClient(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 8000,
        ssl=parsed.scheme == "https",
        settings=Settings(anonymized_telemetry=False),
    )


def delete_collection(url: str, name: str) -> None:
    """Drop one index version's collection from the server (pruned versions, failed builds)."""
    client = http_client(url)
    with contextlib.suppress(Exception):  # already gone
        client.delete_collection(name)
    _close(client)


def server_collections(url: str, prefix: str) -> list[str]:
    client = http_client(url)
    try:
        return [_name(c) for c in client.list_collections() if _name(c).startswith(prefix)]
    finally:
        _close(client)


def _name(collection: Any) -> str:
    return collection if isinstance(collection, str) else str(collection.name)


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
    url: str | None = None,
    name: str = COLLECTION,
) -> None:
    """Write the vectors into a new collection: in ``path`` (embedded) or on the server at ``url``."""
    client = http_client(url) if url else _client(path)
    collection = client.create_collection(
        name,
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


class VectorStoreUnavailable(RuntimeError):
    """The Chroma server did not answer, even after riding out a restart: hybrid search goes on with BM25 alone."""


class DenseIndex:
    """Read side; one client per index version, queried with precomputed query vectors.

    With a server, nothing is contacted before the first query. A query rides out a restart (connection refused,
    5xx) by retrying for up to ~10 s; once the server has failed to answer, each query tries once until it answers
    again, so searches do not each wait 10 s while it is down. A server that does not answer is
    ``VectorStoreUnavailable``."""

    def __init__(
        self,
        path: Path,
        encode: Callable[[list[str]], np.ndarray] | None = None,
        url: str | None = None,
        name: str = COLLECTION,
    ) -> None:
        self._url, self._name, self._path = url, name, path
        self._encode = encode
        self._client: Any = None
        self._collection: Any = None
        self._open_lock = threading.Lock()
        self._count: int | None = None
        self._answering = True
        if not url:
            self._open()

    def _open(self) -> Any:
        with self._open_lock:
            if self._collection is None:
                if self._client is None:
                    self._client = http_client(self._url) if self._url else _client(self._path)
                self._collection = self._client.get_collection(
                    self._name, embedding_function=_embedding_function(self._encode)
                )
            return self._collection

    def _call(self, call: Callable[[Any], Any]) -> Any:
        """``call(collection)``: embedded, once; on a server, with retries as the class says."""
        if not self._url:
            return call(self._open())
        retrying = Retrying(
            stop=stop_after_attempt(RETRIES if self._answering else 1),
            wait=wait_fixed(RETRY_PAUSE),
            retry=retry_if_exception(_transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            result = retrying(lambda: call(self._open()))
        except Exception as exc:
            if not _transient(exc):
                raise
            if self._answering:  # said once per outage, not on every search while it lasts
                log.warning("Chroma server %s is not answering; searches go on without vectors until it does",
                            self._url, exc_info=True)
            self._answering = False
            raise VectorStoreUnavailable(
                f"向量库（Chroma 服务 {self._url}）未响应 / "
                f"the vector store (Chroma server at {self._url}) is not answering: {type(exc).__name__}"
            ) from exc
        if not self._answering:
            log.warning("Chroma server %s answers again", self._url)
        self._answering = True
        return result

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("Chroma server %s not answering (%s); retrying", self._url, type(error).__name__)

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)

    def count(self) -> int:
        if self._count is None:  # a version's collection never changes once published
            self._count = int(self._call(lambda collection: collection.count()))
        return self._count

    def query(self, vector: np.ndarray, n_results: int, where: dict[str, Any] | None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        total = self.count()
        if total == 0 or n_results <= 0:
            return []
        result = self._call(
            lambda collection: collection.query(
                query_embeddings=[vector],
                n_results=min(n_results, total),
                where=where,
                include=["distances"],
            )
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [(chunk_id, 1.0 - float(distance)) for chunk_id, distance in zip(ids, distances, strict=True)]


def _transient(exc: Exception) -> bool:
    """Connection trouble or a server error, as opposed to a bad request or a missing collection."""
    text = f"{type(exc).__name__} {exc}".lower()
    return any(
        word in text
        for word in ("connect", "timeout", "timed out", "refused", "reset", "unavailable", "502", "503", "504")
    )


def read_vectors(path: Path, ids: Sequence[str]) -> np.ndarray:
    """The vectors of an embedded store, in the order of ``ids`` (to copy a version to a server)."""
    client = _client(path)
    try:
        collection = client.get_collection(COLLECTION, embedding_function=_embedding_function(None))
        found: dict[str, np.ndarray] = {}
        step = 1000
        for offset in range(0, len(ids), step):
            batch = list(ids[offset : offset + step])
            got = collection.get(ids=batch, include=["embeddings"])
            for chunk_id, vector in zip(got["ids"], got["embeddings"], strict=True):
                found[chunk_id] = np.asarray(vector, dtype=np.float32)
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[chunk_id] for chunk_id in ids])
    finally:
        _close(client)
