"""A ``hub run`` killed while it holds the DuckDB writer slot must not block every later run, and one started
in the background still stops on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from orchestration.pipeline import keep_sigterm_working, release_dead_runs

FIXTURE = Path(__file__).parent / "fixtures" / "handmade" / "landing"


def _claimed_slots(home: Path) -> list[str]:
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        if "duckdb_writer" not in instance.event_log_storage.get_concurrency_keys():
            return []
        return [slot.run_id for slot in instance.event_log_storage.get_concurrency_info("duckdb_writer").claimed_slots]
    finally:
        instance.dispose()


def _in_dbt_step(data_dir: Path) -> bool:
    """The run's dbt step has started (it keeps its artifacts in <data dir>/dbt/<run id>/) and holds the slot.

    Only then is the run's Dagster storage opened by another process: a reader that opens the SQLite storage
    while `hub run` is still creating it takes part in creating it (alembic stamps, "more than one head")."""
    runs = data_dir / "dbt"
    return runs.is_dir() and any(p.is_dir() for p in runs.iterdir())


def test_killed_run_releases_its_pool_slot(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE / "registry", landing / "registry")
    data_dir = tmp_path / "data"
    home = data_dir / "dagster_home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub.cli.main", "run", "--landing", str(landing), "--data-dir",
         str(data_dir), "--as-of", "2025-06-30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    try:
        deadline = time.monotonic() + 240
        claimed: list[str] = []
        while time.monotonic() < deadline and proc.poll() is None and not claimed:
            time.sleep(0.2)
            if _in_dbt_step(data_dir):
                claimed = _claimed_slots(home)
        assert claimed, "the run never held the duckdb_writer slot"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the hub process and its dbt child, as a crash would
        proc.wait()

    assert _claimed_slots(home) == claimed, "nothing gives the slot back by itself"
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert release_dead_runs(instance) == claimed
        assert instance.get_run_by_id(claimed[0]).status == dg.DagsterRunStatus.FAILURE
        assert release_dead_runs(instance) == []
    finally:
        instance.dispose()
    assert _claimed_slots(home) == []


def test_a_background_run_keeps_sigterm_working() -> None:
    """Started with SIGINT ignored (`hub run ... &` from a script), Dagster would make SIGTERM ignored too,
    in this process and in the dbt process it starts; `run_pipeline` undoes the ignored SIGINT first."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        keep_sigterm_working()

        @dg.asset
        def probe() -> int:
            return 1

        assert dg.materialize([probe]).success
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)  # a handler: it interrupts
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
