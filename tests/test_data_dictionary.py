"""docs/data-dictionary.md is generated from the dbt manifest: the committed file matches the generator,
every model, seed and column has a description, and the layout puts each model in its folder's section."""

from __future__ import annotations

from typing import Any

import pytest

from hub.cli.data_dictionary import (
    DICTIONARY_PATH,
    load_project_vars,
    missing_descriptions,
    render_dictionary,
)
from orchestration.dbt_project import MANIFEST_PATH, changed_since_manifest, prepare_manifest
from orchestration.publish import load_manifest


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The set-up step prepares the manifest; prepare it here too when a bare checkout (or newer YAML) needs it."""
    if not MANIFEST_PATH.exists() or changed_since_manifest(MANIFEST_PATH):
        prepare_manifest()
    return load_manifest(MANIFEST_PATH)


def test_committed_dictionary_is_generated(manifest: dict[str, Any]) -> None:
    generated = render_dictionary(manifest, load_project_vars())
    committed = DICTIONARY_PATH.read_text(encoding="utf-8")
    assert committed == generated, "docs/data-dictionary.md is out of date: run make docs"


def test_every_model_seed_and_column_has_a_description(manifest: dict[str, Any]) -> None:
    assert missing_descriptions(manifest) == []


def _model(name: str, folder: list[str], columns: dict[str, str], publish: bool = False) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "unique_id": f"model.hub.{name}",
        "name": name,
        "schema": "main",
        "fqn": ["hub", *folder, name],
        "description": f"{name} description\n",
        "config": {"materialized": "table", "meta": {"publish": True} if publish else {}},
        "columns": {col: {"name": col, "description": text} for col, text in columns.items()},
    }


def test_layout_escaping_and_published_marker() -> None:
    manifest = {
        "nodes": {
            "model.hub.town_scores": _model(
                "town_scores", ["marts", "readiness"], {"town_code": "镇街代码 / town", "kind": "类型 / 街道|镇"},
                publish=True,
            ),
            "model.hub.int_helper": _model("int_helper", ["intermediate"], {"town_code": "", "rank": "序号 / rank"}),
        },
    }
    text = render_dictionary(manifest, {"as_of": "", "team_min_headcount": 10})
    readiness = text.index("## Shared views: readiness (published)")
    intermediate = text.index("## Intermediate models (build database only)")
    assert readiness < text.index("### `town_scores` `published`") < intermediate
    assert intermediate < text.index("### `int_helper`\n")
    assert "`int_helper` `published`" not in text
    assert "| `kind` | 类型 / 街道\\|镇 |" in text
    assert "| `town_code` |  |" in text  # undocumented: an empty cell ...
    assert "| `team_min_headcount` | `10` |" in text
    # ... and named by the check, like a model without a description
    manifest["nodes"]["model.hub.int_helper"]["description"] = ""
    # a published model needs a Chinese summary for the web pages as well
    assert missing_descriptions(manifest) == ["summary town_scores", "model int_helper", "column int_helper.town_code"]
    # columns keep their YAML order; sections without models are left out
    assert text.index("| `town_code` |  |") < text.index("| `rank` |")
    assert "## Staging" not in text and "## Crosswalk seeds" not in text


def test_a_model_outside_the_known_folders_is_an_error() -> None:
    manifest = {"nodes": {"model.hub.stray": _model("stray", ["marts", "new_folder"], {})}}
    with pytest.raises(ValueError, match="models/marts/new_folder/"):
        render_dictionary(manifest, {})


def test_chinese_summaries_have_no_folded_line_breaks(manifest: dict[str, Any]) -> None:
    """A folded YAML block (``>-``) joins its lines with a space, which splits Chinese text ("冲突： 该层级"):
    long summaries continue their lines with a backslash inside double quotes instead."""
    import re

    from orchestration.publish import published_models

    folded = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef] [\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    assert [m.name for m in published_models(manifest) if folded.search(m.summary)] == []
