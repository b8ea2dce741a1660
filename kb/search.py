"""Hybrid search over one published index version: BM25 + dense, fused (kb/fusion.py).

``KnowledgeBase`` loads a version once (chunk table, BM25, Chroma; the embedding model lazily,
only when a dense query needs it) and is safe to share between threads for reads.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq

from hub.core import pointer
from hub.core.lru import LruCache
from kb import layout
from kb.chroma_store import DenseIndex, VectorStoreUnavailable
from kb.embedding import Embedder
from kb.filters import SearchFilters
from kb.fusion import fuse
from kb.settings import KbSettings
from kb.snippets import make_snippet, term_pattern
from kb.tokenizer import shared_tokenizer

Mode = Literal["hybrid", "bm25", "dense", "vector"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "dense")
MODE_ALIASES = {"vector": "dense"}  # the API's name for the dense side
DEFAULT_PER_DOCUMENT = 2  # chunks of one document on a results page before "更多来自本文档"
BROAD_FILTER_SHARE = 0.2  # filters letting through at least this share of chunks are applied after the query
UNFILTERED_LIMIT = 6400  # candidates asked for unfiltered before a broad filter goes to Chroma's filtered search
FilterInput = SearchFilters | dict[str, Any] | None


class IndexNotFound(FileNotFoundError):
    """No published index at the given path."""


class ModelMismatch(ValueError):
    """The index was embedded with another model (or backend, or quantisation) than the settings name."""


def indexed_encoder(manifest: dict[str, Any]) -> dict[str, Any]:
    """The encoder an index version was embedded with; versions from before backends were PyTorch fp32."""
    recorded = manifest.get("encoder")
    if isinstance(recorded, dict):
        return recorded
    return {"model": manifest.get("model_id"), "backend": "torch", "quantization": None}


def check_encoder(manifest: dict[str, Any], settings: KbSettings, version: Path) -> None:
    """Refuse to query an index with vectors from another encoder: the similarities would be meaningless."""
    indexed = indexed_encoder(manifest)
    if not indexed.get("model"):
        return
    wanted = settings.encoder
    if indexed.get("model") != wanted["model"]:
        raise ModelMismatch(
            f"索引用模型 {indexed['model']} 构建，当前设置为 {wanted['model']}；请重建索引或改回 HUB_KB_MODEL / "
            f"index {version} was embedded with {indexed['model']}, settings name {wanted['model']}: "
            "re-index or set HUB_KB_MODEL back"
        )
    if (indexed.get("backend"), indexed.get("quantization")) != (wanted["backend"], wanted["quantization"]):
        was = f"{indexed.get('backend')}" + (f" ({indexed['quantization']})" if indexed.get("quantization") else "")
        now = f"{wanted['backend']}" + (f" ({wanted['quantization']})" if wanted["quantization"] else "")
        raise ModelMismatch(
            f"索引的向量由编码器 {was} 生成，当前设置为 {now}；请用当前设置重建索引（hub kb index）"
            f"或把 HUB_KB_BACKEND 改回 {indexed.get('backend')} / index {version} was embedded with backend {was}, "
            f"settings name {now}: re-index or set HUB_KB_BACKEND={indexed.get('backend')}"
        )


@dataclass
class SearchHit:
    doc_id: str
    file: str
    title: str
    doc_type: str
    heading_path: str
    text: str
    snippet: str
    snippet_html: str
    score: float
    chunk_id: str
    order: int
    start: int
    end: int
    bm25_rank: int | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DocumentGroup:
    """One document's hits on a results page: its best chunks and how many more of its chunks match."""

    doc_id: str
    file: str
    title: str
    doc_type: str
    score: float  # its best chunk's score
    matching_chunks: int  # its chunks above the relevance floor among the candidates
    more: int  # matching chunks not shown ("更多来自本文档")
    hits: list[SearchHit]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchPage:
    """A results page: the flat hits (score order, a few per document) and the same hits grouped by document."""

    query: str
    mode: str
    total: int  # chunks above the relevance floor (not the page size)
    total_is_lower_bound: bool  # the dense side's candidates all passed the floor: there may be more
    documents: int  # documents with at least one chunk above the floor among the candidates
    hits: list[SearchHit]
    groups: list[DocumentGroup]
    query_vector_cached: bool | None = None  # the query's embedding came from the LRU cache (None: not embedded)
    dense_unavailable: bool = False  # hybrid without its dense side: the vector store did not answer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Ranking:
    mode: str
    tokens: list[str]
    bm25: list[tuple[int, float]]
    dense: list[tuple[int, float]]
    ranked: list[tuple[int, float]]
    bm25_matching: np.ndarray | None  # chunks with a positive BM25 score, over the whole index
    candidates: int
    dense_unavailable: bool = False

    def hit(self, kb: KnowledgeBase, row: int, score: float, pattern: Any) -> SearchHit:
        if not hasattr(self, "_bm25_rank"):
            self._bm25_rank = {r: (rank, s) for rank, (r, s) in enumerate(self.bm25, start=1)}
            self._dense_rank = {r: (rank, s) for rank, (r, s) in enumerate(self.dense, start=1)}
        return kb._hit(row, score, pattern, self._bm25_rank.get(row), self._dense_rank.get(row))


