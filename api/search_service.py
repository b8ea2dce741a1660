"""The published search index, served like the snapshot: leased per request, switched without downtime.

The index itself (hybrid BM25 + vectors, documents, similar cases) is the ``kb`` library's; this
module only opens the version named by ``HubPaths.kb_index/CURRENT`` and hands it to requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.errors import not_published, problem
from api.versioned import NotPublishedError, VersionedResource

logger = logging.getLogger("api.search")


def open_kb_index(path: Path) -> Any:
    from kb.search import open_index  # lazy: loads the embedding model, heavy

    return open_index(path)


def close_kb_index(index: Any) -> None:
    close = getattr(index, "close", None)
    if callable(close):
        close()


class SearchHolder:
    def __init__(self, index_root: Path) -> None:
        self.versions: VersionedResource[Any] = VersionedResource(index_root, open_kb_index, close_kb_index)

    @contextmanager
    def lease(self) -> Iterator[Any]:
        from kb.search import ModelMismatch

        try:
            version = self.versions.acquire()
        except NotPublishedError:
            raise not_published("检索索引", "search index") from None
        except ModelMismatch as exc:  # built with another model or backend: say which, do not guess
            zh, _, en = str(exc).partition(" / ")
            raise problem(503, "index_encoder_mismatch", zh, en or zh) from None
        try:
            yield version.resource
        finally:
            self.versions.release(version)

    def warm_up_in_background(self) -> None:
        """Load the embedding model and vectors now, so the first search does not wait seconds for them."""

        def warm() -> None:
            try:
                if self.versions.current_path() is None:  # opens the index: may already fail
                    return  # nothing published yet: the first request after a publish loads it
                with self.lease() as index:
                    warm_up = getattr(index, "warm_up", None)
                    if callable(warm_up):
                        warm_up()
            except Exception:  # a broken index: requests will say so, with the reason
                logger.warning("search index warm-up failed", exc_info=True)

        threading.Thread(target=warm, name="search-warm-up", daemon=True).start()

    def close(self) -> None:
        self.versions.close()
