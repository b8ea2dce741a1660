"""The local production deployment, started exactly as docs/operations.md says (`hub deploy up`): PostgreSQL,
the Dagster code server, daemon and webserver as separate processes on loopback, and the API.

With the deployment up, the test only writes files into the landing folder (the next day's events, a new
plan); it starts no run. It waits until Dagster has, by itself, ingested them, rebuilt the dbt models,
published, written the quality report and re-indexed the documents, and the API serves the new snapshot,
reading the runs and materializations from PostgreSQL's tables. Then it SIGKILLs the daemon (and the
worker of the run in progress) mid-run, starts the daemon again with `hub deploy up`, and checks the run was
marked failed, the served snapshot is a whole one (the previous or the next), and the next file completes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from hub.core.paths import PROJECT_ROOT
from hub.core.pointer import read_current
from hub.deploy.postgres import bin_dir
from hub.deploy.stack import free_port

HUB = [sys.executable, "-m", "hub.cli.main"]
KB_DOCS = PROJECT_ROOT / "hub" / "sample" / "kb_docs"
pytestmark = pytest.mark.slow


def hub(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DAGSTER_"))}
    return subprocess.run([*HUB, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=PROJECT_ROOT)


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class Records:
    """Dagster's runs and materializations, read from its PostgreSQL tables."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg2://", "postgresql://")

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as con:
            return con.execute(sql, params or []).fetchall()

    def materialized_since(self, event_id: int) -> set[str]:
        """Asset keys (as JSON path strings) materialized after event ``event_id``."""
        rows = self.query("SELECT DISTINCT asset_key FROM event_logs WHERE id > %s "
                          "AND dagster_event_type = 'ASSET_MATERIALIZATION'", [event_id])
        return {json.loads(key)[-1] for (key,) in rows}  # the column holds the key's path as a JSON list

    def last_event_id(self) -> int:
        return int(self.query("SELECT coalesce(max(id), 0) FROM event_logs")[0][0])

    def runs(self) -> dict[str, str]:
        return dict(self.query("SELECT run_id, status FROM runs"))

    def started_runs(self) -> list[str]:
        return [r for (r,) in self.query("SELECT run_id FROM runs WHERE status = 'STARTED'")]

    def run_in_dbt_step(self) -> str | None:
        """A run in progress whose dbt step has started and not ended: killed now, it is surely mid-run (a
        short run, an ingest of one file, may finish between being seen started and being killed)."""
        rows = self.query("""
            SELECT e.run_id FROM event_logs e JOIN runs r USING (run_id)
            WHERE r.status = 'STARTED' AND e.dagster_event_type = 'STEP_START' AND e.step_key = 'hub_dbt'
              AND NOT EXISTS (SELECT 1 FROM event_logs d WHERE d.run_id = e.run_id AND d.step_key = 'hub_dbt'
                              AND d.dagster_event_type IN ('STEP_SUCCESS', 'STEP_FAILURE'))""")
        return rows[0][0] if rows else None

    def worker_pid(self, run_id: str) -> int | None:
        """The run worker's process id, from the run's engine event `Started process for run (pid: N)`."""
        rows = self.query("SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ENGINE_EVENT'",
                          [run_id])
        for (event,) in rows:
            text = str(event)
            marker = "Started process for run (pid: "
            if marker in text:
                return int(text.split(marker, 1)[1].split(")", 1)[0])
        return None


def served_snapshot(api: str) -> str | None:
    try:
        return httpx.get(f"{api}/api/health", timeout=30).json().get("snapshot")
    except (httpx.HTTPError, ValueError):  # not up yet, or busy starting: ask again
        return None


def events_in(snapshot: Path) -> int:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        counts = json.loads(con.execute("SELECT row_counts FROM _snapshot").fetchone()[0])
    finally:
        con.close()
    return sum(counts.values())


@pytest.fixture(scope="module")
def deployment() -> Any:
    try:
        bin_dir()
    except Exception:
        pytest.skip("PostgreSQL server binaries are not installed (make deploy / make test install them)")
    # PostgreSQL runs as the postgres user when the tests run as root: the data directory must be reachable.
    base = Path(tempfile.mkdtemp(prefix="hub-deploy-"))
    os.chmod(base, 0o755)
    data_dir = base / "hub"
    landing = data_dir / "landing"
    made = hub("sample", "--out", str(landing), "--scale", "small", "--as-of", "2025-06-30")
    assert made.returncode == 0, made.stderr
    shutil.copytree(KB_DOCS / "plans", landing / "kb" / "plans")
    web, api = free_port(), free_port()
    started = hub("deploy", "up", "--data-dir", str(data_dir), "--web-port", str(web), "--api-port", str(api),
                  "--detach", timeout=1200)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        ports = json.loads((data_dir / "deploy" / "ports.json").read_text(encoding="utf-8"))
        url = f"postgresql://hub_admin@127.0.0.1:{ports['postgres']}/dagster"
        yield {"data_dir": data_dir, "landing": landing, "api": f"http://127.0.0.1:{api}",
               "web": f"http://127.0.0.1:{web}", "records": Records(url)}
    finally:
        hub("deploy", "down", "--data-dir", str(data_dir), timeout=300)
        shutil.rmtree(base, ignore_errors=True)


