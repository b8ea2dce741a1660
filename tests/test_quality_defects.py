"""Known defects seeded into generated sample data are each reported with the right owner, count and keys.

One data directory: sample data (``small``), then six defects written into the files the way a
department would send them — a stale source, a delivery with half the volume, 5% of rows missing a
required field, a duplicated key, an unknown town, and one supply station that the water bureau and
the utility group list with different responsible units. Real ingest, real ``dbt build``, real
report. The rendered report is also opened in headless Chromium (screenshot in test-artifacts/).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from dbt_fixtures import run_dbt

from hub.core.paths import HubPaths
from hub.sample import generate
from orchestration.ingest.load import ingest_landing
from orchestration.quality.report import ReportOutcome, produce_report
from orchestration.quality.results import CheckResult

pytestmark = pytest.mark.slow  # a real ingest + dbt build of sample data (about a minute)

AS_OF = date(2026, 11, 28)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
KEEP_EVENT_DAYS = 60  # older daily event files are dropped: only ingest time, nothing asserted on them
STALE_DAYS = 4  # the four-platforms files of the last 4 days never arrive
CONFLICT_ASSET_ID = "GS9001"


def stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def read_bom_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    return list(reader.fieldnames or []), list(reader)


def write_bom_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


@dataclass
class Seeded:
    """What the test planted, to compare with what the report says."""

    missing_keys: list[str]
    planted_missing: int
    duplicated_team: str
    unknown_town_item: str
    conflict_key: str
    halved_rows: int
    baseline_rows: int
    planted_outage_missing: int
    last_event_day: date


def seed_defects(landing: Path, planted: dict[str, int]) -> Seeded:
    # A stale source: the four platforms' last days never arrive (and old days are trimmed for speed).
    events = landing / "four_platforms"
    for day_file in events.glob("events_*.jsonl"):
        day = date(int(day_file.stem[7:11]), int(day_file.stem[11:13]), int(day_file.stem[13:15]))
        if day > AS_OF - timedelta(days=STALE_DAYS) or day < AS_OF - timedelta(days=KEEP_EVENT_DAYS):
            day_file.unlink()

    # Half the volume: three earlier daily outage exports (each one record short, so no two are the same
    # file), then today's export with only half of the records.
    outages_path = landing / "utility" / f"outages_{stamp(AS_OF)}.jsonl"
    outages = read_jsonl(outages_path)
    for back in (1, 2, 3):
        write_jsonl(landing / "utility" / f"outages_{stamp(AS_OF - timedelta(days=back))}.jsonl",
                    outages[:-back] + outages[len(outages) - back + 1:])
    halved = outages[: len(outages) // 2]
    write_jsonl(outages_path, halved)

    # 5% of the hidden-danger register without its level (隐患等级, required).
    header, dangers = read_bom_csv(landing / "registry" / "hidden_dangers.csv")
    complete = [row for row in dangers if all(row[f] for f in ("发现日期", "镇街代码", "隐患等级", "状态"))]
    spoilt = complete[10: 10 + round(len(dangers) * 0.05)]
    for row in spoilt:
        row["隐患等级"] = ""
    write_bom_csv(landing / "registry" / "hidden_dangers.csv", header, dangers)

    # A duplicated key: one rescue team listed twice.
    header, teams = read_bom_csv(landing / "registry" / "rescue_teams.csv")
    duplicate = dict(teams[5])
    write_bom_csv(landing / "registry" / "rescue_teams.csv", header, [*teams, duplicate])

    # An unknown town in the utility group's risk census.
    census_path = landing / "utility" / f"risk_census_{stamp(AS_OF)}.jsonl"
    census = read_jsonl(census_path)
    census[20]["town"] = "新湾街道"  # not a town of Xiaoshan's 27
    write_jsonl(census_path, census)

    # A cross-source conflict: a rural supply station the water bureau lists under 区环境集团,
    # listed by the utility group itself with the town government as the responsible unit.
    workbook = openpyxl.load_workbook(next((landing / "water").glob("水利数据_*.xlsx")), read_only=True)
    sheet_rows = list(workbook["水库山塘"].iter_rows(values_only=True))
    columns = list(sheet_rows[0])
    station = next(dict(zip(columns, r, strict=True)) for r in sheet_rows[1:] if r[columns.index("工程类型")] ==
                   "农村供水工程")
    assets_path = landing / "utility" / f"supply_assets_{stamp(AS_OF)}.jsonl"
    assets = read_jsonl(assets_path)
    assets.append({"asset_id": CONFLICT_ASSET_ID, "asset_type": "联村水站", "name": station["工程名称"],
                   "town": station["所在镇街"], "villages": [], "population_served": 3000,
                   "design_capacity_m3d": 500.0, "operator": f"{station['所在镇街']}人民政府"})
    write_jsonl(assets_path, assets)

    return Seeded(
        missing_keys=[row["隐患编号"] for row in spoilt],
        planted_missing=planted.get("planted/registry__hidden_dangers:missing_required", 0),
        duplicated_team=duplicate["队伍编号"],
        unknown_town_item=str(census[20]["item_id"]),
        conflict_key=f"{station['工程编号']} / {CONFLICT_ASSET_ID}",
        halved_rows=len(halved),
        baseline_rows=len(outages) - 1,
        planted_outage_missing=planted.get("planted/utility__outages:missing_required", 0),
        last_event_day=AS_OF - timedelta(days=STALE_DAYS),
    )


@dataclass
class DefectRun:
    paths: HubPaths
    seeded: Seeded
    reports: list[ReportOutcome]

    @property
    def results(self) -> dict[str, CheckResult]:
        return {r.check_name: r for r in self.reports[-1].results}


@pytest.fixture(scope="module")
def defect_run(tmp_path_factory: pytest.TempPathFactory) -> DefectRun:
    root = tmp_path_factory.mktemp("quality_defects")
    paths = HubPaths(root)
    planted = generate(paths.landing, seed=7, scale="small", as_of=AS_OF)
    seeded = seed_defects(paths.landing, planted)
    ingest_landing(paths.build_db, paths.landing)
    built = run_dbt(["build"], build_db=paths.build_db, work_dir=root / "dbt", as_of=AS_OF.isoformat())
    assert "quality_rule_results" in built.stdout, built.stdout[-3000:]
    # Three report runs on the same data, so the trend charts have points to draw.
    reports = [produce_report(paths, as_of=AS_OF, webhook_url="") for _ in range(3)]
    return DefectRun(paths, seeded, reports)


def test_stale_source_is_reported_for_its_owner(defect_run: DefectRun) -> None:
    check = defect_run.results["freshness:four_platforms"]
    assert check.status == "fail"
    assert check.owner_dept == "区社会治理中心"
    assert check.measured_value == STALE_DAYS
    assert check.findings[0].key == defect_run.seeded.last_event_day.isoformat()
    # every other source delivered today
    for source in ("water", "urban", "utility", "registry"):
        assert defect_run.results[f"freshness:{source}"].status == "pass", source


def test_half_volume_day_fails_the_volume_check(defect_run: DefectRun) -> None:
    check = defect_run.results["volume:utility.outages"]
    assert check.status == "fail"
    assert check.owner_dept == "区环境集团"
    assert check.measured_value == defect_run.seeded.halved_rows
    assert f"中位数 {defect_run.seeded.baseline_rows} 行" in check.threshold
    assert check.findings[0].key == AS_OF.isoformat()
    # The outage with a planted empty field came in several of those daily files: still one record to fix.
    repeated = defect_run.results["completeness:utility.outages"]
    assert repeated.failing_rows == defect_run.seeded.planted_outage_missing == 1


def test_missing_required_fields_are_counted_with_their_keys(defect_run: DefectRun) -> None:
    seeded = defect_run.seeded
    check = defect_run.results["completeness:registry.hidden_dangers"]
    assert check.status == "fail"  # 5% is far above the 1% tolerated
    assert check.owner_dept == "区应急管理局"
    assert check.failing_rows == len(seeded.missing_keys) + seeded.planted_missing
    level_rows = [f for f in check.findings if f.field == "隐患等级"]
    assert sorted(f.key for f in level_rows) == sorted(seeded.missing_keys)
    assert all(f.location and f.location.startswith("registry/hidden_dangers.csv 第 ") for f in level_rows)


def test_duplicated_key_is_a_uniqueness_failure(defect_run: DefectRun) -> None:
    check = defect_run.results["uniqueness:registry.rescue_teams"]
    assert check.status == "fail"
    assert check.owner_dept == "区应急管理局"
    assert check.failing_rows == 1
    assert [f.key for f in check.findings] == [defect_run.seeded.duplicated_team]


def test_unknown_town_is_a_crosswalk_finding(defect_run: DefectRun) -> None:
    check = defect_run.results["crosswalk:utility.risk_census"]
    assert check.status == "warn"
    assert check.owner_dept == "区环境集团"
    assert check.failing_rows == 1
    assert check.findings[0].key == defect_run.seeded.unknown_town_item
    assert check.findings[0].value == "新湾街道"


def test_cross_source_conflict_names_both_departments(defect_run: DefectRun) -> None:
    check = defect_run.results["consistency:water_utility.assets"]
    assert check.status == "warn"
    assert check.owners == ["区林水局", "区环境集团"]
    assert check.failing_rows == 1
    assert check.findings[0].key == defect_run.seeded.conflict_key
    assert "区环境集团" in check.findings[0].reason


def test_history_keeps_every_run_and_json_report_matches(defect_run: DefectRun) -> None:
    import duckdb

    con = duckdb.connect(str(defect_run.paths.reports / "quality_history.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT count(DISTINCT run_id), count(*) FROM quality_results").fetchone()
        sample = con.execute(
            "SELECT owner_dept, status, failing_rows, sample_keys FROM quality_results "
            "WHERE check_name = 'uniqueness:registry.rescue_teams' AND run_id = ?",
            [defect_run.reports[-1].run_id],
        ).fetchone()
    finally:
        con.close()
    assert runs == (3, 3 * len(defect_run.reports[-1].results))
    assert sample is not None
    assert sample[:3] == ("区应急管理局", "fail", 1)
    assert json.loads(sample[3]) == [defect_run.seeded.duplicated_team]
    report = json.loads(defect_run.reports[-1].json_path.read_text(encoding="utf-8"))
    by_name = {c["check_name"]: c for c in report["checks"]}
    assert len(by_name["freshness:four_platforms"]["trend"]) == 3
    departments = {d["department"]: d for d in report["departments"]}
    assert departments["区社会治理中心"]["fail"] >= 1
    assert departments["区林水局"]["change"] == {"pass": 0, "warn": 0, "fail": 0}  # same data as the run before


@pytest.mark.browser
def test_report_page_in_headless_chromium_shows_trends(defect_run: DefectRun) -> None:
    from playwright.sync_api import sync_playwright

    html = defect_run.reports[-1].html_path
    assert "http://" not in html.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(html.as_uri())
            assert page.locator("h1").inner_text() == "萧山区应急管理数据枢纽 · 数据质量日报"
            stale = page.locator('[data-check="freshness:four_platforms"]')
            assert "区社会治理中心" in stale.inner_text()
            chart = stale.locator("svg.trend")
            assert chart.is_visible()
            assert chart.locator(".mark-symbol path").count() == 3  # one dot per run (Vega-Lite point marks)
            box = chart.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 60
            conflict = page.locator('[data-check="consistency:water_utility.assets"]')
            assert conflict.count() == 2  # under each of the two departments
            assert defect_run.seeded.conflict_key in conflict.first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "quality_report_top.png"))
            stale.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "quality_report_trend.png"))
        finally:
            browser.close()
    assert requests == [html.as_uri()], "the report must not load anything else"
