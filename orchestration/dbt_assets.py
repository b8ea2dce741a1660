"""The dbt project as Dagster assets (dagster-dbt): one asset per seed and model, dbt tests as asset checks.

The manifest is dbt_project/target/manifest.json, prepared by set-up (orchestration/dbt_project.py);
nothing here runs ``dbt parse``. dbt source keys are ``[<source>, <entity>]``, the same keys as the
ingest assets, so ingest and dbt form one lineage graph. Each asset's code version is a hash of its
SQL (dagster-dbt's default) and its automation condition comes from orchestration/automation.py.
"""

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from hub.core.quoting import sql_literal
from hub.core.serving_server import CONNECT_TIMEOUT_S
from orchestration import automation
from orchestration.dbt_project import MANIFEST_PATH
from orchestration.publish import load_manifest
from orchestration.resources import DUCKDB_WRITER_POOL, HubSettings

DBT_RESULTS_FILE = "dbt_results.json"
PARSE_CACHE_FILE = "partial_parse.msgpack"  # dbt's own name for its saved parse state
KEEP_DBT_RUNS = 10  # per run, next to dbt's own artifacts; `hub run` prints it
CODE_VERSION_TAG = "dagster/code_version"  # Dagster's tag on a materialization: the code version it ran
# The run's as-of date, read by dbt_project/macros/as_of.sql (the dbt target's schema: main on both engines).
AS_OF_SCHEMA, AS_OF_TABLE = "main", "hub_run_as_of"


class HubDbtTranslator(DagsterDbtTranslator):
    """Groups by folder (staging_<source>, intermediate, marts_<area>, seeds); conditions by dbt tag."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "seed":
            return "seeds"
        fqn = list(dbt_resource_props.get("fqn") or [])
        folders = fqn[1:-1]  # fqn = [project, folder, ..., name]
        if not folders:
            return "dbt"
        if folders[0] in ("staging", "marts") and len(folders) > 1:
            return f"{folders[0]}_{folders[1]}"
        return folders[0]

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return automation.for_dbt_node(dbt_resource_props)


TRANSLATOR = HubDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dataclass(frozen=True)
class DbtTestSummary:
    passed: int = 0
    warned: int = 0
    failed: int = 0  # fail + error
    skipped: int = 0
    models_built: int = 0
    models_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def summarise_run_results(run_results: Mapping[str, Any]) -> DbtTestSummary:
    """Count dbt data/unit test outcomes and model builds in a ``run_results.json``."""
    counts = {"passed": 0, "warned": 0, "failed": 0, "skipped": 0, "models_built": 0, "models_failed": 0}
    for result in run_results.get("results", []):
        unique_id: str = result.get("unique_id", "")
        status = result.get("status")
        if unique_id.startswith(("test.", "unit_test.")):
            key = {"pass": "passed", "warn": "warned", "fail": "failed", "error": "failed"}.get(status, "skipped")
            counts[key] += 1
        elif unique_id.startswith(("model.", "seed.", "snapshot.")):
            if status == "success":
                counts["models_built"] += 1
            elif status == "error":
                counts["models_failed"] += 1
    return DbtTestSummary(**counts)


def dbt_target_dir(data_dir: Path, run_id: str) -> Path:
    """Per-run dbt artifacts live in the data directory, not in the repository."""
    return data_dir / "dbt" / run_id[:8]


def restore_parse_cache(data_dir: Path, target: Path) -> None:
    """Give this run dbt's parse state of the last run on this data directory, so dbt parses only what changed."""
    cache = data_dir / "dbt" / PARSE_CACHE_FILE
    if cache.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, target / PARSE_CACHE_FILE)


def save_parse_cache(data_dir: Path, target: Path) -> None:
    produced = target / PARSE_CACHE_FILE
    if produced.exists():
        temp = data_dir / "dbt" / f".{PARSE_CACHE_FILE}.tmp"
        shutil.copyfile(produced, temp)
        temp.replace(data_dir / "dbt" / PARSE_CACHE_FILE)  # a killed run never leaves half a file


def prune_dbt_runs(runs_dir: Path, keep: int = KEEP_DBT_RUNS) -> None:
    """Keep the artifacts (logs, compiled SQL, run_results) of the newest ``keep`` dbt runs only."""
    if not runs_dir.is_dir():
        return
    runs = sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(stale, ignore_errors=True)


