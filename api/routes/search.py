"""``/api/search``, ``/api/cases/similar``, ``/api/documents/{id}``: the knowledge base, via the kb library.

Two controllers: ``SearchController`` (search and similar cases, role area ``search``) and
``DocumentController`` (documents, area ``documents``), each with its path, guard and the search index
holder injected with ``Provide``. Responses are typed (kb's dataclasses and msgspec Structs), so the OpenAPI
schema shows them. ``run_search``, ``similar`` and ``document_or_404`` also serve the web pages (api.routes.pages).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote, quote_plus, urlencode

import msgspec
from litestar import Controller, Response, get
from litestar.di import Provide
from litestar.params import FromPath, Parameter, QueryParameter
from litestar.response import File

from api.auth import require
from api.dependencies import SEARCH, SearchDep
from api.errors import problem
from api.search_service import SearchHolder
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED, UNAVAILABLE
from kb.chroma_store import VectorStoreUnavailable
from kb.search import DocumentGroup as KbDocumentGroup
from kb.search import SearchHit, SimilarCase

MODES = ("hybrid", "bm25", "vector", "dense")
MODE_LABELS = {"hybrid": "混合", "bm25": "关键词", "vector": "语义"}  # the page's choices ("dense" = "vector")
DOC_TYPES = ("预案", "案例", "法律法规", "其他")  # kb.metadata.DOC_TYPES
PAGE_SIZE = 10
DOC_PAGE_SIZE = 30  # "更多来自本文档": every matching chunk of one document, up to this many


# ---- response types (what OpenAPI shows) -----------------------------------------------------------------
# A hit and a document's group are the kb library's own types (kb.search), with the addresses the API adds.
@dataclasses.dataclass(kw_only=True)
class Hit(SearchHit):
    """One chunk as kb found it (document, heading path, offsets, text, marked snippet, scores), and its address."""

    url: str  # the document page, scrolled to this chunk and highlighted, with a way back to the results

    @classmethod
    def of(cls, hit: SearchHit, links: DocumentLinks) -> Hit:
        return cls(**vars(hit), url=links.url(hit.doc_id, hit.order))


@dataclasses.dataclass(kw_only=True)
class DocumentGroup(KbDocumentGroup):
    """The hits of one document on this page, its best score, and how many more of its chunks match."""

    hits: list[Hit]
    more_url: str | None  # 更多来自本文档: this search restricted to the document


class SearchResponse(msgspec.Struct, kw_only=True):
    query: str
    mode: str
    filters: dict[str, str | int]
    total: int  # chunks above the relevance floor, not the page size
    total_is_lower_bound: bool  # "at least total": the dense side's candidates all passed the floor
    documents: int  # documents with matching chunks
    doc: str | None = None  # the document the search was restricted to, if any
    results: list[Hit]  # flat, best first, at most two chunks per document (all, with doc)
    groups: list[DocumentGroup]  # the same hits grouped by document, best document first
    dense_unavailable: bool = False  # hybrid answered by keywords alone: the vector store did not answer


class SimilarCasesResponse(msgspec.Struct, kw_only=True):
    case_id: str | None
    text: str | None
    results: list[SimilarCase]


class Chunk(msgspec.Struct, kw_only=True):
    chunk_id: str
    order: int
    heading_path: str
    start: int
    end: int
    text: str


class DocumentResponse(msgspec.Struct, kw_only=True):
    doc_id: str
    file: str
    title: str
    doc_type: str
    issuer: str | None = None
    date: str | None = None
    year: int | None = None
    doc_number: str | None = None
    hazards: list[str] = msgspec.field(default_factory=list)
    towns: list[str] = msgspec.field(default_factory=list)
    plan_category: str | None = None
    event_date: str | None = None
    place: str | None = None
    figures: dict[str, float] = msgspec.field(default_factory=dict)
    chunk_count: int
    chunks: list[Chunk]
    file_url: str


# ---- shared by the API and the pages ------------------------------------------------------------------
def search_filters(
    type_: str | None, hazard: str | None, town: str | None, year: int | None, doc: str | None = None
) -> dict[str, Any]:
    given = {"doc_type": type_, "hazard": hazard, "town": town, "year": year, "doc_id": doc}
    return {k: v for k, v in given.items() if v not in (None, "")}


class DocumentLinks:
    """The document pages one results page links to, at a chunk, each with a way back to that results page (its
    返回 link). The way back is encoded once per results page: encoding it for every hit was a third of the
    cost of a BM25 search."""

    def __init__(self, back: str) -> None:
        self._back = quote_plus(back)

    def url(self, doc_id: str, order: int) -> str:
        return f"/documents/{quote(doc_id)}?hit={order}&back={self._back}#chunk-{order}"


def search_url(params: dict[str, Any]) -> str:
    return "/search?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def bilingual_bad_request(exc: Exception) -> Exception:
    zh, _, en = str(exc).partition(" / ")
    return problem(400, "bad_parameter", zh, en or zh)


def vector_store_unavailable() -> Exception:
    return problem(
        503,
        "vector_store_unavailable",
        "语义检索暂不可用：向量库未响应，请改用关键词检索（mode=bm25）或稍后再试",
        "vector search is unavailable: the vector store is not answering; use mode=bm25 or retry later",
        headers={"Retry-After": "30"},
    )


def run_search(
    holder: SearchHolder, q: str, mode: str, filters: dict[str, Any], top_k: int
) -> tuple[SearchResponse, bool]:
    """One results page (floor, true count, grouping) and whether the query vector came from the cache.

    ``mode`` is one of ``MODES``: the API's parameter type and the page check it, each saying so in its own way."""
    if not q.strip():
        raise problem(400, "empty_query", "搜索词为空", "the search query is empty", parameter="q")
    doc = filters.get("doc_id")
    with holder.lease() as index:
        try:
            page = index.search_page(q, mode=mode, top_k=DOC_PAGE_SIZE if doc else top_k, filters=filters)
        except ValueError as exc:  # kb's FilterError and bad modes, already in Chinese / English
            raise bilingual_bad_request(exc) from None
        except VectorStoreUnavailable:  # vector mode has nothing else to answer with (kb logged the outage)
            raise vector_store_unavailable() from None
    shown = {k: v for k, v in filters.items() if k != "doc_id"}
    base = {"q": q, "mode": mode, "type": shown.get("doc_type")} | {k: shown.get(k) for k in ("hazard", "town", "year")}
    links = DocumentLinks(search_url({**base, "doc": doc}))
    made: dict[str, Hit] = {}  # a hit shows in the flat list and in its document's group: made once

    def hit(found: SearchHit) -> Hit:
        return made.get(found.chunk_id) or made.setdefault(found.chunk_id, Hit.of(found, links))

    groups = [
        DocumentGroup(
            **vars(g) | {"hits": [hit(h) for h in g.hits]},
            more_url=search_url({**base, "doc": g.doc_id}) if g.more and not doc else None,
        )
        for g in page.groups
    ]
    response = SearchResponse(
        query=q,
        mode=mode,
        filters=shown,
        total=page.total,
        total_is_lower_bound=page.total_is_lower_bound,
        documents=page.documents,
        doc=doc,
        results=[hit(h) for h in page.hits],
        groups=groups,
        dense_unavailable=page.dense_unavailable,
    )
    return response, bool(page.query_vector_cached)


