"""The one-shot run (``hub run``): one Dagster run that materializes the stale part of the asset graph.

It loads the same Definitions as the deployment (orchestration/definitions.py), asks Dagster's records
what is stale (orchestration/stale.py: never built, code changed, upstream data changed, as-of date
changed, landing files not loaded yet) and executes that selection of the ``full_pipeline`` job
in-process against the data directory's instance, so the run shows up in the Dagster UI. Afterwards it
prints what happened: per source the rows loaded and quarantined (with the top reasons), the dbt test
results and the published snapshot. One run at a time per data directory (orchestration/run_lock.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import ValidationError

from hub.core.paths import HubPaths
from hub.core.pointer import process_alive, read_current, remove_dead_builds
from hub.core.warehouse import Warehouse
from orchestration.instance import ensure_dagster_home
from orchestration.resources import HUB_TIMEZONE, today_in_shanghai
from orchestration.run_lock import DataDirBusy, data_dir_lock
from orchestration.settings import HubConfig

Echo = Callable[[str], None]
HUB_TRIGGER_TAG = "hub/trigger"
HUB_PID_TAG = "hub/pid"
STEP_EVENTS = {"STEP_SUCCESS": "success", "STEP_FAILURE": "failure", "STEP_SKIPPED": "skipped"}
KB_GROUP = "knowledge_base"


class PipelineError(Exception):
    """A problem the user can fix (missing manifest, bad folder, bad setting, a busy data directory), said in words."""


@dataclass
class SourceLoad:
    source: str
    files: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    files_rejected: int = 0
    top_reasons: list[tuple[str, str | None, int]] = field(default_factory=list)  # (reason, field, rows)


@dataclass
class PipelineOutcome:
    success: bool
    run_id: str
    as_of: date
    sources: list[SourceLoad]
    dbt_tests: dict[str, int] | None
    snapshot: Path | str | None  # the new snapshot file, or on a server warehouse the new version schema
    row_counts: dict[str, int]
    failed_steps: list[str]
    missing_parts: list[str]
    step_status: dict[str, str] = field(default_factory=dict)  # step key → success | failure | skipped
    dbt_log: Path | None = None  # every line of this run's dbt build
    materialized: int = 0  # assets materialized by the run


def _source_loads(build_db: Path, since: datetime) -> list[SourceLoad]:
    """What this run's ingest did, from the build database's load log and quarantine."""
    if not build_db.exists():
        return []
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.IOException as exc:  # e.g. a dbt process of a failed run still holds the file
        print(f"接入统计不可读 / ingest summary unavailable: {exc}")
        return []
    try:
        has_log = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw' AND table_name = 'load_log'"
        ).fetchone()
        if not has_log or not has_log[0]:
            return []
        loads = {
            source: SourceLoad(source, int(files), int(loaded), int(quarantined), int(rejected))
            for source, files, loaded, quarantined, rejected in con.execute(
                "SELECT source_system, count(*), sum(rows_loaded), sum(rows_quarantined), "
                "count(*) FILTER (WHERE status = 'rejected') FROM raw.load_log WHERE started_at >= ? "
                "GROUP BY ALL ORDER BY 1",
                [since],
            ).fetchall()
        }
        reasons = con.execute(
            "SELECT q.source_system, split_part(q.reason, ': ', 1) AS kind, q.field, count(*) AS n "
            "FROM raw.quarantine q WHERE q.load_id IN (SELECT load_id FROM raw.load_log WHERE started_at >= ?) "
            "GROUP BY ALL ORDER BY q.source_system, n DESC, kind",
            [since],
        ).fetchall()
    finally:
        con.close()
    for source, kind, field_name, rows in reasons:
        load = loads.setdefault(source, SourceLoad(source))
        if len(load.top_reasons) < 3:
            load.top_reasons.append((kind, field_name, int(rows)))
    return list(loads.values())


def _dbt_tests(paths: HubPaths, run_id: str) -> dict[str, int] | None:
    from orchestration.dbt_assets import DBT_RESULTS_FILE, dbt_target_dir

    results = dbt_target_dir(paths.data_dir, run_id) / DBT_RESULTS_FILE
    if not results.exists():
        return None
    return json.loads(results.read_text(encoding="utf-8"))


def _dbt_log(paths: HubPaths, run_id: str) -> Path | None:
    from orchestration.dbt_assets import dbt_target_dir

    log = dbt_target_dir(paths.data_dir, run_id) / "dbt.log"
    return log if log.exists() else None


def _snapshot_counts(snapshot: Path | str | None, warehouse: Warehouse) -> dict[str, int]:
    if snapshot is None:
        return {}
    if warehouse.url:
        from orchestration.warehouse.serving import published_row_counts

        return published_row_counts(warehouse.url)
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        row = con.execute("SELECT row_counts FROM _snapshot").fetchone()
    finally:
        con.close()
    return json.loads(row[0]) if row else {}


def run_pipeline(
    paths: HubPaths,
    landing: Path | None = None,
    as_of: date | None = None,
    feed_url: str | None = None,
    echo: Echo = print,
    rebuild_all: bool = False,
    verbose: bool = False,
    warehouse: Warehouse | None = None,
) -> PipelineOutcome:
    """Ingest ``landing``, then rebuild what is stale, index and publish; report what happened.

    ``rebuild_all``: every asset, dbt with --full-refresh. Bad rows are not failures. ``verbose``: also print
    Dagster's INFO log and every dbt line (they are in dbt.log anyway). ``warehouse``: the engine (default
    DuckDB in the data directory). Raises PipelineError when another run holds the data directory.
    """
    keep_sigterm_working()
    landing = (landing or paths.landing).resolve()
    paths = HubPaths(paths.data_dir.resolve(), landing)
    try:
        with data_dir_lock(paths.data_dir):
            return _run_locked(paths, landing, as_of or today_in_shanghai(), feed_url, echo, rebuild_all, verbose,
                               warehouse or Warehouse())
    except DataDirBusy as exc:
        raise PipelineError(str(exc)) from None


def _run_locked(paths: HubPaths, landing: Path, as_of: date, feed_url: str | None, echo: Echo,
                rebuild_all: bool, verbose: bool, warehouse: Warehouse) -> PipelineOutcome:
    import dagster as dg

    from orchestration.definitions import collect_parts, definitions_from_parts
    from orchestration.ingest.contracts import ENTITIES
    from orchestration.ingest.pending import sources_with_new_files
    from orchestration.stale import stale_plan

    try:
        config = HubConfig(data_dir=paths.data_dir, landing_dir=landing, as_of=as_of.isoformat(),
                           four_platforms_url=feed_url or "", warehouse=warehouse.url or "")
    except ValidationError as exc:  # a setting from the environment: say which and how to fix it
        reasons = (str(error["msg"]).removeprefix("Value error, ") for error in exc.errors())
        raise PipelineError("; ".join(reasons)) from None
    home = ensure_dagster_home(paths, config.dagster_pg_url or None)
    _refresh_manifest_if_stale(echo)
    try:
        parts = collect_parts(config, full_refresh=rebuild_all)
    except FileNotFoundError as exc:
        raise PipelineError(str(exc)) from None
    echo(f"数据目录 / data dir: {paths.data_dir}\n落地目录 / landing: {landing}\n基准日 / as of: {as_of}\n"
         f"数仓 / warehouse: {warehouse}")
    for part in parts.missing:
        echo(f"跳过 / skipped: {part} (该部分尚未提供 / that part is not available yet)")
    skip_groups: tuple[str, ...] = ()
    if "knowledge_base" in parts.present and not (landing / "kb").is_dir():
        echo(f"跳过 / skipped: knowledge_base ({landing / 'kb'} 不存在 / has no documents folder)")
        skip_groups = (KB_GROUP,)
    defs = definitions_from_parts(parts, skip_groups)
    graph = defs.resolve_asset_graph()
    ingest = {dg.AssetKey([e.source, e.name]): e.source for e in ENTITIES}
    pending = sources_with_new_files(paths.build_db, landing) | ({"four_platforms"} if feed_url else set())
    pending |= _sources_behind_server(paths, warehouse)
    kb_keys = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == KB_GROUP]
    previous_snapshot = _published(paths, warehouse)
    started = datetime.now(HUB_TIMEZONE).replace(tzinfo=None)
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        release_dead_runs(instance)
        skipped = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name in skip_groups]
        plan = stale_plan(graph, instance, ingest=ingest, pending_sources=pending, as_of=as_of.isoformat(),
                          always=[] if skip_groups else kb_keys, exclude=skipped,
                          lost=_lost_dbt_keys(paths, warehouse),
                          everything=rebuild_all)
        selection = sorted(plan.selection, key=lambda k: k.to_user_string())
        echo(f"重建 / rebuild: {plan.describe()} ...")
        result = _execute(defs, selection, instance, landing, verbose) if selection else None
    finally:
        instance.dispose()
    remove_dead_builds(paths.serving)  # a publish killed half-way left its hidden build file behind
    sources = _source_loads(paths.build_db, started)
    run_id = result.run_id if result else ""
    step_status = {e.step_key: STEP_EVENTS[e.event_type_value] for e in (result.all_events if result else [])
                   if e.step_key and e.event_type_value in STEP_EVENTS}
    materialized = len(result.get_asset_materialization_events()) if result else 0
    if dg.AssetKey("quality_report") in selection and step_status.get("quality_report") != "success":
        _report_quality_after_failure(paths, run_id, as_of, echo, warehouse)
    snapshot = _published(paths, warehouse)
    published = snapshot if snapshot != previous_snapshot else None
    outcome = PipelineOutcome(
        success=result.success if result else True,
        run_id=run_id,
        as_of=as_of,
        sources=sources,
        dbt_tests=_dbt_tests(paths, run_id) if run_id else None,
        dbt_log=_dbt_log(paths, run_id) if run_id else None,
        snapshot=published,
        row_counts=_snapshot_counts(published, warehouse),
        failed_steps=[step for step, status in step_status.items() if status == "failure"],
        missing_parts=parts.missing,
        step_status=step_status,
        materialized=materialized,
    )
    echo(format_outcome(outcome))
    return outcome


def _lost_dbt_keys(paths: HubPaths, warehouse: Warehouse) -> set[Any]:
    """dbt models and seeds whose table is not in the warehouse (deleted, recreated by a run that died after its
    ingest, or a server warehouse newly chosen): Dagster's records say they were built, but what they built is
    gone."""
    from orchestration.dbt_assets import published_asset_keys
    from orchestration.dbt_project import MANIFEST_PATH
    from orchestration.publish import load_manifest

    manifest = load_manifest(MANIFEST_PATH)
    relations = {uid: (node.get("alias") or node["name"]) for uid, node in manifest.get("nodes", {}).items()
                 if node.get("resource_type") in ("model", "seed")
                 and (node.get("config") or {}).get("materialized") != "ephemeral"}
    present = _warehouse_relations(paths, warehouse)
    if present is None:
        return set()  # nothing can be told: assume present
    gone = [uid for uid, name in relations.items() if name not in present]
    return set(published_asset_keys(manifest, gone))


def _warehouse_relations(paths: HubPaths, warehouse: Warehouse) -> set[str] | None:
    """Names of the tables and views dbt built, None when the warehouse cannot be read now."""
    if warehouse.url:
        from orchestration.warehouse.local_view import server_tables

        try:
            return server_tables(warehouse.url)
        except Exception as exc:  # psycopg's errors: the run itself will say what is wrong with the server
            raise PipelineError(f"数仓服务器不可用 / cannot reach the warehouse {warehouse}: {exc}") from None
    if not paths.build_db.exists():
        return set()
    try:
        con = duckdb.connect(str(paths.build_db), read_only=True)
    except duckdb.Error:
        return None  # held by a writer of another process
    try:
        return {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()


def _sources_behind_server(paths: HubPaths, warehouse: Warehouse) -> set[str]:
    if not warehouse.url or not paths.build_db.exists():
        return set()
    from orchestration.warehouse.postgres import sources_behind_server

    try:
        con = duckdb.connect(str(paths.build_db), read_only=True)
    except duckdb.Error:
        return set()
    try:
        return sources_behind_server(con, warehouse.url)
    except duckdb.CatalogException:  # no load log yet
        return set()
    finally:
        con.close()


def _published(paths: HubPaths, warehouse: Warehouse) -> Path | str | None:
    """What readers are served now: the snapshot file, or the server's version schema."""
    if warehouse.url:
        from hub.core.serving_server import current_version

        return current_version(warehouse.url)
    return read_current(paths.serving)


