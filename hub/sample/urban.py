"""区城管局's GBK CSV exports: 积水点_YYYYMMDD.csv and 城管案件_YYYYMMDD.csv."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

from hub.sample.breaks import BreakLog, inject_breaks
from hub.sample.common import csv_datetime, rng, stamp, write_csv
from hub.sample.departments import dept_variant, town_government_variant
from hub.sample.geography import URBAN_ROADS, point_near, town_variant, towns
from orchestration.ingest.contracts import URBAN

Row = dict[str, object]
CASE_COUNTS = {"small": 2000, "medium": 20000, "large": 100000}
CAUSES = ("地势低洼", "排水管网管径偏小", "雨水井淤堵", "下穿通道排水能力不足", "河道水位顶托", "施工围挡影响排水")
CASE_TYPES = (
    ("市容环境", "暴露垃圾", "区环境集团"),
    ("市容环境", "乱堆物料", "区城管局"),
    ("街面秩序", "占道经营", "区城管局"),
    ("街面秩序", "无照游商", "区城管局"),
    ("宣传广告", "违规张贴", "区城管局"),
    ("施工管理", "施工扰民", "区住建局"),
    ("设施管理", "窨井盖缺损", "区城管局"),
    ("设施管理", "道路破损", "区交通运输局"),
    ("设施管理", "雨水箅子堵塞", "区城管局"),
    ("违法建设", "违章搭建", "town"),
)


def _waterlogging_points(r: random.Random, as_of: date) -> list[Row]:
    urban_towns = [t for t in towns() if t.kind in ("街道", "平台") or t.name in ("瓜沥镇", "临浦镇", "义桥镇")]
    rows = []
    for number in range(1, 121):
        town = r.choice(urban_towns)
        road = r.choice(URBAN_ROADS)
        lng, lat = point_near(r, town, 0.02)
        status = r.choices(("未整治", "整治中", "已整治"), weights=(30, 25, 45))[0]
        last = datetime(as_of.year, 1, 1) - timedelta(days=r.randrange(0, 500), hours=r.randrange(0, 24))
        rows.append(
            {
                "积水点编号": f"JS{number:04d}",
                "名称": f"{road}{r.choice(('下穿', '路口', '段', '与支路交叉口'))}积水点",
                "镇街": town_variant(r, town),
                "位置描述": f"{town.name}{road}{r.randrange(1, 800)}号附近",
                "经度": lng,
                "纬度": lat,
                "成因": r.choice(CAUSES),
                "整治状态": status,
                "历史最大积水深度(cm)": r.randrange(15, 90),
                "责任单位": dept_variant(r, r.choice(("区城管局", "区住建局", "区交通运输局"))),
                "最近积水时间": csv_datetime(r, last),
            }
        )
    return rows


def _cases(r: random.Random, as_of: date, scale: str) -> list[Row]:
    all_towns = towns()
    start = datetime(as_of.year, as_of.month, as_of.day) - timedelta(days=365)
    rows = []
    for number in range(1, CASE_COUNTS[scale] + 1):
        town = r.choice(all_towns)
        major, minor, owner = r.choice(CASE_TYPES)
        reported = start + timedelta(seconds=r.randrange(0, 365 * 86400))
        limit = reported + timedelta(hours=r.choice((2, 4, 24, 72)))
        closed = reported + timedelta(hours=r.expovariate(1 / 20))
        still_open = closed > datetime(as_of.year, as_of.month, as_of.day) or r.random() < 0.03
        dept = town_government_variant(r, town.name) if owner == "town" else dept_variant(r, owner)
        rows.append(
            {
                "案件编号": f"CG{reported:%Y%m%d}{number:06d}",
                "来源": r.choices(("数字城管", "12345"), (70, 30))[0],
                "大类": major,
                "小类": minor,
                "镇街": town_variant(r, town),
                "上报时间": csv_datetime(r, reported),
                "派遣单位": dept,
                "处置时限": csv_datetime(r, limit),
                "结案时间": "" if still_open else csv_datetime(r, closed),
                "处置结果": ""
                if still_open
                else r.choice(("已处置", "已处置", "已处置", "无法处置，已说明", "重复件")),
            }
        )
    return rows


def write_urban(out: Path, seed: int, scale: str, as_of: date, log: BreakLog) -> dict[str, int]:
    tables = {
        "waterlogging_points": ("积水点", _waterlogging_points(rng(seed, "urban", "points"), as_of)),
        "cases": ("城管案件", _cases(rng(seed, "urban", "cases"), as_of, scale)),
    }
    counts = {}
    for entity in URBAN.entities:
        prefix, rows = tables[entity.name]
        rows = inject_breaks(rng(seed, "breaks", entity.table), entity, rows, log)
        name = f"{prefix}_{stamp(as_of)}.csv"
        counts[f"urban/{name}"] = write_csv(out / "urban" / name, entity.field_names, rows, "gbk")
    return counts
