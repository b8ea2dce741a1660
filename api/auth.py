"""Who is calling and what they may see: API keys with roles, checked by a route guard.

analyst → tables and SQL; staff → search, documents and town dossiers; admin → everything;
the quality report is readable with any key. Demo mode (off by default) lets everybody in as admin.

The web pages log in once and keep a session id (never the key) in an HttpOnly, SameSite=Strict cookie
(``Secure`` with ``HUB_API_COOKIE_SECURE``); the session lives server-side in the key store. Failed
authentications are counted per client address (``api.limits.AuthFailureLimiter``): past the limit,
every credential from that address is answered 429 without being checked until the minute is over.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.errors import problem
from api.keys import KeyStore

SESSION_COOKIE = "hub_session"

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


class AuthFailureLimiter:
    """Failed authentications per client address in a fixed window (in memory, per server process)."""

    MAX_ADDRESSES = 100_000  # beyond this many addresses in one window, the oldest windows are dropped first

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit, self.window = limit, window_seconds
        self._counts: dict[str, tuple[float, int]] = {}  # address -> (window start, failures)
        self._lock = threading.Lock()

    def blocked(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it is within its budget."""
        now = time.monotonic()
        with self._lock:
            start, failures = self._counts.get(address, (now, 0))
        if now - start >= self.window or failures < self.limit:
            return None
        return max(1, int(start + self.window - now + 0.999))

    def record(self, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            start, failures = self._counts.get(address, (now, 0))
            if now - start >= self.window:
                start, failures = now, 0
            self._counts[address] = (start, failures + 1)
            if len(self._counts) > self.MAX_ADDRESSES:
                for stale in sorted(self._counts, key=lambda a: self._counts[a][0])[: self.MAX_ADDRESSES // 10]:
                    del self._counts[stale]


def presented_credential(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str] | None:
    """The one credential of the request as ("key", key) or ("session", id). An Authorization header, if
    present, is the credential even when it is not a valid Bearer key (so a bad one is refused, never
    silently replaced by another header)."""
    auth = connection.headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.strip().partition(" ")
        return ("key", value.strip() if scheme.lower() == "bearer" and value.strip() else auth)
    if key := connection.headers.get("x-api-key"):
        return ("key", key.strip()) if key.strip() else None
    # The web pages carry a session id in a SameSite=Strict cookie; only for reads, never for POST.
    if connection.scope.get("method", "GET") in ("GET", "HEAD") and (session := connection.cookies.get(SESSION_COOKIE)):
        return ("session", session)
    return None


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The credential's text (a key or a session id), e.g. to count requests per credential."""
    credential = presented_credential(connection)
    return credential[1] if credential else None


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    return str(client[0]) if client else "unknown"


def too_many_failures(retry_after: int) -> Exception:
    return problem(
        429,
        "too_many_failed_logins",
        f"该地址认证失败次数过多，请 {retry_after} 秒后再试",
        f"too many failed authentications from this address; retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        retry_after=retry_after,
    )


def check_credential(state: Any, address: str, kind: str, value: str) -> Principal | None:
    """Verify one credential from ``address``: refused unchecked (429) while the address is over its
    failure budget; a failure is counted."""
    limiter: AuthFailureLimiter = state.auth_failures
    if (retry_after := limiter.blocked(address)) is not None:
        raise too_many_failures(retry_after)
    store: KeyStore = state.key_store
    found = store.verify(value) if kind == "key" else store.session(value)
    if found is None:
        limiter.record(address)
        return None
    return Principal(found.name, found.role)


_IDENTITY = "hub_identity"


def identify(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """Who is calling (None: no or a bad credential); checked once per request. Raises 429 while the
    client's address is over its budget of failed authentications."""
    state = connection.app.state
    if state.settings.demo_mode:
        return DEMO_PRINCIPAL
    scope_state = connection.scope.setdefault("state", {})
    if _IDENTITY in scope_state:
        cached = scope_state[_IDENTITY]
        if isinstance(cached, Exception):
            raise cached
        return cached
    credential = presented_credential(connection)
    try:
        principal = check_credential(state, client_address(connection), *credential) if credential else None
    except Exception as exc:
        scope_state[_IDENTITY] = exc
        raise
    scope_state[_IDENTITY] = principal
    return principal


def identify_quietly(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """``identify`` for rendering an error page: never raises."""
    try:
        return identify(connection)
    except Exception:
        return None


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
