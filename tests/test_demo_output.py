"""What `make run` prints while it builds: progress lines during a long pipeline run, the KB index's counts,
and every page's URL at the end."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hub.cli import demo
from hub.core.paths import HubPaths
from hub.core.pointer import POINTER


def test_progress_lines_while_the_pipeline_runs() -> None:
    lines: list[str] = []
    with demo._progress(lines.append, every=0.05):
        time.sleep(0.3)
    assert len(lines) >= 3 and all("still running" in line for line in lines)
    count = len(lines)
    time.sleep(0.15)
    assert len(lines) == count  # silent once the block is over


def test_kb_line_gives_document_and_chunk_counts(tmp_path: Path) -> None:
    paths = HubPaths(tmp_path)
    version = paths.kb_index / "index-20261203T000000000000"
    version.mkdir(parents=True)
    (version / "manifest.json").write_text(json.dumps({"documents": 7, "chunks": 93, "skipped": ["a.doc"]}))
    (paths.kb_index / POINTER).write_text(version.name)
    assert demo._kb_counts(paths) == "（7 篇文档，93 个片段，跳过 1 个文件）/ 7 documents, 93 chunks, 1 files skipped"
    assert demo._kb_counts(HubPaths(tmp_path / "none")) == ""


def test_final_urls_name_every_page() -> None:
    paths = [path for path, _ in demo.PAGES]
    assert {"/", "/search", "/tables", "/sql", "/towns", "/quality"} <= set(paths)


def test_final_urls_line_up_with_chinese_labels() -> None:
    """str.ljust counts a Chinese character as one column, so the URLs after 数据表 and 首页 did not line up; and
    考核督办, on the home page and in the menu, was missing from the list."""
    import unicodedata

    assert "/assessment" in [path for path, _ in demo.PAGES]
    lines = [demo.padded(label, 22) + "|" for _, label in demo.PAGES]
    columns = {sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line) for line in lines}
    assert len(columns) == 1, lines


def test_the_api_logs_its_own_info_but_not_the_libraries(tmp_path: Path) -> None:
    """Litestar's default logging set the root logger to INFO: `make run` printed sentence-transformers' model
    loading line among its own."""
    import logging

    from api.app import create_app
    from api.settings import ApiSettings

    app = create_app(ApiSettings.from_env(str(tmp_path)))
    app.logging_config.configure()
    assert not logging.getLogger("sentence_transformers.base.model").isEnabledFor(logging.INFO)
    assert logging.getLogger("api").isEnabledFor(logging.INFO)
    assert logging.getLogger("kb.embedding").isEnabledFor(logging.INFO)
