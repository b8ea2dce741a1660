"""The hub's settings, read once from the environment (``HUB_*``) when the code location loads.

One object, ``HubConfig``; the Dagster resources (``HubSettings``, the dbt and DuckDB resources) are
built from it in orchestration/definitions.py and handed to the assets, so no asset reads or
writes ``os.environ`` while it runs. ``hub run`` builds the same object from its command-line options.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.core.paths import HubPaths
from hub.core.warehouse import Warehouse

DEFAULT_DBT_THREADS = 4  # several dbt threads share the one DuckDB connection: ~25% faster on 2 cores


class HubConfig(BaseSettings):
    """Settings of one deployment. Environment: HUB_DATA_DIR, HUB_LANDING_DIR, HUB_AS_OF,
    HUB_FOUR_PLATFORMS_URL, HUB_DBT_THREADS, HUB_DAGSTER_PG_URL, HUB_QUALITY_WEBHOOK_URL, HUB_WAREHOUSE,
    HUB_NOTICE_WEBHOOKS, HUB_PUBLIC_URL (docs/operations.md, docs/warehouse.md, docs/assessment.md)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Path("var")
    landing_dir: Path | None = None  # None: <data_dir>/landing
    as_of: str = ""  # YYYY-MM-DD; empty: today in Asia/Shanghai at run time
    four_platforms_url: str = ""  # base URL of the four-platforms HTTP feed; empty: files only
    dbt_threads: int = Field(DEFAULT_DBT_THREADS, ge=1)
    dagster_pg_url: str = ""  # PostgreSQL for Dagster's runs, event log and schedules; empty: SQLite files
    quality_webhook_url: str = ""  # where the quality report posts pass→fail alerts; empty: no alert
    warehouse: str = ""  # postgresql://user:pass@host:port/db for a server warehouse; empty or "duckdb": DuckDB
    notice_webhooks: Path | None = None  # the units' robots for 督办单 (CSV); None: <data_dir>/notices/webhooks.csv
    public_url: str = ""  # the hub's address as readers reach it, for links in notices; empty: no link

    @field_validator("dagster_pg_url")
    @classmethod
    def _psycopg2_driver(cls, value: str) -> str:
        # dagster-postgres reads the URL itself; without a driver SQLAlchemy 2.1 picks psycopg 3, under which its
        # NOTIFY fails mid-run with a syntax error: refuse the URL here, with the fix, instead
        if value and not value.startswith("postgresql+psycopg2://"):
            scheme = value.split("://", 1)[0]
            raise ValueError(
                f"HUB_DAGSTER_PG_URL 须指明 psycopg2 驱动，写作 postgresql+psycopg2://用户:密码@主机:端口/库名（当前为 {scheme}://…）"
                f" / HUB_DAGSTER_PG_URL must name the psycopg2 driver: postgresql+psycopg2://user:pass@host:port/db "
                f"(got {scheme}://…)"
            )
        return value

    @field_validator("warehouse")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        return Warehouse.parse(value).url or ""

    @property
    def warehouse_engine(self) -> Warehouse:
        return Warehouse.parse(self.warehouse)

    @property
    def paths(self) -> HubPaths:
        return HubPaths(self.data_dir.resolve(), self.landing_dir.resolve() if self.landing_dir else None)
