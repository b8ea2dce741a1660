"""The town page's detail tables (rescue_teams, emergency_plans, town_events): a real `dbt build` on the
hand-written raw rows of tests/dbt_fixtures.py plus a few more events, rows checked against answers worked
out by hand (as of 2025-06-30), cross-checked against the shared views they must agree with, rebuilt as of a
later date, and read back through a published snapshot the way the town page reads them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import ALL_LOADS, RawLoad, query_rows, run_dbt, ts, write_raw_fixture

from api.serving_db import open_serving_db
from api.settings import ApiSettings
from api.towns_service import town_dossier
from hub.core.paths import HubPaths
from orchestration.publish import publish_snapshot, published_models

GUALI, CHENGXIANG, HESHANG = "330109113", "330109001", "330109101"
DETAIL_TABLES = ("rescue_teams", "emergency_plans", "town_events")
# the detail tables and the shared views they are checked against, with everything upstream
# ("cautious": a test that also reads a model left out of the selection is left out too)
SELECTION = ["--select", "+rescue_teams", "+emergency_plans", "+town_events", "+town_dossier", "+event_handling",
             "--indirect-selection", "cautious"]
_EV = {"source": "网格巡查", "platform": "综治工作", "categoryL1": "水利水务"}

# A later four_platforms export with the cases the shared fixture lacks.
EXTRA_EVENTS = RawLoad("four_platforms", "events", (
    # a village and a second-level category; v1 is the state as of 06-30 (open past a deadline that
    # fell on the as-of day itself), v2 of 07-02 renames it, raises the urgency and finishes it late
    {**_EV, "eventId": "EV101", "title": "山塘坝体渗水", "townName": "河上", "villageName": "河上村",
     "categoryL2": "山塘渗漏", "urgency": "紧急", "reportTime": ts("2025-06-29 10:00:00"),
     "acceptTime": ts("2025-06-29 10:30:00"), "deadline": ts("2025-06-30 10:00:00"), "status": "处置中",
     "handleDept": "区林水局", "updatedAt": ts("2025-06-29 11:00:00")},
    {**_EV, "eventId": "EV101", "title": "山塘坝体渗水（已处置）", "townName": "河上", "villageName": "河上村",
     "categoryL2": "山塘渗漏", "urgency": "特急", "reportTime": ts("2025-06-29 10:00:00"),
     "acceptTime": ts("2025-06-29 10:30:00"), "deadline": ts("2025-06-30 10:00:00"),
     "finishTime": ts("2025-07-01 09:00:00"), "status": "已办结", "handleDept": "区林水局",
     "updatedAt": ts("2025-07-02 08:00:00")},
    # a town no crosswalk knows and no department: kept, with town_code NULL and dept 未指派
    {**_EV, "eventId": "EV102", "title": "河道漂浮物", "townName": "钱江新区", "urgency": "一般",
     "reportTime": ts("2025-06-15 09:00:00"), "status": "待受理", "updatedAt": ts("2025-06-15 09:00:00")},
    # the 90-day window as of 2025-06-30 opens at 2025-04-02 00:00
    {**_EV, "eventId": "EV103", "title": "堤防巡查发现裂缝", "townName": "瓜沥镇", "urgency": "一般",
     "reportTime": ts("2025-04-01 23:00:00"), "deadline": ts("2025-04-05 23:00:00"),
     "finishTime": ts("2025-04-03 10:00:00"), "status": "已办结", "handleDept": "区林水局",
     "updatedAt": ts("2025-04-03 10:00:00")},
    {**_EV, "eventId": "EV104", "title": "排涝泵站故障", "townName": "瓜沥镇", "urgency": "紧急",
     "reportTime": ts("2025-04-02 00:00:00"), "deadline": ts("2025-04-03 00:00:00"),
     "finishTime": ts("2025-04-02 20:00:00"), "status": "已办结", "handleDept": "林水局",
     "updatedAt": ts("2025-04-02 20:00:00")},
), load_id="four_platforms-events-20250703-extra", loaded_at=datetime(2025, 7, 3, 3, 0),
    source_file="events_20250703_extra.jsonl")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work dir of one dbt build (the detail tables and everything they are checked against)."""
    work = tmp_path_factory.mktemp("dbt_town_details")
    db = write_raw_fixture(work / "hub.duckdb", (*ALL_LOADS, EXTRA_EVENTS))
    result = run_dbt(["build", *SELECTION], build_db=db, work_dir=work)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "ERROR=0" in result.stdout and "SKIP=0" in result.stdout
    return work


