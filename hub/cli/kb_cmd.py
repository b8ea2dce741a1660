"""``hub kb``: index documents, search them, find similar cases, evaluate retrieval.

A stable interface: scripts depend on the options and on the JSON shapes printed with ``--json``.
Heavy imports (torch, chromadb, bm25s) happen inside the commands so ``hub --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from hub.core.paths import HubPaths

MODE_CHOICE = click.Choice(["hybrid", "bm25", "dense"])


def _default_index() -> Path:
    return HubPaths.from_env().kb_index


def _index_option(function: Any) -> Any:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="索引目录 / index root (default: $HUB_DATA_DIR/kb/index)",
    )(function)


def _open(index_dir: Path | None) -> Any:
    from kb.search import IndexNotFound, KnowledgeBase, ModelMismatch
    from kb.settings import SettingError

    try:
        return KnowledgeBase(index_dir or _default_index())
    except (IndexNotFound, ModelMismatch, SettingError) as exc:
        raise click.ClickException(str(exc)) from exc


def _filters(doc_type: str | None, hazard: str | None, town: str | None, issuer: str | None, year: int | None) -> Any:
    from kb.filters import SearchFilters

    return SearchFilters(doc_type=doc_type, hazard=hazard, town=town, issuer=issuer, year=year)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False))


@click.group()
def kb() -> None:
    """知识库：预案与案例的索引和检索 / knowledge base: index and search plans and cases."""


@kb.command("index")
@click.option(
    "--docs",
    "docs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="文档目录 / folder of .md .txt .docx .pdf (default: $HUB_DATA_DIR/landing/kb)",
)
@_index_option
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def index_command(docs_dir: Path | None, index_dir: Path | None, as_json: bool) -> None:
    """Index every supported file under --docs into a new index version and publish it."""
    from tqdm import tqdm

    from kb.indexer import build_index
    from kb.settings import KbSettings, SettingError

    paths = HubPaths.from_env()
    docs_dir = docs_dir or paths.landing_for("kb")
    if not docs_dir.is_dir():
        raise click.ClickException(f"文档目录不存在 / documents folder not found: {docs_dir}")
    bars: dict[str, Any] = {}
    labels = {"parse": "解析 parse", "embed": "嵌入 embed", "bm25": "BM25", "chroma": "向量库 chroma"}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(total=total, desc=labels.get(stage, stage), unit="chunk", file=sys.stderr, leave=False,
                                disable=None)
        bars[stage].update(done)

    try:
        report = build_index(docs_dir, index_dir or paths.kb_index, KbSettings.from_env(), progress=progress)
    except (SettingError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for bar in bars.values():
            bar.close()
    if as_json:
        _echo_json(report.to_dict())
        return
    state = "未变化，沿用当前版本 / unchanged, current version kept" if report.unchanged else "已发布 / published"
    click.echo(f"{state}: {report.version}")
    click.echo(
        f"documents {report.documents}  chunks {report.chunks}  embedded {report.embedded}  cached {report.cached}  "
        f"changed {len(report.changed_documents)}  removed {len(report.removed_documents)}  {report.seconds:.1f}s"
    )
    for skipped in report.skipped:
        click.echo(f"跳过 skipped {skipped.file}: {skipped.reason}", err=True)


def _result_dict(hit: Any) -> dict[str, Any]:
    return hit.to_dict()


@kb.command("search")
@_index_option
@click.option("--mode", type=MODE_CHOICE, default="hybrid", show_default=True)
@click.option("--top-k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output (one array, or one line per query with --queries)")
@click.option("--type", "doc_type", help="文档类型 / document type: 预案 案例 法律法规 其他")
@click.option("--hazard", help="灾种 / hazard, e.g. 台风")
@click.option("--town", help="镇街名称或代码 / town name or code")
@click.option("--issuer", help="发文单位（包含）/ issuing body contains")
@click.option("--year", type=int, help="年份 / year of the document")
@click.option(
    "--queries",
    "queries_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="JSON Lines with id and query; prints one JSON line per query",
)
@click.argument("query", required=False)
def search_command(
    index_dir: Path | None,
    mode: str,
    top_k: int,
    as_json: bool,
    doc_type: str | None,
    hazard: str | None,
    town: str | None,
    issuer: str | None,
    year: int | None,
    queries_file: Path | None,
    query: str | None,
) -> None:
    """Search the index: hybrid (BM25 + dense, fused), bm25 or dense."""
    from kb.evaluation import QueryFileError, read_queries
    from kb.filters import FilterError

    if bool(query) == bool(queries_file):
        raise click.UsageError("请给出查询文本或 --queries 文件之一 / give either a QUERY or --queries FILE")
    knowledge_base = _open(index_dir)
    filters = _filters(doc_type, hazard, town, issuer, year)
    try:
        if queries_file:
            for item in read_queries(queries_file):
                hits = knowledge_base.search(item.query, mode=mode, top_k=top_k, filters=filters)
                _echo_json({"id": item.id, "results": [_result_dict(h) for h in hits]})
            return
        hits = knowledge_base.search(str(query), mode=mode, top_k=top_k, filters=filters)
    except (FilterError, QueryFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _echo_json([_result_dict(h) for h in hits])
        return
    if not hits:
        click.echo("没有结果 / no results")
    for rank, hit in enumerate(hits, start=1):
        sides = f"bm25 #{hit.bm25_rank or '-'}  dense #{hit.dense_rank or '-'}"
        click.echo(f"{rank:>2}. [{hit.doc_type}] {hit.title}  ({hit.score:.4f}; {sides})")
        click.echo(f"    {hit.heading_path}")
        click.echo(f"    {hit.file}  chars {hit.start}-{hit.end}")
        click.echo(f"    {hit.snippet}")


@kb.command("similar")
@_index_option
@click.option("--case-id", help="案例文档编号（索引中的相对路径）/ a case's document id (its path in the index)")
@click.option("--text", help="事件描述 / free-text event description")
@click.option("--top-k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def similar_command(index_dir: Path | None, case_id: str | None, text: str | None, top_k: int, as_json: bool) -> None:
    """Past cases most similar to a case or to an event description."""
    if bool(case_id) == bool(text):
        raise click.UsageError("请给出 --case-id 或 --text 之一 / give exactly one of --case-id or --text")
    knowledge_base = _open(index_dir)
    try:
        cases = knowledge_base.similar_cases(case_id=case_id, text=text, top_k=top_k)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from exc
    if as_json:
        _echo_json([c.to_dict() for c in cases])
        return
    if not cases:
        click.echo("没有相似案例 / no similar cases")
    for rank, case in enumerate(cases, start=1):
        facts = "  ".join(f"{k}={v:g}" for k, v in case.figures.items())
        click.echo(f"{rank}. {case.title}  ({case.score:.4f})")
        click.echo(f"   {case.file}  {case.event_date or ''} {case.place or ''} {'、'.join(case.hazards)} {facts}")
        click.echo(f"   {case.best_heading_path}: {case.best_snippet}")


@kb.command("eval")
@_index_option
@click.option("--queries", "queries_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), required=True)
@click.option("--top-k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--mode", "modes", type=MODE_CHOICE, multiple=True, help="modes to evaluate (default: all three)")
@click.option("--json", "as_json", is_flag=True)
def eval_command(index_dir: Path | None, queries_file: Path, top_k: int, modes: tuple[str, ...], as_json: bool) -> None:
    """nDCG@k, Recall@k and MRR@k per search mode over a labelled JSON Lines query file."""
    from tqdm import tqdm

    from kb.evaluation import QueryFileError, evaluate, format_table, read_queries

    try:
        queries = read_queries(queries_file)
    except QueryFileError as exc:
        raise click.ClickException(str(exc)) from exc
    knowledge_base = _open(index_dir)
    chosen = modes or ("bm25", "dense", "hybrid")

    def search(query: str, mode: str, k: int) -> list[dict[str, Any]]:
        return [{"file": h.file, "text": h.text} for h in knowledge_base.search(query, mode=mode, top_k=k)]  # type: ignore[arg-type]

    with tqdm(total=len(queries) * len(chosen), desc="eval", file=sys.stderr, leave=False, disable=None) as bar:
        table = evaluate(queries, search, chosen, top_k, on_query=lambda _mode: bar.update(1))
    if as_json:
        _echo_json(table)
    else:
        click.echo(format_table(table, top_k))
