"""Metadata extraction from Chinese official text: 文号, dates, issuers, hazards, towns, case figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.metadata import extract_metadata, normalise_doc_number, parse_date
from kb.settings import DEFAULT_TOWN_ALIASES

NOTICE = """关于印发《萧山区防汛防台专项应急预案》的通知
萧委办发[2021]20号

各镇人民政府、街道办事处，区级各部门：
现将《萧山区防汛防台专项应急预案》印发给你们。台风、暴雨期间，瓜沥镇、萧山区义桥镇等沿江镇街要做好转移安置。
台风来临前，各镇街要提前转移危险区域群众。

中共杭州市萧山区委办公室
2021年6月1日
"""

CASE = """# 某镇“7·15”山洪灾害调查评估报告

2023年7月15日凌晨，某镇遭遇短时强降雨，引发山洪。山洪造成3人死亡、2人受伤、1人失踪，
直接经济损失约1250.5万元。镇村两级共转移群众1.2万人。
"""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("萧委办发〔2021〕20号", "萧委办发〔2021〕20号"),
        ("萧委办发[2021]20号", "萧委办发〔2021〕20号"),
        ("萧委办发【2021】20号", "萧委办发〔2021〕20号"),
        ("萧委办发（2021）20号", "萧委办发〔2021〕20号"),
        ("萧委办发(2021)020号", "萧委办发〔2021〕20号"),
        ("萧政办发［2019］ 7 号", "萧政办发〔2019〕7号"),
        ("见国办函〔2019〕第5号文件", "见国办函〔2019〕5号"),
    ],
)
def test_document_number_bracket_variants(raw: str, expected: str) -> None:
    assert normalise_doc_number(raw) == expected


def test_no_document_number_in_plain_text() -> None:
    assert normalise_doc_number("本预案自2021年起施行，共20条。") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021年6月1日", "2021-06-01"),
        ("2021-06-01", "2021-06-01"),
        ("2021/6/1", "2021-06-01"),
        ("2026 年 6 月", "2026-06"),
    ],
)
def test_dates(raw: str, expected: str) -> None:
    assert parse_date(raw) == expected


def test_notice_metadata_from_text() -> None:
    meta = extract_metadata(NOTICE, {}, DEFAULT_TOWN_ALIASES)
    assert meta.doc_number == "萧委办发〔2021〕20号"
    assert meta.issuer == "中共杭州市萧山区委办公室"
    assert meta.date == "2021-06-01" and meta.year == 2021
    assert meta.doc_type == "预案"  # the title names a 预案
    assert "台风" in meta.hazards
    assert meta.towns == ["330109113", "330109106"]  # 瓜沥镇, 萧山区义桥镇, in order of mention


def test_declared_metadata_wins_and_is_normalised() -> None:
    declared = {"title": "戴村镇突发事件总体应急预案", "doc_type": "应急预案", "doc_number": "戴政[2022]9号",
                "date": "2022-04-28", "hazards": ["山洪", "滑坡"], "town_code": "戴村镇"}  # fmt: skip
    meta = extract_metadata("正文没有日期。", declared, DEFAULT_TOWN_ALIASES)
    assert meta.title == "戴村镇突发事件总体应急预案"
    assert meta.doc_type == "预案"
    assert meta.doc_number == "戴政〔2022〕9号"
    assert meta.date == "2022-04-28"
    assert meta.hazards == ["山洪", "地质灾害"]
    assert meta.towns == ["330109102"]


def test_case_figures() -> None:
    meta = extract_metadata(CASE, {}, DEFAULT_TOWN_ALIASES)
    assert meta.doc_type == "案例"
    assert meta.event_date == "2023-07-15"
    assert meta.figures == {
        "deaths": 3.0,
        "injured": 2.0,
        "missing": 1.0,
        "evacuated": 12000.0,
        "direct_loss_10k_yuan": 1250.5,
    }
    assert "山洪" in meta.hazards


def test_law_issuer_and_latest_date_from_title_block() -> None:
    law = (
        "# 中华人民共和国突发事件应对法\n\n2007年8月30日 第十届全国人民代表大会常务委员会第二十九次会议通过\n\n"
        "2024年6月28日 第十四届全国人民代表大会常务委员会第十次会议修订\n\n<!-- INFO END -->\n\n"
        "## 第一章 总 则\n\n第一条 为了预防和减少突发事件的发生，制定本法。\n\n"
        "第二条 本法所称突发事件。\n\n第三条 分级。\n"
    )
    meta = extract_metadata(law, {}, DEFAULT_TOWN_ALIASES)
    assert meta.title == "中华人民共和国突发事件应对法"
    assert meta.doc_type == "法律法规"
    assert meta.issuer == "全国人民代表大会常务委员会"
    assert meta.date == "2024-06-28"


def test_short_town_names_that_are_ordinary_words_are_not_towns() -> None:
    text = "河上游来水较大，经济技术开发区内企业停产，物种进化。"
    assert extract_metadata(text, {}, DEFAULT_TOWN_ALIASES).towns == []


def test_town_aliases_file_is_the_project_crosswalk() -> None:
    assert Path(DEFAULT_TOWN_ALIASES).name == "town_aliases.csv"
    assert DEFAULT_TOWN_ALIASES.exists()