def similar(holder: SearchHolder, text: str | None, case_id: str | None, top_k: int) -> list[SimilarCase]:
    if bool(text and text.strip()) == bool(case_id):
        raise problem(400, "bad_parameter", "请给出 text 或 case_id 之一", "give exactly one of text or case_id")
    with holder.lease() as index:
        try:
            return list(index.similar_cases(case_id=case_id, text=text, top_k=top_k))
        except KeyError:
            raise problem(404, "unknown_case", f"没有案例 {case_id!r}", f"no case {case_id!r}") from None
        except ValueError as exc:
            raise bilingual_bad_request(exc) from None


def document_or_404(index: Any, doc_id: str) -> dict[str, Any]:
    """A document of the leased ``index``: metadata, chunks in order and its server path (``path``); else a 404."""
    doc = index.get_document(doc_id)
    if doc is None:
        raise problem(404, "unknown_document", f"没有文档 {doc_id!r}", f"no document {doc_id!r}", doc_id=doc_id)
    return dict(doc)


def query_terms(q: str) -> list[str]:
    """Words to mark in results: jieba tokens of the query, longest first, single characters dropped."""
    if not q.strip():
        return []
    import jieba

    words = {w.strip() for w in jieba.lcut_for_search(q) if len(w.strip()) > 1}
    return sorted(words, key=len, reverse=True)


