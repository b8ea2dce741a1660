"""Knowledge-base benchmark: indexing throughput, search latency at 100k+ chunks, re-index, retrieval quality.

Run from the repository root: ``.venv/bin/python bench/kb.py`` (about 10 minutes on 2 cores).
Needs ``../shared/corpus`` (the development corpus) and ``bench/kb_queries.jsonl``. Writes the
figures into docs/benchmarks.md between ``<!-- bench:kb -->`` and ``<!-- /bench:kb -->``.

1. Index the corpus from scratch (fresh embedding cache) with each encoder backend (torch, onnx,
   onnx-int8; model load and ONNX export timed apart) and compare with bare fp32
   ``SentenceTransformer.encode`` on the same chunk texts; time each backend's query embedding;
   re-index the unchanged corpus.
2. Retrieval quality (``hub kb eval``'s code) per backend for bm25, dense, hybrid, on the corpus and
   on the demo library with bench/demo_queries.jsonl, each set also split into odd / even halves
   (``--quality-only`` runs just this, with the configured backend); the int8 quality guard (hybrid
   MRR@10 and Recall@10 within 0.01 of fp32); plain bm25s with its default tokenizer as a baseline.
4. Synthesise an index of >= 100k chunks from the corpus chunks (sentences rotated, vectors = the
   real chunk vectors plus small noise, re-normalised: embedding 100k chunks with m3e-small on two
   cores would take hours) and measure warm search latency p50/p95 per mode.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from common import BENCHMARKS_MD, ROOT, SAMPLE_DOCS, bench_parser, machine, percentile, write_section

from hub.core import pointer
from kb import layout
from kb.embedding import Embedder, EmbeddingCache, load_model
from kb.evaluation import evaluate, format_table, read_queries
from kb.indexer import build_index, embedding_text, write_version
from kb.search import KnowledgeBase
from kb.settings import KbSettings

CORPUS = ROOT.parent / "shared" / "corpus"
QUERIES = ROOT / "bench" / "kb_queries.jsonl"
DEMO_DOCS = SAMPLE_DOCS
DEMO_QUERIES = ROOT / "bench" / "demo_queries.jsonl"
_SENTENCE = re.compile(r"(?<=[。！？；])")


def index_corpus(work: Path, settings: KbSettings) -> dict[str, Any]:
    index = work / "index"
    started = time.perf_counter()
    first = build_index(CORPUS, index, settings)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    again = build_index(CORPUS, index, settings)
    again_seconds = time.perf_counter() - started
    return {
        "index": index,
        "documents": first.documents,
        "chunks": first.chunks,
        "first_seconds": first_seconds,
        "embedded": first.embedded,
        "unchanged_seconds": again_seconds,
        "unchanged": again.unchanged,
    }


def bare_encode(index: Path, settings: KbSettings) -> tuple[float, int]:
    """Bare SentenceTransformer.encode over exactly the texts the indexer embedded."""
    import pyarrow.parquet as pq

    table = pq.read_table(pointer.read_current(index) / layout.CHUNKS).to_pylist()
    texts = [embedding_text(row["heading_path"], row["text"]) for row in table]
    model = load_model(settings.model_path, "torch")  # the fp32 PyTorch model as sentence-transformers loads it
    model.encode(texts[:8], normalize_embeddings=True, show_progress_bar=False)  # warm
    started = time.perf_counter()
    model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True, show_progress_bar=False)
    return time.perf_counter() - started, len(texts)


BACKENDS = ("torch", "onnx", "onnx-int8")
METRICS = ("ndcg@10", "mrr@10", "recall@10")


def index_with_backend(work: Path, settings: KbSettings, backend: str) -> dict[str, Any]:
    """The hub's indexer on the corpus with one backend, fresh embedding cache; the model (and, for ONNX, its
    one-time export) is loaded first and timed apart, as bare encode's model load is not timed either."""
    settings = settings.with_changes(backend=backend, data_dir=work / f"data-{backend}")
    started = time.perf_counter()
    Embedder(settings).embed_query("预热")
    setup_seconds = time.perf_counter() - started
    result = index_corpus(work / backend, settings)
    result["setup_seconds"] = setup_seconds
    result["settings"] = settings
    return result


