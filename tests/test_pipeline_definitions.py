"""The Dagster code location: it loads without running dbt, ingest and dbt form one lineage graph,
every DuckDB writer is in the one-slot pool, and the instance settings turn telemetry off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from hub.core.paths import PROJECT_ROOT, HubPaths
from orchestration.dbt_project import MANIFEST_PATH, prepare_manifest
from orchestration.instance import ensure_dagster_home
from orchestration.publish import SHARED_VIEWS
from orchestration.settings import HubConfig


@pytest.fixture(scope="module")
def manifest() -> Path:
    """The set-up step prepares the manifest; prepare it here too when a bare checkout runs the tests."""
    if not MANIFEST_PATH.exists():
        prepare_manifest()
    return MANIFEST_PATH


@pytest.fixture(scope="module")
def defs(manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    from orchestration.definitions import build_definitions

    before = manifest.stat().st_mtime_ns
    built = build_definitions(HubConfig(data_dir=tmp_path_factory.mktemp("data")))
    assert manifest.stat().st_mtime_ns == before, "loading the definitions must not re-parse the dbt project"
    return built


def _graph(defs: dg.Definitions):
    return defs.resolve_asset_graph()


def test_ingest_keys_are_the_dbt_source_keys(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    from orchestration.ingest.assets import ingest_assets
    from orchestration.ingest.contracts import ENTITIES

    ingest_keys = {key for assets_def in ingest_assets for key in assets_def.keys}
    assert ingest_keys == {dg.AssetKey([e.source, e.name]) for e in ENTITIES}
    dbt_def = next(a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and a.node_def.name == "hub_dbt")
    dbt_sources = {key for key in dbt_def.dependency_keys if key not in dbt_def.keys}
    assert dbt_sources <= ingest_keys, f"dbt sources without an ingest asset: {dbt_sources - ingest_keys}"
    # One graph: every dbt source is a materializable ingest asset, not an external stub.
    for key in dbt_sources:
        assert graph.get(key).is_materializable
    assert {k for k in graph.get_all_asset_keys() if not graph.get(k).is_materializable} == set()


def test_groups_checks_and_publish(defs: dg.Definitions) -> None:
    graph = _graph(defs)
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"staging_four_platforms", "staging_registry", "intermediate", "seeds", "publish"} <= groups
    assert any(g.startswith("marts_") for g in groups) and any(g.startswith("ingest_") for g in groups)
    assert len(list(graph.asset_check_keys)) > 0, "dbt tests surface as asset checks"

    publish = graph.get(dg.AssetKey("serving_snapshot"))
    published = {key.path[-1] for key in publish.parent_keys}
    assert published >= SHARED_VIEWS


def test_every_duckdb_writer_is_in_the_pool(defs: dg.Definitions) -> None:
    writers = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)
               and (a.node_def.name.startswith("ingest_") or a.node_def.name in ("hub_dbt", "serving_snapshot"))]
    assert len(writers) == 7  # five ingest multi-assets, dbt, publish
    assert {a.node_def.pool for a in writers} == {"duckdb_writer"}


def test_job_sensors_and_instance_settings(defs: dg.Definitions, tmp_path: Path) -> None:
    assert defs.resolve_job_def("full_pipeline") is not None
    assert {s.name for s in defs.sensors or []} >= {"four_platforms_landing_sensor", "registry_landing_sensor"}

    home = ensure_dagster_home(HubPaths(tmp_path))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.get_settings("telemetry") == {"enabled": False}
    finally:
        instance.dispose()


def test_dagster_cli_loads_the_code_location(manifest: Path, tmp_path: Path) -> None:
    """What `make dagster` serves: `dagster definitions validate` on the module, with the hub's instance."""
    home = ensure_dagster_home(HubPaths(tmp_path))
    env = {**os.environ, "DAGSTER_HOME": str(home), "HUB_DATA_DIR": str(tmp_path)}
    dagster = Path(sys.executable).parent / "dagster"
    proc = subprocess.run([str(dagster), "definitions", "validate", "-m", "orchestration.definitions"],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_changed_since_manifest_names_edited_files(tmp_path: Path) -> None:
    from orchestration.dbt_project import changed_since_manifest

    project = tmp_path / "dbt_project"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "target").mkdir()
    (project / "dbt_project.yml").write_text("name: hub\n", encoding="utf-8")
    model = project / "models" / "marts" / "town_readiness.sql"
    model.write_text("select 1 as town_code\n", encoding="utf-8")
    manifest = project / "target" / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")
    os.utime(project / "dbt_project.yml", (1_000_000, 1_000_000))
    os.utime(model, (1_000_000, 1_000_000))
    assert changed_since_manifest(manifest) == []
    model.write_text("select 2 as town_code\n", encoding="utf-8")
    os.utime(model, (manifest.stat().st_mtime + 5, manifest.stat().st_mtime + 5))
    assert changed_since_manifest(manifest) == [model]
