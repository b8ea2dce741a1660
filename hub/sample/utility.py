"""区环境集团's JSON Lines exports (UTF-8, snake_case): supply assets, outages, the 供水 risk census."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from hub.sample.breaks import BreakLog, inject_breaks
from hub.sample.common import RATES, iso_date, iso_offset, local_datetime, rng, slash_date, stamp, write_jsonl
from hub.sample.departments import dept_variant
from hub.sample.geography import town_variant, towns, villages_of
from orchestration.ingest.contracts import UTILITY

Row = dict[str, object]
OUTAGE_COUNTS = {"small": 300, "medium": 1500, "large": 6000}


def _when(r: random.Random, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return local_datetime(moment) if r.random() < RATES.utility_local_time else iso_offset(moment)


def _assets(r: random.Random, seed: int) -> list[Row]:
    rows: list[Row] = []
    plants = (
        ("萧山第一水厂", "城厢街道", 300000),
        ("萧山第二水厂", "新街街道", 250000),
        ("萧山第三水厂", "瓜沥镇", 200000),
        ("南片水厂", "临浦镇", 100000),
    )
    for name, town_name, capacity in plants:
        town = next(t for t in towns() if t.name == town_name)
        rows.append(
            {
                "asset_type": "水厂",
                "name": name,
                "town": town_variant(r, town),
                "villages": [],
                "population_served": capacity * 3,
                "design_capacity_m3d": float(capacity),
            }
        )
    for town in towns():
        village_list = villages_of(seed, town.code)
        if town.kind != "镇":
            rows.append(
                {
                    "asset_type": "加压站",
                    "name": f"{town.name[:2]}加压站",
                    "town": town_variant(r, town),
                    "villages": [],
                    "population_served": r.randrange(20000, 90000),
                    "design_capacity_m3d": float(r.randrange(10000, 50000)),
                }
            )
            continue
        rows.append(
            {
                "asset_type": "主干管",
                "name": f"{town.name[:2]}主干管",
                "town": town_variant(r, town),
                "villages": [],
                "population_served": r.randrange(30000, 80000),
                "design_capacity_m3d": None,
            }
        )
        for i in range(r.randrange(1, 4) if town.is_hilly else 1):
            served = [v.name for v in r.sample(village_list, min(len(village_list), r.randrange(1, 5)))]
            kind = "单村水站" if len(served) == 1 else "联村水站"
            rows.append(
                {
                    "asset_type": kind,
                    "name": f"{served[0][:-1]}{kind}{i + 1}号",
                    "town": town_variant(r, town),
                    "villages": served,
                    "population_served": r.randrange(300, 6000),
                    "design_capacity_m3d": float(r.randrange(50, 2000)),
                }
            )
    for number, row in enumerate(rows, start=1):
        row["asset_id"] = f"GS{number:04d}"
        row["operator"] = dept_variant(r, "区环境集团") if row["asset_type"] != "单村水站" else "村股份经济合作社"
    return rows


def _outages(r: random.Random, as_of: date, scale: str) -> list[Row]:
    start = datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=365)
    now = datetime(as_of.year, as_of.month, as_of.day, 9)
    rows = []
    for number in range(1, OUTAGE_COUNTS[scale] + 1):
        planned = r.random() < 0.6
        begins = start + timedelta(minutes=r.randrange(0, 365 * 1440))
        expected = begins + timedelta(hours=r.choice((4, 6, 8, 12)))
        restored = expected + timedelta(minutes=r.randrange(-120, 240 if planned else 900))
        affected = r.sample(list(towns()), r.randrange(1, 3))
        rows.append(
            {
                "outage_id": f"TS{begins:%Y%m%d}{number:05d}",
                "kind": "planned" if planned else "unplanned",
                "cause": r.choice(("管网改造", "阀门检修", "水厂设备检修"))
                if planned
                else r.choice(("主干管爆管", "施工挖断管道", "停电导致加压站停运", "水源水质异常")),
                "start_at": _when(r, begins),
                "expected_restore_at": _when(r, expected),
                "restored_at": _when(r, restored) if restored < now else None,
                "towns": [town_variant(r, t) for t in affected],
                "affected_households": r.randrange(50, 12000),
                "notice_channels": r.sample(("短信", "应急广播", "网格员", "公众号"), r.randrange(1, 5)),
            }
        )
    return rows


def _risk_census(r: random.Random, as_of: date, assets: list[Row]) -> list[Row]:
    findings = (
        "水源地周边存在违规养殖",
        "消毒设备运行不稳定",
        "管网老化漏损率高",
        "无备用电源",
        "水质检测频次不足",
        "蓄水池防护设施缺失",
        "取水口受山洪威胁",
    )
    rows = []
    town_by_variant = {v: t for t in towns() for v in (t.name, t.prefixed_name, t.old_code, *t.short_names)}
    for number in range(1, 161):
        asset = r.choice(assets)
        town = town_by_variant[str(asset["town"])]
        batch = r.choice(("2021年普查", "2023年复核", "2024年动态更新"))
        deadline = as_of + timedelta(days=r.randrange(-240, 180))
        status = r.choices(("待整改", "整改中", "已整改"), weights=(25, 30, 45))[0]
        rows.append(
            {
                "item_id": f"PC{number:05d}",
                "census_batch": batch,
                "object_type": asset["asset_type"],
                "object_id": asset["asset_id"],
                "town": town_variant(r, town),
                "risk_level": r.choices(("低", "中", "高"), weights=(45, 40, 15))[0],
                "finding": r.choice(findings),
                "rectify_deadline": slash_date(deadline) if r.random() < RATES.csv_slash_date else iso_date(deadline),
                "status": status,
            }
        )
    return rows


def write_utility(out: Path, seed: int, scale: str, as_of: date, log: BreakLog) -> dict[str, int]:
    assets = _assets(rng(seed, "utility", "assets"), seed)
    tables = {
        "supply_assets": assets,
        "outages": _outages(rng(seed, "utility", "outages"), as_of, scale),
        "risk_census": _risk_census(rng(seed, "utility", "census"), as_of, assets),
    }
    counts = {}
    for entity in UTILITY.entities:
        rows = [{name: row.get(name) for name in entity.field_names} for row in tables[entity.name]]
        if entity.name != "supply_assets":  # assets stay clean: the census refers to them
            rows = inject_breaks(rng(seed, "breaks", entity.table), entity, rows, log)
        name = f"{entity.name}_{stamp(as_of)}.jsonl"
        counts[f"utility/{name}"] = write_jsonl(out / "utility" / name, rows)
    return counts
