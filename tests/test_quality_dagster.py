"""Dagster wiring of data quality: the daily 07:00 Asia/Shanghai schedule, the quality_report asset after
ingest and the dbt quality models, blocking asset checks; and ``hub quality report`` on demand."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from hub.core.paths import HubPaths
from orchestration.dbt_project import MANIFEST_PATH, prepare_manifest
from orchestration.ingest.contracts import ENTITIES, entity
from orchestration.ingest.schema import ensure_raw_schema
from orchestration.quality.assets import entity_has_rows, view_is_sound
from orchestration.settings import HubConfig

HUB = [sys.executable, "-m", "hub.cli.main"]


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    if not MANIFEST_PATH.exists():
        prepare_manifest()
    from orchestration.definitions import build_definitions

    return build_definitions(HubConfig(data_dir=tmp_path_factory.mktemp("data")))


def test_daily_schedule_runs_the_whole_pipeline_at_seven_in_shanghai(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("daily_full_pipeline")
    assert schedule.cron_schedule == "0 7 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    assert schedule.job_name == "full_pipeline"
    job = defs.resolve_job_def("full_pipeline")
    assert dg.AssetKey("quality_report") in job.asset_layer.executable_asset_keys


def test_failed_pipeline_still_gets_a_report_only_run(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def("quality_report_after_failed_pipeline")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    job = defs.resolve_job_def("quality_report_only")
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey("quality_report")}


def test_quality_report_comes_after_ingest_and_the_dbt_quality_models(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey("quality_report")).parent_keys
    assert {dg.AssetKey([e.source, e.name]) for e in ENTITIES} <= parents
    assert {k.path[-1] for k in parents} >= {"quality_freshness", "quality_volume", "quality_rule_results",
                                              "unmapped_values"}


def test_blocking_checks_guard_ingest_and_published_views(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    for e in ENTITIES:
        assert checks[(f"{e.source}/{e.name}", "has_rows")].blocking
    views = {asset for asset, name in checks if name == "not_empty_unique_key"}
    assert {"town_readiness", "town_dossier", "grid_coverage"} <= {v.split("/")[-1] for v in views}


def test_has_rows_errors_only_when_delivered_data_holds_no_row(tmp_path: Path) -> None:
    drills = entity("registry", "drills")
    con = duckdb.connect(str(tmp_path / "hub.duckdb"))
    ensure_raw_schema(con)
    never = entity_has_rows(con, drills)
    assert (never.passed, never.severity) == (False, dg.AssetCheckSeverity.WARN)
    now = datetime(2026, 11, 28, 6, 0)
    con.execute("INSERT INTO raw.load_log VALUES ('L1', 'registry', 'drills', 'registry/drills.csv', 'h', 3, 0, 0, "
                "'rejected', '缺少必填列', ?, ?, NULL, NULL)", [now, now])
    empty = entity_has_rows(con, drills)
    assert (empty.passed, empty.severity) == (False, dg.AssetCheckSeverity.ERROR)
    con.execute("INSERT INTO raw.registry__drills (\"演练编号\", \"演练日期\", _source_system, _source_file, "
                "_row_number, _load_id, _loaded_at, _row_hash) VALUES ('YL1', DATE '2026-05-01', 'registry', "
                "'registry/drills.csv', 1, 'L2', ?, 'x')", [now])
    assert entity_has_rows(con, drills).passed
    con.close()


def test_view_check_names_the_repeated_keys(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "v.duckdb"))
    con.execute("CREATE TABLE town_readiness AS SELECT * FROM (VALUES ('330109113'), ('330109001'), ('330109113')) "
                "t(town_code)")
    bad = view_is_sound(con, "town_readiness", ("town_code",))
    assert not bad.passed and bad.metadata["repeated_keys"].value == "330109113"
    con.execute("DELETE FROM town_readiness")
    assert view_is_sound(con, "town_readiness", ("town_code",)).description == "视图为空 / the view is empty"
    con.close()


def test_hub_quality_report_on_demand(tmp_path: Path) -> None:
    missing = subprocess.run([*HUB, "quality", "report", "--data-dir", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert "build database not found" in missing.stderr and "Traceback" not in missing.stderr

    paths = HubPaths(tmp_path)
    paths.build_db.parent.mkdir(parents=True)
    con = duckdb.connect(str(paths.build_db))
    ensure_raw_schema(con)
    con.close()
    done = subprocess.run([*HUB, "quality", "report", "--data-dir", str(tmp_path), "--as-of", "2026-11-28"],
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    html = sorted(paths.quality_reports.glob("quality_*.html"))
    assert len(html) == 1 and html[0].with_suffix(".json").exists()
    assert str(html[0]) in done.stdout
    assert (paths.reports / "quality_history.duckdb").exists()


def _failed_run(instance: dg.DagsterInstance, writes_report: bool) -> dg.RunFailureSensorContext:
    """A real failed run of a job named full_pipeline (a stand-in: failing dbt needs no real dbt here)."""

    @dg.asset(name="quality_report")
    def report_stand_in() -> None:
        return None

    @dg.asset(deps=[report_stand_in] if writes_report else [])
    def dbt_stand_in() -> None:
        raise dg.Failure("dbt build failed")

    assets = [report_stand_in, dbt_stand_in] if writes_report else [dbt_stand_in]
    job = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("full_pipeline")]).resolve_job_def("full_pipeline")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    return dg.build_run_status_sensor_context(
        sensor_name="quality_report_after_failed_pipeline", dagster_event=failure, dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()


def test_report_after_failed_pipeline_only_when_the_report_is_missing() -> None:
    from orchestration.quality.assets import quality_report_after_failed_pipeline

    with dg.instance_for_test() as instance:
        missing = quality_report_after_failed_pipeline(_failed_run(instance, writes_report=False))
        assert isinstance(missing, dg.RunRequest) and missing.run_key.startswith("quality-after-")
        written = quality_report_after_failed_pipeline(_failed_run(instance, writes_report=True))
        assert isinstance(written, dg.SkipReason)
