"""Retrieval quality: nDCG@k, Recall@k and MRR@k per search mode over a labelled query file.

Query file: JSON Lines ``{"id", "query", "relevant": [{"file", "answer"}]}``. A result is relevant
when it comes from that file and its text contains the answer (whitespace ignored: exported text
often breaks lines differently). Each labelled answer counts once, at its best rank.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Relevant:
    file: str
    answer: str


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    query: str
    relevant: tuple[Relevant, ...]


class QueryFileError(ValueError):
    """A malformed query file; the message names the file and line."""


def read_queries(path: Path, require_relevant: bool = False) -> list[LabelledQuery]:
    queries: list[LabelledQuery] = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise QueryFileError(f"无法读取查询文件 / cannot read query file {path}: {exc.strerror}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            query_id, query = str(item["id"]), str(item["query"])
            relevant = tuple(Relevant(str(r["file"]), str(r["answer"])) for r in item.get("relevant") or [])
        except (ValueError, KeyError, TypeError) as exc:
            raise QueryFileError(
                f"{path}:{number}: 每行需要 JSON 对象，含 id 与 query / "
                f"each line needs a JSON object with id and query ({type(exc).__name__}: {exc})"
            ) from exc
        if require_relevant and not relevant:
            raise QueryFileError(f"{path}:{number}: 缺少 relevant / no relevant answers for query {query_id}")
        queries.append(LabelledQuery(query_id, query, relevant))
    return queries


def _squash(text: str) -> str:
    return _WHITESPACE.sub("", text)


def matched_answers(results: Sequence[dict[str, Any]], relevant: Sequence[Relevant]) -> list[int | None]:
    """For each labelled answer, the 1-based rank of the first result that contains it (None if none does)."""
    squashed = [(r["file"], _squash(r["text"])) for r in results]
    ranks: list[int | None] = []
    for item in relevant:
        answer = _squash(item.answer)
        rank = next(
            (i for i, (file, text) in enumerate(squashed, start=1) if file == item.file and answer in text), None
        )
        ranks.append(rank)
    return ranks


def query_metrics(results: Sequence[dict[str, Any]], relevant: Sequence[Relevant], k: int) -> dict[str, float]:
    ranks = [r for r in matched_answers(results[:k], relevant) if r is not None and r <= k]
    if not relevant:
        return {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
    distinct = sorted(set(ranks))
    dcg = sum(1.0 / math.log2(rank + 1) for rank in distinct)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return {
        "ndcg": dcg / ideal if ideal else 0.0,
        "recall": len(ranks) / len(relevant),
        "mrr": 1.0 / min(ranks) if ranks else 0.0,
    }


SearchFunction = Callable[[str, str, int], list[dict[str, Any]]]  # (query, mode, top_k) → result dicts


def evaluate(
    queries: Sequence[LabelledQuery],
    search: SearchFunction,
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    k: int = 10,
    on_query: Callable[[str], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Mean nDCG@k, Recall@k and MRR@k per mode, over queries that have labelled answers."""
    labelled = [q for q in queries if q.relevant]
    table: dict[str, dict[str, float]] = {}
    for mode in modes:
        totals = {"ndcg": 0.0, "recall": 0.0, "mrr": 0.0}
        for query in labelled:
            metrics = query_metrics(search(query.query, mode, k), query.relevant, k)
            for name, value in metrics.items():
                totals[name] += value
            if on_query:
                on_query(mode)
        count = max(1, len(labelled))
        table[mode] = {
            f"ndcg@{k}": round(totals["ndcg"] / count, 4),
            f"recall@{k}": round(totals["recall"] / count, 4),
            f"mrr@{k}": round(totals["mrr"] / count, 4),
            "queries": len(labelled),
        }
    return table


def format_table(table: dict[str, dict[str, float]], k: int = 10) -> str:
    header = f"| mode | nDCG@{k} | Recall@{k} | MRR@{k} | queries |"
    lines = [header, "|---|---|---|---|---|"]
    for mode, row in table.items():
        ndcg, recall, mrr = row[f"ndcg@{k}"], row[f"recall@{k}"], row[f"mrr@{k}"]
        lines.append(f"| {mode} | {ndcg:.3f} | {recall:.3f} | {mrr:.3f} | {int(row['queries'])} |")
    return "\n".join(lines)
