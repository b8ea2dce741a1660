"""The four-platforms HTTP client against a real HTTP server: paging, cursor, retries, errors.

The tiny server here serves the contract of docs/sources.md; when the project's own feed simulator
(hub.sample.feed_server) is present, the last test runs the client against it too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import duckdb
import pytest

from orchestration.ingest.feed_client import CURSOR_FILE, FeedError, fetch_events, read_cursor

START = datetime.fromisoformat("2024-05-01T08:00:00+08:00")


def make_event(n: int, updated: datetime, status: str = "已受理") -> dict[str, object]:
    return {
        "eventId": f"E{n:05d}", "title": f"第{n}号事件：道路积水", "content": "路面积水约20厘米", "source": "12345",
        "platform": "综合执法", "townName": ["瓜沥镇", "城厢", "330109002"][n % 3], "townCode": "",
        "reportTime": (updated - timedelta(hours=1)).isoformat(), "status": status, "urgency": "一般",
        "isSupervised": n % 2 == 0, "updatedAt": updated.isoformat(),
        "flows": [{"seq": 1, "action": "上报", "fromDept": "网格员", "toDept": "四平台", "time": updated.isoformat()}],
    }


@dataclass
class FeedState:
    events: list[dict[str, object]]
    fail_every: int = 0  # every n-th request answers 503
    always_fail: bool = False
    requests: int = 0
    failures: int = 0
    items_served: int = 0
    queries: list[dict[str, list[str]]] = field(default_factory=list)


def make_handler(state: FeedState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def answer(self, status: int, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests += 1
            url = urlparse(self.path)
            query = parse_qs(url.query)
            state.queries.append(query)
            if url.path != "/api/v1/events":
                return self.answer(404, {"error": "not found"})
            if state.always_fail or (state.fail_every and state.requests % state.fail_every == 0):
                state.failures += 1
                return self.answer(503, {"error": "busy"})
            size = int(query.get("pageSize", ["100"])[0])
            if size > 1000:
                return self.answer(400, {"error": "pageSize must be at most 1000"})
            since = query.get("updatedSince", [None])[0]
            chosen = sorted(
                (e for e in state.events
                 if since is None or datetime.fromisoformat(str(e["updatedAt"])) > datetime.fromisoformat(since)),
                key=lambda e: (str(e["updatedAt"]), str(e["eventId"])),
            )
            offset = int(query.get("pageToken", ["0"])[0])
            page = chosen[offset: offset + size]
            state.items_served += len(page)
            more = offset + size < len(chosen)
            return self.answer(200, {"items": page, "nextPageToken": str(offset + size) if more else None})

    return Handler


@pytest.fixture
def feed() -> Iterator[tuple[FeedState, str]]:
    state = FeedState(events=[make_event(n, START + timedelta(minutes=n)) for n in range(1, 26)])
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def event_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT count(*) FROM raw.four_platforms__events").fetchall()[0][0]


def test_second_run_fetches_only_changed_events(feed: tuple[FeedState, str], tmp_path: Path) -> None:
    state, base_url = feed
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        first = fetch_events(con, base_url, tmp_path / "state", page_size=10)
        assert (state.requests, state.items_served) == (3, 25)
        assert first.rows_loaded == 25 and first.rows_quarantined == 0
        assert read_cursor(tmp_path / "state") == (START + timedelta(minutes=25)).isoformat()
        sources = con.execute("SELECT DISTINCT _source_file FROM raw.four_platforms__events").fetchall()
        assert len(sources) == 3 and all(s.startswith(f"{base_url}/api/v1/events?") for (s,) in sources)

        # Nothing changed: one request, no items.
        second = fetch_events(con, base_url, tmp_path / "state", page_size=10)
        assert (state.requests, state.items_served) == (4, 25) and second.rows_loaded == 0
        assert state.queries[-1]["updatedSince"] == [(START + timedelta(minutes=25)).isoformat()]

        # Two events get a new status, one is new: exactly those three come, history is kept.
        later = START + timedelta(hours=2)
        state.events[0] = make_event(1, later, status="已办结")
        state.events[4] = make_event(5, later + timedelta(minutes=1), status="处置中")
        state.events.append(make_event(26, later + timedelta(minutes=2)))
        third = fetch_events(con, base_url, tmp_path / "state", page_size=10)
        assert state.items_served == 28 and third.rows_loaded == 3
        assert event_count(con) == 28
        versions = con.execute(
            'SELECT status FROM raw.four_platforms__events WHERE "eventId" = \'E00001\' ORDER BY "updatedAt"'
        ).fetchall()
        assert versions == [("已受理",), ("已办结",)]


def test_retries_transient_503(feed: tuple[FeedState, str], tmp_path: Path) -> None:
    state, base_url = feed
    state.fail_every = 2
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        summary = fetch_events(con, base_url, tmp_path / "state", page_size=10, backoff_seconds=0.01)
        assert state.failures >= 2
        assert summary.rows_loaded == 25 and event_count(con) == 25


def test_gives_up_after_bounded_attempts_without_moving_the_cursor(feed: tuple[FeedState, str],
                                                                    tmp_path: Path) -> None:
    state, base_url = feed
    state.always_fail = True
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con, pytest.raises(FeedError) as error:
        fetch_events(con, base_url, tmp_path / "state", max_attempts=3, backoff_seconds=0.01)
    assert state.requests == 3
    assert "after 3 attempts" in str(error.value) and "HTTP 503" in str(error.value)
    assert not (tmp_path / "state" / CURSOR_FILE).exists()


def test_client_error_names_url_and_body(feed: tuple[FeedState, str], tmp_path: Path) -> None:
    state, base_url = feed
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con, pytest.raises(FeedError) as error:
        fetch_events(con, base_url, tmp_path / "state", page_size=5000, backoff_seconds=0.01)
    message = str(error.value)
    assert state.requests == 1  # a 4xx is not retried
    assert "HTTP 400" in message and "pageSize=5000" in message and "pageSize must be at most 1000" in message


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port now
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con, pytest.raises(FeedError) as error:
        fetch_events(con, f"http://127.0.0.1:{port}", tmp_path / "state", max_attempts=2, backoff_seconds=0.01)
    assert "ConnectError" in str(error.value) and f"127.0.0.1:{port}" in str(error.value)


def test_against_the_project_feed_simulator(tmp_path: Path) -> None:
    feed_server = pytest.importorskip("hub.sample.feed_server")
    events_dir = tmp_path / "events"
    events_dir.mkdir()

    def write(name: str, events: list[dict[str, object]]) -> None:
        text = "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n"
        (events_dir / name).write_text(text, encoding="utf-8")

    write("events_20240501.jsonl", [make_event(n, START + timedelta(minutes=n)) for n in range(1, 8)])
    server, base_url = feed_server.start_feed_server(events_dir, "127.0.0.1", port=0, fail_every=2)
    try:
        with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
            first = fetch_events(con, base_url, tmp_path / "state", page_size=3, backoff_seconds=0.01)
            assert first.rows_loaded == 7 and len(first.files) == 3  # three pages, through the 503s
            later = START + timedelta(days=1)
            write("events_20240502.jsonl", [make_event(2, later, "已办结"), make_event(9, later)])
            second = fetch_events(con, base_url, tmp_path / "state", page_size=3, backoff_seconds=0.01)
            assert sum(f.rows_read for f in second.files) == 2 and second.rows_loaded == 2
            assert event_count(con) == 9
    finally:
        server.shutdown()
        server.server_close()


def test_cli_reads_files_then_the_feed(feed: tuple[FeedState, str], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.cli.main import cli

    state, base_url = feed
    landing = tmp_path / "landing"
    (landing / "four_platforms").mkdir(parents=True)
    args = ["ingest", "--landing", str(landing), "--data-dir", str(tmp_path / "data"), "--source", "four_platforms",
            "--feed-url", base_url]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "【four_platforms HTTP】入库 25 行 / rows loaded" in first.output
    second = CliRunner().invoke(cli, args)
    assert "【four_platforms HTTP】入库 0 行 / rows loaded" in second.output and state.items_served == 25
    state.always_fail = True
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 1 and "feed unavailable after 5 attempts" in failed.output
    assert "Traceback" not in failed.output
