"""The hub's Dagster event log (orchestration/event_log_storage.py) writes what the stock SQLite storage reads,
and `ensure_dagster_home` keeps the instance's dagster.yaml up to date without overwriting an operator's edits."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from hub.core.paths import HubPaths
from orchestration.event_log_storage import HubSqliteEventLogStorage
from orchestration.pipeline import HUB_YAML_MARKER, ensure_dagster_home


@dg.asset(description="演练记录")
def drills() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"行数": 3})


@dg.asset_check(asset=drills, description="演练记录非空")
def drills_not_empty() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


def _run_twice(instance: dg.DagsterInstance) -> list[str]:
    defs = dg.Definitions(assets=[drills], asset_checks=[drills_not_empty])
    job = defs.resolve_implicit_global_asset_job_def()
    return [job.execute_in_process(instance=instance).run_id for _ in range(2)]


def _stock_home(tmp_path: Path, hub_home: Path) -> Path:
    """An instance on the same files with the stock dagster.yaml (no event_log_storage block)."""
    stock = tmp_path / "stock_home"
    stock.mkdir()
    (stock / "dagster.yaml").write_text(
        f"event_log_storage:\n  module: dagster._core.storage.event_log\n  class: SqliteEventLogStorage\n"
        f"  config:\n    base_dir: {hub_home / 'storage'}\nrun_storage:\n  module: dagster._core.storage.runs\n"
        f"  class: SqliteRunStorage\n  config:\n    base_dir: {hub_home / 'history'}\n", encoding="utf-8")
    return stock


def test_the_stock_storage_reads_what_the_hub_storage_wrote(tmp_path: Path) -> None:
    home = ensure_dagster_home(HubPaths(tmp_path / "data"))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.event_log_storage, HubSqliteEventLogStorage)
        assert (home / "storage" / "index.db").exists()  # where the stock class keeps it too
        run_ids = _run_twice(instance)
        written = {rid: len(instance.get_records_for_run(rid, limit=1000).records) for rid in run_ids}
    finally:
        instance.dispose()

    stock = dg.DagsterInstance.from_config(str(_stock_home(tmp_path, home)))
    try:
        assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
        for run_id, count in written.items():
            assert stock.get_run_by_id(run_id).is_success
            assert len(stock.get_records_for_run(run_id, limit=1000).records) == count > 10
        latest = stock.get_latest_materialization_event(dg.AssetKey("drills"))
        assert latest is not None and latest.run_id == run_ids[-1]
        assert latest.asset_materialization.metadata["行数"].value == 3
        check = dg.AssetCheckKey(dg.AssetKey("drills"), "drills_not_empty")
        executions = stock.event_log_storage.get_asset_check_execution_history(check, limit=5)
        assert [e.run_id for e in executions] == list(reversed(run_ids))
    finally:
        stock.dispose()


def test_dagster_yaml_follows_the_folder_but_keeps_an_operators_edits(tmp_path: Path) -> None:
    first = ensure_dagster_home(HubPaths(tmp_path / "a"))
    text = (first / "dagster.yaml").read_text(encoding="utf-8")
    assert text.startswith(HUB_YAML_MARKER) and f"{first}/storage" in text and "@" not in text

    moved = tmp_path / "b"
    (tmp_path / "a").rename(moved)
    home = ensure_dagster_home(HubPaths(moved))
    assert f"{home}/storage" in (home / "dagster.yaml").read_text(encoding="utf-8")

    edited = "telemetry:\n  enabled: false\n"  # an operator's own file: no hub marker on the first line
    (home / "dagster.yaml").write_text(edited, encoding="utf-8")
    ensure_dagster_home(HubPaths(moved))
    assert (home / "dagster.yaml").read_text(encoding="utf-8") == edited