@pytest.fixture(scope="module")
def con(built: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built / "hub.duckdb"), read_only=True)
    yield connection
    connection.close()




def pick(row: dict[str, Any], *columns: str) -> tuple[Any, ...]:
    return tuple(row[c] for c in columns)


def test_unit_tests_ran(built: Path) -> None:
    results = json.loads((built / "target" / "run_results.json").read_text())
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in results["results"]
              if r["unique_id"].startswith("unit_test.")}
    for name in ("rescue_teams_usable_equipment", "emergency_plans_is_current", "town_events_overdue_and_window"):
        assert status.get(name) == "pass", name


def test_rescue_teams(con: duckdb.DuckDBPyConnection) -> None:
    teams = {r["team_id"]: r for r in query_rows(con, "select * from rescue_teams")}
    columns = ("team_type", "town_code", "town_name", "headcount", "specialty", "is_qualified", "has_agreement",
               "usable_boats", "usable_pumps", "unit", "is_unit_resolved")
    assert {k: pick(r, *columns) for k, r in teams.items()} == {
        # E001 two usable boats; E002's pumps are under repair
        "T001": ("综合性", GUALI, "瓜沥镇", 25, "防汛", True, True, 2, 0, "瓜沥镇人民政府", True),
        # 驻地 萧山区瓜沥镇; E003 four usable pumps; 萧山蓝天救援队 is no known unit (kept as delivered)
        "T002": ("社会", GUALI, "瓜沥镇", 8, "水域救援", False, False, 0, 4, "萧山蓝天救援队", False),
        "T003": ("微型消防站", CHENGXIANG, "城厢街道", 9, None, True, True, 1, 0, "城厢街道办事处", True),
        # E005's pumps are scrapped
        "T004": ("专业", HESHANG, "河上镇", 12, None, True, False, 0, 0, "河上镇人民政府", True),
    }
    assert teams["T002"]["unit_raw"] == "萧山蓝天救援队"
    assert teams["T002"]["town_raw"] == "萧山区瓜沥镇"


def test_rescue_teams_add_up_to_rescue_capacity(con: duckdb.DuckDBPyConnection) -> None:
    capacity = query_rows(con, "select town_code, teams, social_teams, headcount, usable_boats, usable_pumps, "
                         "teams_unqualified, teams_without_agreement from rescue_capacity where teams > 0 "
                         "order by town_code")
    summed = query_rows(con, """
        select town_code, count(*) as teams, count(*) filter (where team_type = '社会') as social_teams,
            sum(headcount) as headcount, sum(usable_boats) as usable_boats, sum(usable_pumps) as usable_pumps,
            count(*) filter (where not is_qualified) as teams_unqualified,
            count(*) filter (where not has_agreement) as teams_without_agreement
        from rescue_teams where town_code is not null group by town_code order by town_code""")
    assert len(capacity) == 3
    assert summed == capacity


def test_emergency_plans(con: duckdb.DuckDBPyConnection) -> None:
    plans = {r["plan_id"]: r for r in query_rows(con, "select * from emergency_plans")}
    columns = ("plan_category", "town_code", "town_name", "issuer", "published_date", "revised_date", "file_name",
               "is_current", "drills", "last_drill_date")
    assert {k: pick(r, *columns) for k, r in plans.items()} == {
        "P001": ("专项", GUALI, "瓜沥镇", "瓜沥镇人民政府", date(2020, 5, 1), date(2023, 4, 1),
                 "瓜沥镇防汛防台专项应急预案.docx", True, 1, date(2024, 10, 15)),
        # revised 2022-06-29: a day before the 3-year window opens
        "P002": ("总体", CHENGXIANG, "城厢街道", "城厢街道办事处", date(2019, 1, 1), date(2022, 6, 29), None, False,
                 1, date(2024, 6, 29)),
        # never revised: published 2024-01-01 counts; D003 drilled no plan
        "P003": ("部门", HESHANG, "河上镇", "河上镇人民政府", date(2024, 1, 1), None, None, True, 0, None),
        # district level
        "P004": ("总体", None, None, "区应急管理局", date(2024, 1, 1), None, None, True, 0, None),
    }
    assert plans["P004"]["is_district_level"] is True and plans["P001"]["is_district_level"] is False
    assert plans["P001"]["hazard_type"] == "防汛防台"
    assert {r["as_of_date"] for r in plans.values()} == {date(2025, 6, 30)}