def _refresh_manifest_if_stale(echo: Echo) -> None:
    """A dbt file edited after set-up makes the prepared manifest wrong: prepare it again (``dbt parse``)."""
    from orchestration.dbt_project import MANIFEST_PATH, changed_since_manifest, prepare_manifest

    changed = changed_since_manifest(MANIFEST_PATH)
    if not changed:
        return
    echo(f"dbt 文件已修改，重新准备 manifest / {len(changed)} dbt file(s) changed since set-up "
         f"(e.g. {changed[0].name}): preparing the manifest again")
    try:
        prepare_manifest()
    except Exception as exc:  # dagster-dbt raises its own error types for a failed `dbt parse`
        raise PipelineError(f"dbt parse 失败 / dbt parse failed: {exc}") from None


def _execute(defs: Any, selection: list[Any], instance: Any, landing: Path, verbose: bool) -> Any:
    """Materialize ``selection`` with the full_pipeline job in this process on the data directory's instance.

    Quiet unless ``verbose``: Dagster logs warnings and errors only, and the dbt lines dagster-dbt echoes to
    stdout (hundreds per build) go nowhere; dbt.log keeps them, and the summary names it.
    """
    from orchestration.definitions import FULL_PIPELINE_JOB

    with open(os.devnull, "w", encoding="utf-8") as devnull, \
            contextlib.redirect_stdout(sys.stdout if verbose else devnull):
        return defs.resolve_job_def(FULL_PIPELINE_JOB).execute_in_process(
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "WARNING"}}}},
            tags={HUB_TRIGGER_TAG: "hub run", HUB_PID_TAG: str(os.getpid()), "hub/landing": str(landing)},
        )