def query_embedding_ms(settings: KbSettings, queries: list[str]) -> dict[str, float]:
    """Embedding each labelled query alone (no cache), as a search does: mean and p95 in ms."""
    embedder = Embedder(settings)
    for query in queries[:5]:
        embedder.embed_query(query)
    timings = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed_query(query)
        timings.append((time.perf_counter() - started) * 1000)
    return {"mean_ms": round(sum(timings) / len(timings), 2), "p95_ms": round(percentile(timings, 95), 2)}


def plain_bm25s_baseline(index: Path, queries: list[Any], k: int) -> dict[str, float]:
    """bm25s with its own default tokenizer (a Chinese clause becomes one token): what jieba buys us."""
    import bm25s
    import pyarrow.parquet as pq

    rows = pq.read_table(pointer.read_current(index) / layout.CHUNKS).to_pylist()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([r["text"] for r in rows], show_progress=False), show_progress=False)

    def search(query: str, _mode: str, top_k: int) -> list[dict[str, Any]]:
        tokens = bm25s.tokenize([query], show_progress=False)
        if not tokens.vocab:
            return []
        found, scores = retriever.retrieve(tokens, k=min(top_k, len(rows)), show_progress=False)
        return [
            {"file": rows[int(i)]["doc_id"], "text": rows[int(i)]["text"]}
            for i, s in zip(found[0], scores[0], strict=True)
            if s > 0
        ]

    return evaluate(queries, search, ["bm25s-plain"], k)["bm25s-plain"]


def quality_by_split(index: Path, settings: KbSettings, query_file: Path) -> dict[str, dict[str, float]]:
    """Hybrid quality on all queries and on the odd / even halves (by position in the file), next to the
    single modes: a change is kept only if it helps on both halves of both query sets."""
    queries = read_queries(query_file)
    knowledge_base = KnowledgeBase(index, settings)

    def search(query: str, mode: str, k: int) -> list[dict[str, Any]]:
        return [{"file": h.file, "text": h.text} for h in knowledge_base.search(query, mode=mode, top_k=k)]  # type: ignore[arg-type]

    table = evaluate(queries, search, ("bm25", "dense", "hybrid"), 10)
    for half, offset in (("odd", 0), ("even", 1)):
        subset = queries[offset::2]
        for mode, row in evaluate(subset, search, ("bm25", "dense", "hybrid"), 10).items():
            table[f"{mode} ({half} half)"] = row
    knowledge_base.close()
    return table


def quality_only(settings: KbSettings, work: Path) -> str:
    """Index the corpus and the demo documents (reusing the embedding cache in ``settings``) and
    evaluate both query sets. Markdown tables, for ``--quality-only``."""
    sections = []
    for label, docs, query_file in (
        ("`../shared/corpus` × `bench/kb_queries.jsonl`", CORPUS, QUERIES),
        ("`hub/sample/kb_docs` × `bench/demo_queries.jsonl`", DEMO_DOCS, DEMO_QUERIES),
    ):
        index = work / f"index-{docs.name}"
        report = build_index(docs, index, settings)
        table = quality_by_split(index, settings, query_file)
        sections.append(f"{label} ({report.documents} documents, {report.chunks} chunks):\n\n{format_table(table)}")
    return "\n\n".join(sections)


