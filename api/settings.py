"""Settings of the API, read from ``HUB_API_*`` environment variables.

Why environment variables and one data directory: docs/decisions/0011-settings-from-hub-environment-variables.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hub.core.paths import HubPaths, env_int
from hub.core.warehouse import Warehouse


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ApiSettings:
    paths: HubPaths
    demo_mode: bool = False  # every request acts as admin; only for `make run` on sample data
    sql_timeout_ms: int = 5000  # per statement, enforced by DuckDB's max_execution_time
    sql_row_limit: int = 5000
    memory_limit: str = "1GB"
    # DuckDB threads per query: one, since concurrent requests already use the cores and a table page's
    # small query runs faster on one thread (1.5 ms against 2.3 ms with two, measured on the sample register)
    threads: int = 1
    page_size_default: int = 50
    page_size_max: int = 1000
    export_row_limit: int = 1_000_000
    rate_limit_per_minute: int = 3000  # per API key (or client address without a key): 50 a second; 0: no limit
    max_body_bytes: int = 1_000_000  # the largest request body: SQL text and filters are small
    max_header_bytes: int = 65_536  # request line + all headers together; 431 beyond
    auth_failure_limit: int = 20  # failed authentications per client address per minute; then 429 for a minute
    cookie_secure: bool = False  # mark the login cookie Secure (set it when the hub is served over HTTPS)
    session_hours: float = 8.0  # a web login lasts this long
    sql_max_result_bytes: int = 20_000_000  # an SQL answer larger than this is stopped (413), not sent
    max_temp_directory_size: str = "1GB"  # what one snapshot's queries may spill to disk in all
    # Row counts and facet counts kept per snapshot (a published snapshot never changes): paging, sorting and
    # coming back to a filtered table recount nothing.
    count_cache_size: int = 1024
    # A PostgreSQL warehouse to serve from (api.warehouse_link); None: the DuckDB snapshots of the data directory.
    warehouse_url: str | None = None
    warehouse_poll_s: float = 5.0  # how often the server's current version is checked

    @classmethod
    def from_env(cls, data_dir: str | None = None, demo_mode: bool | None = None,
                 warehouse: str | None = None) -> ApiSettings:
        """``warehouse``: a URL, else HUB_WAREHOUSE, else DuckDB (ValueError on a URL that is not PostgreSQL's)."""
        return cls(
            paths=HubPaths.from_env(data_dir),
            demo_mode=_env_flag("HUB_API_DEMO_MODE") if demo_mode is None else demo_mode,
            sql_timeout_ms=env_int("HUB_API_SQL_TIMEOUT_MS", 5000),
            sql_row_limit=env_int("HUB_API_SQL_ROW_LIMIT", 5000),
            memory_limit=os.environ.get("HUB_API_MEMORY_LIMIT", "1GB"),
            threads=env_int("HUB_API_THREADS", 1),
            page_size_default=env_int("HUB_API_PAGE_SIZE", 50),
            page_size_max=env_int("HUB_API_PAGE_SIZE_MAX", 1000),
            export_row_limit=env_int("HUB_API_EXPORT_ROW_LIMIT", 1_000_000),
            rate_limit_per_minute=env_int("HUB_API_RATE_LIMIT", 3000),
            max_body_bytes=env_int("HUB_API_MAX_BODY_BYTES", 1_000_000),
            max_header_bytes=env_int("HUB_API_MAX_HEADER_BYTES", 65_536),
            auth_failure_limit=env_int("HUB_API_AUTH_FAILURE_LIMIT", 20),
            cookie_secure=_env_flag("HUB_API_COOKIE_SECURE"),
            session_hours=float(os.environ.get("HUB_API_SESSION_HOURS", "8")),
            sql_max_result_bytes=env_int("HUB_API_SQL_MAX_RESULT_BYTES", 20_000_000),
            max_temp_directory_size=os.environ.get("HUB_API_MAX_TEMP_DIRECTORY_SIZE", "1GB"),
            count_cache_size=env_int("HUB_API_COUNT_CACHE", 1024),
            warehouse_url=Warehouse.from_setting(warehouse).url,
            warehouse_poll_s=float(os.environ.get("HUB_API_WAREHOUSE_POLL_S", "5")),
        )
