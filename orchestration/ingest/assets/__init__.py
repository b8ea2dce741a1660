"""Dagster ingest assets (one multi_asset per source, keys [<source>, <entity>]), landing sensors,
and the DuckDB resource factory, for the project's definitions.py:

    Definitions(assets=[*ingest_assets, ...], sensors=[*ingest_sensors, ...],
                resources={"duckdb": duckdb_resource(), ...})
"""

from __future__ import annotations

from .four_platforms import four_platforms_assets, four_platforms_sensor
from .registry import registry_assets, registry_sensor
from .resources import DUCKDB_RESOURCE_KEY, DUCKDB_WRITER_POOL, duckdb_resource
from .urban import urban_assets, urban_sensor
from .utility import utility_assets, utility_sensor
from .water import water_assets, water_sensor

ingest_assets = [four_platforms_assets, water_assets, urban_assets, utility_assets, registry_assets]
ingest_sensors = [four_platforms_sensor, water_sensor, urban_sensor, utility_sensor, registry_sensor]

__all__ = ["DUCKDB_RESOURCE_KEY", "DUCKDB_WRITER_POOL", "duckdb_resource", "ingest_assets", "ingest_sensors"]