def synthesise_big_index(source: Path, root: Path, settings: KbSettings, target_chunks: int) -> tuple[Path, float]:
    """A version with >= target_chunks chunks derived from the corpus chunks, built with the real writer."""
    import pyarrow.parquet as pq

    version = pointer.read_current(source)
    base_rows = pq.read_table(version / layout.CHUNKS).to_pylist()
    base_docs = {d["doc_id"]: d for d in json.loads((version / layout.DOCUMENTS).read_text(encoding="utf-8"))}
    embedder = Embedder(settings, EmbeddingCache(settings.embedding_cache))
    base_texts = [embedding_text(r["heading_path"], r["text"]) for r in base_rows]
    base_vectors = embedder.embed_passages(base_texts)  # all cached by the corpus index
    rng = np.random.default_rng(7)
    copies = -(-target_chunks // len(base_rows))
    documents: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    vectors = np.empty((copies * len(base_rows), base_vectors.shape[1]), dtype=np.float32)
    for copy in range(copies):
        for doc_id, document in base_docs.items():
            synthetic_id = f"synthetic/{copy:03d}/{doc_id}"
            documents.append({**document, "doc_id": synthetic_id, "file": synthetic_id})
        for row, text in zip(base_rows, base_texts, strict=True):
            sentences = [s for s in _SENTENCE.split(row["text"]) if s]
            shift = copy % max(1, len(sentences))
            rotated = "".join(sentences[shift:] + sentences[:shift])
            rows.append({**row, "doc_id": f"synthetic/{copy:03d}/{row['doc_id']}", "text": rotated})
            texts.append(text if copy == 0 else embedding_text(row["heading_path"], rotated))
        noise = rng.normal(0, 0.02, base_vectors.shape).astype(np.float32) if copy else 0.0
        block = base_vectors + noise
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        vectors[copy * len(base_rows) : (copy + 1) * len(base_rows)] = block
    big_root = root / "big-index"
    build = pointer.new_build_dir(big_root, layout.INDEX_PREFIX)
    started = time.perf_counter()
    write_version(build, documents, rows, texts, vectors,
                  {"model_id": settings.model_id, "encoder": settings.encoder, "synthetic": True})
    pointer.publish_build(big_root, build, pointer.version_name(layout.INDEX_PREFIX))
    return big_root, time.perf_counter() - started


def synthesise_random_index(root: Path, settings: KbSettings, target_chunks: int) -> Path:
    """Like synthesise_big_index but without the model: corpus chunks (parsed, not embedded) and
    random unit vectors. For a quick latency re-run (``--latency-only``)."""
    from kb.chunking import chunk_text
    from kb.loaders import is_supported, load_document

    base_rows: list[dict[str, Any]] = []
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and is_supported(p)):
        loaded = load_document(path)
        doc_id = path.relative_to(CORPUS).as_posix()
        for chunk in chunk_text(loaded.text, doc_id):
            base_rows.append({"doc_id": doc_id, "order": chunk.order, "heading_path": chunk.heading_path_text,
                              "start": chunk.start, "end": chunk.end, "text": chunk.text})  # fmt: skip
    copies = -(-target_chunks // len(base_rows))
    doc_types = ("法律法规", "案例", "预案")
    rows, documents, seen = [], [], set()
    for copy in range(copies):
        for row in base_rows:
            doc_id = f"synthetic/{copy:03d}/{row['doc_id']}"
            rows.append({**row, "doc_id": doc_id})
            if doc_id not in seen:
                seen.add(doc_id)
                kind = doc_types[0] if "cases/" not in doc_id else doc_types[1]
                documents.append({"doc_id": doc_id, "file": doc_id, "title": row["doc_id"], "doc_type": kind})
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(len(rows), load_model(settings.model_path).get_embedding_dimension())).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [embedding_text(r["heading_path"], r["text"]) for r in rows]
    big_root = root / "big-index"
    build = pointer.new_build_dir(big_root, layout.INDEX_PREFIX)
    write_version(build, documents, rows, texts, vectors,
                  {"model_id": settings.model_id, "encoder": settings.encoder, "synthetic": True})
    pointer.publish_build(big_root, build, pointer.version_name(layout.INDEX_PREFIX))
    return big_root