# ---- the API ----------------------------------------------------------------------------------------------
class SearchController(Controller):
    """Search plans, laws and cases; similar cases. Staff and admins."""

    path = "/api"
    tags: ClassVar[list[str]] = ["search"]
    guards: ClassVar[list[Any]] = [require("search")]
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SEARCH}

    @get(
        "/search",
        responses={**ERROR_RESPONSES, **UNAVAILABLE},
        summary="检索预案与案例 / search plans and cases",
        description="结果按相关度排序，低于相关度下限的不返回；`results` 为扁平列表（每个文档最多两段），"
        "`groups` 按文档分组；`total` 是高于下限的全部匹配段数。加 `doc` 只看一个文档的匹配段（更多来自本文档）。"
        " Results above a relevance floor, at most two chunks per document in `results`, grouped in `groups`; "
        "`total` counts every matching chunk. `doc` restricts the search to one document.",
        sync_to_thread=True,
    )
    def search(
        self,
        search_holder: SearchDep,
        q: Annotated[str, Parameter(description="搜索词 / query", min_length=1, max_length=500)],
        mode: Annotated[
            Literal["hybrid", "bm25", "vector", "dense"], Parameter(description="hybrid | bm25 | vector")
        ] = "hybrid",
        type_: Annotated[
            Literal["预案", "案例", "法律法规", "其他"] | None,
            QueryParameter(name="type", description="文档类型 / document type"),
        ] = None,
        hazard: Annotated[str | None, Parameter(description="灾种 / hazard")] = None,
        town: Annotated[str | None, Parameter(description="镇街 / town (name or code)")] = None,
        year: Annotated[int | None, Parameter(ge=1900, le=2100, description="年份 / year")] = None,
        doc: Annotated[str | None, Parameter(max_length=300, description="只看此文档 / one document only")] = None,
        top_k: Annotated[int, Parameter(ge=1, le=100, description="结果数 / number of results")] = PAGE_SIZE,
    ) -> Response[SearchResponse]:
        filters = search_filters(type_, hazard, town, year, doc)
        body, cached = run_search(search_holder, q, mode, filters, top_k)
        return Response(body, headers={"X-Query-Cache": "hit" if cached else "miss"})

    @get(
        "/cases/similar",
        responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
        summary="相似案例 / similar cases",
        sync_to_thread=True,
    )
    def similar_cases(
        self,
        search_holder: SearchDep,
        text: Annotated[str | None, Parameter(max_length=5000, description="案情描述 / case description")] = None,
        case_id: Annotated[str | None, Parameter(max_length=200, description="案例编号 / case id")] = None,
        top_k: Annotated[int, Parameter(ge=1, le=50)] = 5,
    ) -> SimilarCasesResponse:
        found = similar(search_holder, text, case_id, top_k)
        return SimilarCasesResponse(case_id=case_id, text=text, results=found)


class DocumentController(Controller):
    """Documents of the knowledge base: metadata and chunks, or the original file. Staff and admins."""

    path = "/api/documents"
    tags: ClassVar[list[str]] = ["search"]
    guards: ClassVar[list[Any]] = [require("documents")]
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SEARCH}

    @get(
        "/{doc_path:path}",
        responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
        summary="文档元数据与分块；加 /file 下载原文件 / document metadata and chunks; append /file for the original",
        description="文档编号是知识库中的相对路径（如 plans/xxx.md）。`/api/documents/{id}` 返回元数据与按顺序的分块，"
        "`/api/documents/{id}/file` 下载原文件。Document ids are paths such as plans/xxx.md.",
        sync_to_thread=True,
    )
    def get_document(self, search_holder: SearchDep, doc_path: FromPath[str]) -> Response[DocumentResponse]:
        doc_id = doc_path.lstrip("/")
        with search_holder.lease() as index:
            # ".../file" asks for the original file, unless a document's own id ends that way
            wants_file = doc_id.endswith("/file") and index.get_document(doc_id) is None
            doc_id = doc_id.removesuffix("/file") if wants_file else doc_id
            doc = document_or_404(index, doc_id)
        source = doc.pop("path", None)  # a server path: used to send the file, never shown
        if not wants_file:
            return Response(msgspec.convert({**doc, "file_url": f"/api/documents/{doc_id}/file"}, DocumentResponse))
        path = Path(source) if source else None
        if path is None or not path.is_file():
            raise problem(404, "no_original", "原文件不在服务器上", "the original file is not available", doc_id=doc_id)
        return File(path=path, filename=path.name)  # type: ignore[return-value]


SEARCH_ROUTES = [SearchController, DocumentController]
