"""Dagster assets and landing sensor of the water source."""

from __future__ import annotations

from orchestration.ingest.contracts import WATER

from .factory import build_landing_sensor, build_source_assets

water_assets = build_source_assets(WATER)
water_sensor = build_landing_sensor(WATER, water_assets)
