"""Every JSON endpoint's 200 response has a schema in OpenAPI, so client generators get types (issue 14)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings
from kb.search import DocumentGroup, SearchHit, SimilarCase


def openapi(tmp_path: Path) -> dict:
    with TestClient(create_app(ApiSettings.from_env(str(tmp_path)))) as client:
        return client.get("/schema/openapi.json").json()


def test_200_responses_have_schemas(tmp_path: Path) -> None:
    spec = openapi(tmp_path)
    typed = {
        ("/api/tables", "get"): "TableList",
        ("/api/tables/{name}", "get"): "TablePage",
        ("/api/quality/reports", "get"): "QualityReportList",
        ("/api/quality/reports/latest", "get"): "QualityReport",
        ("/api/quality/reports/{name}", "get"): "QualityReport",
        ("/api/towns", "get"): "TownList",
        ("/api/towns/{code}", "get"): "TownDossier",
        ("/api/health", "get"): "HealthStatus",
        ("/api/sql", "post"): "SqlResponse",
        ("/api/search", "get"): "SearchResponse",
        ("/api/cases/similar", "get"): "SimilarCasesResponse",
        ("/api/documents/{doc_path}", "get"): "DocumentResponse",
    }
    for (path, method), name in typed.items():
        schema = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}, path
    # every operation under /api is one of the above: a new endpoint needs its typed response too
    operations = {(path, method) for path, ops in spec["paths"].items() if path.startswith("/api") for method in ops}
    assert operations == set(typed)
    report = spec["components"]["schemas"]["QualityReport"]["properties"]
    assert {"run_at", "as_of", "summary", "departments", "checks"} <= set(report)
    page = spec["components"]["schemas"]["TablePage"]["properties"]
    assert {"rows", "total", "facets", "next_after"} <= set(page)
    assert set(spec["components"]["schemas"]["QualitySummary"]["properties"]) == {"pass", "warn", "fail", "total"}


def test_the_town_dossier_is_documented(tmp_path: Path) -> None:
    schemas = openapi(tmp_path)["components"]["schemas"]
    dossier = schemas["TownDossier"]
    sections = {"hidden_dangers", "teams", "plans", "events", "grid", "capacity", "readiness"}
    assert {"town_code", "dossier", "documents", "missing", "snapshot"} | sections == set(dossier["properties"])
    assert set(dossier["required"]) == set(dossier["properties"])
    assert dossier["properties"]["documents"]["items"] == {"$ref": "#/components/schemas/TownDocument"}
    assert set(schemas["TownDocument"]["properties"]) == {"doc_id", "title", "doc_type", "date", "file"}


def test_search_results_are_the_kb_librarys_types(tmp_path: Path) -> None:
    """One concept, one definition: a hit, a document's group and a similar case are kb's, the API adds addresses."""
    schemas = openapi(tmp_path)["components"]["schemas"]

    def fields(cls: type) -> set[str]:
        return {f.name for f in dataclasses.fields(cls)}

    assert set(schemas["Hit"]["properties"]) == fields(SearchHit) | {"url"}
    assert set(schemas["DocumentGroup"]["properties"]) == fields(DocumentGroup) | {"more_url"}
    assert schemas["DocumentGroup"]["properties"]["hits"]["items"] == {"$ref": "#/components/schemas/Hit"}
    assert set(schemas["SimilarCase"]["properties"]) == fields(SimilarCase)
