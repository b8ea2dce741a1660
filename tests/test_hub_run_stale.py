"""``hub run`` materializes only the stale part of the graph, by Dagster's own records; one run at a time per
data directory; a publish killed half-way leaves no build file behind.

The first run builds everything on the hand-made landing folder; a second run with nothing new starts no
Dagster run and publishes nothing; a dbt model whose SQL (its Dagster code version, a hash of the SQL in the
manifest) changed is stale together with what it feeds, and nothing else is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
from test_handmade_views import FIXTURE, write_water_workbook

from hub.core.paths import HubPaths
from hub.core.pointer import BUILD_PREFIX, read_current
from orchestration.dbt_project import MANIFEST_PATH
from orchestration.definitions import collect_parts, definitions_from_parts
from orchestration.ingest.contracts import ENTITIES
from orchestration.publish import publish_snapshot, published_models
from orchestration.run_lock import data_dir_lock
from orchestration.settings import HubConfig
from orchestration.stale import CODE_CHANGED, stale_plan

AS_OF = "2025-06-30"
HUB = [sys.executable, "-m", "hub.cli.main"]


def hub_run(landing: Path, data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("HUB_DATA_DIR", None)
    return subprocess.run([*HUB, "run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF,
                           *extra], capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("stale")
    landing = base / "landing"
    shutil.copytree(FIXTURE, landing)
    write_water_workbook(landing / "water" / "水利数据_20250620.xlsx")
    data_dir = base / "data"
    proc = hub_run(landing, data_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {"landing": landing, "data_dir": data_dir, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.mark.slow
def test_a_run_ends_without_warnings_from_libraries(built: dict[str, Any]) -> None:
    """What a user reads after the summary: nothing, not multiprocessing's "leaked semaphore objects" (dbt's
    adapter lock, still held when `hub run` leaves with os._exit)."""
    assert "leaked semaphore" not in built["stderr"], built["stderr"][-2000:]
    assert "Warning" not in built["stderr"], built["stderr"][-2000:]


@pytest.mark.slow
def test_a_second_run_with_nothing_new_materializes_nothing(built: dict[str, Any]) -> None:
    data_dir = built["data_dir"]
    snapshot = read_current(data_dir / "serving")
    runs_before = _run_ids(data_dir)
    proc = hub_run(built["landing"], data_dir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "nothing is stale" in proc.stdout and "dbt: 未运行 / did not run" in proc.stdout
    assert "nothing new to load" in proc.stdout and "no new snapshot" in proc.stdout
    assert _run_ids(data_dir) == runs_before, "a run was started though nothing was stale"
    assert read_current(data_dir / "serving") == snapshot


@pytest.mark.slow
def test_a_changed_dbt_model_is_stale_with_its_children_only(built: dict[str, Any], tmp_path: Path) -> None:
    """One model's SQL in the manifest changes (as editing the model does): Dagster's code version of that
    asset differs from the one it was built with, so it and what it feeds are stale, nothing else."""
    manifest = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    changed_id = next(uid for uid, node in manifest["nodes"].items() if node["name"] == "int_town_liaisons")
    manifest["nodes"][changed_id]["raw_code"] += "\n-- edited"
    edited = tmp_path / "manifest.json"
    edited.write_text(json.dumps(manifest), encoding="utf-8")

    config = HubConfig(data_dir=built["data_dir"], landing_dir=built["landing"], as_of=AS_OF)
    defs = definitions_from_parts(collect_parts(config, manifest_path=edited))
    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.from_config(str(HubPaths(built["data_dir"]).dagster_home))
    try:
        plan = stale_plan(graph, instance, ingest={dg.AssetKey([e.source, e.name]): e.source for e in ENTITIES},
                          pending_sources=(), as_of=AS_OF, exclude=[dg.AssetKey("kb_index")])  # no kb/ folder
    finally:
        instance.dispose()
    changed_key = next(k for k in graph.get_all_asset_keys() if k.path[-1] == "int_town_liaisons")
    assert plan.reasons == {changed_key: CODE_CHANGED}
    descendants = set(graph.asset_dep_graph["downstream"][changed_key])
    expected = {changed_key}
    while descendants:
        key = descendants.pop()
        if key not in expected:
            expected.add(key)
            descendants |= set(graph.asset_dep_graph["downstream"][key])
    assert plan.selection == expected
    assert dg.AssetKey("serving_snapshot") in plan.selection  # it feeds a published view
    assert not any(k.path[0] in {e.source for e in ENTITIES} for k in plan.selection)  # no ingest


def _run_ids(data_dir: Path) -> set[str]:
    instance = dg.DagsterInstance.from_config(str(HubPaths(data_dir).dagster_home))
    try:
        return {r.run_id for r in instance.get_runs()}
    finally:
        instance.dispose()


def test_a_second_run_on_a_busy_data_directory_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    (tmp_path / "landing").mkdir()
    data_dir = tmp_path / "data"
    with data_dir_lock(data_dir):  # a run in progress
        proc = hub_run(tmp_path / "landing", data_dir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "another hub run" in proc.stderr and "另一个 hub run" in proc.stderr and str(os.getpid()) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (data_dir / "serving").exists()


def test_three_concurrent_runs_publish_once(built: dict[str, Any], tmp_path: Path) -> None:
    """Three `hub run` at once on one data directory: one runs, the others are told and leave it alone."""
    landing = tmp_path / "landing"
    shutil.copytree(built["landing"], landing)
    data_dir = tmp_path / "data"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    procs = [subprocess.Popen([*HUB, "run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of", AS_OF],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    outcomes = [(p.wait(timeout=900), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _, _ in outcomes) == [0, 1, 1], outcomes
    refused = [err for code, _, err in outcomes if code == 1]
    assert all("another hub run" in err for err in refused)
    published = [p for p in (data_dir / "serving").iterdir() if p.name.startswith("serving-")]
    assert len(published) == 1


def test_a_killed_publish_leaves_no_build_file_after_the_next_one(tmp_path: Path) -> None:
    """A publish killed half-way leaves `.build-<pid>-…` behind; the next publish removes it (its process is gone)."""
    build_db = tmp_path / "hub.duckdb"
    con = duckdb.connect(str(build_db))
    con.execute("CREATE SCHEMA main_marts")
    con.execute("CREATE TABLE main_marts.town_readiness AS SELECT '330109113' AS town_code, 6 AS readiness_score")
    con.close()
    manifest = {"nodes": {"model.hub.town_readiness": {
        "resource_type": "model", "name": "town_readiness", "alias": "town_readiness", "schema": "main_marts",
        "description": "", "tags": ["published"], "config": {"materialized": "table"}, "columns": {}}}}
    serving = tmp_path / "serving"
    serving.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    leftovers = [serving / f"{BUILD_PREFIX}{dead.stdout.strip()}-serving-20250630T070000000000.duckdb",
                 serving / f"{BUILD_PREFIX}{dead.stdout.strip()}-serving-20250630T070000000000.duckdb.wal"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a file")
    mine = serving / f"{BUILD_PREFIX}{os.getpid()}-serving-20250630T080000000000.duckdb"  # a live process's build
    mine.write_bytes(b"in progress")

    result = publish_snapshot(build_db, serving, published_models(manifest))
    assert read_current(serving) == result.path
    assert not any(p.exists() for p in leftovers)
    assert mine.exists()
