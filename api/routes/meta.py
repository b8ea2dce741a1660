"""``/api/health``: is a snapshot and an index published, and which (no key needed, nothing sensitive)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.datastructures import State


@get("/api/health", tags=["meta"], summary="服务状态 / health", sync_to_thread=True)
def health(state: State) -> dict[str, Any]:
    snapshot = state.snapshots.current_path()
    index = state.search.versions.current_path()
    return {
        "status": "ok" if snapshot else "no_snapshot",
        "snapshot": snapshot.name if snapshot else None,
        "search_index": index.name if index else None,
        "demo_mode": state.settings.demo_mode,
    }
