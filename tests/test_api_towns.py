"""Town dossier and quality reports over HTTP."""

from __future__ import annotations

import json
import time

from api_fixtures import LiveServer

TOWN = "330109113"  # 瓜沥镇


def test_dossier_joins_the_towns_rows(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("staff") as c:
        body = c.get(f"/api/towns/{TOWN}").json()
    cursor = snapshot_db.execute("select * from town_dossier where town_code = ?", [TOWN])
    row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    assert body["dossier"] == json.loads(json.dumps(row, default=str))
    published = {name for (name,) in snapshot_db.execute("select table_name from _tables").fetchall()}
    sections = {
        "hidden_dangers": "hidden_danger_register",
        "grid": "grid_coverage",
        "teams": "rescue_teams",
        "plans": "emergency_plans",
        "events": "town_events",
    }
    for key, table in sections.items():
        if table not in published:
            assert body[key] == [] and table in body["missing"], key
            continue
        expected = snapshot_db.execute(f"select count(*) from {table} where town_code = ?", [TOWN]).fetchone()[0]
        assert len(body[key]) == min(expected, 200), key
        assert {r["town_code"] for r in body[key]} == ({TOWN} if expected else set())
    assert body["hidden_dangers"], "the sample data has dangers in every town"


def test_dossier_links_the_towns_documents(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        body = c.get(f"/api/towns/{TOWN}").json()
    assert {d["doc_id"] for d in body["documents"]} == {"plans/330109113_瓜沥镇突发事件总体应急预案.md"}


def test_unknown_town_is_404(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        response = c.get("/api/towns/999999999")
    assert response.status_code == 404 and response.json()["code"] == "unknown_town"


def test_quality_reports_before_and_after_one_exists(api_server: LiveServer) -> None:
    reports = api_server.data_dir / "reports" / "quality"
    with api_server.client("analyst") as c:
        if not reports.exists():
            assert c.get("/api/quality/reports").json()["reports"] == []
            missing = c.get("/api/quality/reports/latest")
            assert missing.status_code == 404 and missing.json()["code"] == "no_quality_report"
        reports.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        (reports / f"quality-{stamp}.json").write_text(json.dumps({"score": 0.93, "findings": 4}), "utf-8")
        (reports / f"quality-{stamp}.html").write_text("<html><body><h1>数据质量日报</h1></body></html>", "utf-8")
        listed = c.get("/api/quality/reports").json()["reports"]
        latest = c.get("/api/quality/reports/latest").json()
        page = c.get("/quality")
        html = c.get(f"/quality/reports/quality-{stamp}")
    assert listed[0]["name"] == f"quality-{stamp}"
    assert latest == {"score": 0.93, "findings": 4}
    assert page.status_code == 200 and f"quality-{stamp}" in page.text
    assert html.status_code == 200 and "数据质量日报" in html.text