def latency(index: Path, settings: KbSettings, queries: list[str]) -> dict[str, dict[str, float]]:
    knowledge_base = KnowledgeBase(index, settings)
    knowledge_base.warm_up()
    for query in queries[:10]:
        knowledge_base.search(query, mode="hybrid")
    results: dict[str, dict[str, float]] = {}
    cases: list[tuple[str, str, dict[str, Any] | None]] = [
        ("bm25", "bm25", None),
        ("dense", "dense", None),
        ("hybrid", "hybrid", None),
        ("hybrid + type filter", "hybrid", {"doc_type": "法律法规"}),
    ]
    for label, mode, filters in cases:
        timings = []
        for query in queries:
            started = time.perf_counter()
            knowledge_base.search(query, mode=mode, top_k=10, filters=filters)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
        results[label] = {
            "p50_ms": round(percentile(timings, 50), 1),
            "p95_ms": round(percentile(timings, 95), 1),
            "queries": len(timings),
        }
    results["_chunks"] = {"count": len(knowledge_base.chunk_ids)}
    return results


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--chunks", type=int, default=100_000, help="size of the synthetic latency index")
    parser.add_argument("--latency-only", action="store_true", help="only step 4, over random unit vectors; print only")
    parser.add_argument(
        "--quality-only",
        action="store_true",
        help="only retrieval quality, both query sets and their odd/even halves; uses $HUB_DATA_DIR's embedding cache",
    )
    args = parser.parse_args()
    if args.quality_only:
        work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
        try:
            print(quality_only(KbSettings.from_env(), work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    if args.latency_only:
        work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
        settings = KbSettings.from_env().with_changes(data_dir=work / "data")
        try:
            big = synthesise_random_index(work, settings, args.chunks)
            timings = latency(big, settings, [q.query for q in read_queries(QUERIES)])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps({"date": datetime.now(UTC).isoformat(timespec="minutes"), "load": os.getloadavg(),
                          "latency": timings}, ensure_ascii=False, indent=1))  # fmt: skip
        return
    if not CORPUS.exists() or not QUERIES.exists():
        sys.exit(f"needs {CORPUS} and {QUERIES}")
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    base_settings = KbSettings.from_env()
    default_backend = base_settings.backend
    load_start = os.getloadavg()[0]
    per_backend: dict[str, dict[str, Any]] = {}
    try:
        queries = read_queries(QUERIES)
        query_texts = [q.query for q in queries]
        for number, backend in enumerate(BACKENDS, start=1):
            print(f"1/4 indexing the corpus with {backend} (fresh cache) … [{number}/{len(BACKENDS)}]", flush=True)
            per_backend[backend] = index_with_backend(work, base_settings, backend)
        bare_seconds, bare_count = bare_encode(per_backend["torch"]["index"], per_backend["torch"]["settings"])
        for backend in BACKENDS:
            per_backend[backend]["query"] = query_embedding_ms(per_backend[backend]["settings"], query_texts)
        print("2/4 retrieval quality per backend …", flush=True)
        for backend in BACKENDS:
            row = per_backend[backend]
            row["quality"] = quality_by_split(row["index"], row["settings"], QUERIES)
            demo_report = build_index(DEMO_DOCS, work / f"demo-{backend}", row["settings"])
            row["demo_quality"] = quality_by_split(work / f"demo-{backend}", row["settings"], DEMO_QUERIES)
            print(backend, format_table(row["quality"]), format_table(row["demo_quality"]), sep="\n", flush=True)
        settings = per_backend[default_backend]["settings"]
        quality = dict(per_backend[default_backend]["quality"])
        quality["bm25s plain (no jieba)"] = plain_bm25s_baseline(per_backend[default_backend]["index"], queries, 10)
        demo_quality = per_backend[default_backend]["demo_quality"]
        print(f"3/4 synthesising a {args.chunks}-chunk index …", flush=True)
        big_index, big_build_seconds = synthesise_big_index(
            per_backend[default_backend]["index"], work, settings, args.chunks
        )
        print("4/4 search latency …", flush=True)
        timings = latency(big_index, settings, query_texts)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare_rate = bare_count / bare_seconds
    chunks = per_backend["torch"]["chunks"]
    guard = quality_guard(per_backend)
    figures = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_at_start": round(load_start, 1),
        "model": settings.model_id,
        "default_backend": default_backend,
        "corpus": {"documents": per_backend["torch"]["documents"], "chunks": chunks},
        "bare_encode_seconds": round(bare_seconds, 1),
        "bare_encode_chunks_per_s": round(bare_rate, 1),
        "backends": {
            b: {
                "setup_seconds": round(r["setup_seconds"], 1),
                "index_seconds": round(r["first_seconds"], 1),
                "index_chunks_per_s": round(r["chunks"] / r["first_seconds"], 1),
                "index_vs_bare_fp32": round((r["chunks"] / r["first_seconds"]) / bare_rate, 2),
                "query_embedding": r["query"],
                "query_speedup_vs_torch": round(per_backend["torch"]["query"]["mean_ms"] / r["query"]["mean_ms"], 2),
                "unchanged_reindex_seconds": round(r["unchanged_seconds"], 2),
                "hybrid": r["quality"]["hybrid"],
                "demo_hybrid": r["demo_quality"]["hybrid"],
            }
            for b, r in per_backend.items()
        },
        "quality_guard": guard,
        "latency": timings,
        "big_index_build_seconds": round(big_build_seconds, 1),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1, default=str))
    if args.no_write:
        return
    section = kb_section(figures, per_backend, quality, demo_quality, demo_report, timings, settings, bare_count)
    write_section("kb", section)
    print(f"wrote {BENCHMARKS_MD}")