def code_changed_keys(instance: dg.DagsterInstance, assets_def: dg.AssetsDefinition,
                      keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """Selected models never built, or last built from other code (Dagster's code version: a hash of the SQL)."""
    keys = list(keys)
    latest = instance.get_latest_materialization_events(keys)
    changed = []
    for key in keys:
        event = latest.get(key)
        materialization = event.asset_materialization if event else None
        built = (materialization.tags or {}).get(CODE_VERSION_TAG) if materialization else None
        if built is None or built != assets_def.specs_by_key[key].code_version:
            changed.append(key)
    return changed


def record_as_of(settings: HubSettings, as_of: date) -> None:
    """Write the run's as-of date where dbt_project/macros/as_of.sql reads it while running.

    Not a dbt var: a var that changes every day makes dbt parse the whole project again (~5 s of every
    daily run at `large`); a table read at execution leaves dbt's partial parsing intact."""
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {AS_OF_SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {AS_OF_SCHEMA}.{AS_OF_TABLE} (as_of_date date)",
        f"DELETE FROM {AS_OF_SCHEMA}.{AS_OF_TABLE}",
        f"INSERT INTO {AS_OF_SCHEMA}.{AS_OF_TABLE} VALUES (DATE {sql_literal(as_of.isoformat())})",
    ]
    engine = settings.warehouse_engine
    if engine.url:
        import psycopg

        try:
            with psycopg.connect(engine.url, connect_timeout=CONNECT_TIMEOUT_S) as con, con.transaction():
                for statement in statements:
                    con.execute(statement)
        except psycopg.Error as exc:
            raise dg.Failure(description=f"数仓服务器不可用 / cannot write the as-of date to the warehouse "
                             f"{engine}: {exc}") from None
        return
    try:
        with duckdb.connect(str(settings.paths.build_db)) as con:
            con.execute("BEGIN")
            for statement in statements:
                con.execute(statement)
            con.execute("COMMIT")
    except duckdb.Error as exc:  # e.g. the file held open by another program
        raise dg.Failure(description=f"构建库不可写 / cannot write the as-of date to the build database "
                         f"{settings.paths.build_db}: {exc}") from None


def dbt_invocation_args(settings: HubSettings, full_refresh: bool) -> list[str]:
    """``dbt build`` for this deployment: the build database and thread count are passed here, not through
    the environment; the as-of date is in the warehouse (``record_as_of``). dbt unit tests check the SQL logic,
    not the data: they run in CI only."""
    dbt_vars = {"build_db": str(settings.paths.build_db)}
    args = ["build", "--exclude-resource-type", "unit_test", "--threads", str(settings.dbt_threads),
            "--vars", json.dumps(dbt_vars)]
    return [*args, "--full-refresh"] if full_refresh else args


def build_dbt_assets(manifest_path: Path = MANIFEST_PATH) -> dg.AssetsDefinition:
    manifest = load_manifest(manifest_path)

    @dbt_assets(manifest=manifest, name="hub_dbt", pool=DUCKDB_WRITER_POOL, dagster_dbt_translator=TRANSLATOR)
    def hub_dbt(context: AssetExecutionContext, dbt: DbtCliResource, hub_settings: HubSettings) -> Iterator[Any]:
        paths = hub_settings.paths
        paths.warehouse.mkdir(parents=True, exist_ok=True)
        as_of_day = hub_settings.as_of_date()  # once: "today" must not roll over between dbt and the metadata
        as_of = as_of_day.isoformat()
        target = dbt_target_dir(paths.data_dir, context.run.run_id)
        record_as_of(hub_settings, as_of_day)
        restore_parse_cache(paths.data_dir, target)
        # An incremental model must not keep rows built by other code (a new town alias in a seed must reach
        # the events already staged): models new or changed since their last build are fully refreshed.
        changed = code_changed_keys(context.instance, context.assets_def, context.selected_asset_keys)
        full_refresh = hub_settings.full_refresh or bool(changed)
        if changed:
            context.log.info(f"dbt --full-refresh: {len(changed)} selected model(s) new or changed, "
                             f"e.g. {changed[0].to_user_string()}")
        invocation = dbt.cli(dbt_invocation_args(hub_settings, full_refresh), context=context, target_path=target,
                             raise_on_error=False)
        try:
            for event in invocation.stream():
                # The date each model was built as of, on its materialization (`hub run` compares it).
                yield event.with_metadata({**event.metadata, "as_of": as_of}) if isinstance(event, dg.Output) \
                    else event
        except KeyError as exc:
            # dbt ran a node the prepared manifest does not know: the project changed since set-up.
            invocation.process.terminate()
            invocation.process.wait()
            raise dg.Failure(
                description=f"dbt manifest 已过期 / the dbt manifest is out of date ({exc} is not in "
                f"{manifest_path}): 请运行 / run `make install` (dagster-dbt project prepare-and-package)"
            ) from None
        finally:
            release_dbt_adapters()
        save_parse_cache(paths.data_dir, target)
        summary = summarise_run_results(invocation.get_artifact("run_results.json"))
        (target / DBT_RESULTS_FILE).write_text(json.dumps(summary.as_dict()), encoding="utf-8")
        context.log.info(f"dbt build as of {as_of}: {summary.as_dict()}")
        prune_dbt_runs(target.parent)
        if not invocation.is_successful():
            raise dg.Failure(
                description=f"dbt build 失败 / dbt build failed: {summary.failed} test(s) failed, "
                f"{summary.models_failed} model(s) failed; see {target / 'dbt.log'}",
                metadata=summary.as_dict(),
            )

    return hub_dbt


def release_dbt_adapters() -> None:
    """Drop the adapter dagster-dbt registered process-wide for this invocation. Its lock is a multiprocessing
    semaphore, which the resource tracker reports as leaked ("1 leaked semaphore objects") when the process ends
    with os._exit still holding it, as `hub run` does."""
    from dbt.adapters.factory import reset_adapters

    reset_adapters()


def published_asset_keys(manifest: Mapping[str, Any], unique_ids: list[str]) -> list[dg.AssetKey]:
    return [TRANSLATOR.get_asset_spec(manifest, unique_id, None).key for unique_id in unique_ids]
