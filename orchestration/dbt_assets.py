"""The dbt project as Dagster assets (dagster-dbt): one asset per seed and model, dbt tests as asset checks.

The manifest is read from ``dbt_project/target/manifest.json``, prepared by set-up
(``python -m orchestration.dbt_setup``, run by ``make install``); nothing here runs ``dbt parse``.
dbt source keys are ``[<source>, <entity>]``, the same keys as the ingest assets, so ingest and
dbt form one lineage graph.
"""

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets
from packaging import version

from hub.core.paths import DBT_PROJECT_DIR
from orchestration.publish import load_manifest
from orchestration.resources import DUCKDB_WRITER_POOL, HubSettings

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
# Several dbt threads share the one DuckDB connection: ~25% faster on 2 cores (most of a node's time is dbt's own).
DEFAULT_DBT_THREADS = 4
DBT_RESULTS_FILE = "dbt_results.json"
PARSE_CACHE_FILE = "partial_parse.msgpack"  # dbt's own name for its saved parse state
AS_OF_ENV = "HUB_AS_OF"  # read by dbt_project/macros/as_of.sql
BUILT_FINGERPRINT_FILE = "built_fingerprint"  # the dbt project version of the last full build
KEEP_DBT_RUNS = 10  # per run, next to dbt's own artifacts; `hub run` prints it


class HubDbtTranslator(DagsterDbtTranslator):
    """Groups by folder: staging_<source>, intermediate, marts_<area>, seeds, and any other top folder."""

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