def quality_guard(per_backend: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 15's guard: int8 hybrid MRR@10 and Recall@10 within 0.01 of fp32 (torch), on both query sets."""
    checks = {}
    for label, key in (("corpus", "quality"), ("demo", "demo_quality")):
        for metric in ("mrr@10", "recall@10"):
            fp32 = per_backend["torch"][key]["hybrid"][metric]
            int8 = per_backend["onnx-int8"][key]["hybrid"][metric]
            checks[f"{label} {metric}"] = {"fp32": fp32, "int8": int8, "ok": abs(int8 - fp32) <= 0.01 + 1e-9}
    return {"checks": checks, "holds": all(c["ok"] for c in checks.values())}


def kb_section(
    figures: dict[str, Any],
    per_backend: dict[str, dict[str, Any]],
    quality: dict[str, Any],
    demo_quality: dict[str, Any],
    demo_report: Any,
    timings: dict[str, Any],
    settings: KbSettings,
    bare_count: int,
) -> str:
    big_chunks = timings["_chunks"]["count"]
    latency_rows = "\n".join(
        f"| {label} | {row['p50_ms']} | {row['p95_ms']} | {int(row['queries'])} |"
        for label, row in timings.items()
        if not label.startswith("_")
    )
    speed_rows = "\n".join(
        f"| {b} | {r['setup_seconds']} | {r['index_seconds']} | {r['index_chunks_per_s']} | "
        f"**{r['index_vs_bare_fp32']}×** | {r['query_embedding']['mean_ms']} | {r['query_embedding']['p95_ms']} | "
        f"**{r['query_speedup_vs_torch']}×** |"
        for b, r in figures["backends"].items()
    )
    quality_rows = "\n".join(
        "| " + " | ".join([b] + [f"{r[side][m]:.3f}" for side in ("hybrid", "demo_hybrid") for m in METRICS]) + " |"
        for b, r in figures["backends"].items()
    )
    dense_rows = "\n".join(
        "| " + " | ".join([b] + [f"{per_backend[b][q]['dense'][m]:.3f}" for q in ("quality", "demo_quality")
                                 for m in ("mrr@10", "recall@10")]) + " |"
        for b in per_backend
    )
    guard = figures["quality_guard"]
    verdict = "holds" if guard["holds"] else "does not hold"
    guard_text = "; ".join(
        f"{name}: fp32 {c['fp32']:.3f}, int8 {c['int8']:.3f} ({'ok' if c['ok'] else 'NOT within 0.01'})"
        for name, c in guard["checks"].items()
    )
    return f"""## Knowledge base (`bench/kb.py`)

Measured {figures['date']} on {figures['machine']}; load average at start {figures['load_at_start']} (the machine
was shared with other engineers' jobs, so absolute times are upper bounds: compare the ratios, all measured in
this one run on the same chunks). Model `{figures['model']}` (CPU), corpus `../shared/corpus`
({figures['corpus']['documents']} documents, {figures['corpus']['chunks']} chunks of at most
{settings.chunk_max_chars} characters). Default backend: `{figures['default_backend']}`.

**Encoders, side by side** (issue 15). Bare fp32 `SentenceTransformer.encode` (PyTorch, model loaded, batch
{settings.embed_batch_size}) on the same {bare_count} texts: {figures['bare_encode_seconds']} s =
{figures['bare_encode_chunks_per_s']} chunks/s. The hub's indexer per backend, fresh embedding cache, including
parsing, BM25 and Chroma; *set-up* is loading the model and, for ONNX, the one-time export into the data
directory (not part of indexing). Query embedding: each of the {int(quality['hybrid']['queries'])} labelled
queries embedded alone, no cache.

| backend | set-up s | index s | chunks/s | vs bare fp32 | query ms (mean) | query ms (p95) | query vs torch |
|---|---:|---:|---:|---:|---:|---:|---:|
{speed_rows}

Goal: default-backend indexing ≥ 3× bare fp32 chunks/s, query embedding ≥ 3× faster.

**Quality per backend** (hybrid; corpus = `bench/kb_queries.jsonl`, demo = `bench/demo_queries.jsonl` on
`hub/sample/kb_docs`):

| backend | corpus nDCG@10 | corpus MRR@10 | corpus R@10 | demo nDCG@10 | demo MRR@10 | demo R@10 |
|---|---:|---:|---:|---:|---:|---:|
{quality_rows}

Dense side alone:

| backend | corpus MRR@10 | corpus R@10 | demo MRR@10 | demo R@10 |
|---|---:|---:|---:|---:|
{dense_rows}

Quality guard (int8 hybrid MRR@10 and Recall@10 within 0.01 of fp32): **{verdict}** — {guard_text}.

**Retrieval quality of the default backend** on `bench/kb_queries.jsonl`, also split into odd / even halves
(a hit is a chunk from the right file containing the answer string):

{format_table(quality)}

Held-out check on the demo library `hub/sample/kb_docs` ({demo_report.documents} documents,
{demo_report.chunks} chunks) with `bench/demo_queries.jsonl`, also split into odd / even halves:

{format_table(demo_quality)}

Re-index of the unchanged corpus: {figures['backends'][figures['default_backend']]['unchanged_reindex_seconds']} s.

**Search latency** (default backend), warm (model and index loaded, 10 warm-up queries), top 10, over a
synthetic index of {big_chunks} chunks: the corpus chunks repeated with their sentences rotated, vectors = the
real chunk vectors plus Gaussian noise (σ 0.02), re-normalised; built with the indexer's own writer in
{figures['big_index_build_seconds']} s. Each query includes embedding the query text with the model
(`KnowledgeBase.search`, which does not use the query cache).

| mode | p50 ms | p95 ms | queries |
|---|---|---|---|
{latency_rows}
"""


if __name__ == "__main__":
    main()
