"""The alert posts exactly once when a check turns from pass to fail, to a real local HTTP receiver;
an unreachable webhook never fails the run.

The build database here is a real DuckDB file with the raw layer (ingest's own DDL) and one
registry delivery; the quarantine row that breaks it is added between runs, as ingest would.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest

from hub.core.paths import HubPaths
from orchestration.ingest.schema import ensure_raw_schema
from orchestration.quality.report import produce_report

CHECK = "completeness:registry.drills"


class Receiver:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _build_db(paths: HubPaths) -> None:
    paths.build_db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(paths.build_db))
    try:
        ensure_raw_schema(con)
        started = datetime(2026, 11, 28, 6, 0)
        con.execute(
            "INSERT INTO raw.load_log VALUES ('L1', 'registry', 'drills', 'registry/drills.csv', 'h1', 20, 20, 0, "
            "'loaded', NULL, ?, ?, NULL, NULL)",
            [started, started],
        )
    finally:
        con.close()


def _quarantine_a_drill(paths: HubPaths, drill_id: str) -> None:
    con = duckdb.connect(str(paths.build_db))
    try:
        con.execute(
            "INSERT INTO raw.quarantine VALUES ('registry', 'drills', 'registry/drills.csv', 7, '演练日期', NULL, "
            "'必填字段为空 / required field is empty', ?, 'L1', ?)",
            [json.dumps({"演练编号": drill_id, "演练日期": ""}, ensure_ascii=False), datetime(2026, 11, 28, 6, 0)],
        )
    finally:
        con.close()


def test_pass_to_fail_posts_exactly_once(tmp_path: Path, receiver: Receiver) -> None:
    paths = HubPaths(tmp_path)
    _build_db(paths)

    first = produce_report(paths, as_of=date(2026, 11, 28), webhook_url=receiver.url)
    assert {r.check_name: r.status for r in first.results}[CHECK] == "pass"
    assert receiver.messages == []

    _quarantine_a_drill(paths, "YL0007")  # 1 of 20 rows: 5%, above the 1% tolerated
    second = produce_report(paths, as_of=date(2026, 11, 28), webhook_url=receiver.url)
    assert second.newly_failing == [CHECK]
    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert message["run_id"] == second.run_id
    assert message["departments"] == ["区应急管理局"]
    assert [c["check_name"] for c in message["checks"]] == [CHECK]
    assert message["checks"][0]["sample_keys"] == ["YL0007"]
    assert "由通过变为不通过" in message["text"]

    third = produce_report(paths, as_of=date(2026, 11, 28), webhook_url=receiver.url)  # still failing: no news
    assert third.newly_failing == []
    assert len(receiver.messages) == 1


def test_unreachable_webhook_is_logged_and_the_report_still_written(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    paths = HubPaths(tmp_path)
    _build_db(paths)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    produce_report(paths, webhook_url=dead_url)
    _quarantine_a_drill(paths, "YL0007")
    with caplog.at_level("WARNING"):
        outcome = produce_report(paths, webhook_url=dead_url)
    assert outcome.newly_failing == [CHECK]
    assert outcome.html_path.exists() and outcome.json_path.exists()
    assert "quality alert not delivered" in caplog.text


def test_no_webhook_setting_means_no_alert(tmp_path: Path, receiver: Receiver,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_QUALITY_WEBHOOK_URL", raising=False)
    paths = HubPaths(tmp_path)
    _build_db(paths)
    produce_report(paths)
    _quarantine_a_drill(paths, "YL0007")
    assert produce_report(paths).newly_failing == [CHECK]
    assert receiver.messages == []
    monkeypatch.setenv("HUB_QUALITY_WEBHOOK_URL", receiver.url)
    con = duckdb.connect(str(paths.build_db))
    con.execute("DELETE FROM raw.quarantine")  # the department fixed the row
    con.close()
    produce_report(paths)  # back to pass
    _quarantine_a_drill(paths, "YL0008")
    produce_report(paths)  # pass → fail again, now with the setting
    assert [m["checks"][0]["sample_keys"] for m in receiver.messages] == [["YL0008"]]