def test_current_plans_agree_with_has_plan(con: duckdb.DuckDBPyConnection) -> None:
    """有预案 in town_readiness is exactly: a current 总体/专项 plan of the town."""
    readiness = {r["town_code"]: r["has_plan"]
                 for r in query_rows(con, "select town_code, has_plan from town_readiness")}
    with_current = {r["town_code"] for r in query_rows(
        con, "select town_code from emergency_plans where is_current and plan_category in ('总体', '专项') "
             "and town_code is not null")}
    assert with_current == {GUALI}
    assert {code for code, has in readiness.items() if has} == with_current


def test_town_events(con: duckdb.DuckDBPyConnection) -> None:
    events = {r["event_id"]: r for r in query_rows(con, "select * from town_events")}
    columns = ("town_code", "town_name", "status", "handle_dept", "dept", "finish_time", "is_overdue")
    assert {k: pick(r, *columns) for k, r in events.items()} == {
        "EV001": (GUALI, "瓜沥镇", "已办结", "萧山区城市管理局", "区城管局", ts("2025-06-04 10:00:00"), False),
        # finished a day after its deadline
        "EV002": (CHENGXIANG, "城厢街道", "已办结", "城管局", "区城管局", ts("2025-06-13 08:00:00"), True),
        # open past its deadline as of 06-30 (the 07-02 version that finishes it comes later)
        "EV003": (GUALI, "瓜沥镇", "处置中", "区城管局", "区城管局", None, True),
        # not due before 07-05
        "EV004": (GUALI, "瓜沥镇", "待受理", "区城管局", "区城管局", None, False),
        "EV005": (HESHANG, "河上镇", "已办结", "区农业农村局（林水）", "区林水局", ts("2025-05-18 10:00:00"), False),
        # deadline 06-30 10:00, still open at the end of the day
        "EV101": (HESHANG, "河上镇", "处置中", "区林水局", "区林水局", None, True),
        "EV102": (None, None, "待受理", None, "未指派", None, False),
        # EV103 (04-01 23:00) falls outside the 90-day window that EV104 (04-02 00:00) opens; EV007 comes later
        "EV104": (GUALI, "瓜沥镇", "已办结", "林水局", "区林水局", ts("2025-04-02 20:00:00"), False),
    }
    # the version as of 06-30, not the latest one
    ev101 = events["EV101"]
    assert pick(ev101, "title", "urgency", "village_name", "category_l1", "category_l2") == (
        "山塘坝体渗水", "紧急", "河上村", "水利水务", "山塘渗漏")
    assert ev101["updated_at"] == ts("2025-06-29 11:00:00")
    assert events["EV102"]["town_name_raw"] == "钱江新区"
    assert events["EV001"]["title"] == "道路积水" and events["EV001"]["urgency"] == "一般"


