"""Dagster assets and landing sensor of the four-platforms source: daily JSONL files, then the
HTTP feed when the settings name one (HUB_FOUR_PLATFORMS_URL, `hub run --feed-url`)."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.ingest.contracts import FOUR_PLATFORMS
from orchestration.ingest.feed_client import fetch_events
from orchestration.ingest.summary import SourceSummary
from orchestration.resources import HubSettings

from .factory import build_landing_sensor, build_source_assets


def fetch_feed(con: duckdb.DuckDBPyConnection, settings: HubSettings,
               context: dg.AssetExecutionContext) -> SourceSummary | None:
    base_url = settings.four_platforms_url.strip()
    if not base_url:
        return None
    context.log.info(f"四平台接口 / four-platforms feed: {base_url}")
    return fetch_events(con, base_url, settings.paths.state)


four_platforms_assets = build_source_assets(FOUR_PLATFORMS, extra=fetch_feed)
four_platforms_sensor = build_landing_sensor(FOUR_PLATFORMS, four_platforms_assets)
