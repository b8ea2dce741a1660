"""Fusing the BM25 and dense candidate lists into one ranking.

Each side is a list of ``(row, score)`` best first. Two methods:

- ``convex`` (default): each side's scores are min-max normalised over its own candidates, then
  combined as ``w · bm25 + (1 − w) · dense``; a chunk missing from one side gets 0 there. Unlike
  rank fusion it keeps how far apart the scores are, so a chunk that one side finds far better than
  the rest is not levelled with a near tie.
- ``rrf``: reciprocal rank fusion, ``Σ 1 / (k + rank)``; uses ranks only.
"""

from __future__ import annotations

from collections.abc import Sequence

Candidates = Sequence[tuple[int, float]]
FUSION_METHODS: tuple[str, ...] = ("convex", "rrf")


def min_max(candidates: Candidates) -> dict[int, float]:
    """Scores rescaled to [0, 1] over the list (all 1.0 when they are equal)."""
    if not candidates:
        return {}
    scores = [score for _, score in candidates]
    low, high = min(scores), max(scores)
    if high <= low:
        return {row: 1.0 for row, _ in candidates}
    return {row: (score - low) / (high - low) for row, score in candidates}


def convex_fusion(bm25: Candidates, dense: Candidates, bm25_weight: float) -> dict[int, float]:
    keyword, semantic = min_max(bm25), min_max(dense)
    return {
        row: bm25_weight * keyword.get(row, 0.0) + (1.0 - bm25_weight) * semantic.get(row, 0.0)
        for row in keyword.keys() | semantic.keys()
    }


def rrf_fusion(bm25: Candidates, dense: Candidates, k: int) -> dict[int, float]:
    fused: dict[int, float] = {}
    for side in (bm25, dense):
        for rank, (row, _) in enumerate(side, start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return fused


def fuse(
    method: str, bm25: Candidates, dense: Candidates, bm25_weight: float = 0.5, rrf_k: int = 10
) -> dict[int, float]:
    """Row → fused score (higher is better) for the named method."""
    if method == "convex":
        return convex_fusion(bm25, dense, bm25_weight)
    if method == "rrf":
        return rrf_fusion(bm25, dense, rrf_k)
    raise ValueError(f"融合方法无效：{method!r}，可选 convex/rrf / unknown fusion method {method!r} (convex or rrf)")
