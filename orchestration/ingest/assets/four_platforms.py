"""Dagster assets and landing sensor of the four-platforms source: daily JSONL files, then the
HTTP feed when HUB_FOUR_PLATFORMS_URL is set."""

from __future__ import annotations

import os

import dagster as dg
import duckdb

from hub.core.paths import HubPaths
from orchestration.ingest.contracts import FOUR_PLATFORMS
from orchestration.ingest.feed_client import fetch_events
from orchestration.ingest.summary import SourceSummary

from .factory import build_landing_sensor, build_source_assets

FEED_URL_SETTING = "HUB_FOUR_PLATFORMS_URL"


def fetch_feed(con: duckdb.DuckDBPyConnection, paths: HubPaths,
               context: dg.AssetExecutionContext) -> SourceSummary | None:
    base_url = os.environ.get(FEED_URL_SETTING, "").strip()
    if not base_url:
        return None
    context.log.info(f"四平台接口 / four-platforms feed: {base_url}")
    return fetch_events(con, base_url, paths.state)


four_platforms_assets = build_source_assets(FOUR_PLATFORMS, extra=fetch_feed)
four_platforms_sensor = build_landing_sensor(FOUR_PLATFORMS, four_platforms_assets)