def test_town_events_agree_with_dossier_and_event_handling(con: duckdb.DuckDBPyConnection) -> None:
    """The last 30 days of town_events are the dossier's events_last_30_days and on-time rate; whole months
    inside the window count as in event_handling."""
    dossier = {r["town_code"]: r for r in query_rows(con, "select * from town_dossier")}
    recent = query_rows(con, """
        select town_code, count(*) as events, count(*) filter (where is_due) as due,
            count(*) filter (where is_on_time) as on_time
        from town_events
        where town_code is not null and report_time >= timestamp '2025-06-01 00:00:00'
        group by town_code""")
    assert {r["town_code"]: r["events"] for r in recent} == {GUALI: 3, CHENGXIANG: 1, HESHANG: 1}
    assert {c: r["events_last_30_days"] for c, r in dossier.items() if r["events_last_30_days"]} == {
        r["town_code"]: r["events"] for r in recent}
    for r in recent:
        expected = r["on_time"] / r["due"] if r["due"] else None
        assert dossier[r["town_code"]]["on_time_rate_last_30_days"] == pytest.approx(expected), r["town_code"]

    handling = query_rows(con, "select dept, month, events, due_events, on_time_events from event_handling "
                         "where month in ('2025-05', '2025-06') order by dept, month")
    by_month = query_rows(con, """
        select dept, strftime(report_time, '%Y-%m') as month, count(*) as events,
            count(*) filter (where is_due) as due_events, count(*) filter (where is_on_time) as on_time_events
        from town_events where strftime(report_time, '%Y-%m') in ('2025-05', '2025-06')
        group by all order by dept, month""")
    assert by_month == handling
    overdue = {(r["dept"], r["month"]): r["due_events"] - r["on_time_events"] for r in handling}
    assert overdue == {("区城管局", "2025-06"): 2, ("区林水局", "2025-05"): 0, ("区林水局", "2025-06"): 1,
                       ("未指派", "2025-06"): 0}


def test_a_later_as_of_date(built: Path, tmp_path: Path) -> None:
    """As of 2025-07-15 (rebuilding the models tagged as_of): the window moves past EV104, EV007 is listed,
    EV003 and EV101 are finished (both late), EV101 shows its renamed version."""
    db = tmp_path / "hub.duckdb"
    shutil.copy(built / "hub.duckdb", db)
    # the as_of-tagged models these two read from are rebuilt with them
    result = run_dbt(["run", "--select", "int_events_as_of", "town_events", "emergency_plans"], build_db=db,
                     work_dir=tmp_path, as_of="2025-07-15")
    assert result.returncode == 0, result.stdout[-4000:]
    later = duckdb.connect(str(db), read_only=True)
    try:
        events = {r["event_id"]: r for r in query_rows(later, "select * from town_events")}
        plans = {r["plan_id"]: r["is_current"] for r in query_rows(later, "select * from emergency_plans")}
    finally:
        later.close()
    assert set(events) == {"EV001", "EV002", "EV003", "EV004", "EV005", "EV007", "EV101", "EV102"}
    assert pick(events["EV003"], "status", "finish_time", "is_overdue") == ("已办结", ts("2025-07-01 12:00:00"), True)
    assert pick(events["EV101"], "title", "urgency", "status", "is_overdue") == (
        "山塘坝体渗水（已处置）", "特急", "已办结", True)
    assert pick(events["EV007"], "town_code", "deadline", "is_overdue") == (GUALI, None, False)
    assert plans == {"P001": True, "P002": False, "P003": True, "P004": True}


def test_published_and_read_by_the_town_page(built: Path, tmp_path: Path) -> None:
    """Published like the shared views and documented column by column; the town page's service finds
    them in a real serving snapshot."""
    manifest = json.loads((built / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in DETAIL_TABLES:
        node = models[name]
        assert "published" in node["tags"] and node["config"]["meta"].get("publish") is True, name
        assert node["config"]["materialized"] == "table", name
        assert node["description"].strip(), name
    assert "as_of" in models["town_events"]["tags"] and "as_of" in models["emergency_plans"]["tags"]
    assert "as_of" not in models["rescue_teams"]["tags"]

    to_publish = [m for m in published_models(manifest)
                  if m.name in {*DETAIL_TABLES, "town_dossier", "hidden_danger_register", "grid_coverage",
                                "rescue_capacity", "town_readiness"}]
    snapshot = publish_snapshot(built / "hub.duckdb", tmp_path / "serving", to_publish, as_of=date(2025, 6, 30))
    for model in to_publish:
        if model.name in DETAIL_TABLES:
            assert all(c.description.strip() for c in model.columns), model.name
    db = open_serving_db(snapshot.path, ApiSettings(paths=HubPaths.from_env(str(tmp_path))))
    try:
        page = town_dossier(db, GUALI)
    finally:
        db.close()
    assert page is not None and page["missing"] == []
    assert [t["team_id"] for t in page["teams"]] == ["T001", "T002"]  # largest team first
    assert [p["plan_id"] for p in page["plans"]] == ["P001"]
    assert [e["event_id"] for e in page["events"]] == ["EV004", "EV003", "EV001", "EV104"]  # newest first
