"""Dagster assets and landing sensor of the utility source."""

from __future__ import annotations

from orchestration.ingest.contracts import UTILITY

from .factory import build_landing_sensor, build_source_assets

utility_assets = build_source_assets(UTILITY)
utility_sensor = build_landing_sensor(UTILITY, utility_assets)
