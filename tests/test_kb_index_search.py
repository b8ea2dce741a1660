"""Index → search round trip on a real Chroma + bm25s index with the real embedding model (m3e-small).

The model loads once per test process (kb.embedding keeps it); the corpus is small, so the whole
module runs in well under a minute on two cores.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import docx
import numpy as np
import pytest
from api_fixtures import SAMPLE_DOCS
from click.testing import CliRunner

from hub.cli.main import cli
from hub.core import pointer
from kb import layout
from kb.chroma_store import read_vectors
from kb.embedding import Embedder, EmbeddingCache
from kb.filters import FilterError, SearchFilters
from kb.indexer import build_index
from kb.search import BROAD_FILTER_SHARE, KnowledgeBase
from kb.settings import KbSettings

GUALI_PLAN = """---
title: 瓜沥镇防汛防台应急预案
doc_type: 预案
issuer: 瓜沥镇人民政府
date: 2023-05-10
doc_number: 瓜政发[2023]12号
hazards: [台风, 洪涝]
town_code: 瓜沥镇
---
# 瓜沥镇防汛防台应急预案

## 1 总则

### 1.1 编制目的

为做好瓜沥镇防汛防台工作，最大程度减少台风、暴雨、洪水造成的人员伤亡和财产损失，制定本预案。

## 2 应急响应

### 2.1 分级响应

根据台风、暴雨的影响程度，镇防汛防台应急响应分为Ⅳ级、Ⅲ级、Ⅱ级、Ⅰ级四个等级。Ⅰ级为最高级别。

### 2.2 转移安置

台风登陆前12小时，网格员逐户通知危旧房、低洼地和工棚人员转移，村（社区）做到应转尽转、不漏一人。转移群众安置在村文化礼堂和学校等避灾安置场所，落实专人管理。
"""

DAICUN_FOREST_PLAN = """---
title: 戴村镇森林火灾应急预案
doc_type: 预案
issuer: 戴村镇人民政府
date: 2021-03-01
hazards: [森林火灾]
town_code: 330109102
---
# 戴村镇森林火灾应急预案

一、总则

（一）适用范围

本预案适用于戴村镇行政区域内发生的森林火灾的预防和扑救工作。清明、冬至等祭扫高峰期是森林防火的重点时段。

二、扑救组织

（一）先期处置

发现山林起火后，护林员和村专职扑火队应当在30分钟内到达火场，采取风力灭火机、二号工具等方法扑打明火，同时报告镇应急管理站。

（二）扩大响应

火场面积超过5公顷或者威胁村庄时，镇政府报请区森林消防大队增援，组织下风向群众撤离。
"""

YIQIAO_CASE = """---
title: 义桥镇台风期间群众转移案例
doc_type: 案例
issuer: 萧山区应急管理局
date: 2024-09-20
event_date: 2024-09-15
hazards: [台风]
town_code: 义桥镇
---
# 义桥镇台风期间群众转移案例

一、事件概况

2024年9月15日，台风“贝碧嘉”影响萧山，义桥镇出现大风和强降雨，钱塘江沿线水位快速上涨。

二、处置经过

镇防指提前启动防台风应急响应，组织网格员对沿江低洼区域逐户排查，共转移群众860人，其中安置在镇避灾安置场所320人。

三、结果

此次台风未造成人员死亡，直接经济损失约120万元。
"""

XINTANG_CASE = """---
title: 新塘街道供水管道爆裂停水案例
doc_type: 案例
issuer: 萧山区应急管理局
date: 2023-04-01
hazards: [停水]
town_code: 新塘街道
---
# 新塘街道供水管道爆裂停水案例

一、事件概况

2023年3月15日上午，新塘街道一处DN800供水主管爆裂，造成周边约1.2万户居民停水。

二、处置经过

区环境集团组织抢修队伍关阀止水，开挖抢修；街道通过网格员和应急广播通知居民，设置临时送水点6处，用送水车为老人送水上门。

三、结果

经过14小时抢修恢复供水，未发生次生事故。
"""

FLOOD_LAW = """# 某省防汛条例