def keep_sigterm_working() -> None:
    """Undo a background job's ignored SIGINT before Dagster runs in this process.

    A shell without job control starts `cmd &` with SIGINT ignored; Dagster's in-process run then gives
    SIGTERM the same disposition, so this process and every child it starts later (dbt) would ignore
    SIGTERM: a stop request would go unheard. With the default SIGINT handler, SIGTERM interrupts as Ctrl-C does.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _report_quality_after_failure(paths: HubPaths, run_id: str, as_of: date, echo: Echo,
                                  warehouse: Warehouse) -> None:
    """A failed run is when departments most need the report; without a daemon no sensor makes it."""
    from orchestration.quality.report import QualityError, produce_report

    try:
        produce_report(paths, run_id=run_id, as_of=as_of, echo=echo, warehouse_url=warehouse.url or "")
    except (QualityError, OSError) as exc:
        echo(f"质量报告未生成 / quality report not written: {exc}")


def release_dead_runs(instance: Any) -> list[str]:
    """Fail earlier ``hub run`` runs whose process died mid-run and free their pool slots.

    An in-process run holds the ``duckdb_writer`` slot while a step runs; killed there, nothing
    (no daemon) gives the slot back and every later run would wait for it forever.
    """
    import dagster as dg

    released = []
    running = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED],
                                                      tags={HUB_TRIGGER_TAG: "hub run"}))
    for run in running:
        pid = run.tags.get(HUB_PID_TAG, "")
        if pid.isdigit() and not process_alive(int(pid)):
            instance.report_run_failed(run, message=f"hub run process {pid} ended without finishing the run")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            released.append(run.run_id)
    return released


def format_outcome(outcome: PipelineOutcome) -> str:
    lines = ["", "=== 运行结果 / run summary ===", "接入 / ingest:"]
    if not outcome.sources:
        lines.append("  （本次无新文件 / nothing new to load）")
    for load in outcome.sources:
        lines.append(
            f"  {load.source:<15} 文件 files {load.files:>4}  入库 loaded {load.rows_loaded:>8}  "
            f"隔离 quarantined {load.rows_quarantined:>6}" + (f"  拒收文件 rejected files {load.files_rejected}"
                                                            if load.files_rejected else "")
        )
        for reason, field_name, rows in load.top_reasons:
            lines.append(f"      {rows:>6} × {reason}" + (f" [{field_name}]" if field_name else ""))
    tests = outcome.dbt_tests
    if tests is None:
        lines.append("dbt: 未运行 / did not run")
    else:
        lines.append(
            f"dbt: 模型 models {tests.get('models_built', 0)} built, {tests.get('models_failed', 0)} failed; "
            f"测试 tests {tests.get('passed', 0)} pass, {tests.get('warned', 0)} warn, {tests.get('failed', 0)} fail"
        )
    if outcome.dbt_log is not None:
        lines.append(f"  dbt 日志 / dbt log: {outcome.dbt_log}")
    if outcome.snapshot is not None:
        lines.append(f"发布 / published: {outcome.snapshot}")
        lines += [f"  {name:<28} {rows:>8} 行 rows" for name, rows in outcome.row_counts.items()]
    else:
        lines.append("发布 / published: 无新快照，当前快照保持不变 / no new snapshot; the current one stays in service")
    if outcome.failed_steps:
        lines.append("失败步骤 / failed steps: " + ", ".join(outcome.failed_steps))
    run = f"run {outcome.run_id[:8]}" if outcome.run_id else "无需运行 / nothing was stale, no run"
    lines.append(("成功 / succeeded" if outcome.success else "失败 / FAILED") + f" ({run})")
    return "\n".join(lines)


def outcome_as_dict(outcome: PipelineOutcome) -> dict[str, Any]:
    """A JSON-friendly view of the outcome, for benchmarks and the demo."""
    return {
        "success": outcome.success,
        "run_id": outcome.run_id,
        "as_of": outcome.as_of.isoformat(),
        "sources": [load.__dict__ for load in outcome.sources],
        "dbt_tests": outcome.dbt_tests,
        "snapshot": str(outcome.snapshot) if outcome.snapshot else None,
        "row_counts": outcome.row_counts,
        "failed_steps": outcome.failed_steps,
    }
