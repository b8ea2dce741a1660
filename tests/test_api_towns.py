"""Town dossier and quality reports over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from api_fixtures import LiveServer, publish_fixture_snapshot, start_server, stop_server

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


def test_quality_reports_from_the_pipeline(api_server: LiveServer) -> None:
    reports = api_server.data_dir / "reports" / "quality"
    newest_json = max(reports.glob("*.json"), key=lambda p: p.stat().st_mtime)
    name = newest_json.stem
    with api_server.client("staff") as c:  # readable with any key
        listed = c.get("/api/quality/reports").json()["reports"]
        latest = c.get("/api/quality/reports/latest").json()
        page = c.get("/quality")
        html = c.get(f"/quality/reports/{name}")
    assert {r["name"] for r in listed} == {p.stem for p in reports.glob("*.json")} | {
        p.stem for p in reports.glob("*.html")
    }
    assert listed[0]["name"] == name
    assert latest == json.loads(newest_json.read_text(encoding="utf-8"))
    assert page.status_code == 200 and name in page.text
    assert html.status_code == 200 and html.text == (reports / f"{name}.html").read_text(encoding="utf-8")


def test_quality_endpoints_say_when_there_is_no_report(tmp_path: Path) -> None:
    publish_fixture_snapshot(tmp_path)
    server = start_server(tmp_path, "--demo")
    try:
        with httpx.Client(base_url=server.base_url) as c:
            assert c.get("/api/quality/reports").json()["reports"] == []
            missing = c.get("/api/quality/reports/latest")
            page = c.get("/quality")
    finally:
        stop_server(server)
    assert missing.status_code == 404 and missing.json()["code"] == "no_quality_report"
    assert "hub quality" in missing.json()["message_zh"]
    assert page.status_code == 200 and 'id="no-report"' in page.text
