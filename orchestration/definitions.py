"""The hub's one Dagster code location: ingest → dbt → (knowledge base, quality) → publish.

``make dagster`` opens ``dagster dev -m orchestration.definitions`` on it; ``hub run`` materializes
the same asset graph in-process (orchestration/pipeline.py). Loading it reads the prepared dbt
manifest and touches neither dbt nor the network. Parts written separately (ingest, knowledge base,
quality) are wired in when their module exists; a missing one is listed in ``MISSING_PARTS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg

from hub.core.paths import HubPaths
from orchestration.dbt_assets import MANIFEST_PATH, build_dbt_assets
from orchestration.publish import build_serving_snapshot_asset, load_manifest
from orchestration.resources import HubSettings, dbt_resource

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


def _add_ingest(parts: HubParts, paths: HubPaths) -> None:
    module = _optional_module("orchestration.ingest.assets")
    if module is None or not hasattr(module, "ingest_assets"):
        parts.missing.append("ingest")
        return
    parts.assets += list(module.ingest_assets)
    parts.sensors += list(getattr(module, "ingest_sensors", []))
    parts.resources[getattr(module, "DUCKDB_RESOURCE_KEY", "duckdb")] = module.duckdb_resource(paths)
    parts.present.append("ingest")


def _add_kb(parts: HubParts) -> None:
    module = _optional_module("orchestration.kb_assets")
    if module is None or not hasattr(module, "kb_assets"):
        parts.missing.append("knowledge_base")
        return
    parts.assets += list(module.kb_assets)
    parts.resources.update(getattr(module, "kb_resources", {}))
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


def collect_parts(paths: HubPaths, as_of: date | None = None, manifest_path: Path = MANIFEST_PATH) -> HubParts:
    parts = HubParts()
    _add_ingest(parts, paths)
    manifest = load_manifest(manifest_path)
    parts.assets += [build_dbt_assets(manifest_path), build_serving_snapshot_asset(manifest)]
    parts.present += ["dbt", "publish"]
    _add_kb(parts)
    _add_quality(parts)
    parts.resources["dbt"] = dbt_resource()
    as_of_text = as_of.isoformat() if as_of else ""
    parts.resources["hub_settings"] = HubSettings(data_dir=str(paths.data_dir), as_of=as_of_text,
                                                  landing_dir=str(paths.landing_dir or ""))
    return parts


def build_definitions(paths: HubPaths | None = None, as_of: date | None = None) -> dg.Definitions:
    return definitions_from_parts(collect_parts(paths or HubPaths.from_env(), as_of=as_of))


def definitions_from_parts(parts: HubParts, skip_groups: tuple[str, ...] = (),
                           extra_jobs: tuple[Any, ...] = ()) -> dg.Definitions:
    """``skip_groups``: asset groups left out of the full_pipeline job (e.g. the KB when there are no documents);
    ``extra_jobs``: more asset jobs over the same assets (``hub run`` adds its ingest-then-rebuild jobs)."""
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
        jobs=[full_pipeline, *extra_jobs],
        resources=parts.resources,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by ``dagster dev -m orchestration.definitions`` (lazily: importing this module builds nothing)."""
    return build_definitions()
