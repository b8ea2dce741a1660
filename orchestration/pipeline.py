"""The one-shot run (``hub run``): ingest → dbt build → (KB index, quality) → publish, without a scheduler.

It executes the Definitions' ``full_pipeline`` asset job in-process with Dagster, against the
instance in ``HubPaths.dagster_home``, so the same code runs as under ``dagster dev`` and the run
shows up there. Afterwards it prints what happened: per source the rows loaded and quarantined
(with the top reasons), the dbt test results and the published snapshot.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from hub.core.paths import HubPaths
from hub.core.pointer import process_alive, read_current
from orchestration.resources import HUB_TIMEZONE, HubSettings, today_in_shanghai

DAGSTER_YAML_TEMPLATE = Path(__file__).resolve().parent / "dagster_home" / "dagster.yaml"
DAGSTER_HOME_PLACEHOLDER = "@DAGSTER_HOME@"
HUB_YAML_MARKER = "# hub: written by"  # first line of the template
Echo = Callable[[str], None]
INGEST_JOB = "hub_run_ingest"
REBUILD_JOB = "hub_run_rebuild"
BUILD_STATE_FILE = "last_build.json"  # under HubPaths.state: what the last successful rebuild was
AS_OF_TAG = "as_of"  # dbt tag of the models computed as of a date (dbt_project)
HUB_TRIGGER_TAG = "hub/trigger"
HUB_PID_TAG = "hub/pid"
STEP_EVENTS = {"STEP_SUCCESS": "success", "STEP_FAILURE": "failure", "STEP_SKIPPED": "skipped"}


class PipelineError(Exception):
    """A problem the user can fix (missing manifest, bad folder, bad setting), said in words."""


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
    snapshot: Path | None
    row_counts: dict[str, int]
    failed_steps: list[str]
    missing_parts: list[str]
    step_status: dict[str, str] = field(default_factory=dict)  # step key → success | failure | skipped
    dbt_log: Path | None = None  # every line of this run's dbt build


def dagster_yaml(home: Path) -> str:
    """The hub's dagster.yaml for the instance in ``home`` (the event log's folder is an absolute path)."""
    return DAGSTER_YAML_TEMPLATE.read_text(encoding="utf-8").replace(DAGSTER_HOME_PLACEHOLDER, str(home))


def ensure_dagster_home(paths: HubPaths) -> Path:
    """Create ``dagster_home`` with the hub's dagster.yaml (telemetry off, one DuckDB writer at a time).

    A dagster.yaml the hub wrote is rewritten when the template or the folder's place changed; one whose
    first line was removed (edited by an operator), or one from before that line existed, is left alone.
    """
    home = paths.dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = dagster_yaml(home)
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current is None or (current.startswith(HUB_YAML_MARKER) and current != wanted):
        temp = home / ".dagster.yaml.tmp"
        temp.write_text(wanted, encoding="utf-8")
        os.replace(temp, target)
    return home


@contextmanager
def run_environment(paths: HubPaths, landing: Path, feed_url: str | None) -> Iterator[None]:
    """Settings read by the parts (ingest, dbt profile) in this process and its dbt subprocess; restored after."""
    wanted = {
        "HUB_DATA_DIR": str(paths.data_dir),
        "HUB_BUILD_DB": str(paths.build_db),
        "HUB_LANDING_DIR": str(landing),
        "DAGSTER_HOME": str(paths.dagster_home),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    if feed_url:
        wanted["HUB_FOUR_PLATFORMS_URL"] = feed_url
    saved = {name: os.environ.get(name) for name in [*wanted, "HUB_FOUR_PLATFORMS_URL"]}
    os.environ.update(wanted)
    if not feed_url:
        os.environ.pop("HUB_FOUR_PLATFORMS_URL", None)  # `hub run` without --feed-url reads files only
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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


def _snapshot_counts(snapshot: Path | None) -> dict[str, int]:
    if snapshot is None:
        return {}
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
) -> PipelineOutcome:
    """Ingest ``landing``, then rebuild what that changed, index and publish; report what happened.

    Two Dagster runs on the same asset graph: first every ingest asset (unchanged files are skipped
    by their hash), then the dbt models downstream of the sources that loaded new rows (all of them on
    the first build, after a dbt code change, or with ``rebuild_all``; plus every model computed as
    of a date when the date changed), the KB index, the quality report and publish. Bad rows are not
    failures. ``verbose``: also print Dagster's INFO log and every dbt line (they are in dbt.log anyway).
    """
    from orchestration.definitions import collect_parts, definitions_from_parts

    keep_sigterm_working()
    landing = (landing or paths.landing).resolve()
    paths = HubPaths(paths.data_dir, landing)
    ensure_dagster_home(paths)
    chosen_as_of = as_of or today_in_shanghai()
    with run_environment(paths, landing, feed_url):
        _refresh_manifest_if_stale(echo)
        try:
            parts = collect_parts(paths, as_of=chosen_as_of)
        except FileNotFoundError as exc:
            raise PipelineError(str(exc)) from None
        echo(f"数据目录 / data dir: {paths.data_dir}\n落地目录 / landing: {landing}\n基准日 / as of: {chosen_as_of}")
        for part in parts.missing:
            echo(f"跳过 / skipped: {part} (该部分尚未提供 / that part is not available yet)")
        skip_groups: tuple[str, ...] = ()
        if "knowledge_base" in parts.present and not (landing / "kb").is_dir():
            echo(f"跳过 / skipped: knowledge_base ({landing / 'kb'} 不存在 / has no documents folder)")
            skip_groups = ("knowledge_base",)
        previous_snapshot = read_current(paths.serving)
        started = datetime.now(HUB_TIMEZONE).replace(tzinfo=None)
        echo("接入 / ingest: 读取落地目录中的新文件 / loading the new files of the landing folder ...")
        results = [_execute(definitions_from_parts(parts, skip_groups, (ingest_job(),)), INGEST_JOB, paths, landing,
                            verbose)]
        sources = _source_loads(paths.build_db, started)
        plan = plan_rebuild(paths, chosen_as_of, rebuild_all or "ingest" not in parts.present)
        if results[0].success:
            echo(f"重建 / rebuild: {plan.describe()} ...")
            rebuild = rebuild_job(plan, skip_groups)
            if plan.full:
                parts.resources["hub_settings"] = full_refresh_settings(parts.resources["hub_settings"])
            # Every load before this instant is in the build below (loads and dbt take the one writer slot in turn).
            rebuild_started = datetime.now(HUB_TIMEZONE).replace(tzinfo=None)
            results.append(_execute(definitions_from_parts(parts, skip_groups, (rebuild,)), REBUILD_JOB, paths,
                                    landing, verbose))
            if results[-1].success:
                write_build_state(paths, chosen_as_of, rebuild_started)
    step_status = {e.step_key: STEP_EVENTS[e.event_type_value] for r in results for e in r.all_events
                   if e.step_key and e.event_type_value in STEP_EVENTS}
    if "quality" in parts.present and step_status.get("quality_report") != "success":
        _report_quality_after_failure(paths, results[-1].run_id, chosen_as_of, echo)
    snapshot = read_current(paths.serving)
    published = snapshot if snapshot != previous_snapshot else None
    outcome = PipelineOutcome(
        success=all(r.success for r in results) and len(results) == 2,
        run_id=results[-1].run_id,
        as_of=chosen_as_of,
        sources=sources,
        dbt_tests=_dbt_tests(paths, results[-1].run_id),
        dbt_log=_dbt_log(paths, results[-1].run_id),
        snapshot=published,
        row_counts=_snapshot_counts(published),
        failed_steps=[step for step, status in step_status.items() if status == "failure"],
        missing_parts=parts.missing,
        step_status=step_status,
    )
    echo(format_outcome(outcome))
    return outcome


def keep_sigterm_working() -> None:
    """Undo a background job's ignored SIGINT before Dagster runs in this process.

    A shell without job control starts `cmd &` with SIGINT ignored; Dagster's in-process run then gives
    SIGTERM the same disposition, so this process and every child it starts later (dbt) would ignore
    SIGTERM: a stop request would go unheard. With the default SIGINT handler, SIGTERM interrupts as Ctrl-C does.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _report_quality_after_failure(paths: HubPaths, run_id: str, as_of: date, echo: Echo) -> None:
    """A failed run is when departments most need the report; without a daemon no sensor makes it."""
    from orchestration.quality.report import QualityError, produce_report

    try:
        produce_report(paths, run_id=run_id, as_of=as_of, echo=echo)
    except (QualityError, OSError) as exc:
        echo(f"质量报告未生成 / quality report not written: {exc}")


