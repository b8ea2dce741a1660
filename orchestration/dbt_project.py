"""The hub's dbt project for dagster-dbt, and its prepared manifest.

``dagster-dbt project prepare-and-package --file orchestration/dbt_project.py`` (run by ``make install``)
runs ``dbt parse`` and leaves dbt_project/target/manifest.json, which the Dagster dbt assets load;
under ``dagster dev`` ``prepare_if_dev()`` parses again at load time. Nothing else runs ``dbt parse``.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

from hub.core.paths import DBT_PROJECT_DIR

HUB_DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)
HUB_DBT_PROJECT.prepare_if_dev()
MANIFEST_PATH: Path = HUB_DBT_PROJECT.manifest_path


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


def prepare_manifest() -> Path:
    """Parse the dbt project again (the ``dbt parse`` of ``dagster-dbt project prepare-and-package``, with the
    venv's dbt, which need not be on PATH) and return the manifest."""
    from hub.core.warehouse import Warehouse
    from orchestration.resources import dbt_resource

    dbt_resource(Warehouse()).cli(["parse", "--quiet"], target_path=HUB_DBT_PROJECT.target_path).wait()
    if not MANIFEST_PATH.exists():
        raise RuntimeError(f"dbt parse 失败 / dbt parse failed in {DBT_PROJECT_DIR}: see {MANIFEST_PATH.parent}")
    return MANIFEST_PATH
