"""Crash safety: ``hub run`` killed with SIGKILL (the whole process group, dbt included) in the middle of
ingest, of the index build and of the dbt build leaves the published snapshot and search index
untouched and still served; rerunning then completes with the same result as an uninterrupted run.

The data directory is a copy of the session's (tests/api_fixtures.py), whose snapshot and index
came from an uninterrupted ``hub run`` on the same landing files and as-of date: that run is the
reference. The copy loses its build database, so each run here rebuilds from the landing files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from api_fixtures import AS_OF, HUB, SAMPLE_DOCS, LiveServer, hub_env, start_server, stop_server

from hub.core.paths import HubPaths
from hub.core.pointer import read_current
from kb.indexer import build_index
from kb.layout import CHUNKS
from kb.settings import KbSettings
from orchestration.ingest.contracts import ENTITIES

pytestmark = pytest.mark.slow

RUN_TIMEOUT_S = 600
EXTRA_DOCS = (
    "plans/district_城市内涝专项应急预案.md",
    "plans/district_森林火灾专项应急预案.md",
    "plans/district_危险化学品事故专项应急预案.md",
    "plans/330109104_进化镇突发事件总体应急预案.md",
)
LOAD_TIME_COLUMNS = {"first_seen_date", "found_date", "days_open"}  # follow the day a row was first loaded


class KilledRun:
    """``hub run`` in its own process group; SIGKILLed as soon as a line of its output matches."""

    def __init__(self, data_dir: Path, kill_when: Callable[[str], bool] | None) -> None:
        self.lines: list[str] = []
        self.killed_at: str | None = None
        self.process = subprocess.Popen(
            [*HUB, "run", "--verbose", "--data-dir", str(data_dir), "--as-of", AS_OF.isoformat()],
            # Unbuffered, so a line is seen when it is written, not when a pipe buffer fills.
            env=hub_env(data_dir, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1", PYTHONUNBUFFERED="1"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self._kill_when = kill_when
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if self._kill_when and self.killed_at is None and self._kill_when(line):
                self.killed_at = line.strip()
                os.killpg(self.process.pid, signal.SIGKILL)  # the pipeline and its dbt child die together

    def wait(self) -> int:
        code = self.process.wait(timeout=RUN_TIMEOUT_S)
        self._reader.join(timeout=10)
        return code

    @property
    def output(self) -> str:
        return "".join(self.lines)[-5000:]


def dbt_model_started(minimum: int) -> Callable[[str], bool]:
    pattern = re.compile(r"\b(\d+) of \d+ START sql")
    return lambda line: bool((m := pattern.search(line)) and int(m.group(1)) >= minimum)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sorted_rows(con: duckdb.DuckDBPyConnection, relation: str, exclude: set[str]) -> list[str]:
    columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall() if r[0] not in exclude]
    select = ", ".join(f'"{c}"' for c in columns)
    return [r[0] for r in con.execute(f"SELECT CAST(ROW({select}) AS VARCHAR) AS r FROM {relation} ORDER BY r")
            .fetchall()]


def raw_state(build_db: Path) -> dict[str, list[str]]:
    """Every raw table, the quarantine and the files loaded: content without load ids and load times."""
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        state = {e.table: sorted_rows(con, f'raw."{e.table}"', {"_load_id", "_loaded_at"}) for e in ENTITIES}
        state["quarantine"] = sorted_rows(con, "raw.quarantine", {"load_id", "loaded_at"})
        state["files"] = [r[0] for r in con.execute(
            "SELECT CAST(ROW(source_system, entity, source_file, file_hash, status, rows_read, rows_loaded, "
            "rows_quarantined) AS VARCHAR) AS r FROM raw.load_log WHERE status IN ('loaded', 'rejected') ORDER BY r"
        ).fetchall()]
        return state
    finally:
        con.close()


def snapshot_state(snapshot: Path, exclude: set[str]) -> dict[str, list[str]]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM _tables ORDER BY 1").fetchall()]
        return {t: sorted_rows(con, f'"{t}"', exclude) for t in tables}
    finally:
        con.close()


def index_chunks(version: Path) -> list[tuple[str, str, str]]:
    table = pq.read_table(version / CHUNKS, columns=["doc_id", "heading_path", "text"])
    return sorted(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


def shanghai_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


@pytest.fixture(scope="module")
def crash_dir(api_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("crash") / "data"
    shutil.copytree(api_data_dir, data_dir, ignore=shutil.ignore_patterns("server-*.log"))
    shutil.rmtree(data_dir / "warehouse")  # rebuild from the landing files
    # The documents the session index was built from plus a few more (so the index build has work to do),
    # where the pipeline's kb_index asset looks for them.
    docs = HubPaths(data_dir).landing / "kb"
    shutil.copytree(data_dir / "kb_docs", docs)
    for relative in EXTRA_DOCS:
        shutil.copyfile(SAMPLE_DOCS / relative, docs / relative)
    return data_dir


@pytest.fixture(scope="module")
def crash_server(crash_dir: Path, api_server: LiveServer) -> Iterator[LiveServer]:
    server = start_server(crash_dir)
    server.keys = api_server.keys  # the copied key store holds the session's keys
    yield server
    stop_server(server)


def assert_still_served(server: LiveServer, snapshot_name: str, index_name: str) -> None:
    headers = {"Authorization": f"Bearer {server.keys['admin']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as c:
        health = c.get("/api/health").json()
        assert (health["snapshot"], health["search_index"]) == (snapshot_name, index_name)
        assert len(c.get("/api/tables/town_dossier", params={"_size": 100}).json()["rows"]) == 27
        assert c.get("/api/search", params={"q": "台风 转移"}).json()["results"]


def test_killed_runs_leave_the_published_state_served_and_a_rerun_matches_an_uninterrupted_one(
    api_data_dir: Path, crash_dir: Path, crash_server: LiveServer
) -> None:
    paths = HubPaths(crash_dir)
    snapshot, index = read_current(paths.serving), read_current(paths.kb_index)
    assert snapshot is not None and index is not None
    snapshot_digest = file_digest(snapshot)
    assert_still_served(crash_server, snapshot.name, index.name)

    def assert_untouched(stage: str, index_may_move: bool = False) -> Path:
        assert read_current(paths.serving) == snapshot, f"{stage}: the serving pointer moved"
        assert file_digest(snapshot) == snapshot_digest, f"{stage}: the published snapshot changed"
        served_index = read_current(paths.kb_index)
        assert served_index is not None
        if not index_may_move:
            assert served_index == index, f"{stage}: the index pointer moved"
        assert_still_served(crash_server, snapshot.name, served_index.name)
        return served_index

    # 1. In the middle of ingest: the first source has committed, the others are loading.
    run = KilledRun(crash_dir, lambda line: "【four_platforms】" in line)
    run.wait()
    assert run.killed_at, f"ingest never reported:\n{run.output}"
    assert_untouched("ingest")
    con = duckdb.connect(str(paths.build_db))  # read-write, as the rerun will: replays what was committed
    try:
        loaded = {s for (s,) in con.execute("SELECT DISTINCT source_system FROM raw.load_log").fetchall()}
    finally:
        con.close()
    assert "four_platforms" in loaded and "water" not in loaded, f"not killed mid-ingest: {loaded}"

    # 2. In the middle of the index build (embedding the documents).
    run = KilledRun(crash_dir, lambda line: "kb_index - embed:" in line)
    run.wait()
    assert run.killed_at, f"the index build never reported:\n{run.output}"
    assert_untouched("index build")

    # 3. In the middle of the dbt build (the index of this run may complete first and be published).
    run = KilledRun(crash_dir, dbt_model_started(20))
    run.wait()
    assert run.killed_at, f"dbt never reported 20 models:\n{run.output}"
    assert_untouched("dbt build", index_may_move=True)

    # 4. The rerun completes and publishes what the uninterrupted run published.
    run = KilledRun(crash_dir, None)
    assert run.wait() == 0, run.output
    new_snapshot = read_current(paths.serving)
    assert new_snapshot is not None and new_snapshot != snapshot
    assert raw_state(paths.build_db) == raw_state(HubPaths(api_data_dir).build_db), "raw layer differs"
    same_day = shanghai_day(datetime.fromtimestamp(snapshot.stat().st_mtime).astimezone()) == shanghai_day(
        datetime.now().astimezone()
    )
    exclude = set() if same_day else LOAD_TIME_COLUMNS  # a run after midnight (Shanghai) first sees rows a day later
    assert snapshot_state(new_snapshot, exclude) == snapshot_state(snapshot, exclude), "published views differ"
    new_index = read_current(paths.kb_index)
    assert new_index is not None
    reference_index = build_index(paths.landing / "kb", crash_dir / "reference_index", KbSettings(data_dir=crash_dir))
    assert reference_index.version is not None and not reference_index.skipped
    assert index_chunks(new_index) == index_chunks(reference_index.version), "the index differs from a clean build"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the server notices the new pointers without a restart
        health = httpx.get(f"{crash_server.base_url}/api/health", timeout=10).json()
        if health["snapshot"] == new_snapshot.name:
            break
        time.sleep(0.5)
    assert_still_served(crash_server, new_snapshot.name, new_index.name)
