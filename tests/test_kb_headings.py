"""Heading detection and chunking on real Chinese official-document text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kb.chunking import chunk_text
from kb.headings import chinese_number, detect_headings

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DEMO_CORPUS = Path(__file__).resolve().parents[1] / "hub" / "sample" / "kb_docs"

MIXED_PLAN = """萧山区瓜沥镇防汛防台应急预案

一、总则
（一）编制目的
为做好瓜沥镇防汛防台工作，最大程度减少台风、暴雨造成的损失，制定本预案。
（二）适用范围
本预案适用于瓜沥镇行政区域内台风、暴雨、洪水等灾害的防范和应对。
二、组织体系
1.镇防汛防台指挥部
镇防汛防台指挥部由镇长任指挥长，分管副镇长任副指挥长。
2.村（社区）防汛防台工作组
各村（社区）成立防汛防台工作组，网格员负责巡查和转移安置。
（1）巡查组
负责辖区低洼易涝点、山塘水库的巡查。
（2）转移组
负责危险区域人员的转移安置，做到应转尽转。
①老弱病残等特殊群体优先转移。
三、应急响应
　　3.1　分级响应
根据台风、暴雨影响程度，应急响应分为四级。
"""

LAW_TEXT = """# 某省防汛条例

<!-- INFO END -->

## 第一章 总　则

第一条 为了做好防汛工作，根据《中华人民共和国防洪法》，制定本条例。

第二条　防汛工作实行各级人民政府行政首长负责制。

## 第二章 防汛准备

