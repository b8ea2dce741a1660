"""Settings of the API, read from ``HUB_API_*`` environment variables.

Why environment variables and one data directory: docs/decisions/0011-settings-from-hub-environment-variables.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from hub.core.paths import HubPaths, env_int


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class ApiSettings:
    paths: HubPaths
    demo_mode: bool = False  # every request acts as admin; only for `make run` on sample data
    sql_timeout_ms: int = 5000  # per statement, enforced by DuckDB's max_execution_time
    sql_row_limit: int = 5000
    memory_limit: str = "1GB"
    threads: int = 2
    page_size_default: int = 50
    page_size_max: int = 1000
    export_row_limit: int = 1_000_000
    rate_limit_per_minute: int = 3000  # per API key (or client address without a key): 50 a second
    max_body_bytes: int = 1_000_000  # the largest request body: SQL text and filters are small

    @classmethod
    def from_env(cls, data_dir: str | None = None, demo_mode: bool | None = None) -> ApiSettings:
        return cls(
            paths=HubPaths.from_env(data_dir),
            demo_mode=_env_flag("HUB_API_DEMO_MODE") if demo_mode is None else demo_mode,
            sql_timeout_ms=env_int("HUB_API_SQL_TIMEOUT_MS", 5000),
            sql_row_limit=env_int("HUB_API_SQL_ROW_LIMIT", 5000),
            memory_limit=os.environ.get("HUB_API_MEMORY_LIMIT", "1GB"),
            threads=env_int("HUB_API_THREADS", 2),
            page_size_default=env_int("HUB_API_PAGE_SIZE", 50),
            page_size_max=env_int("HUB_API_PAGE_SIZE_MAX", 1000),
            export_row_limit=env_int("HUB_API_EXPORT_ROW_LIMIT", 1_000_000),
            rate_limit_per_minute=env_int("HUB_API_RATE_LIMIT", 3000),
            max_body_bytes=env_int("HUB_API_MAX_BODY_BYTES", 1_000_000),
        )
