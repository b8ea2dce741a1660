"""The shared views on a hand-made landing folder, against answers worked out by hand.

tests/fixtures/handmade/landing holds a few rows per source, written by hand to the docs/sources.md
contracts (UTF-8-with-BOM registers, GBK urban CSVs, JSON Lines for events and the utility group);
the water workbook is written below with openpyxl. The test runs the real ``hub run`` (ingest,
dbt build, publish) as a subprocess with ``--as-of 2025-06-30`` and reads the published snapshot.

Three towns: 瓜沥镇 330109113, 城厢街道 330109001, 楼塔镇 330109100. Every expected value below
is derived in the comment next to it from the fixture rows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest

from hub.core.pointer import read_current

FIXTURE = Path(__file__).parent / "fixtures" / "handmade" / "landing"
AS_OF = "2025-06-30"
GUALI, CHENGXIANG, LOUTA = "330109113", "330109001", "330109100"


def write_water_workbook(path: Path) -> None:
    """水利数据: two works, their flood-duty people and two risk points (FX002 has no 巡查责任人)."""
    book = openpyxl.Workbook()
    works = book.active
    works.title = "水库山塘"
    works.append(["工程编号", "工程名称", "工程类型", "规模等级", "所在镇街", "所在村社", "经度", "纬度", "库容(万m³)",
                  "管理单位", "主管部门", "安全鉴定结论", "最近检查日期"])
    works.append(["SK001", "大同坞山塘", "山塘", "小(2)型以下", "楼塔镇", "大同坞村", 120.15, 29.95, 3.2,
                  "楼塔镇人民政府", "区林水局", "二类坝", datetime(2025, 4, 12)])
    works.append(["SK002", "航民泵站", "泵站", "中型", "瓜沥", "航民村", 120.46, 30.19, None,
                  "瓜沥镇人民政府", "区林水局", "", "2025/5/1"])
    duty = book.create_sheet("防汛责任人")
    duty.append(["责任对象类型", "责任对象编号", "责任对象名称", "责任类别", "姓名", "职务", "单位", "联系电话",
                 "年度"])
    duty.append(["工程", "SK001", "大同坞山塘", "行政责任人", "测试己", "副镇长", "楼塔镇人民政府", "13800000021",
                 2025])
    duty.append(["风险点", "FX001", "新港村低洼区", "巡查责任人", "测试庚", "网格员", "新港村", "13800000022", 2025])
    duty.append(["风险点", "FX002", "楼英村山洪沟", "行政责任人", "测试辛", "村主任", "楼英村", "13800000023", 2025])
    risks = book.create_sheet("风险点")
    risks.append(["风险点编号", "风险类型", "所在镇街", "所在村社", "影响户数", "影响人数", "转移安置点", "预警指标",
                  "普查批次"])
    risks.append(["FX001", "低洼易涝", "瓜沥镇", "新港村", 40, 120, "新港村文化礼堂", "1小时雨量50mm", "2024"])
    risks.append(["FX002", "山洪", "楼塔镇", "楼英村", 15, 43, "楼英村小学", "3小时雨量80mm", "2024"])
    path.parent.mkdir(parents=True, exist_ok=True)  # git keeps no empty folder
    book.save(path)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("handmade")
    landing = base / "landing"
    shutil.copytree(FIXTURE, landing)
    write_water_workbook(landing / "water" / "水利数据_20250620.xlsx")
    data_dir = base / "data"
    proc = hub_run(landing, data_dir, AS_OF)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    current = read_current(data_dir / "serving")
    assert current is not None, proc.stdout
    return {"path": current, "stdout": proc.stdout, "landing": landing, "data_dir": data_dir}


def hub_run(landing: Path, data_dir: Path, as_of: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("HUB_DATA_DIR", None)
    env.pop("HUB_WAREHOUSE", None)
    return subprocess.run(
        [sys.executable, "-m", "hub.cli.main", "run", "--landing", str(landing), "--data-dir", str(data_dir),
         "--as-of", as_of, *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The published shared views on each engine, for the same checks with the same answers: DuckDB's snapshot
    of ``hub run`` (copied, so later runs do not replace it), or the ``serving`` schema of a real PostgreSQL
    after ``hub run --warehouse postgresql://…`` ran the same landing folder (ingest validated in DuckDB and
    copied to the server, dbt with the target postgres, the quality report, the server publish)."""
    if request.param == "duckdb":
        copy = tmp_path_factory.mktemp("handmade_duckdb") / "snapshot.duckdb"
        shutil.copy(request.getfixturevalue("snapshot")["path"], copy)
        return {"path": copy}
    base = tmp_path_factory.mktemp("handmade_pg")
    landing = base / "landing"
    shutil.copytree(FIXTURE, landing)
    write_water_workbook(landing / "water" / "水利数据_20250620.xlsx")
    url = request.getfixturevalue("pg_server").new_database("hub_handmade")
    proc = hub_run(landing, base / "data", AS_OF, "--warehouse", url)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "数仓 / warehouse: postgresql://" in proc.stdout, proc.stdout
    assert "发布 / published: serving_v" in proc.stdout, proc.stdout
    assert read_current(base / "data" / "serving") is None  # nothing published as a DuckDB file
    reports = list((base / "data" / "reports" / "quality").glob("quality_*.json"))
    assert len(reports) == 1, proc.stdout  # the quality report read the server's dbt quality models
    return {"pg_url": url, "stdout": proc.stdout, "data_dir": base / "data", "landing": landing}


