"""The ingest assets and landing sensors in a throwaway Dagster Definitions on a temp data dir."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from hub.core.paths import HubPaths
from orchestration.ingest.assets import DUCKDB_RESOURCE_KEY, duckdb_resource, ingest_assets, ingest_sensors
from orchestration.ingest.contracts import ENTITIES

FIXTURES = Path(__file__).parent / "fixtures" / "ingest" / "landing"


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubPaths:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_FOUR_PLATFORMS_URL", raising=False)
    monkeypatch.delenv("HUB_LANDING_DIR", raising=False)
    hub_paths = HubPaths.from_env()
    shutil.copytree(FIXTURES, hub_paths.landing)
    return hub_paths


def _resources(paths: HubPaths, **settings: str) -> dict:
    """The resources the ingest assets and sensors ask for: the build database and the settings."""
    from orchestration.resources import HubSettings

    hub_settings = HubSettings(data_dir=str(paths.data_dir), landing_dir=str(paths.landing_dir or ""), **settings)
    return {DUCKDB_RESOURCE_KEY: duckdb_resource(paths), "hub_settings": hub_settings}


def test_asset_keys_equal_dbt_source_keys_and_share_the_writer_pool() -> None:
    keys = {key.path[0] + "." + key.path[1] for assets in ingest_assets for key in assets.keys}
    assert keys == {f"{e.source}.{e.name}" for e in ENTITIES}
    assert {assets.op.pool for assets in ingest_assets} == {"duckdb_writer"}
    groups = {group for assets in ingest_assets for group in assets.group_names_by_key.values()}
    assert groups == {"ingest_four_platforms", "ingest_water", "ingest_urban", "ingest_utility", "ingest_registry"}


def test_materialize_every_ingest_asset(paths: HubPaths) -> None:
    resources = _resources(paths)
    definitions = dg.Definitions(assets=ingest_assets, sensors=ingest_sensors, resources=resources)
    assert definitions.resolve_sensor_def("water_landing_sensor") is not None
    result = dg.materialize(ingest_assets, resources=resources)
    assert result.success
    events = [e.event_specific_data.materialization for e in result.get_asset_materialization_events()]
    materialized = {m.asset_key.to_user_string(): m.metadata for m in events}
    assert len(materialized) == len(ENTITIES)
    urban = materialized["urban/waterlogging_points"]
    assert urban["rows_loaded"].value == 2 and urban["rows_quarantined"].value == 1
    assert "取值不在允许范围" in urban["top_quarantine_reasons"].value
    assert materialized["water/flood_duty"]["files_rejected"].value == 1
    with duckdb.connect(str(paths.build_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.four_platforms__events").fetchall() == [(3,)]
    # Materializing again adds nothing.
    again = dg.materialize(ingest_assets, resources=resources)
    events = [e.event_specific_data.materialization for e in again.get_asset_materialization_events()]
    assert sum(m.metadata["rows_loaded"].value for m in events) == 0


def test_landing_sensor_requests_a_run_for_new_or_changed_files(paths: HubPaths) -> None:
    sensor = next(s for s in ingest_sensors if s.name == "urban_landing_sensor")
    old = time.time() - 60
    for path in paths.landing_for("urban").iterdir():
        os.utime(path, (old, old))
    first = sensor(dg.build_sensor_context(cursor=None, resources=_resources(paths)))
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    unchanged = sensor(dg.build_sensor_context(cursor=first.cursor, resources=_resources(paths)))
    assert isinstance(unchanged, dg.SkipReason)
    new_file = paths.landing_for("urban") / "城管案件_20240502.csv"
    shutil.copy(paths.landing_for("urban") / "城管案件_20240501.csv", new_file)
    # A file still being written (modified just now) waits for the next tick.
    assert isinstance(sensor(dg.build_sensor_context(cursor=first.cursor, resources=_resources(paths))), dg.SkipReason)
    os.utime(new_file, (old + 1, old + 1))
    second = sensor(dg.build_sensor_context(cursor=first.cursor, resources=_resources(paths)))
    assert isinstance(second, dg.SensorResult)
    assert "城管案件_20240502.csv" in second.run_requests[0].run_key
    assert "积水点" not in second.run_requests[0].run_key


def test_four_platforms_asset_reads_files_then_the_feed(paths: HubPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_server = pytest.importorskip("hub.sample.feed_server")
    events_dir = paths.data_dir / "feed_events"
    events_dir.mkdir()
    lines = (paths.landing_for("four_platforms") / "events_20240501.jsonl").read_text(encoding="utf-8").splitlines()
    # The feed serves the first event again (already loaded from the file) and one new event.
    new_event = lines[0].replace("E20240501001", "E20240502001")
    (events_dir / "events_20240502.jsonl").write_text(f"{lines[0]}\n{new_event}\n", encoding="utf-8")
    server, base_url = feed_server.start_feed_server(events_dir, "127.0.0.1", port=0)
    monkeypatch.setenv("HUB_FOUR_PLATFORMS_URL", base_url)
    try:
        four_platforms = next(a for a in ingest_assets if a.node_def.name == "ingest_four_platforms")
        result = dg.materialize([four_platforms], resources=_resources(paths, four_platforms_url=base_url))
    finally:
        server.shutdown()
        server.server_close()
    (event,) = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    assert metadata["rows_loaded"].value == 4 and metadata["rows_unchanged"].value == 1
    assert (paths.state / "four_platforms_cursor.json").exists()
    with duckdb.connect(str(paths.build_db), read_only=True) as con:
        sources = dict(con.execute(
            "SELECT \"eventId\", _source_file FROM raw.four_platforms__events WHERE \"eventId\" IN "
            "('E20240501001', 'E20240502001')"
        ).fetchall())
    assert sources["E20240501001"] == "four_platforms/events_20240501.jsonl"
    assert sources["E20240502001"].startswith(base_url + "/api/v1/events")