@dataclass
class SimilarCase:
    doc_id: str
    file: str
    title: str
    score: float
    event_date: str | None
    place: str | None
    hazards: list[str]
    figures: dict[str, float]
    best_heading_path: str
    best_snippet: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_version(index_path: Path) -> Path:
    """A version directory itself, or the one ``CURRENT`` points to under an index root."""
    if (index_path / layout.MANIFEST).exists():
        return index_path
    current = pointer.read_current(index_path)
    if current is None:
        raise IndexNotFound(f"索引不存在或尚未发布 / no published index at {index_path} (run `hub kb index` first)")
    return current


def as_filters(filters: FilterInput) -> SearchFilters:
    """Filters as an object, also from a dict with keys doc_type (or type), hazard, town, issuer, year."""
    if filters is None:
        return SearchFilters()
    if isinstance(filters, SearchFilters):
        return filters
    year = filters.get("year")
    return SearchFilters(
        doc_type=filters.get("doc_type") or filters.get("type"),
        hazard=filters.get("hazard"),
        town=filters.get("town"),
        issuer=filters.get("issuer"),
        year=int(year) if year not in (None, "") else None,
        doc_id=filters.get("doc_id") or filters.get("doc") or None,
    )


def chroma_where(filters: SearchFilters, allowed_docs: list[str] | None) -> dict[str, Any] | None:
    """The same filter as a Chroma ``where`` on the chunk metadata the indexer wrote.

    An issuer filter is a substring match, which ``where`` cannot express: then the documents the
    filter allows are listed by id instead.
    """
    if allowed_docs is None:
        return None
    if filters.issuer:
        return {"doc_id": allowed_docs[0]} if len(allowed_docs) == 1 else {"doc_id": {"$in": allowed_docs}}
    clauses: list[dict[str, Any]] = []
    if filters.doc_id:
        clauses.append({"doc_id": filters.doc_id})
    if filters.doc_type:
        clauses.append({"doc_type": filters.doc_type})
    if filters.year:
        clauses.append({"year": int(filters.year)})
    if filters.hazard:
        clauses.append({"hazards": {"$contains": filters.hazard}})
    if filters.town:
        clauses.append({"towns": {"$contains": filters.town}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def open_index(index_path: Path, settings: KbSettings | None = None) -> KnowledgeBase:
    """The published version under an index root (or a version directory), loaded for searching."""
    return KnowledgeBase(Path(index_path), settings)


class KnowledgeBase:
    def __init__(self, index_path: Path, settings: KbSettings | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings or KbSettings.from_env()
        self.version = resolve_version(Path(index_path))
        self.manifest: dict[str, Any] = json.loads((self.version / layout.MANIFEST).read_text(encoding="utf-8"))
        check_encoder(self.manifest, self.settings, self.version)
        documents = json.loads((self.version / layout.DOCUMENTS).read_text(encoding="utf-8"))
        self.documents: dict[str, dict[str, Any]] = {d["doc_id"]: d for d in documents}
        table = pq.read_table(self.version / layout.CHUNKS)
        self.chunk_ids: list[str] = table.column("chunk_id").to_pylist()
        self.chunk_doc: list[str] = table.column("doc_id").to_pylist()
        self.chunk_order: list[int] = table.column("order").to_pylist()
        self.chunk_path: list[str] = table.column("heading_path").to_pylist()
        self.chunk_start: list[int] = table.column("start").to_pylist()
        self.chunk_end: list[int] = table.column("end").to_pylist()
        self.chunk_text: list[str] = table.column("text").to_pylist()
        doc_numbers = {doc_id: number for number, doc_id in enumerate(self.documents)}
        self._doc_list = list(self.documents)
        self._chunk_doc_number = np.array([doc_numbers[d] for d in self.chunk_doc], dtype=np.int64)
        self._chunks_by_doc: dict[str, list[int]] = {}
        for row, doc_id in enumerate(self.chunk_doc):
            self._chunks_by_doc.setdefault(doc_id, []).append(row)

        import bm25s

        self._bm25 = bm25s.BM25.load(str(self.version / layout.BM25_DIR), mmap=False)
        self._tokenizer = shared_tokenizer()
        self._embedder = embedder or Embedder(self.settings)  # no cache for queries: each is new
        self._dense: Any = None
        self._dense_lock = threading.Lock()
        self._mask_cache: dict[SearchFilters, tuple[np.ndarray, list[str]]] = {}
        self._mask_lock = threading.Lock()
        self.query_cache: LruCache[str, np.ndarray] = LruCache(self.settings.query_cache_size)

    # ---- loading --------------------------------------------------------------------------
    def _dense_index(self) -> Any:
        with self._dense_lock:
            if self._dense is None:
                dense = layout.dense_store(self.manifest)
                if dense.get("store") == "server":
                    url = self.settings.chroma_url or str(dense.get("url") or "")
                    if not url:
                        raise IndexNotFound(
                            f"索引 {self.version.name} 的向量在 Chroma 服务器上，请设置 HUB_CHROMA_URL / "
                            f"the vectors of {self.version.name} are on a Chroma server: set HUB_CHROMA_URL"
                        )
                    self._dense = DenseIndex(
                        self.version, encode=self._encode_texts, url=url, name=str(dense["collection"])
                    )
                else:
                    self._dense = DenseIndex(self.version / layout.CHROMA_DIR, encode=self._encode_texts)
            return self._dense

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.embed_query(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.query_vector(text)[0]

    def query_vector(self, text: str) -> tuple[np.ndarray, bool]:
        """(the query's vector, whether it came from the cache): a small LRU cache of recent queries (staff
        repeat searches), else the model, one query per forward pass. Not batched across concurrent searches:
        on this int8 encoder a pass of eight queries costs eight passes of one, and its activations are
        quantised per batch, so a query's vector (and its ranking) would depend on the queries beside it."""

        def embed() -> np.ndarray:
            vector = self._embedder.embed_query(text.strip())
            vector.setflags(write=False)
            return vector

        return self.query_cache.get_or_compute(text.strip(), embed)

    def warm_up(self) -> None:
        """Load the model and the dense index now rather than on the first query."""
        self._embedder.embed_query("预热")
        self._dense_index().count()

    def close(self) -> None:
        if self._dense is not None:
            self._dense.close()

    # ---- filters --------------------------------------------------------------------------
    def _filter_mask(self, filters: SearchFilters) -> tuple[np.ndarray, list[str]]:
        """(allowed chunks as a boolean mask, allowed doc ids); cached per filter."""
        with self._mask_lock:
            if filters not in self._mask_cache:
                allowed_docs = np.array([filters.matches(self.documents[d]) for d in self._doc_list], dtype=bool)
                mask = allowed_docs[self._chunk_doc_number] if len(self._doc_list) else np.zeros(0, dtype=bool)
                ids = [d for d, ok in zip(self._doc_list, allowed_docs, strict=True) if ok]
                if len(self._mask_cache) > 256:
                    self._mask_cache.clear()
                self._mask_cache[filters] = (mask, ids)
            return self._mask_cache[filters]

    # ---- retrieval ------------------------------------------------------------------------
    def _bm25_candidates(
        self, tokens: list[str], n: int, mask: np.ndarray | None
    ) -> tuple[list[tuple[int, float]], np.ndarray | None]:
        """(best n (row, score) with a positive score, which chunks have a positive score at all)."""
        known = [t for t in tokens if t in self._bm25.vocab_dict]
        if not known or not self.chunk_ids:
            return [], None
        scores = self._bm25.get_scores(known)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        matching = scores > 0
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(row), float(scores[row])) for row in top if scores[row] > 0], matching

    def _dense_candidates(
        self,
        query: str,
        n: int,
        filters: SearchFilters,
        mask: np.ndarray | None,
        allowed_docs: list[str] | None,
        vector: np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        if not self.chunk_ids or (allowed_docs is not None and not allowed_docs):
            return []
        if vector is None:
            vector = self.embed_query(query)
        dense = self._dense_index()
        if mask is not None:
            share = float(mask.mean())
            if share >= BROAD_FILTER_SHARE:
                # A broad filter: Chroma's filtered search is slow on large collections (150-180 ms at 100k
                # chunks), while an unfiltered query for a few times more candidates, filtered here, finds the
                # same top n (7 ms for 1,200 at 100k). Queries near chunks the filter excludes (a case-like
                # question, filtered to laws) need more of them: four times as many, up to UNFILTERED_LIMIT.
                wanted = min(len(self.chunk_ids), int(n / share * 2) + 10)
                while True:
                    hits = [(layout.row_of(c), s) for c, s in dense.query(vector, wanted, None)]
                    kept = [(row, s) for row, s in hits if mask[row]]
                    if len(kept) >= n or wanted >= len(self.chunk_ids):
                        return kept[:n]
                    if wanted >= UNFILTERED_LIMIT:
                        break
                    wanted = min(len(self.chunk_ids), wanted * 4, UNFILTERED_LIMIT)
        hits = dense.query(vector, n, chroma_where(filters, allowed_docs))
        return [(layout.row_of(chunk_id), similarity) for chunk_id, similarity in hits]

    def _rank(
        self,
        query: str,
        mode: str,
        filters: FilterInput,
        exclude_docs: set[str] | None,
        candidates: int,
        vector: np.ndarray | None = None,
    ) -> _Ranking:
        """Both sides' candidates and their fusion, best first (the one ranking behind search and search_page)."""
        mode = MODE_ALIASES.get(mode, mode)
        if mode not in MODES:
            raise ValueError(f"参数 mode 无效：{mode!r}，可选 hybrid/bm25/dense / invalid mode {mode!r}")
        filters = as_filters(filters).normalised(self.settings.town_aliases)
        mask, allowed = (None, None) if filters.is_empty() else self._filter_mask(filters)
        tokens = self._tokenizer.tokenize(query)
        bm25: list[tuple[int, float]] = []
        bm25_matching: np.ndarray | None = None
        if mode in ("hybrid", "bm25"):
            bm25, bm25_matching = self._bm25_candidates(tokens, candidates, mask)
        dense: list[tuple[int, float]] = []
        dense_unavailable = False
        if mode in ("hybrid", "dense"):
            try:
                dense = self._dense_candidates(query, candidates, filters, mask, allowed, vector)
            except VectorStoreUnavailable:
                if mode == "dense":
                    raise
                # the BM25 files are the version's own: keyword results beat no results while the server is down
                # (DenseIndex logs the outage once)
                dense_unavailable = True
        if exclude_docs:
            bm25 = [(row, s) for row, s in bm25 if self.chunk_doc[row] not in exclude_docs]
            dense = [(row, s) for row, s in dense if self.chunk_doc[row] not in exclude_docs]
        if mode == "bm25":
            fused = {row: score for row, score in bm25}
        elif mode == "dense":
            fused = {row: score for row, score in dense}
        else:
            fused = fuse(self.settings.fusion, bm25, dense, self.settings.bm25_weight, self.settings.rrf_k)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return _Ranking(mode, tokens, bm25, dense, ranked, bm25_matching, candidates, dense_unavailable)

    def search(
        self,
        query: str,
        mode: Mode = "hybrid",
        top_k: int = 10,
        filters: FilterInput = None,
        exclude_docs: set[str] | None = None,
    ) -> list[SearchHit]:
        """The top_k chunks by fused score, no floor and no grouping (what the evaluation measures)."""
        query = query.strip()
        if MODE_ALIASES.get(mode, mode) not in MODES:
            raise ValueError(f"参数 mode 无效：{mode!r}，可选 hybrid/bm25/dense / invalid mode {mode!r}")
        if not query or top_k <= 0:
            return []
        ranking = self._rank(query, mode, filters, exclude_docs, max(self.settings.candidates, top_k * 2))
        pattern = term_pattern(ranking.tokens)
        return [ranking.hit(self, row, score, pattern) for row, score in ranking.ranked[:top_k]]

    def search_page(
        self,
        query: str,
        mode: Mode = "hybrid",
        top_k: int = 10,
        filters: FilterInput = None,
        per_document: int = DEFAULT_PER_DOCUMENT,
        vector: np.ndarray | None = None,
    ) -> SearchPage:
        """What a person sees: chunks above the relevance floor, at most ``per_document`` from one document
        (all of them when the filter names one document), grouped by document, with the true count.

        A chunk is relevant when the query's words occur in it (BM25 score above 0) or, on the dense side,
        its cosine similarity reaches ``HUB_KB_DENSE_FLOOR``; a query of nonsense has neither.
        ``vector`` is the query's embedding when the caller already has it (batched or cached).
        """
        query = query.strip()
        resolved = as_filters(filters)
        if MODE_ALIASES.get(mode, mode) not in MODES:
            raise ValueError(f"参数 mode 无效：{mode!r}，可选 hybrid/bm25/dense / invalid mode {mode!r}")
        if not query or top_k <= 0:
            return SearchPage(query, MODE_ALIASES.get(mode, mode), 0, False, 0, [], [])
        cached: bool | None = None
        if vector is None and MODE_ALIASES.get(mode, mode) in ("hybrid", "dense") and self.chunk_ids:
            vector, cached = self.query_vector(query)
        ranking = self._rank(query, mode, resolved, None, max(self.settings.candidates, top_k * 2), vector)
        floor = self.settings.dense_floor
        pattern = term_pattern(ranking.tokens)
        bm25_rows = {row for row, _ in ranking.bm25}
        # In dense-only mode BM25 did not run: the query's words occurring in a chunk still make it relevant.
        dense_ok = {
            row
            for row, similarity in ranking.dense
            if similarity >= floor or (pattern is not None and pattern.search(self.chunk_text[row]))
        }
        relevant = [(row, score) for row, score in ranking.ranked if row in bm25_rows or row in dense_ok]
        # The true count: every chunk the query's words occur in (exact, over the whole index), plus the
        # dense side's chunks above the floor that BM25 did not find. The dense side only ever looks at its
        # candidates, so when all of them pass the floor the count is a lower bound.
        matching = ranking.bm25_matching
        if matching is None:
            total = len(dense_ok)
        else:
            total = int(np.count_nonzero(matching)) + sum(1 for row in dense_ok if not matching[row])
        lower_bound = len(ranking.dense) >= ranking.candidates and len(dense_ok) == len(ranking.dense)
        per_doc_counts: dict[str, int] = {}
        for row, _ in relevant:
            per_doc_counts[self.chunk_doc[row]] = per_doc_counts.get(self.chunk_doc[row], 0) + 1
        limit = top_k if resolved.doc_id else per_document
        shown: list[tuple[int, float]] = []
        taken: dict[str, int] = {}
        for row, score in relevant:
            doc_id = self.chunk_doc[row]
            if taken.get(doc_id, 0) >= limit:
                continue
            taken[doc_id] = taken.get(doc_id, 0) + 1
            shown.append((row, score))
            if len(shown) >= top_k:
                break
        hits = [ranking.hit(self, row, score, pattern) for row, score in shown]
        groups: dict[str, DocumentGroup] = {}
        for hit in hits:
            group = groups.get(hit.doc_id)
            if group is None:
                group = groups[hit.doc_id] = DocumentGroup(
                    doc_id=hit.doc_id,
                    file=hit.file,
                    title=hit.title,
                    doc_type=hit.doc_type,
                    score=hit.score,
                    matching_chunks=per_doc_counts.get(hit.doc_id, 0),
                    more=0,
                    hits=[],
                )
            group.hits.append(hit)
        for group in groups.values():
            group.more = max(0, group.matching_chunks - len(group.hits))
        return SearchPage(
            query=query,
            mode=ranking.mode,
            total=max(total, len(relevant)),
            total_is_lower_bound=lower_bound,
            documents=len(per_doc_counts),
            hits=hits,
            groups=list(groups.values()),
            query_vector_cached=cached,
            dense_unavailable=ranking.dense_unavailable,
        )

    def _hit(
        self,
        row: int,
        score: float,
        pattern: Any,
        bm25: tuple[int, float] | None,
        dense: tuple[int, float] | None,
    ) -> SearchHit:
        document = self.documents[self.chunk_doc[row]]
        text = self.chunk_text[row]
        plain, marked = make_snippet(text, pattern)
        return SearchHit(
            doc_id=document["doc_id"],
            file=document["file"],
            title=document.get("title") or document["doc_id"],
            doc_type=document.get("doc_type") or "其他",
            heading_path=self.chunk_path[row],
            text=text,
            snippet=plain,
            snippet_html=marked,
            score=round(float(score), 6),
            chunk_id=self.chunk_ids[row],
            order=self.chunk_order[row],
            start=self.chunk_start[row],
            end=self.chunk_end[row],
            bm25_rank=bm25[0] if bm25 else None,
            bm25_score=round(bm25[1], 6) if bm25 else None,
            dense_rank=dense[0] if dense else None,
            dense_score=round(dense[1], 6) if dense else None,
        )

    # ---- similar cases --------------------------------------------------------------------
    def case_summary_text(self, doc_id: str, max_chars: int = 600) -> str:
        """The title and opening of a case: what an event description would say about it."""
        document = self.get_document(doc_id)
        if document is None:
            raise KeyError(f"文档不存在 / no document with id {doc_id!r}")
        opening = ""
        for chunk in document["chunks"]:
            opening += chunk["text"] + "\n"
            if len(opening) >= max_chars:
                break
        return f"{document['title']}\n{opening[:max_chars]}"

    def similar_cases(
        self,
        case_id: str | None = None,
        text: str | None = None,
        top_k: int = 5,
        filters: FilterInput = None,
    ) -> list[SimilarCase]:
        """Past cases (type 案例) most like a given case or a free-text event description, one row per case."""
        if bool(case_id) == bool(text):
            raise ValueError("请给出 case_id 或 text 之一 / give exactly one of case_id or text")
        query = self.case_summary_text(case_id) if case_id else str(text)
        base = as_filters(filters)
        case_filters = SearchFilters("案例", base.hazard, base.town, base.issuer, base.year)
        hits = self.search(
            query[:1000],
            "hybrid",
            top_k=max(self.settings.candidates, 50),
            filters=case_filters,
            exclude_docs={case_id} if case_id else None,
        )
        by_doc: dict[str, tuple[float, SearchHit]] = {}
        for hit in hits:
            total, best = by_doc.get(hit.doc_id, (0.0, hit))
            by_doc[hit.doc_id] = (total + hit.score, best)  # several matching passages make a closer case
        ranked = sorted(by_doc.items(), key=lambda item: -item[1][0])[:top_k]
        results = []
        for doc_id, (score, best) in ranked:
            document = self.documents[doc_id]
            results.append(
                SimilarCase(
                    doc_id=doc_id,
                    file=document["file"],
                    title=document.get("title") or doc_id,
                    score=round(score, 6),
                    event_date=document.get("event_date"),
                    place=document.get("place"),
                    hazards=list(document.get("hazards") or []),
                    figures=dict(document.get("figures") or {}),
                    best_heading_path=best.heading_path,
                    best_snippet=best.snippet,
                )
            )
        return results

    # ---- documents ------------------------------------------------------------------------
    def get_document(self, doc_id: str) -> dict[str, Any] | None:
        """Metadata, chunks in order and the original file path; None when unknown."""
        document = self.documents.get(doc_id)
        if document is None:
            return None
        rows = sorted(self._chunks_by_doc.get(doc_id, []), key=lambda r: self.chunk_order[r])
        chunks = [
            {
                "chunk_id": self.chunk_ids[r],
                "order": self.chunk_order[r],
                "heading_path": self.chunk_path[r],
                "start": self.chunk_start[r],
                "end": self.chunk_end[r],
                "text": self.chunk_text[r],
            }
            for r in rows
        ]
        return {**document, "chunks": chunks}

    def list_documents(self, filters: FilterInput = None) -> list[dict[str, Any]]:
        filters = as_filters(filters).normalised(self.settings.town_aliases)
        return [dict(d) for d in self.documents.values() if filters.matches(d)]
