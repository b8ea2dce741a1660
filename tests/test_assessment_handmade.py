"""The monthly assessment on a hand-made landing folder, against scores worked out by hand.

tests/fixtures/assessment/landing holds a few registry rows and six four_platforms events written by hand
for two towns, 瓜沥镇 (G, 330109113) and 城厢街道 (C, 330109001), and one department, 区城管局. The fixture runs
the real ingest and dbt build (as of 2025-07-10), then the real monthly computation
(orchestration/assessment/monthly.py) for 2025-05 with the repository's indicator seed and for 2025-06 with a
copy of the dbt project whose seed the bureau edited (town 六有 weight 25 → 30, town 网格覆盖 15 → 10,
department 事件按期办结 25 → 35), and publishes the serving snapshot. Every expected value below is derived in
the comment next to it from the fixture rows and the seed.

Scoring (seeds/assessment_indicators.csv): score = 100 × (value − zero_at) ÷ (full_at − zero_at), capped to
0–100; total = Σ weight × score ÷ Σ weight over the indicators that have a value.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from api_fixtures import LiveServer, add_key, start_server, stop_server
from dbt_fixtures import run_dbt

from hub.core.paths import DBT_PROJECT_DIR, HubPaths
from orchestration.assessment.monthly import compute_month
from orchestration.ingest.load import ingest_landing
from orchestration.publish import load_manifest, publish_snapshot, published_models

FIXTURE = Path(__file__).parent / "fixtures" / "assessment" / "landing"
TODAY = date(2025, 7, 10)
G, C, DEPT = "330109113", "330109001", "区城管局"


def edited_project(target: Path) -> Path:
    """A copy of the dbt project whose indicator seed the bureau edited (the weights of 2025-06 on)."""
    shutil.copytree(DBT_PROJECT_DIR, target, ignore=shutil.ignore_patterns("target", "logs"))
    seed = target / "seeds" / "assessment_indicators.csv"
    text = seed.read_text(encoding="utf-8")
    for old, new in [("town,readiness,六有建设,25,", "town,readiness,六有建设,30,"),
                     ("town,grid_coverage,网格覆盖,15,", "town,grid_coverage,网格覆盖,10,"),
                     ("department,event_on_time,事件按期办结,25,", "department,event_on_time,事件按期办结,35,")]:
        assert old in text, old
        text = text.replace(old, new)
    seed.write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("assessment")
    paths = HubPaths(base / "data")
    paths.warehouse.mkdir(parents=True)
    ingest_landing(paths.build_db, FIXTURE)
    proc = run_dbt(["build", "--exclude-resource-type", "unit_test"], build_db=paths.build_db,
                   work_dir=base / "dbt", as_of=TODAY.isoformat())
    assert proc.returncode == 0, proc.stdout[-4000:]
    may = compute_month(paths, "2025-05", TODAY)
    project = edited_project(base / "edited_project")
    june = compute_month(paths, "2025-06", TODAY, project_dir=project)
    may_again = compute_month(paths, "2025-05", TODAY, project_dir=project)  # closed and kept: not recomputed
    manifest = load_manifest(base / "dbt" / "target" / "manifest.json")
    published = publish_snapshot(paths.build_db, paths.serving, published_models(manifest), as_of=TODAY)
    return {"paths": paths, "snapshot": published.path, "may": may, "june": june, "may_again": may_again,
            "base": base}


def rows(built: dict[str, Any], sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    con = duckdb.connect(str(built["snapshot"]), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def town(built: dict[str, Any], month: str, code: str) -> dict[str, Any]:
    found = rows(built, "SELECT * FROM assessment_town_monthly_history WHERE month = ? AND town_code = ?",
                 [month, code])
    assert len(found) == 1, (month, code, found)
    return found[0]


def dept(built: dict[str, Any], month: str) -> dict[str, Any]:
    found = rows(built, "SELECT * FROM assessment_department_monthly_history WHERE month = ? AND dept = ?",
                 [month, DEPT])
    assert len(found) == 1
    return found[0]


def test_months_are_closed_as_of_their_last_day_and_kept(built: dict[str, Any]) -> None:
    assert built["may"].as_of == date(2025, 5, 31) and built["may"].closed and not built["may"].skipped
    assert built["june"].as_of == date(2025, 6, 30) and built["june"].closed
    assert built["may_again"].skipped  # a closed month kept once is not computed again
    months = rows(built, "SELECT month, min(as_of_date) AS as_of, bool_and(is_month_closed) AS closed, count(*) AS n "
                         "FROM assessment_town_monthly_history GROUP BY month ORDER BY month")
    # 2025-05 and 2025-06 kept; 2025-07 is the live build's month (as of 2025-07-10, not closed); 27 towns each.
    assert [(m["month"], str(m["as_of"]), m["closed"], m["n"]) for m in months] == [
        ("2025-05", "2025-05-31", True, 27), ("2025-06", "2025-06-30", True, 27), ("2025-07", "2025-07-10", False, 27)]


def test_guali_may(built: dict[str, Any]) -> None:
    row = town(built, "2025-05", G)
    # 六有 as of 05-31: 班子 (2021-03-15) ✓, 机制 (挂牌 + LL001 在岗) ✓, 预案 P001 (rev. 2023-05-20 ≥ 2022-05-31) ✓,
    # 队伍 T001 25 人 ✓, 物资 E001 冲锋舟 ✓, 演练 D001 2025-03-10 ✓ → 6 → 100 (weight 25 → 2500)
    assert row["readiness_value"] == 6 and row["readiness_score"] == 100
    # overdue: HD001 (deadline 04-30, 31 days) → 1 → 100 − 20 × 1 = 80 (×20 = 1600); HD004 found 06-01: not yet
    assert row["overdue_dangers_value"] == 1 and row["overdue_dangers_score"] == 80
    # long-overdue (> 30 days): HD001 31 days → 1 → 100 − 50 × 1 = 50 (×10 = 500)
    assert row["long_overdue_dangers_value"] == 1 and row["long_overdue_dangers_score"] == 50
    # grid: 新港村 GW001 ✓, 航民村 GW002 starts 06-05 ✗ → 0.5, below 0.8 → 0
    assert row["grid_coverage_value"] == 0.5 and row["grid_coverage_score"] == 0
    # events of May: SP…101 on time, SP…102 finished 05-15 after its 05-12 deadline → 0.5 → 0
    assert row["event_on_time_value"] == 0.5 and row["event_on_time_score"] == 0
    # returns: 0 + 1 over 2 events = 0.5 → 0
    assert row["event_returns_value"] == 0.5 and row["event_returns_score"] == 0
    # drills in the 12 months to 05-31: D001 → 1 of 2 planned → 50 (×5 = 250)
    assert row["drills_value"] == 1 and row["drills_score"] == 50
    # teams: T001 qualified + agreement, T002 neither → 0.5 → 0
    assert row["team_compliance_value"] == 0.5 and row["team_compliance_score"] == 0
    # total = (2500 + 1600 + 500 + 0 + 0 + 0 + 250 + 0) ÷ 100 = 48.5 → 不合格 (< 60)
    assert row["total_score"] == pytest.approx(48.5) and row["grade_name"] == "不合格"
    # rank: 城厢 75.17 first; the 25 towns without data score (0×25 + 100×20 + 100×10 + 0×5) ÷ 60 = 50; 瓜沥 last
    assert row["score_rank"] == 27


def test_chengxiang_may(built: dict[str, Any]) -> None:
    row = town(built, "2025-05", C)
    # 六有: 班子 set up 2025-06-10 ✗, 机制 ✓, 预案 P002 (rev. 2022-06-15 ≥ 2022-05-31) ✓, 队伍 T003 15 人 ✓,
    # 物资 ✗ (no equipment), 演练 ✗ (D002 is 06-15) → 3 → 50 (×25 = 1250)
    assert row["readiness_value"] == 3 and row["readiness_score"] == pytest.approx(50)
    # overdue: HD002 (deadline 05-20, closed only 06-10) 11 days → 1 → 80 (×20 = 1600); long-overdue 0 → 100 (×10)
    assert row["overdue_dangers_value"] == 1 and row["long_overdue_dangers_value"] == 0
    # grid 城北社区 ✓ → 1 → 100 (×15 = 1500); events: SP…103 on time → 1 → 100 (×15); returns 0 → 100 (×5 = 500)
    assert row["grid_coverage_score"] == 100 and row["event_on_time_score"] == 100 and row["event_returns_score"] == 100
    # drills 0 → 0; teams T003 ✗ (no agreement), T004 ✓, T005 ✓ → 2/3 → 100 × (2/3 − 0.5) ÷ 0.5 = 33.33 (×5 = 166.67)
    assert row["drills_score"] == 0 and row["team_compliance_score"] == pytest.approx(100 / 3)
    # total = (1250 + 1600 + 1000 + 1500 + 1500 + 500 + 0 + 166.67) ÷ 100 = 75.17 → 合格, first of 27
    assert row["total_score"] == pytest.approx(75.1666667) and row["grade_name"] == "合格"
    assert row["score_rank"] == 1


def test_department_may(built: dict[str, Any]) -> None:
    row = dept(built, "2025-05")
    # overdue owned by 区城管局: HD001 (31 days), HD002 (11 days) → 2 → 60 (×25 = 1500); long: HD001 → 50 (×10 = 500)
    assert row["overdue_dangers_value"] == 2 and row["overdue_dangers_score"] == 60
    assert row["long_overdue_dangers_value"] == 1 and row["long_overdue_dangers_score"] == 50
    # events handled in May: SP…101 on time, SP…102 late → 0.5 → 0 (×25); returns 1 over 2 → 0.5 → 0 (×10)
    assert row["event_on_time_value"] == 0.5 and row["event_returns_value"] == 0.5
    # team T003 (its own) without agreement → 0 → 0 (×10); no urban delivery → data quality not scored (drops out)
    assert row["team_compliance_value"] == 0 and row["data_quality_value"] is None
    # chain break 市 杭州市住建局 (housing) → 区 区城管局 (urban management) → 1 → 50 (×10 = 500)
    assert row["chain_breaks_value"] == 1 and row["chain_breaks_score"] == 50
    # total = (1500 + 500 + 0 + 0 + 0 + 500) ÷ (25 + 10 + 25 + 10 + 10 + 10) = 2500 ÷ 90 = 27.78
    assert row["total_score"] == pytest.approx(2500 / 90) and row["indicators_scored"] == 6


def test_guali_june_with_the_new_weights(built: dict[str, Any]) -> None:
    row = town(built, "2025-06", G)
    # 六有 6 → 100 (new weight 30 → 3000); overdue HD001 61 days + HD004 1 day → 2 → 60 (×20 = 1200);
    # long-overdue HD001 → 50 (×10 = 500); grid: GW002 in post since 06-05 → 1 → 100 (new weight 10 → 1000);
    # events: SP…101 on time → 100 (×15 = 1500); returns 0 → 100 (×5 = 500); drills 1 → 50 (×5 = 250); teams 0.5 → 0
    assert (row["overdue_dangers_value"], row["grid_coverage_value"], row["event_on_time_value"]) == (2, 1, 1)
    # total = (3000 + 1200 + 500 + 1000 + 1500 + 500 + 250 + 0) ÷ 100 = 79.5 → 合格, first
    assert row["total_score"] == pytest.approx(79.5) and row["grade_name"] == "合格" and row["score_rank"] == 1


def test_chengxiang_june_with_the_new_weights(built: dict[str, Any]) -> None:
    row = town(built, "2025-06", C)
    # 六有: 班子 (06-10) ✓, 机制 ✓, 预案 P002 rev. 2022-06-15 < 2022-06-30: expired ✗, 队伍 ✓, 物资 ✗, 演练 D002 ✓ → 4
    assert row["readiness_value"] == 4 and row["readiness_score"] == pytest.approx(200 / 3)
    # overdue: HD002 closed 06-10 (no longer), HD003 deadline 06-20 → 10 days → 1 → 80; long 0 → 100
    assert row["overdue_dangers_value"] == 1 and row["long_overdue_dangers_value"] == 0
    # events: SP…102 open past its 06-13 deadline, SP…103 on time → 0.5 → 0; returns (2 + 0) ÷ 2 = 1 → 0
    assert row["event_on_time_value"] == 0.5 and row["event_returns_value"] == 1
    # total = (66.67×30 + 80×20 + 100×10 + 100×10 + 0×15 + 0×5 + 50×5 + 33.33×5) ÷ 100
    #       = (2000 + 1600 + 1000 + 1000 + 0 + 0 + 250 + 166.67) ÷ 100 = 60.17 → 合格, second
    assert row["total_score"] == pytest.approx(60.1666667) and row["grade_name"] == "合格" and row["score_rank"] == 2


def test_department_june_with_the_new_weights(built: dict[str, Any]) -> None:
    row = dept(built, "2025-06")
    # overdue: HD001 (61 days; HD002 closed 06-10) → 1 → 80 (×25 = 2000); long HD001 → 50 (×10 = 500)
    # events handled in June: SP…101 on time, SP…102 late, SP…103 on time → 2/3 → 100 × (2/3 − 0.6) ÷ 0.4 = 16.67
    #   (new weight 35 → 583.33); returns 2 over 3 → 0.67 > 0.5 → 0 (×10); team 0 (×10); chain break → 50 (×10 = 500)
    assert row["event_on_time_score"] == pytest.approx(50 / 3)
    # total = (2000 + 500 + 583.33 + 0 + 0 + 500) ÷ (25 + 10 + 35 + 10 + 10 + 10) = 3583.33 ÷ 100 = 35.83
    assert row["total_score"] == pytest.approx(35.8333333) and row["grade_name"] == "不合格"


def test_the_weight_change_applies_from_june_and_may_stays_as_kept(built: dict[str, Any]) -> None:
    weights = {(r["month"], r["indicator_code"]): r["weight"] for r in rows(
        built, "SELECT month, indicator_code, weight FROM assessment_scores_history WHERE unit_id = ?", [G])}
    assert weights[("2025-05", "readiness")] == 25 and weights[("2025-06", "readiness")] == 30
    assert weights[("2025-05", "grid_coverage")] == 15 and weights[("2025-06", "grid_coverage")] == 10
    # May was asked for again with the edited seed: kept as computed, 48.5 (it would be 48.5 + 5 × 100 ÷ 100 = 53.5
    # with the June weights: readiness 100 × 30 instead of × 25, grid 0 either way)
    assert town(built, "2025-05", G)["total_score"] == pytest.approx(48.5)


def test_every_score_links_to_its_evidence_rows(built: dict[str, Any]) -> None:
    evidence = rows(built, "SELECT * FROM assessment_evidence_history WHERE month = ? AND unit_id = ?",
                    ["2025-06", DEPT])
    by_indicator: dict[str, list[tuple[str, str, bool]]] = {}
    for r in evidence:
        by_indicator.setdefault(r["indicator_code"], []).append((r["evidence_table"], r["evidence_key"],
                                                                  r["counts_against"]))
    assert sorted(by_indicator["event_on_time"]) == [
        ("int_events_as_of", "SP202506101", False), ("int_events_as_of", "SP202506102", True),
        ("int_events_as_of", "SP202506103", False)]
    assert by_indicator["overdue_dangers"] == [("hidden_danger_register", "registry:HD001", True)]
    assert by_indicator["chain_breaks"] == [("responsibility_chain_breaks", "城市内涝/日常监管/市→区", True)]
    # the evidence keys exist in the published shared view they name
    register = {r["register_id"] for r in rows(built, "SELECT register_id FROM hidden_danger_register")}
    assert "registry:HD001" in register
    # C's June 六有: the expired plan is the item counting against it
    against = rows(built, "SELECT evidence_key FROM assessment_evidence_history WHERE month = '2025-06' "
                          "AND unit_id = ? AND indicator_code = 'readiness' AND counts_against ORDER BY 1", [C])
    assert [r["evidence_key"] for r in against] == [f"{C}:plan", f"{C}:supplies"]


def test_followup_items_as_of_the_build_date(built: dict[str, Any]) -> None:
    items = {(r["unit_id"], r["item_key"]): r for r in rows(built, "SELECT * FROM followup_items")}
    # as of 2025-07-10: HD001 (区城管局) 04-30 → 71 days → level 3 (≥ 15); HD003 (owner 城厢街道办事处, a town unit,
    # so the town) 06-20 → 20 days → 3; HD004 (区林水局) 06-29 → 11 days → 2 (≥ 7)
    assert items[(DEPT, "danger:registry:HD001")]["age_days"] == 71
    assert items[(DEPT, "danger:registry:HD001")]["escalation_level"] == 3
    assert items[(C, "danger:registry:HD003")]["escalation_level"] == 3
    assert items[("区林水局", "danger:registry:HD004")]["escalation_level"] == 2
    # teams without an agreement go to their town; the chain break to its lower lead; no village is uncovered now
    assert (G, "team:T002") in items and (C, "team:T003") in items
    assert len([k for k in items if k[0] == DEPT and k[1].startswith("chain:城市内涝/日常监管/")]) == 1
    assert not [k for k in items if k[1].startswith("village:")]


# --- the pages, the Excel export and the browser ----------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(built: dict[str, Any]) -> Iterator[LiveServer]:
    live = start_server(built["paths"].data_dir)
    live.keys["admin"] = add_key(built["paths"].data_dir, "考核测试", "admin")
    yield live
    stop_server(live)


def test_excel_export_one_sheet_per_level_frozen_header_chinese_columns(server: LiveServer) -> None:
    with server.client("admin") as client:
        response = client.get("/assessment/export.xlsx", params={"month": "2025-06"})
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["镇街考核", "部门考核"]

    towns = book["镇街考核"]
    assert towns.freeze_panes == "D2"
    header = [c.value for c in towns[1]]
    assert header[:7] == ["排名", "镇街代码", "名称", "综合得分", "等级", "较上月（2025-05）得分变化",
                          "排名变化（+上升）"]
    # June's weights in the headers: 六有 30 (was 25), 隐患逾期整改 20, 网格覆盖 10 (was 15)
    assert "六有建设（得分，权重30）" in header and "网格覆盖（得分，权重10）" in header
    assert all(isinstance(h, str) and any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in header)
    body = {row[1]: row for row in towns.iter_rows(min_row=2, values_only=True)}
    assert len(body) == 27
    guali = body[G]
    # 瓜沥镇: first, 79.5 (合格); 79.5 − 48.5 = +31.0; rank 27 → 1 = up 26
    assert guali[:7] == (1, G, "瓜沥镇", 79.5, "合格", 31.0, 26)
    chengxiang = body[C]
    # 城厢街道: second, 60.17 − 75.17 = −15.0; rank 1 → 2 = down 1
    assert chengxiang[:7] == (2, C, "城厢街道", 60.17, "合格", -15.0, -1)
    readiness_score = header.index("六有建设（得分，权重30）")
    assert chengxiang[readiness_score] == pytest.approx(66.67) and chengxiang[readiness_score - 1] == 4

    departments = book["部门考核"]
    assert departments.freeze_panes == "D2"
    assert [c.value for c in departments[1]][:3] == ["排名", "部门", "名称"]
    urban = next(r for r in departments.iter_rows(min_row=2, values_only=True) if r[1] == DEPT)
    # 35.83 in June, 27.78 in May: +8.06
    assert urban[3] == 35.83 and urban[4] == "不合格" and urban[5] == pytest.approx(8.06)


def test_assessment_pages_in_a_browser(server: LiveServer) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(base_url=server.base_url, viewport={"width": 1366, "height": 900},
                                          locale="zh-CN")
            page = context.new_page()
            page.goto("/assessment?month=2025-06")
            page.fill("input[name=key]", server.keys["admin"])  # not signed in: the login form first
            page.click("button[type=submit]")
            page.wait_for_url("**/assessment?month=2025-06")
            towns = page.locator("#ranking-town tbody tr")
            assert towns.count() == 27
            first = towns.nth(0).inner_text()
            assert "瓜沥镇" in first and "79.50" in first and "+31.00" in first and "↑26" in first
            assert page.locator("#chart-trend svg").count() == 1
            assert "区城管局" in page.locator("#ranking-department").inner_text()
            page.screenshot(path=str(ARTIFACTS / "assessment.png"), full_page=True)

            page.click("#ranking-town >> text=城厢街道")
            page.wait_for_url(f"**/assessment/town/{C}?month=2025-06")
            assert page.locator("#total-score").inner_text() == "60.17"
            plan = page.locator("#ev-readiness").inner_text()
            assert f"{C}:plan" in plan and "扣分" in plan  # the expired plan, linked as evidence
            assert "registry:HD003" in page.locator("#ev-overdue_dangers").inner_text()
            page.screenshot(path=str(ARTIFACTS / "assessment_drilldown.png"), full_page=True)

            page.goto(f"/assessment/notice/{C}")
            sheet = page.locator("#notice-items").inner_text()
            assert "registry:HD003" in sheet and "约谈通报" in sheet and "T003" in sheet
            page.emulate_media(media="print")
            assert not page.locator(".topbar").is_visible()  # the print layout drops the menu
            page.screenshot(path=str(ARTIFACTS / "assessment_notice.png"), full_page=True)
        finally:
            browser.close()


def test_the_month_partitioned_dagster_asset(built: dict[str, Any]) -> None:
    import dagster as dg

    from orchestration.assessment.assets import assessment_month
    from orchestration.resources import HubSettings

    resources = {"hub_settings": HubSettings(data_dir=str(built["paths"].data_dir))}
    assert assessment_month.partitions_def is not None
    assert str(assessment_month.partitions_def.timezone) == "Asia/Shanghai"
    # 2025-05 closed long ago and kept as of 2025-05-31: the partition run keeps it as it is
    result = dg.materialize([assessment_month], partition_key="2025-05-01", resources=resources)
    metadata = result.asset_materializations_for_node("assessment_month")[0].metadata
    assert metadata["month"].value == "2025-05" and metadata["as_of"].value == "2025-05-31"
    assert metadata["skipped"].value is True and metadata["closed"].value is True
    assert town(built, "2025-05", G)["total_score"] == pytest.approx(48.5)
    # a run without a month (the whole pipeline) computes nothing
    whole = dg.materialize([assessment_month], resources=resources)
    assert whole.asset_materializations_for_node("assessment_month")[0].metadata["skipped"].value is True


def test_the_daily_schedule_recomputes_this_month_and_closes_the_last() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import dagster as dg

    from orchestration.assessment.assets import assessment_daily, assessment_month
    from orchestration.resources import HubSettings

    repository = dg.Definitions(assets=[assessment_month], schedules=[assessment_daily],
                                resources={"hub_settings": HubSettings(data_dir="unused")}).get_repository_def()

    def requested(when: datetime) -> list[str | None]:
        context = dg.build_schedule_context(scheduled_execution_time=when, repository_def=repository)
        return [r.partition_key for r in assessment_daily.evaluate_tick(context).run_requests or []]

    shanghai = ZoneInfo("Asia/Shanghai")
    assert assessment_daily.cron_schedule == "0 8 * * *" and assessment_daily.execution_timezone == "Asia/Shanghai"
    assert requested(datetime(2025, 7, 2, 8, tzinfo=shanghai)) == ["2025-06-01", "2025-07-01"]
    assert requested(datetime(2025, 7, 10, 8, tzinfo=shanghai)) == ["2025-07-01"]
    # 00:30 on 1 August in Shanghai is still 31 July in UTC: the Shanghai date decides
    assert requested(datetime(2025, 7, 31, 16, 30, tzinfo=ZoneInfo("UTC"))) == ["2025-07-01", "2025-08-01"]


# --- the same months on a PostgreSQL warehouse ----------------------------------------------------------------

SERVER_MONTHS = ("2025-05", "2025-06")


def served_rows(url: str, view: str, months: tuple[str, ...] = SERVER_MONTHS) -> list[tuple[Any, ...]]:
    """The rows of a published view on the server for ``months``, in one representation for both engines."""
    from pg_warehouse import pg_connect
    from test_dbt_postgres import table_rows

    with pg_connect(url, "serving") as con:
        con.execute(f"CREATE TEMPORARY VIEW picked AS SELECT * FROM {view} WHERE month IN "
                    f"({', '.join(repr(m) for m in months)})")
        return table_rows(con, "picked")[1]


def snapshot_rows(built: dict[str, Any], view: str, months: tuple[str, ...] = SERVER_MONTHS) -> list[tuple[Any, ...]]:
    from test_dbt_postgres import table_rows

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{built['snapshot']}' AS snap (READ_ONLY)")
        con.execute(f"CREATE VIEW picked AS SELECT * FROM snap.{view} WHERE month IN "
                    f"({', '.join(repr(m) for m in months)})")
        return table_rows(con, "picked")[1]
    finally:
        con.close()


@pytest.fixture(scope="module")
def on_server(pg_server: Any, built: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The fixture's landing folder ingested, built and published on a server as of 2025-07-10; then 2025-05 with
    the repository's seed, 2025-06 and 2025-05 again with the edited one, each republished as the asset does."""
    from pg_warehouse import build_landing_on_postgres

    from hub.core.warehouse import Warehouse
    from orchestration.assessment.monthly import HISTORY_MODELS, republish

    base = tmp_path_factory.mktemp("assessment_pg")
    url = build_landing_on_postgres(pg_server.new_database("hub_assessment"), FIXTURE, base / "dbt",
                                    TODAY.isoformat())
    paths, warehouse = HubPaths(base / "data"), Warehouse(url)
    manifest = base / "dbt" / "target" / "manifest.json"
    may = compute_month(paths, "2025-05", TODAY, warehouse=warehouse)
    may_version = republish(paths, manifest, warehouse=warehouse)
    may_served = {view: served_rows(url, view, ("2025-05",)) for view in HISTORY_MODELS}
    project = built["base"] / "edited_project"
    june = compute_month(paths, "2025-06", TODAY, project_dir=project, warehouse=warehouse)
    june_version = republish(paths, manifest, warehouse=warehouse)
    may_again = compute_month(paths, "2025-05", TODAY, project_dir=project, warehouse=warehouse)
    return {"url": url, "paths": paths, "may": may, "june": june, "may_again": may_again,
            "may_version": may_version, "june_version": june_version, "may_served": may_served}


