"""The API's link to a PostgreSQL warehouse: keeps the local replica on the server's current version, and holds
the SQL runner that queries the server.

Started in the app's lifespan: one mirror at start-up, then a poll of the server's current version every
``HUB_API_WAREHOUSE_POLL_S`` seconds. A failed poll or mirror (the server down, a version dropped mid-copy) is
logged and retried at the next poll; the replica already published stays in service, so the worker never
stops serving tables because of the server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.settings import ApiSettings
from api.warehouse_replica import mirror_current, mirrored_version
from api.warehouse_sql import ServerSql, role_secret
from hub.core.sql_guard import first_line
from hub.core.warehouse import redact

logger = logging.getLogger("api.warehouse")


@dataclass
class WarehouseLink:
    url: str
    serving_root: Path
    poll_s: float
    sql: ServerSql
    last_error: str | None = None

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> WarehouseLink | None:
        """None when the API serves DuckDB snapshots (no warehouse URL)."""
        if not settings.warehouse_url:
            return None
        url = settings.warehouse_url
        sql = ServerSql(url, role_secret(url, settings.paths.api_dir), settings.sql_timeout_ms,
                        settings.sql_row_limit, settings.sql_max_result_bytes)
        return cls(url, settings.paths.serving, settings.warehouse_poll_s, sql)

    def sync_once(self) -> str | None:
        """Mirror the server's current version if the replica is behind; make the SQL roles once. Never raises:
        returns the version served, and keeps the error for the status."""
        try:
            version = mirror_current(self.url, self.serving_root)
            if version is not None and not self.sql.roles_ready:
                self.sql.ensure_roles()  # the group roles exist once something is published
            self.last_error = None
            return version
        except Exception as exc:  # the server down, a version dropped mid-copy …: serve on, retry at the next poll
            self.last_error = first_line(str(exc)) or type(exc).__name__
            logger.warning("cannot mirror the warehouse %s (still serving %s): %s", redact(self.url),
                           mirrored_version(self.serving_root), self.last_error)
            return None

    async def keep_mirrored(self) -> None:
        """Poll until cancelled (the lifespan's end); each sync runs in a thread (it blocks on the server and on
        DuckDB), so the event loop keeps answering requests meanwhile."""
        while True:
            await asyncio.sleep(self.poll_s)
            await asyncio.to_thread(self.sync_once)

    def status(self) -> dict[str, Any]:
        """For health and meta pages: the engine, the server (password redacted), the version served."""
        return {"engine": "postgres", "warehouse": redact(self.url),
                "server_version": mirrored_version(self.serving_root), "last_error": self.last_error}
