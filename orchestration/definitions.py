"""The hub's one Dagster code location: ingest → dbt → (knowledge base, quality) → publish.

The deployment (`hub deploy up`: code server, daemon, webserver) and ``make dagster`` load it from
``orchestration.definitions``; ``hub run`` materializes the stale part of the same asset graph
in-process (orchestration/pipeline.py). Loading reads the settings once (orchestration/settings.py)
and the prepared dbt manifest, and touches neither dbt nor the network. Every asset carries an
automation condition (orchestration/automation.py). Parts written separately (ingest, knowledge base,
quality, the monthly assessment) are wired in when their module exists; a missing one is listed.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg

from orchestration import automation
from orchestration.dbt_assets import build_dbt_assets
from orchestration.dbt_project import MANIFEST_PATH
from orchestration.publish import build_serving_snapshot_asset, load_manifest
from orchestration.resources import HubSettings, dbt_resource
from orchestration.settings import HubConfig

FULL_PIPELINE_JOB = "full_pipeline"


@dataclass
class HubParts:
    """The pieces of the code location, collected from the parts' modules."""

    assets: list[Any] = field(default_factory=list)
    asset_checks: list[Any] = field(default_factory=list)
    sensors: list[Any] = field(default_factory=list)
    schedules: list[Any] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _optional_module(name: str) -> ModuleType | None:
    """Import a part that may not be written yet; any other import error is a real error."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def _add_ingest(parts: HubParts, config: HubConfig) -> None:
    module = _optional_module("orchestration.ingest.assets")
    if module is None or not hasattr(module, "ingest_assets"):
        parts.missing.append("ingest")
        return
    parts.assets += list(module.ingest_assets)
    parts.sensors += list(getattr(module, "ingest_sensors", []))
    parts.resources[getattr(module, "DUCKDB_RESOURCE_KEY", "duckdb")] = module.duckdb_resource(config.paths)
    parts.present.append("ingest")


def _add_kb(parts: HubParts) -> None:
    module = _optional_module("orchestration.kb_assets")
    if module is None or not hasattr(module, "kb_assets"):
        parts.missing.append("knowledge_base")
        return
    parts.assets += list(module.kb_assets)
    parts.sensors += list(getattr(module, "kb_sensors", []))
    parts.present.append("knowledge_base")


def _add_quality(parts: HubParts) -> None:
    module = _optional_module("orchestration.quality.assets")
    if module is None:
        parts.missing.append("quality")
        return
    parts.assets += list(getattr(module, "quality_assets", []))
    parts.asset_checks += list(getattr(module, "quality_checks", []))
    parts.schedules += list(getattr(module, "quality_schedules", []))
    parts.sensors += list(getattr(module, "quality_sensors", []))
    parts.present.append("quality")


def _add_assessment(parts: HubParts) -> None:
    """The monthly assessment (its own assets, schedules and sensors), when that package is present."""
    module = _optional_module("orchestration.assessment")
    if module is None or not hasattr(module, "assessment_assets"):
        return  # not a part every deployment has: not listed as missing
    parts.assets += list(module.assessment_assets)
    parts.schedules += list(getattr(module, "assessment_schedules", []))
    parts.sensors += list(getattr(module, "assessment_sensors", []))
    parts.present.append("assessment")


def collect_parts(config: HubConfig, manifest_path: Path = MANIFEST_PATH, **settings: Any) -> HubParts:
    """Everything of the code location for the deployment ``config``; ``settings`` override fields of the
    ``hub_settings`` resource (``hub run --rebuild-all`` sets full_refresh)."""
    parts = HubParts()
    _add_ingest(parts, config)
    manifest = load_manifest(manifest_path)
    parts.assets += [build_dbt_assets(manifest_path), build_serving_snapshot_asset(manifest)]
    parts.present += ["dbt", "publish"]
    _add_kb(parts)
    _add_quality(parts)
    _add_assessment(parts)
    parts.assets = [automation.with_conditions(a) for a in parts.assets]
    parts.sensors.append(automation.automation_sensor)
    parts.resources["dbt"] = dbt_resource(config.warehouse_engine)
    # dbt reads a server's connection from the environment (profiles.yml, target postgres), so the password is
    # never on a command line or in --vars; set once here, when the code location loads, never by an asset.
    os.environ.update(config.warehouse_engine.dbt_env())
    parts.resources["hub_settings"] = HubSettings.from_config(config, **settings)
    return parts


def build_definitions(config: HubConfig | None = None) -> dg.Definitions:
    return definitions_from_parts(collect_parts(config or HubConfig()))


def definitions_from_parts(parts: HubParts, skip_groups: tuple[str, ...] = ()) -> dg.Definitions:
    """``skip_groups``: asset groups left out of the full_pipeline job (e.g. the KB when there are no documents)."""
    selection = dg.AssetSelection.all()
    if skip_groups:
        selection = selection - dg.AssetSelection.groups(*skip_groups)
    full_pipeline = dg.define_asset_job(
        FULL_PIPELINE_JOB, selection=selection,
        description="全流程 / the whole pipeline: ingest every source, dbt build, index, publish",
    )
    return dg.Definitions(
        assets=parts.assets,
        asset_checks=parts.asset_checks,
        sensors=parts.sensors,
        schedules=parts.schedules,
        jobs=[full_pipeline],
        resources=parts.resources,
        # Every step writes DuckDB through the one-slot pool, so steps never run side by side; a process per
        # step (the default executor) only added an interpreter start and a Definitions load to each of them.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by the code server, ``dagster dev`` and ``dagster definitions validate`` (lazily: importing
    this module builds nothing)."""
    return build_definitions()