def test_server_months_are_kept_and_published_without_touching_main(on_server: dict[str, Any]) -> None:
    import psycopg

    from hub.core.serving_server import current_version
    from orchestration.assessment.monthly import kept_months_on_server

    url = on_server["url"]
    assert on_server["may"].as_of == date(2025, 5, 31) and not on_server["may"].skipped
    assert on_server["may"].row_counts["town_monthly"] == 27
    assert on_server["june"].as_of == date(2025, 6, 30) and on_server["june"].closed
    assert on_server["may_again"].skipped  # closed and kept on the server: not computed again
    assert kept_months_on_server(url) == {"2025-05": date(2025, 5, 31), "2025-06": date(2025, 6, 30)}
    # each month was published as a new version, with the as-of date of the version it replaced
    assert on_server["may_version"] != on_server["june_version"] == current_version(url)
    with psycopg.connect(url) as con:
        assert con.execute("SELECT as_of FROM serving._snapshot").fetchone() == (TODAY,)
        months = con.execute("SELECT month, min(as_of_date), bool_and(is_month_closed), count(*) "
                             "FROM serving.assessment_town_monthly_history GROUP BY month ORDER BY month").fetchall()
        # the shared models of main are still the live build's (as of 2025-07-10), never rebuilt as of a month end
        live = con.execute("SELECT DISTINCT month, as_of_date FROM main.assessment_town_monthly").fetchall()
        scratch = con.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'assessment_month_%'").fetchall()
    assert months == [("2025-05", date(2025, 5, 31), True, 27), ("2025-06", date(2025, 6, 30), True, 27),
                      ("2025-07", date(2025, 7, 10), False, 27)]
    assert live == [("2025-07", date(2025, 7, 10))]
    assert scratch == []  # the months' scratch schemas are dropped


