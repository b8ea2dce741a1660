"""What the app holds for its lifetime: settings, keys, audit log, the serving snapshot and the search index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example

from api.audit import AuditLog
from api.auth import AuthFailureLimiter
from api.errors import not_published
from api.keys import KeyStore
from api.search_service import SearchHolder
from api.serving_db import ServingDb
from api.settings import ApiSettings
from api.versioned import NotPublishedError, Version, VersionedResource
from api.warehouse_link import WarehouseLink


@dataclass
class HubState:
    settings: ApiSettings
    key_store: KeyStore
    audit: AuditLog
    snapshots: VersionedResource[ServingDb]
    search: SearchHolder
    auth_failures: AuthFailureLimiter
    # the PostgreSQL warehouse served through a local replica, None when serving DuckDB snapshots
    warehouse: WarehouseLink | None = field(init=False)

    def __post_init__(self) -> None:
        self.warehouse = WarehouseLink.from_settings(self.settings)

    def as_state(self) -> State:
        return State(
            {
                "settings": self.settings,
                "key_store": self.key_store,
                "audit": self.audit,
                "snapshots": self.snapshots,
                "search": self.search,
                "auth_failures": self.auth_failures,
                "warehouse": self.warehouse,
            }
        )


@contextmanager
def serving_db(state: State) -> Iterator[ServingDb]:
    snapshots: VersionedResource[ServingDb] = state.snapshots
    version = acquire_db(state)
    try:
        yield version.resource
    finally:
        snapshots.release(version)


def acquire_db(state: State) -> Version[ServingDb]:
    """Lease the current snapshot for a streamed response; release it when the stream ends."""
    try:
        return state.snapshots.acquire()
    except NotPublishedError:
        raise not_published("数据快照", "serving snapshot") from None


@dataclass
class ProblemBody:
    """RFC 9457 problem details as this API sends them."""

    status: int
    title: str
    detail: str
    type: str
    code: str
    message_zh: str
    message_en: str


def _spec(description: str, code: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=ProblemBody,
        description=description,
        media_type="application/problem+json",
        generate_examples=False,
        examples=[Example(summary=code, value={"code": code})],
    )


# Declared on every guarded operation (and not globally, so /api/health shows it needs none).
SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

ERROR_RESPONSES: dict[int, Any] = {
    400: _spec("参数或查询有误 / bad parameter or query", "bad_parameter"),
    401: _spec("缺少或无效的 API 密钥 / missing or invalid API key", "missing_key"),
    403: _spec("角色无权访问 / the key's role may not use this", "wrong_role"),
}
NOT_FOUND = {404: _spec("不存在 / not found", "not_found")}
UNAVAILABLE = {503: _spec("尚未发布 / nothing published yet", "not_published")}
TOO_LARGE = {413: _spec("结果过大 / result too large", "result_too_large")}
