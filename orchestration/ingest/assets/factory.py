"""One multi_asset per source system and one file sensor per landing folder, built from the contracts.

Asset keys are exactly [<source>, <entity>], equal to the dbt source keys, so ingest and dbt form
one lineage graph. (No `from __future__ import annotations` here: Dagster inspects the context type hint.)
"""

import json
import time
from collections.abc import Callable, Iterator
from stat import S_ISREG

import dagster as dg
import duckdb
from dagster import AssetExecutionContext
from dagster_duckdb import DuckDBResource

from hub.core.paths import HubPaths
from orchestration.automation import LANDING_SENSOR_INTERVAL_SECONDS
from orchestration.ingest.contracts import Source
from orchestration.ingest.load import ingest_source
from orchestration.ingest.pending import open_build_db, source_has_new_files
from orchestration.ingest.summary import SourceSummary
from orchestration.resources import HubSettings
from orchestration.warehouse.postgres import sync_raw

from .resources import DUCKDB_RESOURCE_KEY, DUCKDB_WRITER_POOL

# Extra loading after the landing files (the four-platforms HTTP feed); returns what it loaded.
ExtraLoad = Callable[[duckdb.DuckDBPyConnection, HubSettings, dg.AssetExecutionContext], SourceSummary | None]

# A file modified more recently than this may still be being written: the sensor waits a tick.
SETTLE_SECONDS = 5.0


def entity_metadata(summary: SourceSummary, entity: str) -> dict[str, object]:
    files = [f for f in summary.files if f.entity == entity]
    part = SourceSummary(summary.source, files)
    reasons = "\n".join(f"{count} × {reason}" for reason, count in part.top_reasons()) or "—"
    return {
        "rows_loaded": part.rows_loaded,
        "rows_quarantined": part.rows_quarantined,
        "rows_unchanged": part.rows_unchanged,
        "files_loaded": sum(f.status == "loaded" for f in files),
        "files_skipped_duplicate": sum(f.status == "skipped_duplicate" for f in files),
        "files_rejected": sum(f.status == "rejected" for f in files),
        "top_quarantine_reasons": dg.MetadataValue.text(reasons),
    }


def build_source_assets(source: Source, extra: ExtraLoad | None = None) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            [source.name, entity.name],
            description=f"{entity.description}（{source.owner}）→ raw.{entity.table}",
            group_name=f"ingest_{source.name}",
            kinds={"duckdb"},
            owners=[],
            tags={"source_system": source.name},
        )
        for entity in source.entities
    ]

    @dg.multi_asset(
        name=f"ingest_{source.name}",
        specs=specs,
        pool=DUCKDB_WRITER_POOL,
        required_resource_keys={DUCKDB_RESOURCE_KEY, "hub_settings"},
        description=f"读取 landing/{source.name}/ 并按契约校验入库 / load and validate {source.owner_label}",
    )
    def _assets(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        hub_settings: HubSettings = context.resources.hub_settings
        database: DuckDBResource = getattr(context.resources, DUCKDB_RESOURCE_KEY)
        with database.get_connection() as con:
            summary = ingest_source(con, source.name, hub_settings.paths.landing)
            if extra is not None:
                more = extra(con, hub_settings, context)
                if more is not None:
                    for result in more.files:
                        summary.add(result)
            warehouse = hub_settings.warehouse_engine
            if warehouse.url:  # validated here, then copied to the server's raw schema in bulk
                copied = sync_raw(con, warehouse.url)
                context.log.info(f"raw → {warehouse}: {copied.total_rows} rows of {sum(copied.loads.values())} loads")
            versions = {entity.name: loaded_version(con, source.name, entity.name) for entity in source.entities}
        context.log.info(summary.format())
        for entity in source.entities:
            yield dg.MaterializeResult(asset_key=[source.name, entity.name],
                                       metadata=entity_metadata(summary, entity.name),
                                       data_version=dg.DataVersion(versions[entity.name]))

    return _assets


def loaded_version(con: duckdb.DuckDBPyConnection, source: str, entity: str) -> str:
    """The entity's data version: how many loads added rows, and the newest of them. A run that loads nothing
    new keeps it, so Dagster sees nothing downstream as stale."""
    row = con.execute("SELECT count(*), coalesce(max(load_id), '') FROM raw.load_log "
                      "WHERE source_system = ? AND entity = ? AND rows_loaded > 0", [source, entity]).fetchone()
    return f"{row[0]}:{row[1]}" if row else "0:"


def landing_snapshot(source: Source, paths: HubPaths, settle_seconds: float) -> dict[str, int]:
    """File name → mtime (ns) of every settled file of the source's patterns in landing/<source>/."""
    folder = paths.landing_for(source.name)
    now = time.time()
    found: dict[str, int] = {}
    for entity in source.entities:
        for path in folder.glob(entity.file_pattern):
            stat = path.lstat()  # a dangling link must not crash the sensor; links are refused by ingest anyway
            if S_ISREG(stat.st_mode) and now - stat.st_mtime >= settle_seconds:
                found[path.name] = stat.st_mtime_ns
    return found


def build_landing_sensor(source: Source, target: dg.AssetsDefinition,
                         settle_seconds: float = SETTLE_SECONDS) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{source.name}_landing_sensor",
        target=target,
        minimum_interval_seconds=LANDING_SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"landing/{source.name}/ 出现新文件或文件变化时运行入库 / run ingest on new or changed files",
    )
    def _sensor(context: dg.SensorEvaluationContext, hub_settings: HubSettings) -> dg.SensorResult | dg.SkipReason:
        paths = hub_settings.paths
        seen = landing_snapshot(source, paths, settle_seconds)
        previous: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        changed = sorted(name for name, mtime in seen.items() if previous.get(name) != mtime)
        if not changed:
            return dg.SkipReason(f"landing/{source.name}/ 无新文件 / no new or changed files")
        cursor = json.dumps({**previous, **seen}, ensure_ascii=False, sort_keys=True)
        try:
            con = open_build_db(paths.build_db)
        except duckdb.Error:  # a run is writing it: look again on the next tick (the cursor stays)
            return dg.SkipReason("构建库正被写入，稍后再看 / the build database is being written; next tick")
        try:
            pending = source_has_new_files(con, source.name, paths.landing)
        finally:
            if con is not None:
                con.close()
        if not pending:  # e.g. loaded by `hub run` already: nothing to do, remember the files
            return dg.SensorResult(skip_reason=f"landing/{source.name}/ 文件均已入库 / files already loaded",
                                   cursor=cursor)
        run_key = f"{source.name}:" + ",".join(f"{name}@{seen[name]}" for name in changed)
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key[:500])], cursor=cursor)

    return _sensor
