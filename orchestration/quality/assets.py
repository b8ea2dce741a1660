"""Dagster side of data quality: the ``quality_report`` asset, asset checks, and the daily schedule.

- ``quality_report`` runs after ingest and the dbt ``quality_*`` models, measures every check, appends
  the results to the history, alerts on pass→fail and writes the HTML + JSON report.
- Asset checks on each ingest asset ``[source, entity]`` (blocking: an entity that was delivered but
  holds no row must not flow on into dbt) and on the key published views (blocking: an empty view or a
  repeated key must not be published).
- ``daily_full_pipeline`` runs the whole pipeline, report included, every day at 07:00 Asia/Shanghai (off by
  default: the automation conditions already write the morning report).
- ``quality_report_after_failed_pipeline``: when a pipeline run fails before its report (dbt failed, say),
  the report still gets written by a report-only run — a bad day is when departments need it most.

Wired in by orchestration/definitions.py through ``quality_assets``, ``quality_checks``,
``quality_schedules`` and ``quality_sensors``.
(No ``from __future__ import annotations``: Dagster inspects the context hints.)
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb

from hub.core.serving_server import CONNECT_TIMEOUT_S
from orchestration.ingest.contracts import ENTITIES, SOURCES_BY_NAME, Entity
from orchestration.ingest.schema import raw_table_name
from orchestration.quality.collect import DBT_QUALITY_MODELS
from orchestration.resources import DUCKDB_WRITER_POOL, HubSettings

QUALITY_GROUP = "quality"
DAILY_CRON = "0 7 * * *"
TIMEZONE = "Asia/Shanghai"
FULL_PIPELINE_JOB = "full_pipeline"  # defined in orchestration/definitions.py
# Published views that must never be empty, with the key that must be unique in them.
PUBLISHED_VIEW_KEYS: dict[str, tuple[str, ...]] = {
    "town_readiness": ("town_code",),
    "town_dossier": ("town_code",),
    "grid_coverage": ("village_code",),
}


def _manifest() -> Mapping[str, Any] | None:
    from orchestration.dbt_assets import MANIFEST_PATH
    from orchestration.publish import load_manifest

    try:
        return load_manifest(MANIFEST_PATH)
    except (FileNotFoundError, ValueError):
        return None


def _model_nodes(manifest: Mapping[str, Any] | None, names: Sequence[str]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """name → (unique_id, node) of the dbt models among ``names`` found in the manifest."""
    found: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for unique_id, node in ((manifest or {}).get("nodes") or {}).items():
        if node.get("resource_type") == "model" and node.get("name") in names:
            found[node["name"]] = (unique_id, node)
    return found


def _dbt_key(manifest: Mapping[str, Any], unique_id: str) -> dg.AssetKey:
    from orchestration.dbt_assets import published_asset_keys

    return published_asset_keys(manifest, [unique_id])[0]


def build_quality_report_asset(manifest: Mapping[str, Any] | None) -> dg.AssetsDefinition:
    upstream = [dg.AssetKey([e.source, e.name]) for e in ENTITIES]
    upstream += [_dbt_key(manifest, uid) for uid, _ in _model_nodes(manifest, DBT_QUALITY_MODELS).values()] \
        if manifest else []

    @dg.asset(
        name="quality_report",
        group_name=QUALITY_GROUP,
        deps=upstream,
        pool=DUCKDB_WRITER_POOL,  # reads the build database: never while a writer holds it
        kinds={"html", "json"},
        description="数据质量日报：按部门汇总、逐项检查、30 次趋势、需要整改的行 / the daily data-quality report "
        "(HTML + JSON in reports/quality/, history in reports/quality_history.duckdb)",
    )
    def quality_report(context: dg.AssetExecutionContext, hub_settings: HubSettings) -> dg.MaterializeResult:
        from orchestration.quality.report import produce_report

        outcome = produce_report(hub_settings.paths, run_id=context.run.run_id, as_of=hub_settings.as_of_date(),
                                 echo=context.log.info, webhook_url=hub_settings.quality_webhook_url,
                                 warehouse_url=hub_settings.warehouse_engine.url or "")
        return dg.MaterializeResult(metadata={
            "checks": len(outcome.results),
            "failed": outcome.counts["fail"],
            "warned": outcome.counts["warn"],
            "passed": outcome.counts["pass"],
            "newly_failing": dg.MetadataValue.text(", ".join(outcome.newly_failing) or "—"),
            "report_html": dg.MetadataValue.path(str(outcome.html_path)),
            "report_json": dg.MetadataValue.path(str(outcome.json_path)),
        })

    return quality_report


def entity_has_rows(con: duckdb.DuckDBPyConnection, entity: Entity) -> dg.AssetCheckResult:
    """ERROR when the entity was delivered but holds no row (all rejected or quarantined); WARN if never delivered."""
    deliveries = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status = 'rejected') FROM raw.load_log "
        "WHERE source_system = ? AND entity = ? AND status IN ('loaded', 'rejected')",
        [entity.source, entity.name],
    ).fetchone()
    delivered, rejected = (deliveries or (0, 0))
    rows = con.execute(f"SELECT count(*) FROM {raw_table_name(entity)}").fetchone()
    row_count = int(rows[0]) if rows else 0
    owner = SOURCES_BY_NAME[entity.source].owner
    metadata = {"rows": row_count, "deliveries": int(delivered), "rejected_files": int(rejected), "owner": owner}
    if not delivered:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
                                   description=f"从未收到数据 / never delivered ({owner})")
    if row_count == 0:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description=f"已交付但无可用行 / delivered, no row passed the contract ({owner})")
    return dg.AssetCheckResult(passed=True, metadata=metadata)


def view_is_sound(con: duckdb.DuckDBPyConnection, relation: str, key: Sequence[str]) -> dg.AssetCheckResult:
    """ERROR when the view is empty or its key repeats; the repeated keys are listed."""
    rows = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    row_count = int(rows[0]) if rows else 0
    columns = ", ".join(f'"{c}"' for c in key)
    repeated = con.execute(
        f"SELECT concat_ws(' / ', {columns}) FROM {relation} GROUP BY {columns} HAVING count(*) > 1 LIMIT 20"
    ).fetchall()
    metadata = {"rows": row_count, "repeated_keys": dg.MetadataValue.text(", ".join(str(r[0]) for r in repeated))}
    if row_count == 0:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description="视图为空 / the view is empty")
    if repeated:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata,
                                   description=f"键重复 / repeated {'+'.join(key)}")
    return dg.AssetCheckResult(passed=True, metadata=metadata)


def _keyed(key: dg.AssetCheckKey, result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """A multi-asset check's result must name its check."""
    return dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=result.passed,
                               severity=result.severity, metadata=result.metadata, description=result.description)


