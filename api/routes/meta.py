"""``/api/health``: is a snapshot and an index published, and which (no key needed, nothing sensitive)."""

from __future__ import annotations

from typing import ClassVar

from litestar import Controller, get
from litestar.di import Provide

from api.dependencies import SEARCH, SETTINGS, SNAPSHOTS, WAREHOUSE, SearchDep, SettingsDep, SnapshotsDep, WarehouseDep
from api.dto import HealthStatus


class MetaController(Controller):
    path = "/api/health"
    tags = ("meta",)
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **SNAPSHOTS, **SEARCH, **WAREHOUSE}

    @get("/", summary="服务状态 / health", sync_to_thread=True)
    def health(
        self,
        settings: SettingsDep,
        snapshots: SnapshotsDep,
        search_holder: SearchDep,
        warehouse: WarehouseDep,
    ) -> HealthStatus:
        snapshot = snapshots.current_path()
        index = search_holder.versions.current_path()
        return HealthStatus(
            status="ok" if snapshot else "no_snapshot",
            snapshot=snapshot.name if snapshot else None,
            search_index=index.name if index else None,
            demo_mode=settings.demo_mode,
            engine="postgres" if warehouse else "duckdb",
            warehouse_version=warehouse.status()["server_version"] if warehouse else None,
        )
