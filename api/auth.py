"""Who is calling and what they may see: API keys with roles, checked by a route guard.

analyst → tables and SQL; staff → search, documents and town dossiers; admin → everything;
the quality report is readable with any key. Demo mode (off by default) lets everybody in as admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.errors import problem
from api.keys import KeyStore

KEY_COOKIE = "hub_key"

AREA_ROLES: dict[str, frozenset[str]] = {
    "tables": frozenset({"analyst", "admin"}),
    "sql": frozenset({"analyst", "admin"}),
    "search": frozenset({"staff", "admin"}),
    "documents": frozenset({"staff", "admin"}),
    "towns": frozenset({"staff", "admin"}),
    "quality": frozenset({"analyst", "staff", "admin"}),
}
AREA_LABELS = {
    "tables": "数据表",
    "sql": "SQL 查询",
    "search": "搜索",
    "documents": "文档",
    "towns": "镇街档案",
    "quality": "数据质量",
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


DEMO_PRINCIPAL = Principal("demo", "admin")


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The one credential of the request. An Authorization header, if present, is the credential even when it is
    not a valid Bearer key (so a bad one is refused, never silently replaced by another header)."""
    auth = connection.headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else auth
    if key := connection.headers.get("x-api-key"):
        return key.strip() or None
    # The web pages carry the key in a SameSite=Strict cookie; only for reads, never for POST.
    if connection.scope.get("method", "GET") in ("GET", "HEAD"):
        return connection.cookies.get(KEY_COOKIE) or None
    return None


def identify(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    state = connection.app.state
    if state.settings.demo_mode:
        return DEMO_PRINCIPAL
    key = presented_key(connection)
    if key is None:
        return None
    store: KeyStore = state.key_store
    found = store.verify(key)
    return Principal(found.name, found.role) if found else None


def authorize(connection: ASGIConnection[Any, Any, Any, Any], area: str) -> Principal:
    principal = identify(connection)
    if principal is None:
        presented = presented_key(connection) is not None
        raise problem(
            401,
            "invalid_key" if presented else "missing_key",
            "API 密钥无效或已吊销" if presented else "需要 API 密钥（Authorization: Bearer <key> 或 X-API-Key）",
            "invalid or revoked API key" if presented else "an API key is required (Bearer or X-API-Key)",
        )
    if principal.role not in AREA_ROLES[area]:
        allowed = "、".join(sorted(AREA_ROLES[area]))
        raise problem(
            403,
            "wrong_role",
            f"角色 {principal.role} 无权访问{AREA_LABELS[area]}（需要：{allowed}）",
            f"role {principal.role} may not use {area} (needs one of: {', '.join(sorted(AREA_ROLES[area]))})",
        )
    connection.state.principal = principal
    return principal


def require(area: str):
    if area not in AREA_ROLES:
        raise ValueError(area)

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        authorize(connection, area)

    guard.__name__ = f"require_{area}"
    return guard
