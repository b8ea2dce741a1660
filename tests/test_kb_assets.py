"""The kb_index Dagster asset indexes landing/kb and publishes the index (real model, real Chroma)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from hub.core import pointer
from hub.core.paths import HubPaths
from kb.search import KnowledgeBase
from orchestration.kb_assets import KB_GROUP, kb_assets, kb_index
from orchestration.resources import HubSettings

PLAN = """---
title: 楼塔镇山洪灾害防御预案
doc_type: 预案
town_code: 楼塔镇
hazards: [山洪]
---
# 楼塔镇山洪灾害防御预案

一、预警发布

山洪灾害预警信息由镇防汛办通过应急广播、短信和网格员逐户通知等方式发布。

二、转移安置

接到转移指令后，危险区群众在1小时内转移到指定避灾安置场所。
"""


def _materialize(data_dir: Path) -> dg.AssetMaterialization:
    result = dg.materialize(kb_assets, resources={"hub_settings": HubSettings(data_dir=str(data_dir))})
    assert result.success
    materializations = result.asset_materializations_for_node("kb_index")
    assert len(materializations) == 1
    return materializations[0]


def test_asset_definition() -> None:
    assert kb_assets == [kb_index]
    spec = kb_index.specs_by_key[dg.AssetKey("kb_index")]
    assert spec.group_name == KB_GROUP == "knowledge_base"


def test_kb_index_asset_indexes_landing_and_publishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_LANDING_DIR", raising=False)
    paths = HubPaths(tmp_path)
    landing = paths.landing_for("kb")
    landing.mkdir(parents=True)
    (landing / "louta_flash_flood.md").write_text(PLAN, encoding="utf-8")
    (landing / "broken.docx").write_bytes(b"PK\x03\x04 definitely not a docx")

    first = _materialize(tmp_path).metadata
    assert first["documents"].value == 1
    assert first["chunks"].value >= 1
    assert first["embedded"].value == first["chunks"].value
    assert first["skipped_files"].value == 1
    assert "broken.docx" in first["skipped"].value
    assert pointer.read_current(paths.kb_index) is not None

    hit = KnowledgeBase(paths.kb_index).search("山洪 预警 发布", mode="bm25", top_k=1)[0]
    assert hit.file == "louta_flash_flood.md"

    again = _materialize(tmp_path).metadata
    assert again["unchanged"].value is True
    assert again["embedded"].value == 0