# --- what to rebuild ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildPlan:
    full: bool
    reason: str
    changed_sources: tuple[str, ...]
    as_of_changed: bool

    def describe(self) -> str:
        if self.full:
            return f"全部模型 / every model ({self.reason})"
        changed = ", ".join(self.changed_sources) or "无 / none"
        date_note = "; 基准日变化 / as-of date changed: every as-of model" if self.as_of_changed else ""
        return f"增量 / incremental: models downstream of changed sources ({changed}){date_note}"


def read_build_state(paths: HubPaths) -> dict[str, str] | None:
    try:
        return json.loads((paths.state / BUILD_STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def full_refresh_settings(settings: HubSettings) -> HubSettings:
    """The same settings with dbt's --full-refresh: a full rebuild must not keep what incremental models hold."""
    return HubSettings(data_dir=settings.data_dir, as_of=settings.as_of, landing_dir=settings.landing_dir,
                       full_refresh=True)


def write_build_state(paths: HubPaths, as_of: date, loads_since: datetime) -> None:
    """Recorded only after a successful rebuild: the next run rebuilds relative to it.

    ``loads_since``: loads that started from then on may be missing from this build (the start of this
    run's rebuild), so the next run treats their sources as changed.
    """
    paths.state.mkdir(parents=True, exist_ok=True)
    temp = paths.state / f".{BUILD_STATE_FILE}.tmp"
    temp.write_text(json.dumps({"as_of": as_of.isoformat(),
                                "loads_since": loads_since.isoformat(),
                                "first_load_id": _first_load_id(paths.build_db)}), encoding="utf-8")
    os.replace(temp, paths.state / BUILD_STATE_FILE)


def _sources_loaded_since(build_db: Path, since: datetime) -> tuple[str, ...]:
    """Sources with rows loaded from ``since`` on: by this run or by a sensor-triggered run in between."""
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.IOException as exc:
        raise ValueError(f"load log unreadable: {exc}") from None  # the caller rebuilds everything
    try:
        rows = con.execute("SELECT DISTINCT source_system FROM raw.load_log WHERE started_at >= ? AND rows_loaded > 0",
                           [since]).fetchall()
    finally:
        con.close()
    return tuple(sorted(r[0] for r in rows))


def _first_load_id(build_db: Path) -> str | None:
    """The build database's first load: it tells this database from a deleted and recreated one."""
    try:
        con = duckdb.connect(str(build_db), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("SELECT min(load_id) FROM raw.load_log").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return row[0] if row else None


def plan_rebuild(paths: HubPaths, as_of: date, rebuild_all: bool) -> RebuildPlan:
    from orchestration.dbt_assets import built_fingerprint, dbt_fingerprint

    state = read_build_state(paths)
    reason = ""
    if rebuild_all:
        reason = "按要求 / as asked"
    elif state is None or not paths.build_db.exists():
        reason = "首次构建 / first build"
    elif state.get("first_load_id") != _first_load_id(paths.build_db):
        # The state describes another build database (this one was deleted and rebuilt, perhaps by a run
        # that died after its ingest): nothing of the last rebuild is in it.
        reason = "构建库是新的 / the build database is new"
    elif (built_fingerprint(paths.data_dir) or state.get("dbt_fingerprint")) != dbt_fingerprint():
        # The dbt asset records the version of each successful full build, whoever ran it; the state file
        # held it before that record existed.
        reason = "dbt 代码已变 / the dbt project changed"
    changed: tuple[str, ...] = ()
    if not reason and state is not None:
        try:
            changed = _sources_loaded_since(paths.build_db, datetime.fromisoformat(state["loads_since"]))
        except (KeyError, ValueError, duckdb.Error):
            reason = "无法确定变化 / cannot tell what changed"
    return RebuildPlan(full=bool(reason), reason=reason, changed_sources=changed,
                       as_of_changed=state is None or state.get("as_of") != as_of.isoformat())


def ingest_job() -> Any:
    import dagster as dg

    from orchestration.ingest.contracts import ENTITIES

    return dg.define_asset_job(INGEST_JOB, selection=dg.AssetSelection.keys(
        *[dg.AssetKey([e.source, e.name]) for e in ENTITIES]))


def rebuild_job(plan: RebuildPlan, skip_groups: tuple[str, ...]) -> Any:
    """Everything after ingest: all of it, or what the changed sources and the as-of date reach."""
    import dagster as dg

    from orchestration.ingest.contracts import ENTITIES

    ingest = dg.AssetSelection.keys(*[dg.AssetKey([e.source, e.name]) for e in ENTITIES])
    if plan.full:
        selection = dg.AssetSelection.all() - ingest
    else:
        changed = [dg.AssetKey([e.source, e.name]) for e in ENTITIES if e.source in plan.changed_sources]
        selection = dg.AssetSelection.keys(*changed).downstream() - ingest
        if plan.as_of_changed:
            selection = selection | dg.AssetSelection.tag(AS_OF_TAG, "").downstream()
        # Publish, the quality report and the KB (incremental by itself) run every time.
        selection = selection | dg.AssetSelection.groups("publish", "quality", "knowledge_base")
    if skip_groups:
        selection = selection - dg.AssetSelection.groups(*skip_groups)
    return dg.define_asset_job(REBUILD_JOB, selection=selection)


def _refresh_manifest_if_stale(echo: Echo) -> None:
    """A dbt file edited after set-up makes the prepared manifest wrong: prepare it again (``dbt parse``)."""
    from orchestration.dbt_assets import MANIFEST_PATH, changed_since_manifest

    changed = changed_since_manifest(MANIFEST_PATH)
    if not changed:
        return
    echo(f"dbt 文件已修改，重新准备 manifest / {len(changed)} dbt file(s) changed since set-up "
         f"(e.g. {changed[0].name}): preparing the manifest again")
    proc = subprocess.run([sys.executable, "-m", "orchestration.dbt_setup"], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise PipelineError(proc.stderr.strip() or proc.stdout.strip())


def _execute(defs: Any, job_name: str, paths: HubPaths, landing: Path, verbose: bool) -> Any:
    """Run one of the Definitions' jobs in this process on the data directory's Dagster instance.

    Quiet unless ``verbose``: Dagster logs warnings and errors only, and the dbt lines dagster-dbt echoes to
    stdout (hundreds per build) go nowhere; dbt.log keeps them, and the summary names it.
    """
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(paths.dagster_home))
    try:
        release_dead_runs(instance)
        with open(os.devnull, "w", encoding="utf-8") as devnull, \
                contextlib.redirect_stdout(sys.stdout if verbose else devnull):
            return defs.resolve_job_def(job_name).execute_in_process(
                instance=instance,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "INFO" if verbose else "WARNING"}}}},
                tags={HUB_TRIGGER_TAG: "hub run", HUB_PID_TAG: str(os.getpid()), "hub/landing": str(landing)},
            )
    finally:
        instance.dispose()


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
    lines.append(("成功 / succeeded" if outcome.success else "失败 / FAILED") + f" (run {outcome.run_id[:8]})")
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
