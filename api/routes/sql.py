"""``POST /api/sql``: one read-only SELECT against the current snapshot, audited."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, post
from litestar.di import Provide
from litestar.params import JSONBody

from api.audit import AuditLog
from api.auth import Principal, require
from api.dependencies import AUDIT, PRINCIPAL, SETTINGS, SNAPSHOTS, lease
from api.serving_db import ServingDb
from api.settings import ApiSettings
from api.sql_runner import check_params, run_select
from api.state import ERROR_RESPONSES, SECURED, TOO_LARGE, UNAVAILABLE
from api.versioned import VersionedResource


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    sql: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000, description="一条 SELECT / one SELECT")]
    params: dict[str, Any] | None = None


class SqlResponse(msgspec.Struct):
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    row_limit: int
    elapsed_ms: float
    snapshot: str


class SqlController(Controller):
    path = "/api/sql"
    tags = ("sql",)
    guards = (require("sql"),)
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **SNAPSHOTS, **AUDIT, **PRINCIPAL}

    @post(
        "/",
        responses={**ERROR_RESPONSES, **UNAVAILABLE, **TOO_LARGE},
        status_code=200,
        summary="只读 SQL / read-only SQL",
        description="只接受一条 SELECT；有时间、行数、内存限制；参数用 $name 绑定。不能查看个人信息的角色在已脱敏的"
        "快照副本上查询。Exactly one SELECT, time/row/memory limited; bind parameters as $name. Roles that get "
        "personal data masked query a copy of the snapshot in which it is masked.",
        sync_to_thread=True,
    )
    def run_sql(
        self,
        data: JSONBody[SqlRequest],
        settings: ApiSettings,
        snapshots: VersionedResource[ServingDb],
        audit: AuditLog,
        principal: Principal,
    ) -> SqlResponse:
        check_params(data.params)  # before the audit log writes them
        with lease(snapshots) as db:
            audit.write(principal.name, "sql", data.sql, params=data.params, snapshot=db.path.name)
            result = run_select(db.sql_cursor(principal.role), data.sql, data.params, settings.sql_row_limit,
                                settings.sql_timeout_ms, settings.sql_max_result_bytes)
            return SqlResponse(
                columns=result.columns,
                rows=result.rows,
                row_count=len(result.rows),
                truncated=result.truncated,
                row_limit=settings.sql_row_limit,
                elapsed_ms=result.elapsed_ms,
                snapshot=db.path.name,
            )