def _ingest_checks() -> dg.AssetChecksDefinition:
    """has_rows on every raw table, as one step: a step costs Dagster ~50 ms whatever it does, ×18 each run."""
    specs = {
        dg.AssetCheckKey(dg.AssetKey([e.source, e.name]), "has_rows"): (e, dg.AssetCheckSpec(
            "has_rows", asset=dg.AssetKey([e.source, e.name]), blocking=True,
            description=f"{e.description}：已交付的数据至少有一行通过契约 / delivered data has rows"))
        for e in ENTITIES
    }

    @dg.multi_asset_check(name="raw_tables_have_rows", specs=[spec for _, spec in specs.values()], can_subset=True,
                          pool=DUCKDB_WRITER_POOL, required_resource_keys={"duckdb"})
    def raw_tables_have_rows(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        with context.resources.duckdb.get_connection() as con:
            for key, (entity, _) in specs.items():
                if key in context.selected_asset_check_keys:
                    yield _keyed(key, entity_has_rows(con, entity))

    return raw_tables_have_rows


def _view_checks(views: list[tuple[dg.AssetKey, str, tuple[str, ...]]]) -> dg.AssetChecksDefinition:
    """not_empty_unique_key on each published view that has a key, as one step (see _ingest_checks)."""
    specs = {
        dg.AssetCheckKey(key, "not_empty_unique_key"): (relation, columns, dg.AssetCheckSpec(
            "not_empty_unique_key", asset=key, blocking=True,
            description=f"发布前：非空且 {'+'.join(columns)} 唯一 / before publishing: not empty, key unique"))
        for key, relation, columns in views
    }

    @dg.multi_asset_check(name="published_views_sound", specs=[spec for *_, spec in specs.values()],
                          can_subset=True, pool=DUCKDB_WRITER_POOL, required_resource_keys={"duckdb", "hub_settings"})
    def published_views_sound(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        with _warehouse_connection(context) as con:
            for key, (relation, columns, _) in specs.items():
                if key in context.selected_asset_check_keys:
                    yield _keyed(key, view_is_sound(con, relation, columns))

    return published_views_sound


@contextmanager
def _warehouse_connection(context: dg.AssetCheckExecutionContext) -> Iterator[Any]:
    """Where dbt built the views: the DuckDB build database, or the server (the checks' SQL reads on both)."""
    url = context.resources.hub_settings.warehouse_engine.url
    if url is None:
        with context.resources.duckdb.get_connection() as con:
            yield con
        return
    import psycopg

    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as con:
        yield con


def build_quality_checks(manifest: Mapping[str, Any] | None) -> list[dg.AssetChecksDefinition]:
    checks = [_ingest_checks()]
    if manifest:
        views = [(_dbt_key(manifest, unique_id), f'"{node["schema"]}"."{node.get("alias") or name}"',
                  PUBLISHED_VIEW_KEYS[name])
                 for name, (unique_id, node) in _model_nodes(manifest, tuple(PUBLISHED_VIEW_KEYS)).items()]
        if views:
            checks.append(_view_checks(views))
    return checks


daily_full_pipeline = dg.ScheduleDefinition(
    name="daily_full_pipeline",
    cron_schedule=DAILY_CRON,
    execution_timezone=TIMEZONE,
    job_name=FULL_PIPELINE_JOB,
    # Off by default: the assets' automation conditions already roll the as-of date over and write the
    # morning report at 07:00 (orchestration/automation.py). Turn it on for a full rebuild every morning.
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="每天 07:00（北京时间）运行全流程并生成数据质量日报（默认关闭，自动化条件已负责每日更新）/ "
    "daily at 07:00 Asia/Shanghai: the whole pipeline and the quality report (off by default: the automation "
    "conditions already do the daily rollover)",
)

quality_report_job = dg.define_asset_job(
    "quality_report_only",
    selection=dg.AssetSelection.assets("quality_report"),
    description="只生成数据质量报告 / the quality report alone, from the build database as it is",
)


@dg.run_failure_sensor(
    name="quality_report_after_failed_pipeline",
    request_job=quality_report_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="全流程失败且未生成报告时，单独生成数据质量报告 / a failed pipeline run still gets its quality report",
)
def quality_report_after_failed_pipeline(context: dg.RunFailureSensorContext) -> dg.RunRequest | dg.SkipReason:
    run = context.dagster_run
    if run.job_name != FULL_PIPELINE_JOB:
        return dg.SkipReason(f"not a {FULL_PIPELINE_JOB} run")
    written = context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    if any(e.dagster_event and e.dagster_event.asset_key == dg.AssetKey("quality_report") for e in written):
        return dg.SkipReason("the failed run wrote its quality report")
    return dg.RunRequest(run_key=f"quality-after-{run.run_id}", tags={"hub/trigger": f"failed run {run.run_id}"})


_MANIFEST = _manifest()
quality_assets = [build_quality_report_asset(_MANIFEST)]
quality_checks = build_quality_checks(_MANIFEST)
quality_schedules = [daily_full_pipeline]
quality_sensors = [quality_report_after_failed_pipeline]
