"""``/api/search``, ``/api/cases/similar``, ``/api/documents/{id}``: the knowledge base, via the kb library."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

from litestar import Response, get
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import File

from api.auth import require
from api.errors import problem
from api.search_service import SearchHolder
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED, UNAVAILABLE
from hub.core.safe_files import refusal

MODES = ("hybrid", "bm25", "vector", "dense")


def plain(value: Any) -> Any:
    """kb returns dataclasses; make them JSON-ready dicts."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return value.name
    return value


def search_filters(type_: str | None, hazard: str | None, town: str | None, year: int | None) -> dict[str, Any]:
    given = {"doc_type": type_, "hazard": hazard, "town": town, "year": year}
    return {k: v for k, v in given.items() if v not in (None, "")}


def run_search(holder: SearchHolder, q: str, mode: str, filters: dict[str, Any], top_k: int) -> list[dict[str, Any]]:
    if not q.strip():
        raise problem(400, "empty_query", "搜索词为空", "the search query is empty", parameter="q")
    if mode not in MODES:
        raise problem(400, "bad_parameter", f"mode 必须是 {'|'.join(MODES)}", f"mode must be one of {MODES}")
    with holder.lease() as index:
        try:
            return plain(index.search(q, mode=mode, filters=filters, top_k=top_k))
        except ValueError as exc:  # kb's FilterError and bad modes, already in Chinese / English
            raise bilingual_bad_request(exc) from None


def bilingual_bad_request(exc: Exception) -> Exception:
    zh, _, en = str(exc).partition(" / ")
    return problem(400, "bad_parameter", zh, en or zh)


@get(
    "/api/search",
    guards=[require("search")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **UNAVAILABLE},
    tags=["search"],
    summary="检索预案与案例 / search plans and cases",
    sync_to_thread=True,
)
def search(
    state: State,
    q: Annotated[str, Parameter(description="搜索词 / query", min_length=1, max_length=500)],
    mode: Annotated[
        Literal["hybrid", "bm25", "vector", "dense"], Parameter(description="hybrid | bm25 | vector")
    ] = "hybrid",
    # kb's document types (kb.metadata.DOC_TYPES), as an enum so the schema says which values exist.
    type_: Annotated[
        Literal["预案", "案例", "法律法规", "其他"] | None,
        Parameter(query="type", description="文档类型 / document type"),
    ] = None,
    hazard: Annotated[str | None, Parameter(description="灾种 / hazard")] = None,
    town: Annotated[str | None, Parameter(description="镇街 / town (name or code)")] = None,
    year: Annotated[int | None, Parameter(ge=1900, le=2100, description="年份 / year")] = None,
    top_k: Annotated[int, Parameter(ge=1, le=100, description="结果数 / number of results")] = 10,
) -> dict[str, Any]:
    filters = search_filters(type_, hazard, town, year)
    results = run_search(state.search, q, mode, filters, top_k)
    return {"query": q, "mode": mode, "filters": filters, "results": results}


@get(
    "/api/cases/similar",
    guards=[require("search")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
    tags=["search"],
    summary="相似案例 / similar cases",
    sync_to_thread=True,
)
def similar_cases(
    state: State,
    text: Annotated[str | None, Parameter(max_length=5000, description="案情描述 / case description")] = None,
    case_id: Annotated[str | None, Parameter(max_length=200, description="案例编号 / case id")] = None,
    top_k: Annotated[int, Parameter(ge=1, le=50)] = 5,
) -> dict[str, Any]:
    if bool(text and text.strip()) == bool(case_id):
        raise problem(400, "bad_parameter", "请给出 text 或 case_id 之一", "give exactly one of text or case_id")
    holder: SearchHolder = state.search
    with holder.lease() as index:
        try:
            found = index.similar_cases(case_id=case_id, text=text, top_k=top_k)
        except KeyError:
            raise problem(404, "unknown_case", f"没有案例 {case_id!r}", f"no case {case_id!r}") from None
        except ValueError as exc:
            raise bilingual_bad_request(exc) from None
        return {"case_id": case_id, "text": text, "results": plain(found)}


def _document(holder: SearchHolder, doc_id: str) -> Any:
    with holder.lease() as index:
        doc = index.get_document(doc_id)
    if doc is None:
        raise problem(404, "unknown_document", f"没有文档 {doc_id!r}", f"no document {doc_id!r}", doc_id=doc_id)
    return doc


@get(
    "/api/documents/{doc_path:path}",
    guards=[require("documents")],
    security=SECURED,
    responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
    tags=["search"],
    summary="文档元数据与分块；加 /file 下载原文件 / document metadata and chunks; append /file for the original",
    description="文档编号是知识库中的相对路径（如 plans/xxx.md）。`/api/documents/{id}` 返回元数据与按顺序的分块，"
    "`/api/documents/{id}/file` 下载原文件。Document ids are paths such as plans/xxx.md.",
    sync_to_thread=True,
)
def get_document(state: State, doc_path: str) -> Response[Any]:
    doc_id = doc_path.lstrip("/")
    holder: SearchHolder = state.search
    with holder.lease() as index:
        doc = index.get_document(doc_id)
        wants_file = doc is None and doc_id.endswith("/file")
        if wants_file:
            doc_id = doc_id.removesuffix("/file")
            doc = index.get_document(doc_id)
    if doc is None:
        raise problem(404, "unknown_document", f"没有文档 {doc_id!r}", f"no document {doc_id!r}", doc_id=doc_id)
    doc = plain(doc)
    source = doc.pop("path", None)  # a server path: used to send the file, never shown
    if not wants_file:
        return Response({**doc, "file_url": f"/api/documents/{doc_id}/file"})
    path = Path(source) if source else None
    if path is None or refusal(path, path.parent) is not None:  # a link swapped in after indexing is not sent
        raise problem(404, "no_original", "原文件不在服务器上", "the original file is not available", doc_id=doc_id)
    return File(path=path, filename=path.name)
