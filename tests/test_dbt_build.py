"""A real `dbt build` (seeds, models, data tests, unit tests) on a DuckDB file filled with the
hand-written raw rows of tests/dbt_fixtures.py, then the shared views checked against answers
worked out by hand (as of 2025-06-30)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_fixtures import ALL_LOADS, FOUR_PLATFORMS_LOADS, insert_load, query_rows, run_dbt, write_raw_fixture
from pg_warehouse import pg_connect

GUALI, CHENGXIANG, HESHANG = "330109113", "330109001", "330109101"
SHARED_VIEWS = {
    "hidden_danger_register", "responsibility_matrix", "responsibility_chain_breaks", "town_readiness",
    "grid_coverage", "rescue_capacity", "event_handling", "town_dossier",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work dir of one dbt build over the fixture; the database is work/hub.duckdb."""
    work = tmp_path_factory.mktemp("dbt_build")
    db = write_raw_fixture(work / "hub.duckdb")
    result = run_dbt(["build"], build_db=db, work_dir=work)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "ERROR=0" in result.stdout and "SKIP=0" in result.stdout
    return work


@pytest.fixture(scope="module")
def duck_con(built: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(built / "hub.duckdb"), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def con(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The built models on each engine: the same checks, the same answers (tests/pg_warehouse.py builds the
    same raw rows with the dbt target postgres on a real server)."""
    if request.param == "duckdb":
        yield request.getfixturevalue("duck_con")
        return
    with pg_connect(request.getfixturevalue("pg_dbt_build")["url"]) as connection:
        yield connection




def test_build_ran_unit_tests_for_every_rule(built: Path) -> None:
    results = json.loads((built / "target" / "run_results.json").read_text())
    unit_tests = {r["unique_id"].split(".")[-1] for r in results["results"] if r["unique_id"].startswith("unit_test.")}
    assert {
        "hidden_danger_overdue_as_of", "water_risk_point_without_patrol_officer", "responsibility_gap_and_conflict",
        "responsibility_chain_break_water_supply_census", "readiness_has_leadership", "readiness_has_mechanism",
        "readiness_has_plan", "readiness_has_team", "readiness_has_supplies", "readiness_has_drill",
        "event_handling_on_time_rate", "grid_coverage_uncovered_village", "unit_names_resolve_to_units_and_lines",
    } <= unit_tests
    assert all(r["status"] in ("pass", "success") for r in results["results"])


def test_hidden_danger_register(con: duckdb.DuckDBPyConnection) -> None:
    register = {r["register_id"]: r for r in query_rows(con, "select * from hidden_danger_register")}
    # H999 is only in an older registry snapshot; H007 is found after the as-of date; RP01 has a patrol
    # officer for 2025; W002/W003 are not 未整治.
    assert set(register) == {
        "registry:H001", "registry:H002", "registry:H003", "registry:H004", "registry:H005", "registry:H006",
        "utility:RC01", "utility:RC02", "utility:RC03", "water:RP02", "water:RP03", "urban:W001",
    }
    overdue = {k: r["overdue_days"] for k, r in register.items() if r["is_overdue"]}
    # H001 2025-06-01 → 29 days; H004 2025-06-29 → 1; H006 closed only on 2025-07-10 → 121; RC01 2025-05-01 → 60.
    # H005's deadline is the as-of date itself: not overdue.
    assert overdue == {"registry:H001": 29, "registry:H004": 1, "registry:H006": 121, "utility:RC01": 60}
    assert register["registry:H001"]["owner_dept"] == "区林水局"  # 区农业农村局（林水）
    assert register["registry:H001"]["is_supervised"] is True
    assert register["registry:H001"]["days_open"] == 121
    assert register["registry:H002"]["is_closed"] is True and register["registry:H002"]["days_open"] == 130
    assert register["registry:H006"]["is_closed"] is False and register["registry:H006"]["owner_dept"] == "区住建局"
    assert register["registry:H004"]["owner_dept"] is None
    assert register["registry:H004"]["owner_dept_raw"] == "浙江某某化工有限公司"
    assert register["utility:RC03"]["town_code"] == GUALI  # old code 330181113
    assert register["utility:RC01"]["owner_dept"] == "区环境集团"
    assert register["water:RP03"]["category"] == "城市内涝"  # 低洼易涝
    assert register["urban:W001"]["owner_dept"] == "区城管局"


def test_responsibility_matrix_gaps_and_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    matrix = query_rows(con, "select * from responsibility_matrix")
    assert len(matrix) == 3 * 5  # three domain/task pairs × five levels
    gaps = {(r["domain"], r["task"], r["level"]) for r in matrix if r["has_gap"]}
    conflicts = {(r["domain"], r["task"], r["level"]) for r in matrix if r["has_conflict"]}
    assert gaps == {("城市内涝", "日常监管", "镇"), ("山塘水库", "应急处置", "村")}
    assert conflicts == {("城市内涝", "日常监管", "区"), ("山塘水库", "应急处置", "区")}
    district = next(r for r in matrix if (r["domain"], r["level"]) == ("城市内涝", "区"))
    assert district["lead_units"] == "区住建局、区城管局"


def test_responsibility_chain_breaks_water_supply_census(con: duckdb.DuckDBPyConnection) -> None:
    breaks = query_rows(con, "select * from responsibility_chain_breaks order by upper_level desc")
    assert [(b["domain"], b["task"], b["upper_level"], b["upper_unit"], b["lower_level"], b["lower_unit"])
            for b in breaks] == [
        ("供水安全", "风险普查", "省", "省水利厅", "市", "市城管局"),
        ("供水安全", "风险普查", "市", "市城管局", "区", "区环境集团"),
    ]


def test_town_readiness(con: duckdb.DuckDBPyConnection) -> None:
    readiness = {r["town_code"]: r for r in query_rows(con, "select * from town_readiness")}
    assert len(readiness) == 27
    items = ("has_leadership", "has_mechanism", "has_plan", "has_team", "has_supplies", "has_drill")

    def met(code: str) -> tuple[bool, ...]:
        return tuple(readiness[code][i] for i in items)

    assert met(GUALI) == (True, True, True, True, True, True)
    # 城厢: liaison L002 left; plan revised 2022-06-29 (a day too old); largest team 9; a usable boat;
    # last drill 12 months and a day ago
    assert met(CHENGXIANG) == (True, False, False, False, True, False)
    # 河上 (registered under an old code): no group, not plaqued; only a 部门 plan; team of 12;
    # its pump is scrapped; drill on 2025-05-20
    assert met(HESHANG) == (False, False, False, True, False, True)
    assert {c: r["readiness_score"] for c, r in readiness.items() if r["readiness_score"]} == {
        GUALI: 6, CHENGXIANG: 2, HESHANG: 2,
    }
    assert readiness[GUALI]["plan_evidence"].startswith("P001 ")
    assert readiness[HESHANG]["drill_evidence"].startswith("D003")


def test_grid_coverage(con: duckdb.DuckDBPyConnection) -> None:
    coverage = {r["village_name"]: r for r in query_rows(con, "select * from grid_coverage")}
    # 瓜沥社区: its worker left; 城东社区: its worker starts 2025-08-01
    assert {name for name, r in coverage.items() if r["is_uncovered"]} == {"瓜沥社区", "城东社区"}
    assert coverage["东恩村"]["workers_in_post"] == 1
    assert coverage["东恩村"]["town_liaison_in_post"] is True
    assert coverage["城东社区"]["town_liaison_in_post"] is False


def test_rescue_capacity(con: duckdb.DuckDBPyConnection) -> None:
    capacity = {r["town_code"]: r for r in query_rows(con, "select * from rescue_capacity")}
    assert len(capacity) == 27
    guali = capacity[GUALI]
    assert (guali["teams"], guali["social_teams"], guali["headcount"], guali["usable_boats"], guali["usable_pumps"],
            guali["teams_unqualified"], guali["teams_without_agreement"]) == (2, 1, 33, 2, 4, 1, 1)
    assert guali["social_team_share"] == pytest.approx(0.5)
    assert (capacity[HESHANG]["usable_pumps"], capacity[HESHANG]["teams_without_agreement"]) == (0, 1)


def test_event_handling(con: duckdb.DuckDBPyConnection) -> None:
    handling = {(r["dept"], r["month"]): r for r in query_rows(con, "select * from event_handling")}
    assert set(handling) == {("区城管局", "2025-06"), ("区林水局", "2025-05")}
    city = handling[("区城管局", "2025-06")]
    # EV001 on time; EV002 finished a day late; EV003 open past its deadline as of 06-30 (finished 07-01 in a
    # later version); EV004 not yet due; EV007 reported after the as-of date.
    assert city["events"] == 4
    assert (city["due_events"], city["on_time_events"]) == (3, 1)
    assert city["on_time_rate"] == pytest.approx(1 / 3)
    assert city["median_hours_to_accept"] == pytest.approx(1.0)  # 0.5, 2, 1
    assert city["median_hours_to_finish"] == pytest.approx(60.5)  # 49, 72
    assert city["returns_per_event"] == pytest.approx(0.25)
    assert city["reassignments_per_event"] == pytest.approx(0.25)
    assert city["satisfied_share"] == pytest.approx(0.5)
    assert handling[("区林水局", "2025-05")]["on_time_rate"] == pytest.approx(1.0)


def test_town_dossier(con: duckdb.DuckDBPyConnection) -> None:
    dossier = {r["town_code"]: r for r in query_rows(con, "select * from town_dossier")}
    assert len(dossier) == 27
    guali = dossier[GUALI]
    assert guali["readiness_score"] == 6
    assert (guali["villages"], guali["uncovered_villages"], guali["uncovered_village_names"]) == (2, 1, "瓜沥社区")
    assert (guali["liaison_worker_id"], guali["liaison_in_post"]) == ("L001", True)
    assert (guali["open_dangers"], guali["open_major_dangers"], guali["overdue_dangers"]) == (6, 2, 4)
    assert guali["max_overdue_days"] == 121
    assert guali["events_last_30_days"] == 3  # EV001, EV003, EV004
    assert guali["on_time_rate_last_30_days"] == pytest.approx(0.5)
    assert dossier[CHENGXIANG]["events_last_30_days"] == 1
    assert dossier[HESHANG]["events_last_30_days"] == 0  # EV005 is from May


def test_unmapped_values(con: duckdb.DuckDBPyConnection) -> None:
    unmapped = {(r["source"], r["entity"], r["field"], r["value"], r["kind"], r["rows"])
                for r in query_rows(con, "select * from unmapped_values")}
    assert unmapped == {
        ("registry", "hidden_dangers", "类别", "高空坠物", "category", 1),
        ("registry", "hidden_dangers", "整改责任单位", "浙江某某化工有限公司", "unit", 1),
        ("registry", "rescue_teams", "所属单位", "萧山蓝天救援队", "unit", 1),
    }
    # 东恩村村委会 resolves to the committee of a registry village; 瓜沥镇 (a bare town name) to its government
    units = {r["name_key"]: r["unit_name"] for r in query_rows(con, "select * from int_resolve_unit_names")}
    assert units["东恩村村委会"] == "东恩村村民委员会"
    assert units["瓜沥镇"] == "瓜沥镇人民政府"


def test_event_staging_versions_and_flows(con: duckdb.DuckDBPyConnection) -> None:
    versions = query_rows(
        con, "select event_id, count(*) as n from stg_four_platforms__event_versions group by 1 order by 1")
    # EV001 v2 arrived twice and is kept once
    assert {r["event_id"]: r["n"] for r in versions} == {"EV001": 2, "EV002": 1, "EV003": 2, "EV004": 1,
                                                         "EV005": 1, "EV007": 1}
    latest = {r["event_id"]: r for r in query_rows(con, "select * from stg_four_platforms__events")}
    assert latest["EV003"]["status"] == "已办结"
    assert latest["EV003"]["town_code"] == GUALI  # 萧山区瓜沥镇
    assert latest["EV002"]["town_code"] == CHENGXIANG  # townName 城厢, no code
    assert latest["EV005"]["town_code"] == HESHANG  # old code
    steps = query_rows(con, "select step_number, action, cast(flow_time as varchar) as t "
                      "from stg_four_platforms__event_flows where event_id = 'EV001' order by step_number")
    # times with an offset (Z, +08:00) become Asia/Shanghai local time
    assert [(s["action"], s["t"]) for s in steps] == [
        ("上报", "2025-06-02 09:00:00"), ("受理", "2025-06-02 09:30:00"),
        ("派单", "2025-06-02 10:00:00"), ("办结", "2025-06-04 10:00:00"),
    ]


def test_as_of_rebuilds_a_later_state(built: Path, tmp_path: Path) -> None:
    """The same data as of 2025-07-15 (rebuilding every model tagged as_of): H006 is now closed, H007
    listed, EV003 finished and EV007 counted."""
    db = tmp_path / "hub.duckdb"
    shutil.copy(built / "hub.duckdb", db)
    result = run_dbt(["run", "--select", "tag:as_of"], build_db=db,
                     work_dir=tmp_path, as_of="2025-07-15")
    assert result.returncode == 0, result.stdout[-4000:]
    later = duckdb.connect(str(db), read_only=True)
    try:
        register = {r["register_id"]: r for r in query_rows(later, "select * from hidden_danger_register")}
        handling = {(r["dept"], r["month"]): r for r in query_rows(later, "select * from event_handling")}
    finally:
        later.close()
    assert register["registry:H006"]["is_closed"] is True and register["registry:H006"]["is_overdue"] is False
    assert "registry:H007" in register
    assert register["registry:H001"]["overdue_days"] == 44
    assert handling[("区城管局", "2025-07")]["events"] == 1  # EV007
    assert handling[("区城管局", "2025-06")]["finished_events"] == 3  # EV003 finished 07-01


def test_shared_views_are_published_and_documented(built: Path, duck_con: duckdb.DuckDBPyConnection) -> None:
    manifest = json.loads((built / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    published = {name for name, n in models.items() if "published" in n["tags"]}
    assert published >= SHARED_VIEWS
    assert all(models[name]["config"]["meta"].get("publish") is True for name in published)
    assert all(models[name]["config"]["materialized"] == "table" for name in SHARED_VIEWS)
    undocumented = []
    # the staging, intermediate and mart folders (models/quality/ belongs to the quality report)
    ours = {name: n for name, n in models.items()
            if n["original_file_path"].startswith(("models/staging/", "models/intermediate/", "models/marts/"))}
    assert len(ours) >= 40
    for name, node in ours.items():
        if not node["description"].strip():
            undocumented.append(name)
        columns = [c[0] for c in duck_con.execute(f'describe "{name}"').fetchall()]
        undocumented += [f"{name}.{c}" for c in columns
                         if not node["columns"].get(c, {}).get("description", "").strip()]
    assert undocumented == []


def test_incremental_event_load_matches_a_full_build(built: Path, duck_con: duckdb.DuckDBPyConnection,
                                                     tmp_path: Path) -> None:
    """Build without the later events export, load it, build the events' descendants again: the
    incremental event models end where the full build (both exports at once) ends."""
    later_export = FOUR_PLATFORMS_LOADS[-1]
    db = write_raw_fixture(tmp_path / "hub.duckdb", tuple(load for load in ALL_LOADS if load is not later_export))
    first = run_dbt(["build"], build_db=db, work_dir=tmp_path)
    assert first.returncode == 0, first.stdout[-4000:]
    writer = duckdb.connect(str(db))
    try:
        insert_load(writer, later_export)
    finally:
        writer.close()
    second = run_dbt(["build", "--select", "stg_four_platforms__event_versions+"], build_db=db, work_dir=tmp_path)
    assert second.returncode == 0, second.stdout[-4000:]

    queries = {
        "events": "select event_id, updated_at, version_count, status, town_code, finish_time "
                  "from stg_four_platforms__events order by event_id",
        "flows": "select event_id, step_number, action, flow_time from stg_four_platforms__event_flows "
                 "order by event_id, step_number",
        "handling": "select * exclude (as_of_date) from event_handling order by dept, month",
    }
    incremental = duckdb.connect(str(db), read_only=True)
    try:
        for name, sql in queries.items():
            assert query_rows(incremental, sql) == query_rows(duck_con, sql), name
        assert query_rows(incremental, "select count(*) as n from stg_four_platforms__event_versions") == [{"n": 8}]
    finally:
        incremental.close()


def test_events_as_of_incremental_matches_a_full_refresh(tmp_path: Path) -> None:
    """int_events_as_of is incremental over the as-of date: days forward, a late export loaded in between,
    then back to an earlier day. After every step it equals a --full-refresh build of the same data."""
    later_export = FOUR_PLATFORMS_LOADS[-1]
    db = write_raw_fixture(tmp_path / "hub.duckdb", tuple(load for load in ALL_LOADS if load is not later_export))
    select = ["--select", "+int_events_as_of"]
    for first in (["seed"], ["run", *select]):
        result = run_dbt(first, build_db=db, work_dir=tmp_path / "inc", as_of="2025-06-05")
        assert result.returncode == 0, result.stdout[-4000:]
    state_sql = ("select * exclude (_computed_as_of, _versions_loaded_through) from int_events_as_of "
                 "order by event_id")
    kept_from_first_day = None
    for step, as_of in enumerate(["2025-06-15", "2025-06-25", "load", "2025-07-01", "2025-07-02", "2025-06-12"]):
        if as_of == "load":
            writer = duckdb.connect(str(db))
            insert_load(writer, later_export)
            writer.close()
            continue
        result = run_dbt(["run", *select], build_db=db, work_dir=tmp_path / "inc", as_of=as_of)
        assert result.returncode == 0, result.stdout[-4000:]
        full_db = tmp_path / f"full{step}" / "hub.duckdb"
        full_db.parent.mkdir()
        shutil.copy(db, full_db)
        full = run_dbt(["run", *select, "--full-refresh"], build_db=full_db, work_dir=full_db.parent, as_of=as_of)
        assert full.returncode == 0, full.stdout[-4000:]
        with duckdb.connect(str(db), read_only=True) as incremental, \
                duckdb.connect(str(full_db), read_only=True) as rebuilt:
            assert query_rows(incremental, state_sql) == query_rows(rebuilt, state_sql), as_of
            if as_of == "2025-06-15":  # EV005 (May) did not change: it kept the row of the first build
                kept_from_first_day = query_rows(
                    incremental, "select cast(_computed_as_of as varchar) as d from int_events_as_of "
                                 "where event_id = 'EV005'")
    assert kept_from_first_day == [{"d": "2025-06-05"}]