class HubDbtCliResource(DbtCliResource):
    """dagster-dbt as configured here, minus ~3 s of set-up per dbt build that the hub does not use.

    Stock dagster-dbt asks ``dbt --version`` (a new Python process) for every invocation, though the venv's
    dbt is the installed dbt-core; and it opens a dbt adapter in this process, which only serves column
    metadata the hub does not fetch.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


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


def dbt_project_files(project: Path = DBT_PROJECT_DIR) -> list[Path]:
    """The files whose content decides what dbt builds: settings, models, seeds, macros, tests, snapshots."""
    files = [f for f in (project / "dbt_project.yml", project / "profiles.yml") if f.exists()]
    for folder in ("models", "seeds", "macros", "tests", "snapshots"):
        files += sorted(p for p in (project / folder).rglob("*") if p.is_file())
    return files


def changed_since_manifest(manifest_path: Path = MANIFEST_PATH) -> list[Path]:
    """dbt project files edited after the manifest was prepared (the manifest is then out of date)."""
    if not manifest_path.exists():
        return []
    prepared = manifest_path.stat().st_mtime
    return sorted(p for p in dbt_project_files(manifest_path.parent.parent) if p.stat().st_mtime > prepared)


def dbt_fingerprint(project: Path = DBT_PROJECT_DIR) -> str:
    """A hash of the dbt project's files: when it changes, every model is rebuilt from the raw tables."""
    digest = hashlib.sha256()
    for path in dbt_project_files(project):
        digest.update(str(path.relative_to(project)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def built_fingerprint(data_dir: Path) -> str | None:
    """The dbt project version of this data directory's last successful full build (by `hub run` or Dagster)."""
    built = data_dir / "dbt" / BUILT_FINGERPRINT_FILE
    return built.read_text(encoding="utf-8").strip() if built.exists() else None


def project_changed_since_last_build(data_dir: Path, fingerprint: str) -> bool:
    """True when this data directory's incremental models were last built by another version of the project
    (a seed edit, e.g. a new town alias, must reach the events staged before). Unknown counts as unchanged."""
    built = built_fingerprint(data_dir)
    return built is not None and built != fingerprint


def record_built_fingerprint(data_dir: Path, fingerprint: str) -> None:
    built = data_dir / "dbt" / BUILT_FINGERPRINT_FILE
    temp = built.with_name(f".{built.name}.tmp")
    temp.write_text(fingerprint, encoding="utf-8")
    os.replace(temp, built)


def dbt_target_dir(data_dir: Path, run_id: str) -> Path:
    """Per-run dbt artifacts live in the data directory, not in the repository."""
    return data_dir / "dbt" / run_id[:8]


def restore_parse_cache(data_dir: Path, target: Path) -> None:
    """Give this run dbt's parse state of the last run on this data directory, so dbt parses only what changed.

    The set-up's copy in dbt_project/target does not help: it was made with another build database path, and
    dbt parses everything again when the profile's values differ.
    """
    cache = data_dir / "dbt" / PARSE_CACHE_FILE
    if cache.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, target / PARSE_CACHE_FILE)


def save_parse_cache(data_dir: Path, target: Path) -> None:
    produced = target / PARSE_CACHE_FILE
    if produced.exists():
        temp = data_dir / "dbt" / f".{PARSE_CACHE_FILE}.tmp"
        shutil.copyfile(produced, temp)
        os.replace(temp, data_dir / "dbt" / PARSE_CACHE_FILE)  # a killed run never leaves half a file


def prune_dbt_runs(runs_dir: Path, keep: int = KEEP_DBT_RUNS) -> None:
    """Keep the artifacts (logs, compiled SQL, run_results) of the newest ``keep`` dbt runs only."""
    if not runs_dir.is_dir():
        return
    runs = sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for stale in runs[: max(0, len(runs) - keep)]:
        shutil.rmtree(stale, ignore_errors=True)


def build_dbt_assets(manifest_path: Path = MANIFEST_PATH) -> dg.AssetsDefinition:
    manifest = load_manifest(manifest_path)

    @dbt_assets(manifest=manifest, name="hub_dbt", pool=DUCKDB_WRITER_POOL, dagster_dbt_translator=TRANSLATOR)
    def hub_dbt(context: AssetExecutionContext, dbt: DbtCliResource, hub_settings: HubSettings) -> Iterator[Any]:
        paths = hub_settings.paths
        paths.warehouse.mkdir(parents=True, exist_ok=True)
        # The profile reads the build database's path and the thread count from here (dbt_project/profiles.yml).
        os.environ["HUB_BUILD_DB"] = str(paths.build_db)
        os.environ.setdefault("HUB_DBT_THREADS", str(DEFAULT_DBT_THREADS))
        as_of = hub_settings.as_of_date().isoformat()
        os.environ[AS_OF_ENV] = as_of  # not --vars: see dbt_project/macros/as_of.sql
        target = dbt_target_dir(paths.data_dir, context.run.run_id)
        restore_parse_cache(paths.data_dir, target)
        fingerprint = dbt_fingerprint()
        # dbt unit tests check the SQL logic, not the data: they run in CI (tests/test_dbt_*), not every build.
        args = ["build", "--exclude-resource-type", "unit_test"]
        if hub_settings.full_refresh or project_changed_since_last_build(paths.data_dir, fingerprint):
            args.append("--full-refresh")
        invocation = dbt.cli(args, context=context, target_path=target, raise_on_error=False)
        try:
            yield from invocation.stream()
        except KeyError as exc:
            # dbt ran a node the prepared manifest does not know: the project changed since set-up.
            invocation.process.terminate()
            invocation.process.wait()
            raise dg.Failure(
                description=f"dbt manifest 已过期 / the dbt manifest is out of date ({exc} is not in "
                f"{manifest_path}): 请运行 / run `python -m orchestration.dbt_setup` (or `make install`)"
            ) from None
        save_parse_cache(paths.data_dir, target)
        summary = summarise_run_results(invocation.get_artifact("run_results.json"))
        (target / DBT_RESULTS_FILE).write_text(json.dumps(summary.as_dict()), encoding="utf-8")
        context.log.info(f"dbt build as of {as_of}: {summary.as_dict()}")
        prune_dbt_runs(target.parent)
        if invocation.is_successful() and context.selected_asset_keys >= set(context.assets_def.keys):
            record_built_fingerprint(paths.data_dir, fingerprint)  # a subset build leaves other models as they were
        if not invocation.is_successful():
            raise dg.Failure(
                description=f"dbt build 失败 / dbt build failed: {summary.failed} test(s) failed, "
                f"{summary.models_failed} model(s) failed; see {target / 'dbt.log'}",
                metadata=summary.as_dict(),
            )

    return hub_dbt


def published_asset_keys(manifest: Mapping[str, Any], unique_ids: list[str]) -> list[dg.AssetKey]:
    return [TRANSLATOR.get_asset_spec(manifest, unique_id, None).key for unique_id in unique_ids]