第三条 县级以上人民政府应当依照本法第十条的规定组织编制防御洪水方案：
（一）确定防汛重点；
（二）落实抢险队伍。
第十条规定的方案应当报上级人民政府备案。
第四条 违反本条例第三条规定，未编制方案的，由上级人民政府责令改正。
根据第三条规定编制的方案，应当每年修订。
"""


def titles(text: str) -> list[str]:
    return [" › ".join(h.title for h in chain) for _, chain in detect_headings(text)]


def test_chinese_numbers() -> None:
    assert chinese_number("二十三") == 23
    assert chinese_number("一百零五") == 105
    assert chinese_number("十") == 10
    assert chinese_number("12") == 12
    assert chinese_number("甲") is None


def test_mixed_numbering_schemes_nest_as_a_reader_would() -> None:
    paths = titles(MIXED_PLAN)
    assert "一、总则 › （一）编制目的" in paths
    assert "二、组织体系 › 1.镇防汛防台指挥部" not in paths  # "1." is dotted numbering, shown as "1 title"
    assert "二、组织体系 › 1 镇防汛防台指挥部" in paths
    assert "二、组织体系 › 2 村（社区）防汛防台工作组 › （1）巡查组" in paths
    assert "二、组织体系 › 2 村（社区）防汛防台工作组 › （2）转移组" in paths
    # A full-width indent before "3.1" does not hide the heading.
    assert "三、应急响应 › 3.1 分级响应" in paths
    # A long "①…" line is a list item, not a heading.
    assert not any("①" in p for p in paths)


def test_cross_references_are_not_headings() -> None:
    paths = titles(LAW_TEXT)
    articles = [p.rsplit(" › ", 1)[-1] for p in paths if p.endswith("条")]
    assert articles == ["第一条", "第二条", "第三条", "第四条"]
    # "第十条规定的…" at a line start and "根据第三条规定" are references, not articles.
    assert not any("第十条" in p for p in paths)
    assert "某省防汛条例 › 第二章 防汛准备 › 第三条" in paths
    # Items inside an article stay inside it.
    assert not any("（一）" in p for p in paths)


def test_law_article_is_one_chunk_with_offsets() -> None:
    chunks = chunk_text(LAW_TEXT, "某省防汛条例", max_chars=500, min_chars=120)
    article_three = next(c for c in chunks if c.heading_path[-1] == "第三条")
    assert article_three.heading_path == ("某省防汛条例", "第二章 防汛准备", "第三条")
    assert "（二）落实抢险队伍" in article_three.text
    assert "第十条规定的方案" in article_three.text
    assert "第四条" not in article_three.text
    for chunk in chunks:
        assert LAW_TEXT[chunk.start : chunk.end] == chunk.text
    assert [c.order for c in chunks] == list(range(len(chunks)))


def test_long_sections_split_at_sentence_ends_within_the_bound() -> None:
    sentence = "台风登陆前，各村（社区）应当组织网格员对危旧房、低洼地、山塘水库下游等区域开展拉网式排查。"
    text = "某镇预案\n\n一、转移安置\n" + sentence * 30
    chunks = chunk_text(text, "某镇预案", max_chars=200, min_chars=50)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(chunk.text) <= 200
        assert chunk.text.endswith("。")
        assert chunk.heading_path == ("某镇预案", "一、转移安置")


def test_small_siblings_merge_but_keep_the_bound() -> None:
    text = "某预案\n1 总则\n1.1 目的\n保障安全。\n1.2 依据\n依据有关法律。\n1.3 范围\n适用于本镇。\n"
    text += "2 组织\n" + "组织机构职责明确。" * 5
    chunks = chunk_text(text, "某预案", max_chars=500, min_chars=120)
    first = chunks[0]
    assert "保障安全" in first.text and "适用于本镇" in first.text
    assert first.heading_path == ("某预案", "1 总则")  # merged siblings are labelled by their parent


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="../shared/corpus not present")
def test_shared_corpus_law_articles_all_found() -> None:
    text = (SHARED_CORPUS / "emergency-response-law-2024.txt").read_text(encoding="utf-8")
    expected = len(re.findall(r"(?m)^第[一二三四五六七八九十百零]+条[ \u3000]", text))
    found = [h for h, _ in detect_headings(text) if h.is_article]
    assert len(found) == expected >= 100
    chapters = {chain[-2].title for h, chain in detect_headings(text) if h.is_article}
    assert "## 第一章 总 则" not in chapters and "第一章 总 则" in chapters


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="../shared/corpus not present")
def test_shared_corpus_plan_heading_paths() -> None:
    text = (SHARED_CORPUS / "national-highway-traffic-emergency-plan.txt").read_text(encoding="utf-8")
    chunks = chunk_text(text, "公路交通突发事件应急预案")
    paths = {c.heading_path_text for c in chunks}
    assert "公路交通突发事件应急预案 › 3 运行机制 › 3.2 应急处置 › 3.2.1 分级响应" in paths
    assert "公路交通突发事件应急预案 › 1 总则 › 1.3 分类分级" in paths
    assert all(text[c.start : c.end] == c.text and len(c.text) <= 500 for c in chunks)


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="../shared/corpus not present")
def test_shared_corpus_damaged_case_report_is_chunked_robustly() -> None:
    path = SHARED_CORPUS / "cases" / "beijing-miyun-7-28-flood-investigation.txt"
    text = path.read_text(encoding="utf-8")
    chunks = chunk_text(text, "北京密云“7·28”调查评估报告")
    paths = [c.heading_path_text for c in chunks]
    # Table-of-contents lines ("一、基本情况 ....... 2") are not headings.
    assert not any("....." in p for p in paths)
    assert any("三、灾害直接原因分析" in p and "（一）清水河流域强降雨影响大" in p for p in paths)
    assert all(text[c.start : c.end] == c.text and len(c.text) <= 500 for c in chunks)


@pytest.mark.skipif(not DEMO_CORPUS.exists(), reason="demo corpus not present")
def test_demo_corpus_every_document_has_structure() -> None:
    files = sorted(DEMO_CORPUS.rglob("*.md"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8")
        chunks = chunk_text(text, path.stem)
        assert len({c.heading_path for c in chunks}) > 1, path.name
        assert all(text[c.start : c.end] == c.text for c in chunks), path.name


def test_a_one_line_document_is_one_chunk() -> None:
    chunks = chunk_text("演练通知：明天上午九点", "演练通知")
    assert [c.text for c in chunks] == ["演练通知：明天上午九点"]
    assert chunks[0].heading_path == ("演练通知",)


def test_run_in_headings_keep_their_own_text() -> None:
    text = (
        "某案例\n\n二、处置经过\n\n（一）提前部署。8月8日16时，区防指启动防台风Ⅲ级应急响应。\n\n"
        "（二）分批转移。9日上午，镇里分三批转移群众。\n\n三、处置结果\n\n未造成人员伤亡。\n"
    )
    chunks = chunk_text(text, "某案例", max_chars=500, min_chars=10)
    by_path = {c.heading_path_text: c.text for c in chunks}
    assert by_path["某案例 › 二、处置经过 › （一）提前部署"].endswith("启动防台风Ⅲ级应急响应。")
    assert by_path["某案例 › 二、处置经过 › （二）分批转移"].startswith("（二）分批转移")
    assert by_path["某案例 › 三、处置结果"] == "三、处置结果\n\n未造成人员伤亡。"
