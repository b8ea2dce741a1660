"""``/api/tables``: the published views with their data dictionary, filtered, sorted, paged, faceted, exported."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from api.auth import require
from api.dependencies import (
    AUDIT,
    PRINCIPAL,
    SETTINGS,
    SNAPSHOTS,
    AuditDep,
    PrincipalDep,
    SettingsDep,
    SnapshotsDep,
    acquire,
    lease,
)
from api.dto import ColumnInfo, TableList, TablePage, TableSummary
from api.masking import check_table_request, row_mask
from api.state import ERROR_RESPONSES, NOT_FOUND, SECURED, UNAVAILABLE
from api.table_query import parse_table_request
from api.tables_service import csv_chunks, parquet_bytes, published_table, table_page


class TablesController(Controller):
    path = "/api/tables"
    tags = ("tables",)
    guards = (require("tables"),)
    security = SECURED
    dependencies: ClassVar[dict[str, Provide]] = {**SETTINGS, **SNAPSHOTS, **AUDIT, **PRINCIPAL}

    @get(
        "/",
        responses={**ERROR_RESPONSES, **UNAVAILABLE},
        summary="已发布的数据表及字段说明 / published tables with their data dictionary",
        sync_to_thread=True,
    )
    def list_tables(self, snapshots: SnapshotsDep) -> TableList:
        with lease(snapshots) as db:
            return TableList(
                snapshot=db.path.name,
                built=db.catalog.snapshot,
                tables=[
                    TableSummary(
                        name=t.name,
                        description=t.description,
                        rows=t.row_count,
                        columns=[ColumnInfo(c.name, c.type, c.description) for c in t.columns],
                        summary=t.summary,
                        key=list(t.key),
                    )
                    for t in db.catalog.tables.values()
                ],
            )

    @get(
        "/{name:str}",
        responses={**ERROR_RESPONSES, **NOT_FOUND, **UNAVAILABLE},
        summary="查询一张表 / rows of one table",
        description=(
            "列筛选 / column filters: `col=value`, `col__ne`, `col__gt`, `col__gte`, `col__lt`, `col__lte`, "
            "`col__in=a,b`, `col__contains`, `col__isnull=true|false`. 排序 `_sort` / `_sort_desc`; 分页 `_size`, "
            "`_offset` 或游标 `_after`; 分面 `_facet=col`; 全表搜索 `_search=词`（任一文字列含该词，不查个人信息列 / "
            "a word in any text column, personal columns never searched）; 选列 `_col=a,b`（只返回这些列，按表中顺序 / "
            "only these columns, in the table's order）; 导出 `_format=json|csv|parquet`"
            "（CSV 与 Parquet 含全部符合条件的行 / CSV and Parquet hold every matching row unless `_size` is given）。"
        ),
        sync_to_thread=True,
    )
    def get_table(
        self,
        request: Request[Any, Any, Any],
        name: FromPath[str],
        settings: SettingsDep,
        snapshots: SnapshotsDep,
        audit: AuditDep,
        principal: PrincipalDep,
        sort: Annotated[str | None, QueryParameter(name="_sort", description="升序排序列 / sort column")] = None,
        sort_desc: Annotated[str | None, QueryParameter(name="_sort_desc", description="降序排序列")] = None,
        size: Annotated[int | None, QueryParameter(name="_size", ge=1, le=100000, description="每页行数")] = None,
        offset: Annotated[int | None, QueryParameter(name="_offset", gt=-1, description="偏移 / offset")] = None,
        after: Annotated[str | None, QueryParameter(name="_after", description="游标 / cursor (next_after)")] = None,
        facet: Annotated[list[str] | None, QueryParameter(name="_facet", description="分面列 / facet columns")] = None,
        search: Annotated[str | None, QueryParameter(
            name="_search", description="在文字列中搜索，最多 100 字 / a word in any text column (≤ 100 characters)"
        )] = None,
        col: Annotated[list[str] | None, QueryParameter(
            name="_col", description="只返回这些列（可重复或逗号分隔）/ only these columns (repeated or a,b)"
        )] = None,
        fmt: Annotated[
            Literal["json", "csv", "parquet"] | None, QueryParameter(name="_format", description="json | csv | parquet")
        ] = None,
    ) -> Response[TablePage]:
        # The named parameters above document the reserved keys in OpenAPI; parsing reads the raw query string
        # so column filters (any column name) and the reserved keys are validated together against the catalog.
        version = acquire(snapshots)
        released = False
        try:
            db = version.resource
            table = published_table(db, name)
            req = parse_table_request(  # items(): the filters in the URL's order, as the pages keep them
                table, request.query_params.items(), settings.page_size_default, settings.page_size_max
            )
            check_table_request(table, principal.role, [f.column for f in req.filters], req.sort, req.facets)
            mask = row_mask(table, principal.role)
            if req.format == "json":
                return Response(TablePage(**table_page(db, req, mask)))
            audit.write(
                principal.name,
                f"export_{req.format}",
                str(request.url.path) + "?" + request.url.query,
                table=name,
                snapshot=db.path.name,
            )
            filename = f"{name}.{req.format}"
            disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
            if req.format == "parquet":
                return Response(
                    parquet_bytes(db, req, settings.export_row_limit, mask),  # type: ignore[arg-type]
                    media_type="application/vnd.apache.parquet",
                    headers=disposition,
                )

            def stream() -> Any:
                try:
                    yield from csv_chunks(db, req, settings.export_row_limit, mask)
                finally:
                    snapshots.release(version)

            released = True  # the stream releases the lease when it ends
            return Stream(stream(), media_type="text/csv", headers=disposition)  # type: ignore[return-value]
        finally:
            if not released:
                snapshots.release(version)
