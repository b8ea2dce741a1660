"""The bureau's own registers (区应急管理局): UTF-8-with-BOM CSV, one full snapshot per file."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from hub.sample.breaks import BreakLog, inject_breaks
from hub.sample.common import RATES, csv_date, rng, write_csv
from hub.sample.departments import dept_variant, town_government_variant
from hub.sample.geography import Town, Village, town_by_name, town_variant, towns, villages
from hub.sample.kb_catalog import plan_documents
from hub.sample.people import PhoneBook, person_name
from hub.sample.responsibility import responsibility_rows
from orchestration.ingest.contracts import REGISTRY, Entity

GRID_WORKERS = 552
LIAISON_OFFICERS = 24

# Planted readiness gaps (六有), documented in docs/sample-data.md.
NO_LEADERSHIP = ("红山农场", "围垦区")
NO_STATION_SIGN = ("萧山商业城", "红山农场", "益农镇")
NO_LIAISON = ("萧山商业城", "围垦区", "红山农场")
LIAISON_OFF_DUTY = ("党湾镇",)
NO_TOWN_PLAN = ("围垦区", "红山农场", "萧山商业城")
STALE_TOWN_PLAN = ("衙前镇", "党湾镇")  # last revised more than 3 years before as-of
SMALL_TEAM_ONLY = ("红山农场", "萧山商业城")  # no team with 10 or more members
NO_USABLE_SUPPLIES = ("红山农场", "围垦区", "萧山商业城")
NO_RECENT_DRILL = ("红山农场", "益农镇", "萧山商业城")
UNCOVERED_VILLAGES = 6  # villages left without any grid worker

Row = dict[str, object]
HIDDEN_DANGER_COUNTS = {"small": 300, "medium": 1500, "large": 4000}


@dataclass
class RegistryData:
    """What other parts of the sample (events, water) reuse from the registers."""

    grid_codes: dict[str, list[str]] = field(default_factory=dict)  # village code -> grid codes
    rows: dict[str, list[Row]] = field(default_factory=dict)


def _entity(name: str) -> Entity:
    return next(e for e in REGISTRY.entities if e.name == name)


def _town_rows(r: random.Random, liaison_by_town: dict[str, str]) -> list[Row]:
    rows = []
    for town in towns():
        founded = date(2019, 1, 1) + timedelta(days=r.randrange(0, 900))
        rows.append(
            {
                "区划代码": town.code,
                "名称": town.name,
                "类型": town.kind,
                "领导小组成立日期": "" if town.name in NO_LEADERSHIP else csv_date(r, founded),
                "应急管理站挂牌": "否" if town.name in NO_STATION_SIGN else "是",
                "联络员工号": liaison_by_town.get(town.code, ""),
            }
        )
    return rows


def _village_rows(all_villages: tuple[Village, ...]) -> list[Row]:
    return [{"区划代码": v.code, "名称": v.name, "所属镇街代码": v.town_code, "类型": v.kind} for v in all_villages]


def _grid_workers(
    r: random.Random, as_of: date, data: RegistryData, all_villages: tuple[Village, ...]
) -> tuple[list[Row], dict[str, str]]:
    phones = PhoneBook(r)
    uncovered = set(r.sample([v.code for v in all_villages], UNCOVERED_VILLAGES))
    covered = [v for v in all_villages if v.code not in uncovered]
    # One worker per covered village, the rest as second workers in the biggest towns' villages.
    slots = [v.code for v in covered] + r.sample([v.code for v in covered], GRID_WORKERS - len(covered))
    slots.sort()
    rows: list[Row] = []
    per_village: dict[str, int] = {}
    for number, village_code in enumerate(slots, start=1):
        per_village[village_code] = per_village.get(village_code, 0) + 1
        grid = f"{village_code}-{per_village[village_code]:02d}"
        data.grid_codes.setdefault(village_code, []).append(grid)
        on_duty = r.random() > 0.03
        rows.append(
            {
                "工号": f"WG{number:04d}",
                "姓名": person_name(r),
                "角色": "网格员",
                "村社代码": village_code,
                "网格编号": grid,
                "手机": phones.next(),
                "上岗日期": csv_date(r, as_of - timedelta(days=r.randrange(60, 2500))),
                "状态": "在岗" if on_duty else "离岗",
                "年度培训次数": r.randrange(0, 7),
            }
        )
    liaison_by_town: dict[str, str] = {}
    with_liaison = [t for t in towns() if t.name not in NO_LIAISON]
    assert len(with_liaison) == LIAISON_OFFICERS
    for number, town in enumerate(with_liaison, start=1):
        worker_id = f"LL{number:03d}"
        liaison_by_town[town.code] = worker_id
        rows.append(
            {
                "工号": worker_id,
                "姓名": person_name(r),
                "角色": "联络员",
                "村社代码": "",
                "网格编号": "",
                "手机": phones.next(),
                "上岗日期": csv_date(r, as_of - timedelta(days=r.randrange(100, 1500))),
                "状态": "离岗" if town.name in LIAISON_OFF_DUTY else "在岗",
                "年度培训次数": r.randrange(2, 9),
            }
        )
    return rows, liaison_by_town


PROFESSIONAL_TEAMS = (
    ("萧山区防汛抢险应急队", "区林水局", "防汛抢险、排涝"),
    ("萧山区地质灾害应急抢险队", "区规划资源分局", "地质灾害抢险"),
    ("萧山区危化品应急救援队", "区应急管理局", "危化品泄漏处置"),
    ("萧山区供水抢修队", "区环境集团", "供水管网抢修"),
    ("萧山区燃气抢修队", "区燃气公司", "燃气泄漏抢修"),
    ("萧山区电力抢修队", "国网杭州市萧山区供电公司", "电力抢修"),
    ("萧山区森林消防专业队", "区林水局", "森林灭火"),
    ("萧山区城市排涝抢险队", "区城管局", "城市排涝"),
    ("萧山区交通应急保障队", "区交通运输局", "道路抢通"),
    ("萧山区医疗应急救援队", "区卫生健康局", "医疗救护"),
    ("萧山区通信保障应急队", "中国移动萧山分公司", "应急通信"),
    ("萧山区建筑工程抢险队", "区住建局", "房屋排险"),
)
SOCIAL_TEAMS = (
    "蓝天救援队",
    "公羊救援队",
    "红十字应急救护队",
    "水上救援队",
    "山地救援队",
    "志愿消防队",
    "民兵应急连",
    "义警应急分队",
    "户外救援队",
    "潜水救援队",
    "应急志愿服务队",
    "乡贤救援队",
    "越野救援队",
    "无线电应急通信队",
    "心理援助志愿队",
)
EQUIPMENT_TYPES = (
    "冲锋舟",
    "救生艇",
    "水泵",
    "卫星电话",
    "发电机",
    "救生衣",
    "抛投器",
    "照明灯塔",
    "无人机",
    "油锯",
    "风力灭火机",
    "破拆工具组",
)
CORE_SUPPLIES = ("冲锋舟", "救生艇", "水泵")


def _rescue_teams(r: random.Random) -> list[Row]:
    all_towns = towns()
    teams: list[tuple[str, str, str, str, Town, int]] = []  # name, type, unit, specialty, town, members
    for name in ("萧山区消防救援大队特勤站", "城厢消防救援站", "瓜沥消防救援站", "临浦消防救援站"):
        town = town_by_name({"城厢": "城厢街道", "瓜沥": "瓜沥镇", "临浦": "临浦镇"}.get(name[:2], "北干街道"))
        teams.append((name, "综合性", "区消防救援大队", "综合救援", town, r.randrange(25, 60)))
    # District and social teams are stationed away from the towns planted without a team or supplies.
    big_towns = [t for t in all_towns if t.name not in SMALL_TEAM_ONLY + NO_USABLE_SUPPLIES]
    for name, unit, specialty in PROFESSIONAL_TEAMS:
        teams.append((name, "专业", unit, specialty, r.choice(big_towns), r.randrange(15, 50)))
    for town_name in ("楼塔镇", "河上镇", "戴村镇", "浦阳镇", "进化镇", "义桥镇", "瓜沥镇", "益农镇"):
        town = town_by_name(town_name)
        teams.append((f"{town_name}防汛抢险队", "专业", f"{town_name}人民政府", "防汛抢险", town, r.randrange(12, 30)))
    for kind in SOCIAL_TEAMS:
        town = r.choice(big_towns)
        teams.append(
            (
                f"萧山{kind}",
                "社会",
                f"萧山区{kind}协会" if r.random() < 0.5 else "社会组织",
                "水域救援" if "水" in kind or "潜水" in kind else "综合救援",
                town,
                r.randrange(8, 80),
            )
        )
    for town in all_towns:
        members = r.randrange(5, 9) if town.name in SMALL_TEAM_ONLY else r.randrange(10, 18)
        teams.append((f"{town.name}微型消防站", "微型消防站", town.name, "初期火灾扑救", town, members))
    for town_name in ("瓜沥镇", "宁围街道", "新街街道"):
        town = town_by_name(town_name)
        teams.append((f"{town_name}第二微型消防站", "微型消防站", town_name, "初期火灾扑救", town, r.randrange(6, 14)))
    assert len(teams) == 69, len(teams)
    rows = []
    for number, (name, kind, unit, specialty, town, members) in enumerate(teams, start=1):
        unqualified = kind == "社会" and r.random() < 0.3
        no_agreement = kind == "社会" and r.random() < 0.35
        rows.append(
            {
                "队伍编号": f"DW{number:03d}",
                "队伍名称": name,
                "类型": kind,
                "所属单位": unit,
                "驻地镇街": town_variant(r, town),
                "人数": members,
                "专长": specialty,
                "资质": "无" if unqualified else "有",
                "协议签订": "否" if no_agreement else "是",
                "_town": town.name,
            }
        )
    return rows


def _equipment(r: random.Random, teams: list[Row]) -> list[Row]:
    rows: list[Row] = []

    def add(holder: str, kind: str, count: int, status: str) -> None:
        rows.append(
            {
                "装备编号": f"ZB{len(rows) + 1:05d}",
                "持有方编号": holder,
                "装备类型": kind,
                "数量": count,
                "状态": status,
            }
        )

    for team in teams:
        town = str(team["_town"])
        kinds = r.sample(EQUIPMENT_TYPES, r.randrange(2, 6))
        if town in NO_USABLE_SUPPLIES:
            kinds = [k for k in kinds if k not in CORE_SUPPLIES] or ["发电机"]
        elif team["类型"] in ("微型消防站", "专业") and not set(kinds) & set(CORE_SUPPLIES):
            kinds.append(r.choice(CORE_SUPPLIES))
        for kind in kinds:
            status = "可用" if r.random() < 0.88 else r.choice(("维修", "报废"))
            add(str(team["队伍编号"]), kind, r.randrange(1, 6), status)
        if team["类型"] == "微型消防站" and town not in NO_USABLE_SUPPLIES:
            # Two usable core items, so only the planted towns lack supplies even if one row is spoilt.
            add(str(team["队伍编号"]), "水泵", r.randrange(1, 4), "可用")
            add(str(team["队伍编号"]), "冲锋舟", 1, "可用")
        if town in NO_USABLE_SUPPLIES and r.random() < 0.5:
            add(str(team["队伍编号"]), "水泵", 1, "维修")  # present but not usable
    for warehouse in ("CK001", "CK002", "CK003"):  # 区级防汛物资仓库, 区应急物资储备库, 南片物资仓库
        for kind in EQUIPMENT_TYPES:
            add(warehouse, kind, r.randrange(5, 60), "可用")
    return rows


DISTRICT_SPECIAL_PLANS = (
    ("防汛防台", "区林水局"),
    ("地质灾害", "区规划资源分局"),
    ("森林火灾", "区林水局"),
    ("危险化学品事故", "区应急管理局"),
    ("城市供水突发事件", "区环境集团"),
    ("城市内涝", "区城管局"),
    ("突发环境事件", "区生态环境分局"),
    ("大面积停电事件", "区发改局"),
    ("道路交通事故", "区交通运输局"),
    ("地震", "区应急管理局"),
)


def _plans(r: random.Random, as_of: date) -> list[Row]:
    rows: list[Row] = []

    def add(
        name: str, category: str, hazard: str, unit: str, town_code: str, revised: date, file_name: str = ""
    ) -> None:
        published = revised - timedelta(days=r.randrange(0, 900))
        rows.append(
            {
                "预案编号": f"YA{len(rows) + 1:04d}",
                "预案名称": name,
                "预案类别": category,
                "灾种": hazard,
                "编制单位": unit,
                "镇街代码": town_code,
                "发布日期": csv_date(r, published),
                "最近修订日期": csv_date(r, revised),
                "文件名": file_name,
            }
        )

    def recent() -> date:
        return as_of - timedelta(days=r.randrange(30, 900))

    add("萧山区突发事件总体应急预案", "总体", "综合", "区应急管理局", "", recent())
    for hazard, unit in DISTRICT_SPECIAL_PLANS:
        add(f"萧山区{hazard}专项应急预案", "专项", hazard, unit, "", recent())
    for hazard, unit in (("防汛防台", "区林水局"), ("供水安全", "区环境集团"), ("危化品", "区应急管理局")):
        add(f"{unit}{hazard}部门应急预案", "部门", hazard, unit, "", recent())
    for town in towns():
        if town.name in NO_TOWN_PLAN:
            continue
        government = town.name + ("人民政府" if town.kind == "镇" else "办事处" if town.kind == "街道" else "管委会")
        stale = town.name in STALE_TOWN_PLAN
        revised = as_of - timedelta(days=r.randrange(1200, 1800)) if stale else recent()
        add(f"{town.name}突发事件总体应急预案", "总体", "综合", government, town.code, revised)
        if not stale:
            hazard = "山洪地质灾害" if town.is_hilly else "防汛防台"
            add(f"{town.name}{hazard}专项应急预案", "专项", hazard, government, town.code, recent())
    # Plans with a document in the knowledge base: link an existing row by name or add one.
    allowed = _entity("plans").field("预案类别").allowed or ()
    for doc in plan_documents():
        if doc.plan_category not in allowed:
            continue
        # Link by title, or by the file name's stem (district_地质灾害专项应急预案.md -> 萧山区地质灾害专项应急预案).
        stem = Path(doc.file_name).stem.split("_", 1)[-1]
        names = {doc.title, stem, "萧山区" + stem}
        match = next((row for row in rows if row["预案名称"] in names and not row["文件名"]), None)
        if match is not None:
            match["文件名"] = doc.file_name
            continue
        add(
            doc.title,
            doc.plan_category,
            "",
            "区应急管理局" if not doc.town_code else "",
            doc.town_code,
            doc.revised or recent(),
            doc.file_name,
        )
    return rows


def _drills(r: random.Random, as_of: date, plans: list[Row]) -> list[Row]:
    held: list[tuple[date, str, Row]] = []  # numbered in date order once all are drawn
    for town in towns():
        town_plans = [p for p in plans if p["镇街代码"] == town.code] or [p for p in plans if not p["镇街代码"]]
        for number in range(r.randrange(3, 7)):
            # Towns planted without a recent drill only have drills 13-24 months back; the others
            # have two within the last 10 months, so one spoilt row cannot flip the finding.
            if town.name in NO_RECENT_DRILL:
                days_back = r.randrange(395, 720)
            else:
                days_back = r.randrange(5, 300) if number < 2 else r.randrange(5, 720)
            details = {
                "预案编号": r.choice(town_plans)["预案编号"],
                "镇街代码": town.code,
                "形式": r.choice(("桌面", "实战", "综合")),
                "参与人数": r.randrange(15, 300),
                "评估得分": round(r.uniform(62, 98), 1),
            }
            held.append((as_of - timedelta(days=days_back), town.code, details))
    held.sort(key=lambda item: (item[0], item[1]))
    return [
        {"演练编号": f"YL{number:04d}", "演练日期": csv_date(r, when), **details}
        for number, (when, _, details) in enumerate(held, start=1)
    ]


DANGER_CATEGORIES = (
    ("危化品", "区应急管理局", "企业危化品仓库未按规定分区存放"),
    ("消防安全", "区消防救援大队", "出租房电动自行车违规充电"),
    ("地质灾害", "区规划资源分局", "房前屋后边坡出现裂缝"),
    ("山塘水库", "区林水局", "山塘坝体渗漏、溢洪道堵塞"),
    ("城市内涝", "区城管局", "雨水井淤堵，短时强降雨易积水"),
    ("燃气安全", "区燃气公司", "餐饮场所燃气管道老化"),
    ("建筑施工", "区住建局", "深基坑临边防护缺失"),
    ("森林防火", "区林水局", "林区坟头违规用火"),
    ("供水安全", "区环境集团", "单村水站消毒设施损坏"),
)


def _hidden_dangers(r: random.Random, as_of: date, scale: str, all_villages: tuple[Village, ...]) -> list[Row]:
    rows = []
    town_of = {t.code: t for t in towns()}
    for number in range(1, HIDDEN_DANGER_COUNTS[scale] + 1):
        village = r.choice(all_villages)
        town = town_of[village.town_code]
        category, owner, description = r.choice(DANGER_CATEGORIES)
        found = as_of - timedelta(days=r.randrange(1, 540))
        deadline = found + timedelta(days=r.choice((15, 30, 60, 90)))
        status = r.choices(("待整改", "整改中", "待验收", "已销号"), weights=(15, 20, 10, 55))[0]
        closed = status == "已销号"
        closed_on = min(as_of, found + timedelta(days=r.randrange(3, 120))) if closed else None
        level = "重大" if r.random() < 0.08 else "一般"
        town_code = town.old_code if r.random() < RATES.town_old_code else town.code
        rows.append(
            {
                "隐患编号": f"YH{found.year}{number:05d}",
                "发现日期": csv_date(r, found),
                "镇街代码": town_code,
                "村社代码": village.code,
                "隐患等级": level,
                "类别": category,
                "描述": f"{village.name}{description}",
                "整改责任单位": dept_variant(r, owner),
                "督办单位": "区应急管理局" if level == "重大" else town_government_variant(r, town.name),
                "整改期限": csv_date(r, deadline),
                "状态": status,
                "销号日期": csv_date(r, closed_on),
            }
        )
    return rows


def write_registry(out: Path, seed: int, scale: str, as_of: date, log: BreakLog) -> tuple[dict[str, int], RegistryData]:
    folder = out / "registry"
    data = RegistryData()
    all_villages = villages(seed)
    workers, liaison_by_town = _grid_workers(rng(seed, "grid_workers"), as_of, data, all_villages)
    teams = _rescue_teams(rng(seed, "rescue_teams"))
    plans = _plans(rng(seed, "plans"), as_of)
    tables: dict[str, list[Row]] = {
        "towns": _town_rows(rng(seed, "towns"), liaison_by_town),
        "villages": _village_rows(all_villages),
        "grid_workers": workers,
        "rescue_teams": teams,
        "equipment": _equipment(rng(seed, "equipment"), teams),
        "plans": plans,
        "drills": _drills(rng(seed, "drills"), as_of, plans),
        "hidden_dangers": _hidden_dangers(rng(seed, "hidden_dangers"), as_of, scale, all_villages),
        "responsibility_list": responsibility_rows(),
    }
    breakable = ("equipment", "drills", "hidden_dangers")
    counts = {}
    for name, rows in tables.items():
        entity = _entity(name)
        if name in breakable:
            rows = inject_breaks(rng(seed, "breaks", name), entity, rows, log)
        data.rows[name] = rows
        counts[f"registry/{name}.csv"] = write_csv(folder / f"{name}.csv", entity.field_names, rows, "utf-8-sig")
    return counts, data
