"""区林水局's workbook 水利数据_YYYYMMDD.xlsx: sheets 水库山塘, 防汛责任人, 风险点 with Chinese headers.

openpyxl stamps the save time into docProps/core.xml and every zip entry; we rewrite both with
the as-of date so the same seed gives a byte-identical file.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook

from hub.sample.breaks import BreakLog, inject_breaks
from hub.sample.common import RATES, atomic_path, rng, slash_date, stamp
from hub.sample.departments import dept_variant
from hub.sample.geography import Town, point_near, town_variant, towns, villages_of
from hub.sample.people import PhoneBook, person_name
from orchestration.ingest.contracts import WATER, Entity, FieldType

Row = dict[str, object]
RISK_POINTS_WITHOUT_PATROL = 0.08  # share of 风险点 deliberately left without a 巡查责任人


def _reservoirs(r: random.Random, seed: int, as_of: date) -> list[Row]:
    rows: list[Row] = []

    def add(kind: str, name: str, grade: str, town: Town, capacity: float | None, unit: str) -> None:
        village = r.choice(villages_of(seed, town.code))
        lng, lat = point_near(r, town, 0.04)
        checked = as_of - timedelta(days=r.randrange(10, 400))
        rows.append(
            {
                "工程编号": f"SL{town.code[-3:]}{len(rows) + 1:04d}",
                "工程名称": name,
                "工程类型": kind,
                "规模等级": grade,
                "所在镇街": town_variant(r, town),
                "所在村社": village.name,
                "经度": lng,
                "纬度": lat,
                "库容(万m³)": capacity,
                "管理单位": unit,
                "主管部门": dept_variant(r, "区林水局"),
                "安全鉴定结论": r.choices(("一类坝", "二类坝", "三类坝", "未鉴定"), weights=(60, 25, 8, 7))[0],
                "最近检查日期": checked,
                "_village": village.name,
            }
        )

    hilly = [t for t in towns() if t.is_hilly]
    reservoir_names = (
        "石门",
        "里山",
        "大坞",
        "欢潭",
        "横山",
        "云峰",
        "长潭",
        "湘湖",
        "东坞",
        "杨家坞",
        "岩山",
        "凤凰",
        "青龙",
        "白马",
        "黄泥",
        "楼家",
        "溪头",
        "梅里",
    )
    for i, stem in enumerate(reservoir_names):
        town = hilly[i % len(hilly)]
        grade = "小(1)型" if i < 6 else "小(2)型"
        add("水库", f"{stem}水库", grade, town, round(r.uniform(10, 450), 1), f"{town.name}水利站")
    for _ in range(150):
        town = r.choice([t for t in hilly if t.is_mountain] * 3 + hilly)
        village = r.choice(villages_of(seed, town.code))
        add(
            "山塘",
            f"{village.name[:-1]}{r.choice('上下前后大小东西')}山塘",
            r.choice(("屋顶山塘", "高坝山塘", "普通山塘")),
            town,
            round(r.uniform(0.5, 9.5), 2),
            f"{village.name}村民委员会" if village.kind == "村" else town.name,
        )
    coast = [t for t in towns() if t.name in ("益农镇", "党湾镇", "围垦区", "南阳街道", "靖江街道")]
    for i in range(12):
        town = coast[i % len(coast)]
        add(
            "海塘" if i % 3 == 0 else "堤防",
            f"{town.name}{'钱塘江' if i % 3 == 0 else '内河'}{i + 1}号段",
            "3级",
            town,
            None,
            "区钱塘江管理所",
        )
    for i in range(10):
        town = r.choice(towns())
        add(
            "水闸" if i % 2 else "泵站",
            f"{town.name[:2]}{'闸' if i % 2 else '排涝泵站'}{i + 1}",
            "中型",
            town,
            None,
            "区河道管理站",
        )
    for i in range(8):
        town = r.choice(hilly)
        add("农村供水工程", f"{town.name[:2]}联村供水站{i + 1}", "千吨万人", town, None, "区环境集团")
    return rows


def _risk_points(r: random.Random, seed: int) -> list[Row]:
    rows = []
    kinds = (("山洪", True), ("地质灾害", True), ("低洼易涝", False), ("危旧房", False), ("供水安全", True))
    for number in range(1, 221):
        kind, hill = r.choice(kinds)
        candidates = [t for t in towns() if t.is_hilly == hill] or list(towns())
        town = r.choice(candidates)
        village = r.choice(villages_of(seed, town.code))
        households = r.randrange(2, 80)
        rows.append(
            {
                "风险点编号": f"FX{town.code[-3:]}{number:04d}",
                "风险类型": kind,
                "所在镇街": town_variant(r, town),
                "所在村社": village.name,
                "影响户数": households,
                "影响人数": households * r.randrange(2, 5),
                "转移安置点": f"{village.name}文化礼堂" if r.random() < 0.8 else f"{town.name}中心小学",
                "预警指标": {
                    "山洪": "1小时降雨量≥40mm",
                    "地质灾害": "24小时降雨量≥100mm",
                    "低洼易涝": "积水深度≥30cm",
                    "危旧房": "台风蓝色预警",
                    "供水安全": "水源地水位低于警戒线",
                }[kind],
                "普查批次": r.choice(("2021年第一次全国自然灾害综合风险普查", "2023年动态更新", "2024年动态更新")),
            }
        )
    return rows


def _flood_duty(r: random.Random, as_of: date, reservoirs: list[Row], risk_points: list[Row]) -> list[Row]:
    phones = PhoneBook(r, prefix="1390000")
    rows: list[Row] = []

    def add(kind: str, object_id: str, object_name: str, role: str, title: str, unit: str) -> None:
        rows.append(
            {
                "责任对象类型": kind,
                "责任对象编号": object_id,
                "责任对象名称": object_name,
                "责任类别": role,
                "姓名": person_name(r),
                "职务": title,
                "单位": unit,
                "联系电话": phones.next(),
                "年度": as_of.year,
            }
        )

    for town in towns():
        add(
            "区域",
            town.code,
            town.name,
            "行政责任人",
            "党委副书记" if town.kind != "平台" else "管委会副主任",
            town.name,
        )
    for res in reservoirs:
        if res["工程类型"] not in ("水库", "山塘"):
            continue
        add("工程", str(res["工程编号"]), str(res["工程名称"]), "行政责任人", "副镇长", "镇人民政府")
        if res["工程类型"] == "水库":
            add("工程", str(res["工程编号"]), str(res["工程名称"]), "技术责任人", "工程师", "区林水局")
        add("工程", str(res["工程编号"]), str(res["工程名称"]), "巡查责任人", "巡查员", f"{res['_village']}")
    for point in risk_points:
        if r.random() < RISK_POINTS_WITHOUT_PATROL:
            continue  # planted: this risk point has no 巡查责任人
        add(
            "风险点",
            str(point["风险点编号"]),
            f"{point['所在村社']}{point['风险类型']}风险点",
            "巡查责任人",
            "村监委会主任" if r.random() < 0.5 else "网格员",
            str(point["所在村社"]),
        )
    return rows


def _cell(r: random.Random, entity: Entity, name: str, value: object) -> object:
    """Dates go in as real Excel dates mostly and as '2024/5/1' text sometimes."""
    if isinstance(value, date) and entity.field(name).type == FieldType.DATE:
        return slash_date(value) if r.random() < RATES.xlsx_text_date else value
    return value


def _deterministic_xlsx(workbook: Workbook, path: Path, as_of: date) -> None:
    buffer = io.BytesIO()
    workbook.save(buffer)
    moment = datetime(as_of.year, as_of.month, as_of.day, 8, 0, 0)
    fixed = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (
        atomic_path(path) as temp,
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + fixed.encode() + rb"\2", data
                )
            info = zipfile.ZipInfo(item.filename, date_time=moment.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)


def write_water(out: Path, seed: int, as_of: date, log: BreakLog) -> dict[str, int]:
    reservoirs = _reservoirs(rng(seed, "water", "reservoirs"), seed, as_of)
    risk_points = _risk_points(rng(seed, "water", "risk_points"), seed)
    duty = _flood_duty(rng(seed, "water", "flood_duty"), as_of, reservoirs, risk_points)
    sheets = {"reservoirs": reservoirs, "flood_duty": duty, "risk_points": risk_points}
    workbook = Workbook()
    workbook.remove(workbook.active)
    cell_rng = rng(seed, "water", "cells")
    path = out / "water" / f"水利数据_{stamp(as_of)}.xlsx"
    counts = {}
    for entity in WATER.entities:
        rows = inject_breaks(rng(seed, "breaks", entity.table), entity, sheets[entity.name], log)
        sheet = workbook.create_sheet(entity.sheet or entity.name)
        sheet.append(entity.field_names)
        for row in rows:
            sheet.append([_cell(cell_rng, entity, name, row.get(name)) for name in entity.field_names])
        for cells in sheet.iter_rows(min_row=2):
            for cell in cells:
                if isinstance(cell.value, datetime | date):
                    cell.number_format = "yyyy/m/d"
        counts[f"water/{path.name}#{entity.sheet}"] = len(rows)
    workbook.properties.creator = "区林水局"
    path.parent.mkdir(parents=True, exist_ok=True)
    _deterministic_xlsx(workbook, path, as_of)
    return counts
