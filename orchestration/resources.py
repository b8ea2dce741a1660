"""Resources shared by the pipeline's own assets (dbt build, publish): where the data lives, and as of when."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from hub.core.paths import DBT_PROJECT_DIR, HubPaths

HUB_TIMEZONE = ZoneInfo("Asia/Shanghai")
DUCKDB_WRITER_POOL = "duckdb_writer"


def today_in_shanghai() -> date:
    return datetime.now(HUB_TIMEZONE).date()


class HubSettings(dg.ConfigurableResource):
    """The data directory of this deployment and the date the shared views are computed as of.

    ``as_of`` is empty for "today in Asia/Shanghai" (the scheduled daily run) and a YYYY-MM-DD date
    for a reproducible rebuild of a past state (``hub run --as-of``, or the run config in the UI).
    """

    data_dir: str
    as_of: str = ""
    landing_dir: str = ""  # empty: <data_dir>/landing
    # dbt build --full-refresh: incremental models (the event staging models) are rebuilt from the raw tables.
    # Needed after a dbt code or seed change (e.g. a new town alias must reach events already staged).
    full_refresh: bool = False

    @property
    def paths(self) -> HubPaths:
        return HubPaths(Path(self.data_dir).resolve(), Path(self.landing_dir).resolve() if self.landing_dir else None)

    def as_of_date(self) -> date:
        if not self.as_of:
            return today_in_shanghai()
        try:
            return date.fromisoformat(self.as_of)
        except ValueError:
            raise ValueError(f"as_of 必须是 YYYY-MM-DD / as_of must be YYYY-MM-DD, got {self.as_of!r}") from None


def dbt_executable() -> str:
    """The venv's dbt next to this interpreter (the venv's bin may not be on PATH), else ``dbt`` on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def dbt_resource() -> dg.ConfigurableResource:
    from orchestration.dbt_assets import HubDbtCliResource

    return HubDbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                             dbt_executable=dbt_executable())
