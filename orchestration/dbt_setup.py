"""Prepare the dbt manifest once at set-up time (never at import time).

``python -m orchestration.dbt_setup`` runs ``dbt parse`` on dbt_project/ and leaves
dbt_project/target/manifest.json, which the Dagster dbt assets load. Idempotent: parsing again
rewrites the same manifest. Prints one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hub.core.paths import DBT_PROJECT_DIR


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR, target_dir: Path | None = None) -> Path:
    """Run ``dbt parse`` in-process and return the path of the manifest it wrote.

    ``target_dir`` defaults to <project_dir>/target; tests pass a temporary directory.
    Raises RuntimeError with the dbt error text when parsing fails.
    """
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from dbt.cli.main import dbtRunner  # heavy import: only when asked to parse

    target = target_dir or project_dir / "target"
    args = [
        "parse",
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(target),
        "--log-path", str(target / "logs"),
        "--quiet",
    ]
    result = dbtRunner().invoke(args)
    manifest = target / "manifest.json"
    if not result.success or not manifest.exists():
        raise RuntimeError(f"dbt parse 失败 / dbt parse failed in {project_dir}: {result.exception or 'see dbt log'}")
    return manifest


def main() -> None:
    try:
        manifest = prepare_manifest()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
    print(f"dbt manifest ready: {manifest}")


if __name__ == "__main__":
    main()
