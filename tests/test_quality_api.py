"""The report files produced by ``produce_report`` are the ones the API serves: the list, the latest JSON
and the HTML page, over real HTTP from ``hub serve``."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
from api_fixtures import add_key, publish_fixture_snapshot, start_server, stop_server

from hub.core.paths import HubPaths
from orchestration.ingest.schema import ensure_raw_schema
from orchestration.quality.report import produce_report


def test_api_serves_the_produced_report(tmp_path: Path) -> None:
    paths = HubPaths(tmp_path)
    publish_fixture_snapshot(tmp_path)
    con = duckdb.connect(str(paths.build_db))
    ensure_raw_schema(con)
    started = datetime(2026, 11, 28, 6, 0)
    con.execute("INSERT INTO raw.load_log VALUES ('L1', 'urban', 'cases', 'urban/城管案件_20261128.csv', 'h', 4, 3, "
                "1, 'loaded', NULL, ?, ?, NULL, NULL)", [started, started])
    con.execute("INSERT INTO raw.quarantine VALUES ('urban', 'cases', 'urban/城管案件_20261128.csv', 2, '案件编号', "
                "'CG1', '编号重复 / duplicated id: \"CG1\"', '{\"案件编号\": \"CG1\"}', 'L1', ?)", [started])
    con.close()
    first = produce_report(paths, as_of=date(2026, 11, 28), webhook_url="")
    second = produce_report(paths, as_of=date(2026, 11, 28), webhook_url="")

    server = start_server(tmp_path)
    try:
        key = add_key(tmp_path, "quality-reader", "staff")
        server.keys = {"staff": key}
        with server.client("staff") as c:
            listed = c.get("/api/quality/reports").json()["reports"]
            latest = c.get("/api/quality/reports/latest").json()
            older = c.get(f"/api/quality/reports/{first.report_name}").json()
            html = c.get(f"/quality/reports/{second.report_name}")
            page = c.get("/quality")
    finally:
        stop_server(server)
    assert [r["name"] for r in listed] == [second.report_name, first.report_name]
    assert listed[0]["html"] == f"/quality/reports/{second.report_name}"
    assert latest["report_name"] == second.report_name
    assert latest["previous_run_id"] == first.run_id
    duplicate = next(ch for ch in latest["checks"] if ch["check_name"] == "uniqueness:urban.cases")
    assert (duplicate["status"], duplicate["owner_dept"]) == ("fail", "区城管局")
    assert duplicate["findings"][0]["key"] == "CG1"
    assert older["run_id"] == first.run_id
    assert html.status_code == 200 and "数据质量日报" in html.text and "<svg" in html.text
    assert page.status_code == 200 and second.report_name in page.text