def rows(snapshot: dict[str, Any], sql: str) -> list[dict[str, Any]]:
    if "pg_url" in snapshot:
        from pg_warehouse import pg_connect

        with pg_connect(snapshot["pg_url"], schema="serving") as pg:
            cursor = pg.execute(sql)
            names = [d.name for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    con = duckdb.connect(str(snapshot["path"]), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def test_run_summary_reports_the_bad_event_without_failing(snapshot: dict[str, Any]) -> None:
    out = snapshot["stdout"]
    # SP202506099 has reportTime 2025-13-01: one quarantined row, the run still succeeds.
    line = next(x for x in out.splitlines() if x.strip().startswith("four_platforms"))
    assert "quarantined      1" in line
    assert "时间格式无法识别" in out
    assert "succeeded" in out and "published" in out
    dbt_line = next(x for x in out.splitlines() if x.startswith("dbt:"))
    assert " 0 failed" in dbt_line and " 0 fail" in dbt_line.split("tests")[1], dbt_line
    # Quiet by default: no dbt line or Dagster log in the output, but the path of the dbt log that holds them.
    assert " START sql " not in out and "dagster - INFO" not in out
    log_path = Path(next(x for x in out.splitlines() if "dbt log:" in x).split("dbt log:")[1].strip())
    assert " START sql " in log_path.read_text(encoding="utf-8")


def _register(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["danger_id"]: r for r in rows(snapshot, "SELECT * FROM hidden_danger_register")}


def test_hidden_danger_register_registry_dangers(served: dict[str, Any]) -> None:
    register = _register(served)
    registry = {key: r for key, r in register.items() if r["source_system"] == "registry"}
    assert sorted(registry) == ["HD001", "HD002", "HD003", "HD004"]
    overdue = {key: r["overdue_days"] for key, r in registry.items() if r["is_overdue"]}
    # HD001 deadline 2025-03-31, 整改中: 30 (Apr) + 31 (May) + 30 (Jun) = 91 days late on 2025-06-30.
    # HD004 deadline 2025-06-29, 待验收 is not 销号: 1 day.
    # Not overdue: HD002 (deadline 2025-07-31), HD003 (已销号 2024-12-20).
    assert overdue == {"HD001": 91, "HD004": 1}
    hd001 = registry["HD001"]
    assert hd001["town_code"] == GUALI and hd001["level"] == "重大" and hd001["is_supervised"] is True
    assert hd001["owner_dept"] == "区应急管理局"
    assert hd001["days_open"] == 171  # 2025-01-10 → 2025-06-30: 21 + 28 + 31 + 30 + 31 + 30
    assert registry["HD003"]["is_closed"] is True and registry["HD004"]["is_closed"] is False
    assert registry["HD002"]["is_supervised"] is False  # no 督办单位
    assert registry["HD002"]["owner_dept"] == "区城管局" and registry["HD003"]["owner_dept"] == "区规划资源分局"


def test_hidden_danger_register_other_sources(served: dict[str, Any]) -> None:
    register = _register(served)
    # Utility census items RC001-003, the water risk point without a 巡查责任人 (FX002; FX001 has one), the 未整治
    # waterlogging point (JS001; JS002 已整治, JS003 整治中).
    others = {key: r for key, r in register.items() if r["source_system"] != "registry"}
    assert sorted(others) == ["FX002", "JS001", "RC001", "RC002", "RC003"]
    # RC001 deadline 2025-05-31, 整改中: 30 days.  RC002 (2025-12-31), RC003 (已整改), FX002/JS001 (no deadline): not.
    assert {key: r["overdue_days"] for key, r in others.items() if r["is_overdue"]} == {"RC001": 30}
    assert others["RC001"]["owner_dept"] == "区环境集团" and others["RC001"]["town_code"] == GUALI
    assert others["RC002"]["town_code"] == CHENGXIANG  # "萧山区城厢街道" resolved
    assert others["FX002"]["owner_dept"] == "区林水局" and others["FX002"]["town_code"] == LOUTA
    assert others["JS001"]["owner_dept"] == "区城管局" and others["JS001"]["source_system"] == "urban"


def test_responsibility_matrix_gaps_and_conflicts(served: dict[str, Any]) -> None:
    matrix = rows(served, "SELECT * FROM responsibility_matrix")
    gaps = {(r["domain"], r["task"], r["level"]) for r in matrix if r["has_gap"]}
    conflicts = {(r["domain"], r["task"], r["level"]): r["lead_count"] for r in matrix if r["has_conflict"]}
    # 城市内涝/日常监管 has no 镇 row; 地质灾害/应急处置 has a 村 row with an empty 牵头单位.
    assert gaps == {("城市内涝", "日常监管", "镇"), ("地质灾害", "应急处置", "村")}
    # 危化品/日常监管/镇 lists two different leads: 镇（街道） and 区应急管理局.
    assert conflicts == {("危化品", "日常监管", "镇"): 2}
    hazmat_town = next(r for r in matrix if (r["domain"], r["task"], r["level"]) == ("危化品", "日常监管", "镇"))
    assert "区应急管理局" in str(hazmat_town["lead_units"]) and "镇（街道）" in str(hazmat_town["lead_units"])


def test_responsibility_chain_breaks(served: dict[str, Any]) -> None:
    breaks = rows(served, "SELECT * FROM responsibility_chain_breaks ORDER BY upper_level DESC")
    found = {(r["domain"], r["task"], r["upper_level"], r["upper_unit"], r["lower_level"], r["lower_unit"])
             for r in breaks}
    # 供水安全/风险普查: 省水利厅 (water) → 市城管局 (urban management) → 区环境集团 (enterprise): two breaks.
    # 城市内涝 (住建 throughout), 地质灾害 (自然资源/规划资源) and 危化品 (应急管理) keep their line.
    assert found == {
        ("供水安全", "风险普查", "省", "省水利厅", "市", "市城管局"),
        ("供水安全", "风险普查", "市", "市城管局", "区", "区环境集团"),
    }


def test_town_readiness(served: dict[str, Any]) -> None:
    readiness = {r["town_code"]: r for r in rows(served, "SELECT * FROM town_readiness")}
    items = ("has_leadership", "has_mechanism", "has_plan", "has_team", "has_supplies", "has_drill")
    expected = {
        # 瓜沥: group set up 2021; station 是 and liaison LL001 在岗; 总体 plan revised 2023-05-20; team T001 of 25;
        # usable 冲锋舟 E001 held by T001; drill 2025-03-10.  Score 6.
        GUALI: (True, True, True, True, True, True),
        # 城厢: group set up; liaison LL002 离岗 → no mechanism; 专项 plan last revised 2021-04-01 (> 3 years) and
        # the 2024 plan is a 单位 plan → no plan; only team T003 has 6 people (< 10); usable 水泵 E004 held by T003;
        # last drill 2024-05-20 (> 12 months).  Score 2.
        CHENGXIANG: (True, False, False, False, True, False),
        # 楼塔: no group date; station 否; 专项 plan revised 2022-07-15 (within 3 years); team T004 of 12;
        # its 冲锋舟 is 报废 and the 发电机 does not count; drill 2024-11-02.  Score 3.
        LOUTA: (False, False, True, True, False, True),
    }
    for town, flags in expected.items():
        row = readiness[town]
        assert tuple(bool(row[i]) for i in items) == flags, (town, row)
        assert row["readiness_score"] == sum(flags)
    assert readiness[GUALI]["town_name"] == "瓜沥镇"


def test_grid_coverage(served: dict[str, Any]) -> None:
    coverage = {r["village_code"]: r for r in rows(served, "SELECT * FROM grid_coverage")}
    # 新港村: GW001, GW002 在岗; 航民村: GW003 离岗 only; 城北社区: GW004; 楼英村: GW005; 大同坞村: nobody.
    assert {v: r["workers_in_post"] for v, r in coverage.items() if v.startswith(("330109113", "330109001",
                                                                                  "330109100"))} == {
        "330109113201": 2, "330109113202": 0, "330109001001": 1, "330109100201": 1, "330109100202": 0}
    assert {v for v, r in coverage.items() if r["is_uncovered"]} == {"330109113202", "330109100202"}
    assert coverage["330109113202"]["village_name"] == "航民村" and coverage["330109113202"]["town_code"] == GUALI


def test_rescue_capacity(served: dict[str, Any]) -> None:
    capacity = {r["town_code"]: r for r in rows(served, "SELECT * FROM rescue_capacity")}
    got = {t: (r["teams"], r["social_teams"], r["headcount"], r["usable_boats"], r["usable_pumps"],
               r["teams_unqualified"], r["teams_without_agreement"]) for t, r in capacity.items()
           if t in (GUALI, CHENGXIANG, LOUTA)}
    assert got == {
        # 瓜沥: T001 (25) + T002 (社会, 8, 资质 无, 协议 否, stationed as "瓜沥"); boats E001 冲锋舟 + E003 救生艇;
        # the 水泵 E002 is 维修.  The warehouse WH01's boats belong to no team.
        GUALI: (2, 1, 33, 2, 0, 1, 1),
        CHENGXIANG: (1, 0, 6, 0, 1, 0, 0),  # T003 with the usable 水泵 E004
        LOUTA: (1, 0, 12, 0, 0, 0, 1),  # T004 (stationed by code 330109100), 协议 否; its 冲锋舟 is 报废
    }


def test_event_handling(served: dict[str, Any]) -> None:
    handling = {(r["dept"], str(r["month"])[:7]): r for r in rows(served, "SELECT * FROM event_handling")}
    urban = handling[("区城管局", "2025-06")]
    # Four events handled by 区城管局 / 城管局 / 萧山区城市管理局 reported in June 2025 (SP202506003 counted once,
    # in its last version; the quarantined SP202506099 not at all).
    assert urban["events"] == 4
    # Finished by the deadline: 001 (06-03 ≤ 06-05), 002 (06-07 ≤ 06-08), 003 (06-13 ≤ 06-14); 004 late (06-24 > 06-22).
    assert urban["on_time_rate"] == pytest.approx(0.75)
    assert urban["median_hours_to_accept"] == pytest.approx(2.5)  # 1, 2, 3, 4 hours
    assert urban["median_hours_to_finish"] == pytest.approx(60.0)  # 24, 48, 72, 96 hours
    assert urban["returns_per_event"] == pytest.approx(0.25)  # one 退回 in SP202506002
    assert urban["reassignments_per_event"] == pytest.approx(0.25)  # one 改派 in SP202506003
    assert urban["satisfied_share"] == pytest.approx(0.75)  # 满意, 满意, 基本满意 of four rated; 004 不满意
    water = handling[("区林水局", "2025-05")]
    # 区农业农村局（林水） and 林水局 are both 区林水局: two events, both on time, accepted after 0.5 h and 2 h.
    assert water["events"] == 2 and water["on_time_rate"] == pytest.approx(1.0)
    assert water["median_hours_to_accept"] == pytest.approx(1.25)
    assert water["median_hours_to_finish"] == pytest.approx(36.0)  # 48 and 24 hours


def test_town_dossier_and_catalog(served: dict[str, Any]) -> None:
    dossier = {r["town_code"]: r for r in rows(served, "SELECT * FROM town_dossier")}
    assert dossier[GUALI]["town_name"] == "瓜沥镇" and dossier[LOUTA]["readiness_score"] == 3
    tables = {r["table_name"] for r in rows(served, "SELECT table_name FROM _tables")}
    assert {"hidden_danger_register", "responsibility_matrix", "responsibility_chain_breaks", "town_readiness",
            "grid_coverage", "rescue_capacity", "event_handling", "town_dossier"} <= tables
    meta = rows(served, "SELECT as_of FROM _snapshot")
    assert meta == [{"as_of": date(2025, 6, 30)}]


def test_hub_sql_gives_the_same_json(served: dict[str, Any]) -> None:
    """``hub sql --format json`` answers alike on both engines (on PostgreSQL through ``--warehouse``)."""
    query = ("SELECT town_code, readiness_score, has_plan, as_of_date FROM town_readiness "
             f"WHERE town_code IN ('{GUALI}', '{CHENGXIANG}', '{LOUTA}') ORDER BY town_code")
    if "pg_url" in served:
        env = {k: v for k, v in os.environ.items() if k != "HUB_WAREHOUSE"}
        proc = subprocess.run([sys.executable, "-m", "hub.cli.main", "sql", "--warehouse", served["pg_url"],
                               "--format", "json", query], capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        refused = subprocess.run([sys.executable, "-m", "hub.cli.main", "sql", "--warehouse", served["pg_url"],
                                  "DELETE FROM town_readiness"], capture_output=True, text=True, env=env, timeout=120)
        assert refused.returncode != 0
    else:
        from hub.cli.pipeline_cmd import format_rows
        from hub.cli.readonly_sql import run_readonly_select

        out = format_rows(*run_readonly_select(served["path"], query), "json")
    assert json.loads(out) == [
        {"town_code": CHENGXIANG, "readiness_score": 2, "has_plan": False, "as_of_date": AS_OF},
        {"town_code": LOUTA, "readiness_score": 3, "has_plan": True, "as_of_date": AS_OF},
        {"town_code": GUALI, "readiness_score": 6, "has_plan": True, "as_of_date": AS_OF},
    ]


def test_next_day_run_rebuilds_only_what_changed(snapshot: dict[str, Any]) -> None:
    """Runs after the view tests: one more day of events and the next as-of date on the same data directory."""
    landing, data_dir = snapshot["landing"], snapshot["data_dir"]
    new_event = {
        "eventId": "SP202507001", "title": "雨后积水", "content": "雨后积水，请处置。", "source": "网格巡查",
        "platform": "综合执法", "categoryL1": "城市管理", "categoryL2": "道路积水", "townName": "瓜沥镇",
        "townCode": "",
        "villageName": "", "gridCode": "", "address": "瓜沥镇某路", "lng": 120.4, "lat": 30.2,
        "reportTime": "2025-07-01 07:00:00", "acceptTime": "2025-07-01 07:30:00", "dispatchTime": "2025-07-01 07:40:00",
        "deadline": "2025-07-02 07:00:00", "finishTime": "2025-07-01 12:00:00", "status": "已办结",
        "handleDept": "区城管局", "urgency": "一般", "satisfaction": "满意", "isSupervised": False,
        "updatedAt": "2025-07-01 12:00:00", "flows": [],
    }
    (landing / "four_platforms" / "events_20250701.jsonl").write_text(
        json.dumps(new_event, ensure_ascii=False) + "\n", encoding="utf-8")
    proc = hub_run(landing, data_dir, "2025-07-01")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    plan_line = proc.stdout.split("incremental", 1)[1].split("\n")[0]
    assert "changed sources (four_platforms)" in plan_line, plan_line  # the other sources loaded nothing new
    built = int(next(x for x in proc.stdout.splitlines() if x.startswith("dbt:")).split("models")[1].split()[0])
    first_built = int(next(x for x in snapshot["stdout"].splitlines() if x.startswith("dbt:")).split("models")[1]
                      .split()[0])
    assert 0 < built < first_built, (built, first_built)
    # The new date reached dbt without making it parse the whole project again: it is not a dbt var.
    newest_log = max((data_dir / "dbt").glob("*/dbt.log"), key=lambda p: p.stat().st_mtime)
    assert "Unable to do partial parsing" not in newest_log.read_text(encoding="utf-8")
    assert "as_of" not in (dbt_invocation(data_dir).get("vars") or {})

    latest = {"path": read_current(data_dir / "serving")}
    assert latest["path"] != snapshot["path"]
    overdue = {r["danger_id"]: r["overdue_days"] for r in rows(latest, "SELECT * FROM hidden_danger_register")
               if r["is_overdue"]}
    # One day later every overdue danger is one day later still.
    assert overdue == {"HD001": 92, "HD004": 2, "RC001": 31}
    july = rows(latest, "SELECT * FROM event_handling WHERE dept = '区城管局' AND month LIKE '2025-07%'")
    assert len(july) == 1 and july[0]["events"] == 1 and july[0]["on_time_rate"] == pytest.approx(1.0)
    readiness = {r["town_code"]: r["readiness_score"] for r in rows(latest, "SELECT * FROM town_readiness")}
    assert (readiness[GUALI], readiness[CHENGXIANG], readiness[LOUTA]) == (6, 2, 3)


def dbt_invocation(data_dir: Path) -> dict[str, Any]:
    """The newest dbt build's run_results.json args (what the hub asked dbt to do)."""
    results = max((data_dir / "dbt").glob("*/run_results.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(results.read_text(encoding="utf-8"))["args"]


def test_rebuild_all_refreshes_the_incremental_models(snapshot: dict[str, Any]) -> None:
    """After the next-day run: --rebuild-all rebuilds the incremental event models from the raw tables too
    (dbt --full-refresh), and ends where the incremental runs ended."""
    landing, data_dir = snapshot["landing"], snapshot["data_dir"]
    assert dbt_invocation(data_dir).get("full_refresh") is not True  # the next-day run was incremental
    before = rows({"path": read_current(data_dir / "serving")}, "SELECT * FROM event_handling ORDER BY dept, month")
    proc = hub_run(landing, data_dir, "2025-07-01", "--rebuild-all")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "every model" in proc.stdout and dbt_invocation(data_dir).get("full_refresh") is True
    after = rows({"path": read_current(data_dir / "serving")}, "SELECT * FROM event_handling ORDER BY dept, month")
    assert after == before
