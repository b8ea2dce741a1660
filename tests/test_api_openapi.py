"""Every JSON endpoint's 200 response has a schema in OpenAPI, so client generators get types (issue 14)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings


def test_200_responses_have_schemas(tmp_path: Path) -> None:
    with TestClient(create_app(ApiSettings.from_env(str(tmp_path)))) as client:
        spec = client.get("/schema/openapi.json").json()
    typed = {
        ("/api/tables", "get"): "TableList",
        ("/api/tables/{name}", "get"): "TablePage",
        ("/api/quality/reports", "get"): "QualityReportList",
        ("/api/quality/reports/latest", "get"): "QualityReport",
        ("/api/quality/reports/{name}", "get"): "QualityReport",
        ("/api/towns", "get"): "TownList",
        ("/api/health", "get"): "HealthStatus",
        ("/api/sql", "post"): "SqlResponse",
    }
    for (path, method), name in typed.items():
        schema = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}, path
    report = spec["components"]["schemas"]["QualityReport"]["properties"]
    assert {"run_at", "as_of", "summary", "departments", "checks"} <= set(report)
    page = spec["components"]["schemas"]["TablePage"]["properties"]
    assert {"rows", "total", "facets", "next_after"} <= set(page)
    assert set(spec["components"]["schemas"]["QualitySummary"]["properties"]) == {"pass", "warn", "fail", "total"}