def test_a_new_file_is_served_without_any_run_started_by_hand(deployment: dict[str, Any]) -> None:
    records: Records = deployment["records"]
    api, data_dir = deployment["api"], deployment["data_dir"]
    initial = wait_for("the catch-up snapshot to be served", lambda: served_snapshot(api), 60)
    assert httpx.get(f"{deployment['web']}/", timeout=30).status_code == 200  # the webserver serves its UI
    # The daemon settles: the KB sensor's first look re-indexes nothing new; no run left in progress.
    wait_for("the daemon to go idle", lambda: not records.started_runs() and not any(
        s in ("QUEUED", "STARTING", "NOT_STARTED") for s in records.runs().values()), 300, every=5)
    mark, runs_before = records.last_event_id(), set(records.runs())

    added = hub("sample", "add-day", "--out", str(deployment["landing"]))
    assert added.returncode == 0, added.stderr
    plan = deployment["landing"] / "kb" / "plans" / "330109999_测试镇防汛防台应急预案.md"
    plan.write_text("# 测试镇防汛防台应急预案\n\n台风来临前组织危险区群众转移到避灾安置场所。\n", encoding="utf-8")

    wanted = {"events", "serving_snapshot", "quality_report", "kb_index"}
    started = time.monotonic()
    wait_for("ingest, dbt, publish, quality report and KB index under the daemon",
             lambda: wanted <= records.materialized_since(mark), 1200, every=5)
    print(f"file landed → published under the daemon in {time.monotonic() - started:.0f} s")
    materialized = records.materialized_since(mark)
    assert any(k.startswith("stg_four_platforms") for k in materialized), materialized  # the dbt models
    new_runs = set(records.runs()) - runs_before
    assert new_runs, "no run recorded in PostgreSQL"
    tags = records.query("SELECT key, value FROM run_tags WHERE run_id = ANY(%s)", [list(new_runs)])
    assert not any(key == "hub/trigger" for key, _ in tags), "a run was started by hand"
    assert {value for key, value in tags if key == "dagster/sensor_name"} >= {"four_platforms_landing_sensor",
                                                                             "hub_automation", "kb_landing_sensor"}
    served = wait_for("the new snapshot to be served", lambda: (s := served_snapshot(api)) != initial and s, 60)
    assert served == read_current(data_dir / "serving").name


def test_a_killed_daemon_leaves_a_whole_snapshot_and_the_next_file_completes(deployment: dict[str, Any]) -> None:
    records: Records = deployment["records"]
    api, data_dir = deployment["api"], deployment["data_dir"]
    wait_for("the daemon to go idle", lambda: not records.started_runs(), 600, every=5)
    before = read_current(data_dir / "serving")
    assert before is not None

    assert hub("sample", "add-day", "--out", str(deployment["landing"])).returncode == 0
    run_id = wait_for("a run to reach its dbt step", records.run_in_dbt_step, 300, every=1)
    worker = wait_for("its worker process", lambda: records.worker_pid(run_id), 60, every=1)
    daemon = int((data_dir / "deploy" / "pids" / "daemon.pid").read_text(encoding="utf-8"))
    os.killpg(daemon, signal.SIGKILL)  # the daemon and anything of its session
    os.kill(worker, signal.SIGKILL)  # and the run it had started, as a crash of the machine's workload would
    wait_for("the killed run to be marked failed", lambda: records.runs().get(run_id) == "FAILURE", 180, every=2)

    restarted = hub("deploy", "up", "--data-dir", str(data_dir), "--detach", timeout=600)
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    assert "daemon" in restarted.stdout
    current = read_current(data_dir / "serving")
    assert current is not None and events_in(current) > 0  # a whole snapshot: it opens and has its catalog
    assert not list((data_dir / "serving").glob("*.building"))

    mark = records.last_event_id()
    assert hub("sample", "add-day", "--out", str(deployment["landing"])).returncode == 0
    wait_for("the next file to be published", lambda: "serving_snapshot" in records.materialized_since(mark),
             1200, every=5)
    latest = read_current(data_dir / "serving")
    assert latest is not None and latest != before
    assert wait_for("the API to serve it", lambda: served_snapshot(api) == latest.name, 60)
