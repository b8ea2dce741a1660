"""Dagster assets and landing sensor of the registry source."""

from __future__ import annotations

from orchestration.ingest.contracts import REGISTRY

from .factory import build_landing_sensor, build_source_assets

registry_assets = build_source_assets(REGISTRY)
registry_sensor = build_landing_sensor(REGISTRY, registry_assets)
