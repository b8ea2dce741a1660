"""``POST /api/sql``: one read-only SELECT against the current snapshot (or, with a server warehouse, against the
server's published views), audited."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import JSONBody

from api.auth import Principal, require
from api.dependencies import PRINCIPAL, SETTINGS, PrincipalDep, SettingsDep
from api.settings import ApiSettings
from api.sql_runner import SqlResult, check_params, run_select
from api.state import ERROR_RESPONSES, SECURED, TOO_LARGE, UNAVAILABLE, serving_db
from api.warehouse_link import WarehouseLink


def run_user_sql(state: State, principal: Principal, sql: str, params: dict[str, Any] | None, action: str,
                 audit_details: dict[str, Any] | None = None) -> tuple[SqlResult, str]:
    """A user's SQL, audited first: on the warehouse server as the caller's login role when the API serves a
    server warehouse (api.warehouse_sql), else on the current snapshot (the masked copy for roles that get
    personal data masked). Returns the result and the name of the version it ran on."""
    settings: ApiSettings = state.settings
    warehouse: WarehouseLink | None = state.warehouse
    if warehouse is not None:
        # the version the replica mirrors; a publish on the server reaches SQL before the next poll reaches tables
        version = warehouse.status()["server_version"] or "warehouse"
        state.audit.write(principal.name, action, sql, **(audit_details or {}), snapshot=version)
        return warehouse.sql.run(principal.role, sql, params), version
    with serving_db(state) as db:
        state.audit.write(principal.name, action, sql, **(audit_details or {}), snapshot=db.path.name)
        result = run_select(db.sql_cursor(principal.role), sql, params, settings.sql_row_limit,
                            settings.sql_timeout_ms, settings.sql_max_result_bytes)
        return result, db.path.name


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
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **PRINCIPAL}

    @post(
        "/",
        responses={**ERROR_RESPONSES, **UNAVAILABLE, **TOO_LARGE},
        status_code=200,
        summary="只读 SQL / read-only SQL",
        description="只接受一条 SELECT；有时间、行数、内存限制；参数用 $name 绑定。不能查看个人信息的角色在已脱敏的"
        "快照副本（或数据仓库服务器上已脱敏的视图）上查询。Exactly one SELECT, time/row/memory limited; bind "
        "parameters as $name. Roles that get personal data masked query a copy of the snapshot (or the server "
        "warehouse's views) in which it is masked.",
        sync_to_thread=True,
    )
    def run_sql(
        self,
        data: JSONBody[SqlRequest],
        state: State,
        settings: SettingsDep,
        principal: PrincipalDep,
    ) -> SqlResponse:
        check_params(data.params)  # before the audit log writes them
        result, version = run_user_sql(state, principal, data.sql, data.params, "sql", {"params": data.params})
        return SqlResponse(
            columns=result.columns,
            rows=result.rows,
            row_count=len(result.rows),
            truncated=result.truncated,
            row_limit=settings.sql_row_limit,
            elapsed_ms=result.elapsed_ms,
            snapshot=version,
        )
