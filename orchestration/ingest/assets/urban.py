"""Dagster assets and landing sensor of the urban source."""

from __future__ import annotations

from orchestration.ingest.contracts import URBAN

from .factory import build_landing_sensor, build_source_assets

urban_assets = build_source_assets(URBAN)
urban_sensor = build_landing_sensor(URBAN, urban_assets)