def test_server_months_equal_the_duckdb_months(on_server: dict[str, Any], built: dict[str, Any]) -> None:
    from orchestration.assessment.monthly import HISTORY_MODELS

    for view in HISTORY_MODELS:
        server = served_rows(on_server["url"], view)
        assert server and server == snapshot_rows(built, view), view
    # the second month left the first as it was published (May kept with the repository's weights: 48.5)
    for view in HISTORY_MODELS:
        assert served_rows(on_server["url"], view, ("2025-05",)) == on_server["may_served"][view], view


def test_server_assets_skip_a_kept_month_and_send_notices_from_serving(on_server: dict[str, Any],
                                                                       built: dict[str, Any]) -> None:
    import dagster as dg

    from orchestration.assessment.assets import assessment_month, assessment_notices
    from orchestration.assessment.notices import read_items, read_items_on_server
    from orchestration.resources import HubSettings

    url = on_server["url"]
    as_of, items = read_items_on_server(url) or ("", [])
    duck_as_of, duck_items = read_items(built["snapshot"])
    assert as_of == duck_as_of == "2025-07-10"
    assert [{k: r[k] for k in ("unit_id", "item_key", "age_days")} for r in items] == [
        {k: r[k] for k in ("unit_id", "item_key", "age_days")} for r in duck_items]

    resources = {"hub_settings": HubSettings(data_dir=str(on_server["paths"].data_dir), warehouse=url)}
    result = dg.materialize([assessment_month], partition_key="2025-06-01", resources=resources)
    metadata = result.asset_materializations_for_node("assessment_month")[0].metadata
    assert metadata["skipped"].value is True and metadata["as_of"].value == "2025-06-30"
    # no robots configured: every due unit is counted as without a webhook, from the server's published items
    notices = dg.materialize([assessment_notices], resources=resources)
    outcome = notices.asset_materializations_for_node("assessment_notices")[0].metadata
    assert outcome["as_of"].value == "2025-07-10" and outcome["messages"].value == 0
    assert DEPT in json.loads(outcome["no_webhook"].value)


def test_server_history_reads_a_column_the_kept_months_lack_as_typed_nulls(on_server: dict[str, Any]) -> None:
    """Months kept before a model gained a number column: the history model still builds on the server (an untyped
    NULL would not unite with the live numbers) and shows NULL there for the kept months. Runs last: it alters
    the kept table the other server tests read."""
    import psycopg

    from hub.core.warehouse import Warehouse
    from orchestration.assessment.monthly import refresh_history_models

    url = on_server["url"]
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("ALTER TABLE assessment_kept.town_monthly DROP COLUMN rows_against")
    refresh_history_models(on_server["paths"], as_of=TODAY, warehouse=Warehouse(url))
    with psycopg.connect(url) as con:
        by_month = con.execute("SELECT month, count(rows_against) FROM main.assessment_town_monthly_history "
                               "GROUP BY month ORDER BY month").fetchall()
    assert by_month == [("2025-05", 0), ("2025-06", 0), ("2025-07", 27)]
