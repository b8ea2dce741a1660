"""Resources shared by the pipeline's assets: where the data lives, as of when, and how dbt is called.

All built from one ``HubConfig`` (orchestration/settings.py) when the code location loads.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_dbt import DbtCliResource

from hub.core.paths import HubPaths
from hub.core.warehouse import Warehouse
from orchestration.dbt_project import HUB_DBT_PROJECT
from orchestration.settings import DEFAULT_DBT_THREADS, HubConfig

HUB_TIMEZONE = ZoneInfo("Asia/Shanghai")
DUCKDB_WRITER_POOL = "duckdb_writer"


def today_in_shanghai() -> date:
    return datetime.now(HUB_TIMEZONE).date()


class HubSettings(dg.ConfigurableResource):
    """The data directory of this deployment and the date the shared views are computed as of.

    ``as_of`` is empty for "today in Asia/Shanghai" (the daemon's runs) and a YYYY-MM-DD date
    for a reproducible rebuild of a past state (``hub run --as-of``, or the run config in the UI).
    """

    data_dir: str
    as_of: str = ""
    landing_dir: str = ""  # empty: <data_dir>/landing
    four_platforms_url: str = ""  # empty: the four-platforms source reads its files only
    dbt_threads: int = DEFAULT_DBT_THREADS
    quality_webhook_url: str = ""  # empty: the quality report sends no alert
    warehouse: str = ""  # a postgresql:// URL: models, raw copy and published views on that server; empty: DuckDB
    notice_webhooks: str = ""  # the units' robots for 督办单 (CSV file); empty: <data_dir>/notices/webhooks.csv
    public_url: str = ""  # links in notices to the hub's pages; empty: no link
    # dbt build --full-refresh for every selected model (`hub run --rebuild-all`); otherwise only models whose
    # code changed since their last build are fully refreshed.
    full_refresh: bool = False

    @classmethod
    def from_config(cls, config: HubConfig, **changes: object) -> HubSettings:
        paths = config.paths
        fields: dict[str, object] = {
            "data_dir": str(paths.data_dir), "as_of": config.as_of, "landing_dir": str(config.landing_dir or ""),
            "four_platforms_url": config.four_platforms_url, "dbt_threads": config.dbt_threads,
            "quality_webhook_url": config.quality_webhook_url, "warehouse": config.warehouse,
            "notice_webhooks": str(config.notice_webhooks or ""), "public_url": config.public_url,
        }
        return cls(**{**fields, **changes})

    @property
    def paths(self) -> HubPaths:
        return HubPaths(Path(self.data_dir).resolve(), Path(self.landing_dir).resolve() if self.landing_dir else None)

    @property
    def warehouse_engine(self) -> Warehouse:
        return Warehouse.parse(self.warehouse)

    def as_of_date(self) -> date:
        if not self.as_of:
            return today_in_shanghai()
        try:
            return date.fromisoformat(self.as_of)
        except ValueError:
            raise ValueError(f"as_of 必须是 YYYY-MM-DD / as_of must be YYYY-MM-DD, got {self.as_of!r}") from None


def dbt_executable() -> str:
    """The venv's dbt next to this interpreter (the venv's bin may not be on PATH): ``hub-dbt``
    (orchestration/dbt_launcher.py) when installed, else ``dbt``; else ``dbt`` on PATH."""
    for name in ("hub-dbt", "dbt"):
        beside = Path(sys.executable).parent / name
        if beside.exists():
            return str(beside)
    return "dbt"


def dbt_resource(warehouse: Warehouse) -> DbtCliResource:
    """Stock dagster-dbt on the hub's dbt project, with the profile target of the warehouse engine (the build
    database and date are passed per invocation)."""
    return DbtCliResource(project_dir=HUB_DBT_PROJECT, dbt_executable=dbt_executable(), target=warehouse.dbt_target)
