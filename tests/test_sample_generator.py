"""The sample generator writes every source in its contract's format, with the planted facts the docs promise."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from hub.core.paths import SEEDS_DIR
from hub.sample import generate
from hub.sample.kb_catalog import KB_DOCS_DIR
from orchestration.ingest.contracts import FOUR_PLATFORMS, REGISTRY, URBAN, UTILITY, WATER

AS_OF = date(2025, 6, 30)
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, seed=11, scale="small", as_of=AS_OF)
    return out


def read_registry(sample_dir: Path, name: str) -> list[dict[str, str]]:
    with (sample_dir / "registry" / f"{name}.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def read_events(sample_dir: Path) -> list[tuple[str, dict[str, object]]]:
    found = []
    for path in sorted((sample_dir / "four_platforms").glob("events_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            found.append((path.name, json.loads(line)))
    return found


def test_registry_csvs_have_bom_and_contract_headers(sample_dir: Path) -> None:
    for entity in REGISTRY.entities:
        raw = (sample_dir / "registry" / f"{entity.name}.csv").read_bytes()
        assert raw.startswith(BOM), entity.name
        header = next(csv.reader(io.StringIO(raw[len(BOM) :].decode("utf-8"))))
        assert header == entity.field_names


def test_urban_csvs_are_gbk_not_utf8(sample_dir: Path) -> None:
    for entity in URBAN.entities:
        files = list((sample_dir / "urban").glob(entity.file_pattern))
        assert [p.name for p in files] == [entity.file_pattern.replace("*", "20250630")]
        raw = files[0].read_bytes()
        assert not raw.startswith(BOM)
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        rows = list(csv.reader(io.StringIO(raw.decode("gbk"))))
        assert rows[0] == entity.field_names
        assert len(rows) > 100


def test_water_workbook_has_three_chinese_sheets_and_mixed_dates(sample_dir: Path) -> None:
    path = sample_dir / "water" / "水利数据_20250630.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["水库山塘", "防汛责任人", "风险点"]
    for entity in WATER.entities:
        sheet = workbook[entity.sheet]
        assert [c.value for c in sheet[1]] == entity.field_names
        assert sheet.max_row > 100
    dates = [row[0] for row in workbook["水库山塘"].iter_rows(min_row=2, min_col=13, max_col=13, values_only=True)]
    assert sum(isinstance(d, datetime) for d in dates) > len(dates) * 0.6  # real Excel dates mostly
    assert any(isinstance(d, str) and re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", d) for d in dates)  # text sometimes


def test_jsonl_keys_match_the_contracts(sample_dir: Path) -> None:
    for entity in UTILITY.entities:
        path = sample_dir / "utility" / entity.file_pattern.replace("*", "20250630")
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert all(set(r) <= set(entity.field_names) for r in records)
        assert sum(list(r) == entity.field_names for r in records) >= len(records) - 2  # at most the planted breaks
    events = read_events(sample_dir)
    names = FOUR_PLATFORMS.entities[0].field_names
    assert all(set(r) <= set(names) for _, r in events)
    assert sum(set(r) == set(names) for _, r in events) >= len(events) * 0.99
    flows = next(r["flows"] for _, r in events if r.get("flows"))
    assert isinstance(flows, list) and set(flows[0]) == {"seq", "action", "fromDept", "toDept", "time", "opinion"}


def test_one_event_file_per_day_holding_that_days_updates(sample_dir: Path) -> None:
    files = sorted((sample_dir / "four_platforms").glob("events_*.jsonl"))
    assert len(files) == 365
    assert files[-1].name == "events_20250630.jsonl"
    for name, record in read_events(sample_dir):
        assert str(record["updatedAt"])[:10].replace("-", "") == name[7:15]


def test_counts_of_the_registers(sample_dir: Path) -> None:
    towns = read_registry(sample_dir, "towns")
    with (SEEDS_DIR / "towns.csv").open(encoding="utf-8") as f:
        seed_towns = {row["town_code"]: row["town_name"] for row in csv.DictReader(f)}
    assert {t["区划代码"]: t["名称"] for t in towns} == seed_towns
    assert len(towns) == 27
    villages = read_registry(sample_dir, "villages")
    assert 500 <= len(villages) <= 600
    assert len({v["区划代码"] for v in villages}) == len(villages)
    assert all(len(v["区划代码"]) == 12 and v["区划代码"][:9] == v["所属镇街代码"] for v in villages)
    per_town = Counter(seed_towns[v["所属镇街代码"]] for v in villages)
    assert per_town["戴村镇"] > per_town["盈丰街道"]  # more villages in the southern mountain towns
    workers = Counter(w["角色"] for w in read_registry(sample_dir, "grid_workers"))
    assert workers == {"网格员": 552, "联络员": 24}
    phones = [w["手机"] for w in read_registry(sample_dir, "grid_workers")]
    assert len(set(phones)) == len(phones) and all(re.fullmatch(r"1380000\d{4}", p) for p in phones)
    teams = read_registry(sample_dir, "rescue_teams")
    assert len(teams) == 69
    assert {t["类型"] for t in teams} == {"综合性", "专业", "社会", "微型消防站"}
    kinds = {e["装备类型"] for e in read_registry(sample_dir, "equipment")}
    assert {"冲锋舟", "救生艇", "水泵", "卫星电话", "发电机"} <= kinds


def test_events_volume_and_resends(sample_dir: Path) -> None:
    events = read_events(sample_dir)
    versions: dict[str, list[tuple[str, dict[str, object]]]] = {}
    for name, record in events:
        versions.setdefault(str(record["eventId"]), []).append((name, record))
    assert 4000 <= len(versions) <= 6000
    resent = {k: v for k, v in versions.items() if len({str(r["updatedAt"]) for _, r in v}) > 1}
    assert 0.07 <= len(resent) / len(versions) <= 0.13
    for history in resent.values():
        (first_file, first), (last_file, last) = history[0], history[-1]
        assert last_file > first_file and last["status"] != first["status"]
        assert len(last["flows"]) > len(first["flows"])  # type: ignore[arg-type]


def test_planted_messiness_is_present(sample_dir: Path) -> None:
    events = [r for _, r in read_events(sample_dir)]
    with (SEEDS_DIR / "town_aliases.csv").open(encoding="utf-8") as f:
        alias_kind = {row["alias"]: row["alias_kind"] for row in csv.DictReader(f)}
    kinds = Counter(alias_kind.get(str(r["townName"]), "unknown") for r in events if "townName" in r)
    assert {"name", "short_name", "prefixed_name", "old_code"} <= set(kinds)
    assert kinds["name"] > len(events) * 0.6
    planted_unknown = [r for r in events if r.get("townName") == "不存在镇" or r.get("townCode") == "330109999"]
    assert planted_unknown
    assert kinds["unknown"] == sum(r.get("townName") == "不存在镇" for r in events)  # nothing else is unknown
    times = [str(r["updatedAt"]) for r in events]
    iso = sum(t.endswith("+08:00") for t in times)
    local = sum(bool(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t)) for t in times)
    assert iso + local == len(times) and 0.2 < local / len(times) < 0.4
    depts = Counter(str(r.get("handleDept")) for r in events)
    assert {"区林水局", "区农业农村局（林水）", "林水局", "区城管局", "萧山区城市管理局"} <= set(depts)
    hidden = read_registry(sample_dir, "hidden_dangers")
    assert any("/" in h["整改期限"] for h in hidden) and any("-" in h["整改期限"] for h in hidden)


def test_contract_breaks_are_rare_but_everywhere(sample_dir: Path, tmp_path: Path) -> None:
    counts = generate(tmp_path, seed=11, scale="small", as_of=AS_OF)
    planted = {k: v for k, v in counts.items() if k.startswith("planted/")}
    tables = {k.split("/", 1)[1].split(":")[0] for k in planted}
    assert {"four_platforms__events", "water__reservoirs", "urban__cases", "registry__hidden_dangers"} <= tables
    kinds = {k.split(":")[1] for k in planted}
    assert kinds == {"bad_date", "missing_required", "duplicate_key", "unknown_town", "bad_enum"}
    rows = sum(v for k, v in counts.items() if not k.startswith("planted/"))
    assert sum(planted.values()) < rows * 0.005


def test_hidden_dangers_include_overdue_ones(sample_dir: Path) -> None:
    def day(text: str) -> date:
        return datetime.strptime(text.replace("/", "-"), "%Y-%m-%d").date()

    overdue = [
        h
        for h in read_registry(sample_dir, "hidden_dangers")
        if h["状态"] != "已销号" and h["整改期限"] and day(h["整改期限"]) < AS_OF
    ]
    assert len(overdue) > 10


def test_responsibility_list_plants_chain_break_gap_and_conflict(sample_dir: Path) -> None:
    rows = read_registry(sample_dir, "responsibility_list")
    leads: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        leads.setdefault((row["领域"], row["事项"], row["层级"]), []).append(row["牵头单位"])
    assert leads[("供水安全", "风险普查", "省")] == ["浙江省水利厅"]
    assert leads[("供水安全", "风险普查", "市")] == ["杭州市城市管理局"]
    assert leads[("供水安全", "风险普查", "区")] == ["萧山区环境集团"]
    assert ("森林防火", "风险普查", "市") not in leads  # gap: a missing level
    assert leads[("危化品", "风险普查", "镇")] == [""]  # gap: a level without a lead
    assert len(set(leads[("危化品", "应急处置", "镇")])) == 2  # conflict
    assert leads[("地质灾害", "日常监管", "区")] == ["杭州市规划和自然资源局萧山分局"]
    assert {r["领域"] for r in rows} == {"供水安全", "城市内涝", "山塘水库", "地质灾害", "森林防火", "危化品"}


def test_plan_file_names_point_at_demo_documents(sample_dir: Path) -> None:
    plans = read_registry(sample_dir, "plans")
    linked = [p["文件名"] for p in plans if p["文件名"]]
    assert all((KB_DOCS_DIR / name).is_file() for name in linked)
    if any(KB_DOCS_DIR.rglob("*.md")):
        assert linked, "kb_docs has documents but no plan links to one"


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    def snapshot(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    generate(tmp_path / "a", seed=3, scale="small", as_of=AS_OF)
    # The second run is another process with another hash seed: no set or dict order may leak into the files.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli.main",
            "sample",
            "--out",
            str(tmp_path / "b"),
            "--seed",
            "3",
            "--as-of",
            AS_OF.isoformat(),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    generate(tmp_path / "c", seed=4, scale="small", as_of=AS_OF)
    a, b, c = snapshot(tmp_path / "a"), snapshot(tmp_path / "b"), snapshot(tmp_path / "c")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert not [name for name in a if name.split("/")[-1].startswith(".")]  # no temp file left behind
    assert a["water/水利数据_20250630.xlsx"] == b["water/水利数据_20250630.xlsx"]
    assert a["registry/grid_workers.csv"] != c["registry/grid_workers.csv"]


def test_readiness_gaps_only_where_planted(sample_dir: Path) -> None:
    """The six 六有 items, evaluated naively as docs/sources.md words them, fail exactly where
    docs/sample-data.md says."""
    with (SEEDS_DIR / "town_aliases.csv").open(encoding="utf-8") as f:
        town_of = {row["alias"]: row["town_code"] for row in csv.DictReader(f)}

    def day(text: str) -> date | None:
        try:
            return datetime.strptime(text.replace("/", "-"), "%Y-%m-%d").date()
        except ValueError:
            return None

    liaison_status = {w["工号"]: w["状态"] for w in read_registry(sample_dir, "grid_workers") if w["角色"] == "联络员"}
    teams = read_registry(sample_dir, "rescue_teams")
    equipment = read_registry(sample_dir, "equipment")
    plans = read_registry(sample_dir, "plans")
    drills = read_registry(sample_dir, "drills")
    found = {}
    for town in read_registry(sample_dir, "towns"):
        code = town["区划代码"]
        stationed = [t for t in teams if town_of.get(t["驻地镇街"]) == code]
        holders = {t["队伍编号"] for t in stationed}
        items = (
            bool(town["领导小组成立日期"]),
            town["应急管理站挂牌"] == "是" and liaison_status.get(town["联络员工号"]) == "在岗",
            any(
                p["镇街代码"] == code
                and p["预案类别"] in ("总体", "专项")
                and (d := day(p["最近修订日期"]))
                and (AS_OF - d).days <= 3 * 365
                for p in plans
            ),
            any(int(t["人数"]) >= 10 for t in stationed),
            any(
                e["持有方编号"] in holders and e["状态"] == "可用" and e["装备类型"] in ("冲锋舟", "救生艇", "水泵")
                for e in equipment
            ),
            any(d["镇街代码"] == code and (when := day(d["演练日期"])) and (AS_OF - when).days <= 365 for d in drills),
        )
        if not all(items):
            found[town["名称"]] = "".join("1" if i else "0" for i in items)
    assert found == {
        "衙前镇": "110111",
        "益农镇": "101110",
        "党湾镇": "100111",
        "萧山商业城": "100000",
        "围垦区": "000101",
        "红山农场": "000000",
    }


def test_some_villages_have_no_grid_worker(sample_dir: Path) -> None:
    covered = {w["村社代码"] for w in read_registry(sample_dir, "grid_workers") if w["角色"] == "网格员"}
    villages = {v["区划代码"] for v in read_registry(sample_dir, "villages")}
    assert len(villages - covered) == 6


def test_a_later_as_of_rewrites_old_event_files_identically(tmp_path: Path) -> None:
    """Re-running the generator a day later must not invent a different past: only recent files change."""
    generate(tmp_path / "today", seed=2, scale="small", as_of=AS_OF)
    generate(tmp_path / "tomorrow", seed=2, scale="small", as_of=date(2025, 7, 1))
    today = tmp_path / "today" / "four_platforms"
    tomorrow = tmp_path / "tomorrow" / "four_platforms"
    common = sorted(p.name for p in today.glob("events_*.jsonl") if (tomorrow / p.name).exists())
    changed = [name for name in common if (today / name).read_bytes() != (tomorrow / name).read_bytes()]
    assert len(common) == 364
    # Files change only at the window's ends: late versions of the day that left the window, and events
    # still open at the earlier as-of date.
    middle = [name for name in changed if "events_20240801.jsonl" <= name < "events_20250501.jsonl"]
    assert changed and not middle
    assert len(changed) < 80
