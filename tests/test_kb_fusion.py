"""Fusion of the BM25 and dense candidate lists, its settings, and the BM25/Chroma parameters an index records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb import layout
from kb.fusion import convex_fusion, fuse, min_max, rrf_fusion
from kb.indexer import build_index
from kb.search import KnowledgeBase
from kb.settings import KbSettings, SettingError


def ranking(fused: dict[int, float]) -> list[int]:
    return [row for row, _ in sorted(fused.items(), key=lambda item: (-item[1], item[0]))]


def test_min_max_scales_to_unit_range_and_handles_ties() -> None:
    assert min_max([(3, 12.0), (1, 7.0), (2, 2.0)]) == {3: 1.0, 1: 0.5, 2: 0.0}
    assert min_max([(5, 0.8), (6, 0.8)]) == {5: 1.0, 6: 1.0}
    assert min_max([]) == {}


def test_convex_fusion_keeps_score_gaps_that_rank_fusion_levels() -> None:
    # BM25 finds row 1 far better than anything else; dense has a near tie between rows 2 and 1.
    bm25 = [(1, 20.0), (2, 2.1), (3, 2.0)]
    dense = [(2, 0.81), (1, 0.80), (3, 0.40)]
    assert ranking(convex_fusion(bm25, dense, 0.5))[0] == 1
    # Rank fusion sees rank 1 + rank 2 for both rows 1 and 2 and cannot tell them apart by score.
    rrf = rrf_fusion(bm25, dense, 10)
    assert rrf[1] == pytest.approx(rrf[2])


def test_convex_fusion_weights_and_missing_sides() -> None:
    bm25 = [(1, 9.0), (2, 1.0)]
    dense = [(3, 0.9), (2, 0.5)]
    fused = convex_fusion(bm25, dense, 0.5)
    assert fused == {1: pytest.approx(0.5), 2: pytest.approx(0.0), 3: pytest.approx(0.5)}
    assert ranking(convex_fusion(bm25, dense, 1.0))[0] == 1  # all weight on BM25
    assert ranking(convex_fusion(bm25, dense, 0.0))[0] == 3  # all weight on dense
    assert convex_fusion([], dense, 0.5) == {3: pytest.approx(0.5), 2: pytest.approx(0.0)}


def test_rrf_fusion_is_the_sum_of_reciprocal_ranks() -> None:
    fused = rrf_fusion([(7, 3.0), (8, 1.0)], [(8, 0.9)], 10)
    assert fused == {7: pytest.approx(1 / 11), 8: pytest.approx(1 / 12 + 1 / 11)}


def test_unknown_fusion_method_is_named() -> None:
    with pytest.raises(ValueError, match="borda"):
        fuse("borda", [], [])


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_KB_FUSION", "borda"),
        ("HUB_KB_BM25_WEIGHT", "1.5"),
        ("HUB_KB_BM25_WEIGHT", "half"),
        ("HUB_KB_BM25_B", "-0.1"),
        ("HUB_KB_BM25_K1", "x"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingError, match=variable):
        KbSettings.from_env()


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_KB_FUSION", "RRF")
    monkeypatch.setenv("HUB_KB_BM25_WEIGHT", "0.3")
    monkeypatch.setenv("HUB_KB_BM25_K1", "1.2")
    monkeypatch.setenv("HUB_KB_BM25_B", "0.75")
    settings = KbSettings.from_env()
    assert (settings.fusion, settings.bm25_weight, settings.bm25_k1, settings.bm25_b) == ("rrf", 0.3, 1.2, 0.75)


PLAN = """# 河庄街道防汛应急预案

## 一、转移安置

台风登陆前12小时，网格员逐户通知低洼地和工棚人员转移，做到应转尽转。

## 二、物资保障

街道储备编织袋、救生衣和冲锋舟，汛前完成检查。
"""

CASE = """# 某镇山塘溃坝案例

## 一、经过

连续强降雨导致山塘水位暴涨，坝体出现管涌，下游两个村的群众连夜撤离。
"""


def test_index_records_bm25_parameters_and_a_change_rebuilds(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plan.md").write_text(PLAN, encoding="utf-8")
    (docs / "case.md").write_text(CASE, encoding="utf-8")
    settings = KbSettings().with_changes(data_dir=tmp_path / "data")
    first = build_index(docs, tmp_path / "index", settings)
    manifest = json.loads((first.version / layout.MANIFEST).read_text(encoding="utf-8"))
    assert manifest["bm25"] == {"k1": settings.bm25_k1, "b": settings.bm25_b}
    bm25_params = json.loads((first.version / layout.BM25_DIR / "params.index.json").read_text(encoding="utf-8"))
    assert (bm25_params["k1"], bm25_params["b"]) == (settings.bm25_k1, settings.bm25_b)

    changed = settings.with_changes(bm25_k1=1.2, bm25_b=0.75)
    second = build_index(docs, tmp_path / "index", changed)
    assert not second.unchanged and second.version != first.version
    assert second.embedded == 0  # only BM25 changed: every vector comes from the cache

    for fusion in ("convex", "rrf"):
        knowledge_base = KnowledgeBase(tmp_path / "index", changed.with_changes(fusion=fusion))
        hits = knowledge_base.search("台风来之前要转移哪些人", mode="hybrid", top_k=3)
        assert hits[0].file == "plan.md" and "应转尽转" in hits[0].text, fusion
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        knowledge_base.close()


def test_chroma_search_breadth_covers_the_candidates(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plan.md").write_text(PLAN, encoding="utf-8")
    settings = KbSettings().with_changes(data_dir=tmp_path / "data")
    report = build_index(docs, tmp_path / "index", settings)
    client = chromadb.PersistentClient(
        path=str(report.version / layout.CHROMA_DIR), settings=Settings(anonymized_telemetry=False)
    )
    hnsw = client.get_collection(layout.COLLECTION).configuration["hnsw"]
    assert hnsw["space"] == "cosine"
    assert hnsw["ef_search"] >= settings.candidates  # a narrower search misses some of the true top candidates