2019年5月1日 某省人民代表大会常务委员会通过

<!-- INFO END -->

## 第一章 总 则

第一条 为了做好防汛抗洪工作，保障人民生命财产安全，根据《中华人民共和国防洪法》，制定本条例。

第二条 防汛工作实行各级人民政府行政首长负责制，统一指挥，分级分部门负责。

## 第二章 防汛准备

第三条 县级以上人民政府应当组织编制防御洪水方案，并依照本条例第二条的规定落实责任。

第四条 山塘、水库的管理单位应当在汛前开展安全检查，发现隐患应当及时整改。
"""


def _chemical_docx(path: Path) -> None:
    document = docx.Document()
    document.add_heading("萧山区危险化学品事故应急预案", level=1)
    document.add_heading("1 总则", level=2)
    document.add_paragraph("为规范危险化学品泄漏、火灾、爆炸事故的应急处置，制定本预案。")
    document.add_heading("2 应急处置", level=2)
    document.add_paragraph(
        "发生危险化学品泄漏时，事发单位应当立即切断泄漏源，设置警戒区，疏散下风向人员，并报告区应急管理局。"
    )
    document.save(str(path))


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "plans").mkdir(parents=True)
    (docs / "cases").mkdir()
    (docs / "laws").mkdir()
    (docs / "broken").mkdir()
    (docs / "plans" / "guali_flood.md").write_text(GUALI_PLAN, encoding="utf-8")
    (docs / "plans" / "daicun_forest.md").write_text(DAICUN_FOREST_PLAN, encoding="utf-8")
    (docs / "cases" / "yiqiao_typhoon.md").write_text(YIQIAO_CASE, encoding="utf-8")
    (docs / "cases" / "xintang_water.md").write_text(XINTANG_CASE, encoding="utf-8")
    (docs / "laws" / "flood_law.txt").write_bytes(FLOOD_LAW.encode("gb18030"))  # not UTF-8 on purpose
    _chemical_docx(docs / "plans" / "chemical.docx")
    with zipfile.ZipFile(docs / "broken" / "corrupt.docx", "w") as archive:
        archive.writestr("junk.bin", b"\x00\x01 not a word document")
    (docs / "broken" / "empty.txt").write_bytes(b"")
    return docs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, KbSettings, object]:
    root = tmp_path_factory.mktemp("kb")
    docs = write_corpus(root)
    settings = KbSettings().with_changes(data_dir=root / "data")
    report = build_index(docs, root / "index", settings)
    return docs, root / "index", settings, report


@pytest.fixture(scope="module")
def knowledge_base(built: tuple[Path, Path, KbSettings, object]) -> KnowledgeBase:
    _, index, settings, _ = built
    return KnowledgeBase(index, settings)


def test_build_report_counts_and_skips(built: tuple[Path, Path, KbSettings, object]) -> None:
    _, index, _, report = built
    assert report.documents == 6
    assert report.chunks >= 12
    assert report.embedded == report.chunks and report.cached == 0  # a fresh cache
    skipped = {s.file: s.reason for s in report.skipped}
    assert set(skipped) == {"broken/corrupt.docx", "broken/empty.txt"}
    assert "docx" in skipped["broken/corrupt.docx"]
    assert "empty" in skipped["broken/empty.txt"]
    assert pointer.read_current(index) == report.version
    assert not list(index.glob(".build-*"))


def test_chroma_collection_uses_cosine(built: tuple[Path, Path, KbSettings, object]) -> None:
    import chromadb
    from chromadb.config import Settings

    report = built[3]
    client = chromadb.PersistentClient(
        path=str(report.version / layout.CHROMA_DIR), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_collection(layout.COLLECTION)
    assert collection.configuration["hnsw"]["space"] == "cosine"
    assert collection.count() == report.chunks


@pytest.mark.parametrize(
    ("mode", "query", "expected_file"),
    [
        ("bm25", "森林火灾 扑救", "plans/daicun_forest.md"),
        ("dense", "山上着火了，护林员多久要赶到现场", "plans/daicun_forest.md"),
        ("hybrid", "台风登陆前多少小时要通知转移", "plans/guali_flood.md"),
        ("hybrid", "化工厂泄漏怎么处置", "plans/chemical.docx"),
        ("bm25", "汛前 山塘 安全检查", "laws/flood_law.txt"),
    ],
)
def test_round_trip(knowledge_base: KnowledgeBase, mode: str, query: str, expected_file: str) -> None:
    hits = knowledge_base.search(query, mode=mode, top_k=3)  # type: ignore[arg-type]
    assert hits, query
    assert hits[0].file == expected_file


def test_hit_fields_heading_path_snippet_and_side_scores(knowledge_base: KnowledgeBase) -> None:
    hit = knowledge_base.search("网格员 转移安置", mode="hybrid", top_k=1)[0]
    assert hit.file == "plans/guali_flood.md"
    # 2.1 and 2.2 are short siblings, merged into one chunk labelled by their parent.
    assert hit.heading_path == "瓜沥镇防汛防台应急预案 › 2 应急响应"
    assert "2.1 分级响应" in hit.text and "2.2 转移安置" in hit.text
    assert "<mark>网格员</mark>" in hit.snippet_html and "<mark>" not in hit.snippet
    assert hit.bm25_rank == 1 and hit.bm25_score and hit.bm25_score > 0
    assert hit.dense_rank is not None and hit.dense_score is not None
    document = knowledge_base.get_document(hit.doc_id)
    assert document is not None
    source = Path(document["path"]).read_text(encoding="utf-8")
    body = source.split("---\n", 2)[2]  # offsets are in the text after the front matter
    assert body[hit.start : hit.end] == hit.text


def test_snippet_escapes_html(tmp_path: Path, knowledge_base: KnowledgeBase) -> None:
    from kb.snippets import make_snippet, term_pattern

    plain, marked = make_snippet("<b>台风</b>预警", term_pattern(["台风"]))
    assert plain == "<b>台风</b>预警"
    assert marked == "&lt;b&gt;<mark>台风</mark>&lt;/b&gt;预警"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_apply_to_both_sides(knowledge_base: KnowledgeBase, mode: str) -> None:
    cases = knowledge_base.search("台风 转移 群众", mode=mode, top_k=20, filters=SearchFilters(doc_type="案例"))  # type: ignore[arg-type]
    assert cases and {h.doc_type for h in cases} == {"案例"}
    town = knowledge_base.search("转移", mode=mode, top_k=20, filters=SearchFilters(town="瓜沥"))  # type: ignore[arg-type]
    assert town and {h.file for h in town} == {"plans/guali_flood.md"}
    hazard = knowledge_base.search("应急预案", mode=mode, top_k=20, filters=SearchFilters(hazard="森林火灾"))  # type: ignore[arg-type]
    assert hazard and {h.file for h in hazard} == {"plans/daicun_forest.md"}
    year = knowledge_base.search("停水 供水", mode=mode, top_k=20, filters={"year": 2023, "type": "案例"})  # type: ignore[arg-type]
    assert year and {h.file for h in year} == {"cases/xintang_water.md"}
    issuer = knowledge_base.search("扑救 火场", mode=mode, top_k=20, filters=SearchFilters(issuer="戴村镇"))  # type: ignore[arg-type]
    assert issuer and {h.file for h in issuer} == {"plans/daicun_forest.md"}
    nothing = knowledge_base.search("台风", mode=mode, top_k=5, filters=SearchFilters(year=1990))  # type: ignore[arg-type]
    assert nothing == []


def test_a_broad_filter_far_from_the_query_still_returns_the_nearest_allowed_chunks(tmp_path: Path) -> None:
    """A filter letting through a fifth of the chunks or more is applied after an unfiltered vector query. A query
    that sits among the chunks it excludes (about plans, filtered to cases) finds none in the first ask; the
    search asks for more until it has enough, and returns the cases an exact cosine search over cases returns."""
    docs = tmp_path / "docs"
    for kind in ("plans", "cases"):
        (docs / kind).mkdir(parents=True)
        for path in sorted((SAMPLE_DOCS / kind).iterdir())[:6]:
            shutil.copy(path, docs / kind / path.name)
    settings = KbSettings().with_changes(data_dir=tmp_path / "data", candidates=3)
    build_index(docs, tmp_path / "index", settings)
    kb = KnowledgeBase(tmp_path / "index", settings)
    is_case = np.array([kb.documents[doc_id]["doc_type"] == "案例" for doc_id in kb.chunk_doc])
    assert is_case.mean() >= BROAD_FILTER_SHARE  # so the filter is applied after the query

    query = "应急预案 组织指挥体系 成员单位职责"
    vectors = read_vectors(kb.version / layout.CHROMA_DIR, kb.chunk_ids)
    nearest = np.argsort(-(vectors @ kb.embed_query(query)), kind="stable")
    assert not is_case[nearest[:30]].any()  # the query sits among plans: a first ask finds no case
    exact = [kb.chunk_ids[row] for row in nearest if is_case[row]][:3]

    found = kb.search(query, mode="dense", top_k=3, filters={"type": "案例"})
    assert [hit.chunk_id for hit in found] == exact
    assert {hit.doc_type for hit in found} == {"案例"}


def test_unknown_filter_values_are_errors_naming_the_parameter(knowledge_base: KnowledgeBase) -> None:
    with pytest.raises(FilterError, match="town"):
        knowledge_base.search("台风", filters=SearchFilters(town="不存在镇"))
    with pytest.raises(FilterError, match="type"):
        knowledge_base.search("台风", filters=SearchFilters(doc_type="小说"))


def test_similar_cases(knowledge_base: KnowledgeBase) -> None:
    by_text = knowledge_base.similar_cases(text="台风带来大风暴雨，沿江低洼地区群众需要连夜转移", top_k=2)
    assert by_text[0].file == "cases/yiqiao_typhoon.md"
    assert all(knowledge_base.documents[c.doc_id]["doc_type"] == "案例" for c in by_text)
    by_case = knowledge_base.similar_cases(case_id="cases/yiqiao_typhoon.md", top_k=5)
    assert "cases/yiqiao_typhoon.md" not in {c.doc_id for c in by_case}
    assert {c.doc_id for c in by_case} <= {"cases/xintang_water.md"}
    with pytest.raises(KeyError):
        knowledge_base.similar_cases(case_id="cases/none.md")


def test_documents_and_metadata(knowledge_base: KnowledgeBase) -> None:
    document = knowledge_base.get_document("plans/guali_flood.md")
    assert document is not None
    assert document["doc_number"] == "瓜政发〔2023〕12号"
    assert document["towns"][0] == "330109113"
    assert [c["order"] for c in document["chunks"]] == list(range(len(document["chunks"])))
    assert Path(document["path"]).is_file()
    law = knowledge_base.get_document("laws/flood_law.txt")
    assert law is not None and law["doc_type"] == "法律法规" and law["title"] == "某省防汛条例"
    assert knowledge_base.get_document("nope.md") is None
    cases = knowledge_base.list_documents(SearchFilters(doc_type="案例"))
    assert {d["doc_id"] for d in cases} == {"cases/yiqiao_typhoon.md", "cases/xintang_water.md"}


def test_incremental_reindex_embeds_only_the_changed_document(tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    shutil.rmtree(docs / "broken")
    settings = KbSettings().with_changes(data_dir=tmp_path / "data", keep_versions=2)
    index = tmp_path / "index"
    embedder = Embedder(settings, EmbeddingCache(settings.embedding_cache))
    first = build_index(docs, index, settings, embedder=embedder)
    assert first.embedded == first.chunks

    unchanged = build_index(docs, index, settings, embedder=embedder)
    assert unchanged.unchanged and unchanged.version == first.version and unchanged.embedded == 0

    changed_file = docs / "cases" / "xintang_water.md"
    changed_file.write_text(XINTANG_CASE.replace("14小时", "16小时"), encoding="utf-8")
    second = build_index(docs, index, settings, embedder=embedder)
    assert second.changed_documents == ["cases/xintang_water.md"]
    assert second.reused_documents == 5
    assert second.embedded == 1  # only the one chunk whose text changed went through the model
    assert second.cached == second.chunks - 1
    assert pointer.read_current(index) == second.version != first.version

    (docs / "plans" / "chemical.docx").unlink()
    third = build_index(docs, index, settings, embedder=embedder)
    assert third.removed_documents == ["plans/chemical.docx"] and third.embedded == 0
    assert third.documents == 5
    kb_now = KnowledgeBase(index, settings)
    assert "plans/chemical.docx" not in kb_now.documents
    assert kb_now.search("16小时", mode="bm25", top_k=1)[0].file == "cases/xintang_water.md"
    assert len(pointer.versions(index, layout.INDEX_PREFIX)) == 2  # keep_versions: current + one for rollback


def test_cli_index_search_batch_similar_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = write_corpus(tmp_path)
    index = tmp_path / "index"
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    indexed = runner.invoke(cli, ["kb", "index", "--docs", str(docs), "--index", str(index), "--json"])
    assert indexed.exit_code == 0, indexed.output
    report = json.loads(indexed.stdout)
    assert report["documents"] == 6 and len(report["skipped"]) == 2

    searched = runner.invoke(cli, ["kb", "search", "--index", str(index), "--json", "--top-k", "3", "森林火灾 扑救"])
    assert searched.exit_code == 0, searched.output
    results = json.loads(searched.stdout)
    assert len(results) == 3
    assert {"file", "title", "heading_path", "text", "score"} <= set(results[0])
    assert results[0]["file"] == "plans/daicun_forest.md"

    filtered = runner.invoke(cli, ["kb", "search", "--index", str(index), "--json", "--type", "案例", "停水"])
    assert filtered.exit_code == 0 and {r["doc_type"] for r in json.loads(filtered.stdout)} == {"案例"}

    bad = runner.invoke(cli, ["kb", "search", "--index", str(index), "--town", "火星镇", "停水"])
    assert bad.exit_code != 0 and "town" in bad.output and "Traceback" not in bad.output

    queries = tmp_path / "queries.jsonl"
    lines = [
        {"id": "q1", "query": "护林员多久到达火场",
         "relevant": [{"file": "plans/daicun_forest.md", "answer": "30分钟内到达火场"}]},
        {"id": "q2", "query": "停水后怎么给居民送水",
         "relevant": [{"file": "cases/xintang_water.md", "answer": "临时送水点6处"}]},
    ]  # fmt: skip
    queries.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    batch = runner.invoke(
        cli, ["kb", "search", "--index", str(index), "--queries", str(queries), "--json", "--top-k", "2"]
    )
    assert batch.exit_code == 0, batch.output
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2"] and all(len(r["results"]) == 2 for r in rows)

    similar = runner.invoke(cli, ["kb", "similar", "--index", str(index), "--json", "--text", "水管爆了整个小区没水"])
    assert similar.exit_code == 0 and json.loads(similar.stdout)[0]["file"] == "cases/xintang_water.md"

    evaluated = runner.invoke(cli, ["kb", "eval", "--index", str(index), "--queries", str(queries), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    table = json.loads(evaluated.stdout)
    assert set(table) == {"bm25", "dense", "hybrid"}
    assert table["hybrid"]["recall@10"] == 1.0 and table["hybrid"]["queries"] == 2

    missing = runner.invoke(cli, ["kb", "search", "--index", str(tmp_path / "nowhere"), "台风"])
    assert missing.exit_code != 0 and "hub kb index" in missing.output


def test_empty_folder_builds_an_empty_searchable_index(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    settings = KbSettings().with_changes(data_dir=tmp_path / "data")
    report = build_index(tmp_path / "docs", tmp_path / "index", settings)
    assert report.documents == 0 and report.version is not None
    empty = KnowledgeBase(tmp_path / "index", settings)
    assert empty.search("台风", mode="hybrid") == [] and empty.list_documents() == []
