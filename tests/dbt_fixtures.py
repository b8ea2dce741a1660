"""A small, hand-written raw layer for dbt tests, and a helper to run dbt on it.

Rows use the sources' own field names (docs/sources.md contracts) and typed values, as the ingest
loader would leave them in ``raw.<source>__<entity>``; every town value resolves through
seeds/town_aliases.csv, as the contract requires. The expected answers of the shared views
are worked out by hand in tests/test_dbt_build.py (as of 2025-06-30).

Reusable: ``write_raw_fixture(path)`` creates a DuckDB file with the raw schema and these rows;
``run_dbt(["build"], build_db=path, as_of="2025-06-30", work_dir=tmp)`` runs the real dbt CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from hub.core.paths import DBT_PROJECT_DIR
from hub.core.quoting import quote_ident
from orchestration.ingest.contracts import entity as contract_entity
from orchestration.ingest.schema import ensure_raw_schema, raw_table_name

FIXTURE_AS_OF = "2025-06-30"
FIRST_LOAD_AT = datetime(2025, 6, 1, 10, 0)

Row = dict[str, Any]


@dataclass(frozen=True)
class RawLoad:
    """One load of one entity: what a single source file (or API page) put into the raw table."""

    source: str
    entity: str
    rows: tuple[Row, ...]
    load_id: str = ""
    loaded_at: datetime = FIRST_LOAD_AT
    source_file: str = ""


def d(text: str) -> date:
    return date.fromisoformat(text)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def flows(*steps: tuple[str, str, str, str]) -> str:
    """four_platforms flows JSON: (action, fromDept, toDept, time) per step, seq from 1."""
    return json.dumps(
        [
            {"seq": i, "action": a, "fromDept": f, "toDept": t, "time": when, "opinion": None}
            for i, (a, f, t, when) in enumerate(steps, start=1)
        ],
        ensure_ascii=False,
    )


def _registry(entity: str, *rows: Row, loaded_at: datetime = FIRST_LOAD_AT, load_id: str = "") -> RawLoad:
    return RawLoad("registry", entity, rows, load_id=load_id, loaded_at=loaded_at, source_file=f"{entity}.csv")


GUALI, CHENGXIANG, HESHANG = "330109113", "330109001", "330109101"

REGISTRY_LOADS: tuple[RawLoad, ...] = (
    _registry(
        "towns",
        {"区划代码": GUALI, "名称": "瓜沥镇", "类型": "镇", "领导小组成立日期": d("2021-03-01"),
         "应急管理站挂牌": "是", "联络员工号": "L001"},
        {"区划代码": CHENGXIANG, "名称": "城厢街道", "类型": "街道", "领导小组成立日期": d("2020-05-01"),
         "应急管理站挂牌": "是", "联络员工号": "L002"},
        # an old code (330181…) that the town crosswalk maps to 河上镇
        {"区划代码": "330181101", "名称": "河上镇", "类型": "镇", "应急管理站挂牌": "否"},
    ),
    _registry(
        "villages",
        {"区划代码": "330109113201", "名称": "东恩村", "所属镇街代码": GUALI, "类型": "村"},
        {"区划代码": "330109113202", "名称": "瓜沥社区", "所属镇街代码": GUALI, "类型": "社区"},
        {"区划代码": "330109001001", "名称": "城东社区", "所属镇街代码": CHENGXIANG, "类型": "社区"},
        {"区划代码": "330109101201", "名称": "河上村", "所属镇街代码": HESHANG, "类型": "村"},
    ),
    _registry(
        "grid_workers",
        {"工号": "G001", "姓名": "张一", "角色": "网格员", "村社代码": "330109113201", "网格编号": "GL-01",
         "上岗日期": d("2024-01-01"), "状态": "在岗", "年度培训次数": 4},
        {"工号": "G002", "姓名": "张二", "角色": "网格员", "村社代码": "330109113202", "网格编号": "GL-02",
         "上岗日期": d("2023-01-01"), "状态": "离岗", "年度培训次数": 1},
        # in post, but only from after the as-of date
        {"工号": "G003", "姓名": "张三", "角色": "网格员", "村社代码": "330109001001", "网格编号": "CX-01",
         "上岗日期": d("2025-08-01"), "状态": "在岗", "年度培训次数": 0},
        {"工号": "G004", "姓名": "张四", "角色": "网格员", "村社代码": "330109101201", "网格编号": "HS-01",
         "上岗日期": d("2023-01-01"), "状态": "在岗", "年度培训次数": 2},
        {"工号": "L001", "姓名": "李一", "角色": "联络员", "村社代码": "330109113201",
         "上岗日期": d("2022-01-01"), "状态": "在岗", "年度培训次数": 6},
        {"工号": "L002", "姓名": "李二", "角色": "联络员", "村社代码": "330109001001",
         "上岗日期": d("2021-01-01"), "状态": "离岗", "年度培训次数": 0},
    ),
    _registry(
        "rescue_teams",
        {"队伍编号": "T001", "队伍名称": "瓜沥镇应急救援队", "类型": "综合性", "所属单位": "瓜沥镇人民政府",
         "驻地镇街": "瓜沥", "人数": 25, "专长": "防汛", "资质": "有", "协议签订": "是"},
        {"队伍编号": "T002", "队伍名称": "瓜沥蓝天救援队", "类型": "社会", "所属单位": "萧山蓝天救援队",
         "驻地镇街": "萧山区瓜沥镇", "人数": 8, "专长": "水域救援", "资质": "无", "协议签订": "否"},
        {"队伍编号": "T003", "队伍名称": "城厢街道微型消防站", "类型": "微型消防站", "所属单位": "城厢街道办事处",
         "驻地镇街": "城厢街道", "人数": 9, "资质": "有", "协议签订": "是"},
        {"队伍编号": "T004", "队伍名称": "河上镇应急分队", "类型": "专业", "所属单位": "河上镇人民政府",
         "驻地镇街": "河上镇", "人数": 12, "资质": "有", "协议签订": "否"},
    ),
    _registry(
        "equipment",
        {"装备编号": "E001", "持有方编号": "T001", "装备类型": "冲锋舟", "数量": 2, "状态": "可用"},
        {"装备编号": "E002", "持有方编号": "T001", "装备类型": "水泵", "数量": 3, "状态": "维修"},
        {"装备编号": "E003", "持有方编号": "T002", "装备类型": "水泵", "数量": 4, "状态": "可用"},
        {"装备编号": "E004", "持有方编号": "T003", "装备类型": "冲锋舟", "数量": 1, "状态": "可用"},
        {"装备编号": "E005", "持有方编号": "T004", "装备类型": "水泵", "数量": 2, "状态": "报废"},
        {"装备编号": "E006", "持有方编号": "WH01", "装备类型": "卫星电话", "数量": 5, "状态": "可用"},
    ),
    _registry(
        "plans",
        {"预案编号": "P001", "预案名称": "瓜沥镇防汛防台专项应急预案", "预案类别": "专项", "灾种": "防汛防台",
         "编制单位": "瓜沥镇人民政府", "镇街代码": GUALI, "发布日期": d("2020-05-01"),
         "最近修订日期": d("2023-04-01"), "文件名": "瓜沥镇防汛防台专项应急预案.docx"},
        # revised one day before the 3-year window opens (2022-06-30)
        {"预案编号": "P002", "预案名称": "城厢街道突发事件总体应急预案", "预案类别": "总体",
         "编制单位": "城厢街道办事处", "镇街代码": CHENGXIANG, "发布日期": d("2019-01-01"),
         "最近修订日期": d("2022-06-29")},
        {"预案编号": "P003", "预案名称": "河上镇水库抢险部门预案", "预案类别": "部门", "编制单位": "河上镇人民政府",
         "镇街代码": HESHANG, "发布日期": d("2024-01-01")},
        {"预案编号": "P004", "预案名称": "萧山区突发事件总体应急预案", "预案类别": "总体", "编制单位": "区应急管理局",
         "发布日期": d("2024-01-01")},
    ),
    _registry(
        "drills",
        {"演练编号": "D001", "预案编号": "P001", "镇街代码": GUALI, "演练日期": d("2024-10-15"), "形式": "实战",
         "参与人数": 60, "评估得分": 88.0},
        # one day before the 12-month window opens (2024-06-30)
        {"演练编号": "D002", "预案编号": "P002", "镇街代码": CHENGXIANG, "演练日期": d("2024-06-29"),
         "形式": "桌面", "参与人数": 20, "评估得分": 75.0},
        {"演练编号": "D003", "镇街代码": "330181101", "演练日期": d("2025-05-20"), "形式": "综合", "参与人数": 40},
    ),
    # An older snapshot of the ledger: its rows must not survive the newer snapshot below.
    _registry(
        "hidden_dangers",
        {"隐患编号": "H999", "发现日期": d("2024-01-01"), "镇街代码": GUALI, "隐患等级": "一般", "类别": "消防",
         "整改期限": d("2024-02-01"), "状态": "整改中"},
        loaded_at=datetime(2025, 5, 1, 9, 0),
        load_id="registry-hidden_dangers-old",
    ),
    _registry(
        "hidden_dangers",
        {"隐患编号": "H001", "发现日期": d("2025-03-01"), "镇街代码": GUALI, "村社代码": "330109113201",
         "隐患等级": "一般", "类别": "防汛防台", "描述": "堤塘渗漏", "整改责任单位": "区农业农村局（林水）",
         "督办单位": "区应急管理局", "整改期限": d("2025-06-01"), "状态": "整改中"},
        {"隐患编号": "H002", "发现日期": d("2025-01-10"), "镇街代码": CHENGXIANG, "隐患等级": "重大",
         "类别": "地质灾害", "描述": "边坡裂缝", "整改责任单位": "区规划资源分局", "整改期限": d("2025-05-31"),
         "状态": "已销号", "销号日期": d("2025-05-20")},
        {"隐患编号": "H003", "发现日期": d("2025-06-01"), "镇街代码": HESHANG, "隐患等级": "一般", "类别": "消防",
         "描述": "消防通道堵塞", "整改责任单位": "河上镇人民政府", "整改期限": d("2025-07-31"), "状态": "待整改"},
        {"隐患编号": "H004", "发现日期": d("2025-02-01"), "镇街代码": GUALI, "隐患等级": "重大", "类别": "危化品",
         "描述": "储罐区防火间距不足", "整改责任单位": "浙江某某化工有限公司", "整改期限": d("2025-06-29"),
         "状态": "待验收"},
        # deadline is the as-of date itself: not yet overdue (strictly after)
        {"隐患编号": "H005", "发现日期": d("2025-04-01"), "镇街代码": CHENGXIANG, "隐患等级": "一般",
         "类别": "高空坠物", "描述": "广告牌松动", "整改责任单位": "区城管局", "整改期限": d("2025-06-30"),
         "状态": "整改中"},
        # closed after the as-of date: still open (and overdue) as of 2025-06-30
        {"隐患编号": "H006", "发现日期": d("2025-01-01"), "镇街代码": GUALI, "隐患等级": "一般", "类别": "防汛防台",
         "描述": "排涝泵站老化", "整改责任单位": "萧山区住房和城乡建设局", "督办单位": "区应急管理局",
         "整改期限": d("2025-03-01"), "状态": "已销号", "销号日期": d("2025-07-10")},
        # found after the as-of date: not listed yet
        {"隐患编号": "H007", "发现日期": d("2025-07-05"), "镇街代码": GUALI, "隐患等级": "一般", "类别": "消防",
         "整改期限": d("2025-07-20"), "状态": "待整改"},
        load_id="registry-hidden_dangers-new",
    ),
    _registry(
        "responsibility_list",
        # 供水安全 / 风险普查: 省水利厅 (water) → 市城管局 (urban) → 区环境集团 (enterprise) = two breaks
        {"领域": "供水安全", "层级": "省", "事项": "风险普查", "牵头单位": "浙江省水利厅"},
        {"领域": "供水安全", "层级": "市", "事项": "风险普查", "牵头单位": "杭州市城市管理局"},
        {"领域": "供水安全", "层级": "区", "事项": "风险普查", "牵头单位": "萧山环境集团", "配合单位": "区林水局"},
        {"领域": "供水安全", "层级": "镇", "事项": "风险普查", "牵头单位": "镇（街道）"},
        {"领域": "供水安全", "层级": "村", "事项": "风险普查", "牵头单位": "村（社区）"},
        # 城市内涝 / 日常监管: two leads in one cell at 区 (conflict), no 镇 line (gap); housing line unbroken
        {"领域": "城市内涝", "层级": "省", "事项": "日常监管", "牵头单位": "省住建厅"},
        {"领域": "城市内涝", "层级": "市", "事项": "日常监管", "牵头单位": "杭州市住房和城乡建设局"},
        {"领域": "城市内涝", "层级": "区", "事项": "日常监管", "牵头单位": "区城管局、区住建局"},
        {"领域": "城市内涝", "层级": "村", "事项": "日常监管", "牵头单位": "各村（社区）"},
        # 山塘水库 / 应急处置: two rows at 区 (conflict), no 村 line (gap); water line unbroken
        {"领域": "山塘水库", "层级": "省", "事项": "应急处置", "牵头单位": "省水利厅"},
        {"领域": "山塘水库", "层级": "市", "事项": "应急处置", "牵头单位": "杭州市林业水利局"},
        {"领域": "山塘水库", "层级": "区", "事项": "应急处置", "牵头单位": "区林水局"},
        {"领域": "山塘水库", "层级": "区", "事项": "应急处置", "牵头单位": "区应急管理局"},
        {"领域": "山塘水库", "层级": "镇", "事项": "应急处置", "牵头单位": "各镇街"},
    ),
)

WATER_LOADS: tuple[RawLoad, ...] = (
    RawLoad("water", "reservoirs", (
        {"工程编号": "R001", "工程名称": "大桥水库", "工程类型": "水库", "规模等级": "小(1)型", "所在镇街": "河上镇",
         "所在村社": "河上村", "库容(万m³)": 120.5, "管理单位": "河上镇人民政府", "主管部门": "区林水局",
         "安全鉴定结论": "一类坝", "最近检查日期": d("2025-05-10")},
        {"工程编号": "R002", "工程名称": "东山山塘", "工程类型": "山塘", "所在镇街": "瓜沥镇", "所在村社": "东恩村",
         "库容(万m³)": 3.2, "管理单位": "东恩村村委会", "主管部门": "林水局", "最近检查日期": d("2025-04-01")},
    ), source_file="水利数据_20250601.xlsx"),
    RawLoad("water", "flood_duty", (
        {"责任对象类型": "风险点", "责任对象编号": "RP01", "责任对象名称": "河上山洪点", "责任类别": "巡查责任人",
         "姓名": "王五", "职务": "村干部", "单位": "河上镇人民政府", "联系电话": "13800000001", "年度": 2025},
        # only a 2024 patrol officer: RP02 has none for 2025
        {"责任对象类型": "风险点", "责任对象编号": "RP02", "责任对象名称": "瓜沥地灾点", "责任类别": "巡查责任人",
         "姓名": "赵六", "单位": "瓜沥镇人民政府", "年度": 2024},
        # an administrative officer is not a patrol officer: RP03 has none
        {"责任对象类型": "风险点", "责任对象编号": "RP03", "责任对象名称": "城厢低洼点", "责任类别": "行政责任人",
         "姓名": "钱七", "单位": "城厢街道办事处", "年度": 2025},
        {"责任对象类型": "工程", "责任对象编号": "R001", "责任对象名称": "大桥水库", "责任类别": "行政责任人",
         "姓名": "孙八", "单位": "区林水局", "年度": 2025},
    ), source_file="水利数据_20250601.xlsx"),
    RawLoad("water", "risk_points", (
        {"风险点编号": "RP01", "风险类型": "山洪", "所在镇街": "河上镇", "所在村社": "河上村", "影响户数": 20,
         "影响人数": 65, "转移安置点": "河上小学", "预警指标": "1小时雨量50mm", "普查批次": "2024"},
        {"风险点编号": "RP02", "风险类型": "地质灾害", "所在镇街": "瓜沥镇", "所在村社": "东恩村", "影响户数": 5,
         "影响人数": 14, "普查批次": "2024"},
        {"风险点编号": "RP03", "风险类型": "低洼易涝", "所在镇街": "城厢", "影响户数": 40, "影响人数": 120,
         "普查批次": "2024"},
    ), source_file="水利数据_20250601.xlsx"),
)

URBAN_LOADS: tuple[RawLoad, ...] = (
    RawLoad("urban", "waterlogging_points", (
        {"积水点编号": "W001", "名称": "航坞路下穿通道", "镇街": "瓜沥", "成因": "排水能力不足", "整治状态": "未整治",
         "历史最大积水深度(cm)": 45.0, "责任单位": "区城管局", "最近积水时间": ts("2025-06-18 15:00:00")},
        {"积水点编号": "W002", "名称": "人民路口", "镇街": "城厢街道", "整治状态": "已整治",
         "历史最大积水深度(cm)": 20.0, "责任单位": "区城管局"},
        {"积水点编号": "W003", "名称": "体育路", "镇街": "萧山区城厢街道", "整治状态": "整治中",
         "历史最大积水深度(cm)": 30.0, "责任单位": "萧山区城市管理局"},
    ), source_file="积水点_20250601.csv"),
    RawLoad("urban", "cases", (
        {"案件编号": "C001", "来源": "数字城管", "大类": "市容环境", "小类": "暴露垃圾", "镇街": "城厢街道",
         "上报时间": ts("2025-06-10 08:00:00"), "派遣单位": "城管局", "处置时限": ts("2025-06-11 08:00:00"),
         "结案时间": ts("2025-06-10 16:00:00"), "处置结果": "已清理"},
    ), source_file="城管案件_20250601.csv"),
)

UTILITY_LOADS: tuple[RawLoad, ...] = (
    RawLoad("utility", "supply_assets", (
        {"asset_id": "A001", "asset_type": "水厂", "name": "瓜沥水厂", "town": "瓜沥镇", "villages": ["东恩村"],
         "population_served": 50000, "design_capacity_m3d": 20000.0, "operator": "萧山环境集团"},
    ), source_file="supply_assets_20250601.jsonl"),
    RawLoad("utility", "outages", (
        {"outage_id": "O001", "kind": "unplanned", "cause": "爆管", "start_at": ts("2025-06-20 08:00:00"),
         "expected_restore_at": ts("2025-06-20 14:00:00"), "restored_at": ts("2025-06-20 13:00:00"),
         "towns": ["瓜沥镇", "城厢"], "affected_households": 300, "notice_channels": ["短信", "网格员"]},
    ), source_file="outages_20250601.jsonl"),
    RawLoad("utility", "risk_census", (
        {"item_id": "RC01", "census_batch": "2024第一批", "object_type": "水厂", "object_id": "A001", "town": "瓜沥",
         "risk_level": "高", "finding": "备用电源不足", "rectify_deadline": d("2025-05-01"), "status": "整改中"},
        {"item_id": "RC02", "census_batch": "2024第一批", "object_type": "主干管", "object_id": "M001",
         "town": "城厢街道", "risk_level": "中", "finding": "管龄超30年", "rectify_deadline": d("2025-12-31"),
         "status": "待整改"},
        {"item_id": "RC03", "census_batch": "2024第一批", "object_type": "加压站", "object_id": "B001",
         "town": "330181113", "risk_level": "低", "finding": "围栏破损", "rectify_deadline": d("2025-01-01"),
         "status": "已整改"},
    ), source_file="risk_census_20250601.jsonl"),
)

CITY = "萧山区城市管理局"
_EV_COMMON = {"source": "网格巡查", "platform": "综合执法", "categoryL1": "城市管理", "urgency": "一般"}


def _event(**fields: Any) -> Row:
    return {**_EV_COMMON, **fields}


EV001_V2 = _event(
    eventId="EV001", title="道路积水", townName="瓜沥镇", townCode=GUALI, reportTime=ts("2025-06-02 09:00:00"),
    acceptTime=ts("2025-06-02 09:30:00"), deadline=ts("2025-06-05 18:00:00"), finishTime=ts("2025-06-04 10:00:00"),
    status="已办结", handleDept=CITY, satisfaction="满意", isSupervised=False, updatedAt=ts("2025-06-04 10:00:00"),
    flows=flows(("上报", "瓜沥镇", "区社会治理中心", "2025-06-02 09:00:00"),
                ("受理", "区社会治理中心", "区社会治理中心", "2025-06-02T01:30:00Z"),
                ("派单", "区社会治理中心", CITY, "2025-06-02T10:00:00+08:00"),
                ("办结", CITY, "区社会治理中心", "2025-06-04 10:00:00")),
)

FOUR_PLATFORMS_LOADS: tuple[RawLoad, ...] = (
    RawLoad("four_platforms", "events", (
        _event(eventId="EV001", title="道路积水", townName="瓜沥镇", townCode=GUALI,
               reportTime=ts("2025-06-02 09:00:00"), acceptTime=ts("2025-06-02 09:30:00"),
               deadline=ts("2025-06-05 18:00:00"), status="已受理", handleDept=CITY,
               updatedAt=ts("2025-06-02 09:30:00"),
               flows=flows(("上报", "瓜沥镇", "区社会治理中心", "2025-06-02 09:00:00"),
                           ("受理", "区社会治理中心", "区社会治理中心", "2025-06-02 09:30:00"))),
        EV001_V2,
        _event(eventId="EV002", title="井盖缺失", townName="城厢", reportTime=ts("2025-06-10 08:00:00"),
               acceptTime=ts("2025-06-10 10:00:00"), deadline=ts("2025-06-12 08:00:00"),
               finishTime=ts("2025-06-13 08:00:00"), status="已办结", handleDept="城管局", satisfaction="不满意",
               isSupervised=True, updatedAt=ts("2025-06-13 08:00:00"),
               flows=flows(("上报", "城厢街道", "区社会治理中心", "2025-06-10 08:00:00"),
                           ("受理", "区社会治理中心", "区社会治理中心", "2025-06-10 10:00:00"),
                           ("派单", "区社会治理中心", "区住建局", "2025-06-10 10:05:00"),
                           ("退回", "区住建局", "区社会治理中心", "2025-06-10 15:00:00"),
                           ("改派", "区社会治理中心", "城管局", "2025-06-10 16:00:00"),
                           ("办结", "城管局", "区社会治理中心", "2025-06-13 08:00:00"))),
        _event(eventId="EV003", title="排水管堵塞", townName="萧山区瓜沥镇", reportTime=ts("2025-06-20 08:00:00"),
               acceptTime=ts("2025-06-20 09:00:00"), deadline=ts("2025-06-25 08:00:00"), status="处置中",
               handleDept="区城管局", updatedAt=ts("2025-06-20 09:00:00")),
        _event(eventId="EV004", title="绿化带塌陷", townName="瓜沥镇", townCode=GUALI,
               reportTime=ts("2025-06-28 08:00:00"), deadline=ts("2025-07-05 08:00:00"), status="待受理",
               handleDept="区城管局", updatedAt=ts("2025-06-28 08:00:00")),
        _event(eventId="EV005", title="山塘渗水", townName="河上镇", townCode="330181101",
               reportTime=ts("2025-05-15 10:00:00"), acceptTime=ts("2025-05-15 12:00:00"),
               deadline=ts("2025-05-20 10:00:00"), finishTime=ts("2025-05-18 10:00:00"), status="已办结",
               handleDept="区农业农村局（林水）", satisfaction="基本满意", updatedAt=ts("2025-05-18 10:00:00")),
    ), load_id="four_platforms-events-20250601", source_file="events_20250601.jsonl"),
    # A later export: EV001 v2 again (a duplicate version), EV003 finished after the as-of date,
    # EV007 reported after it.
    RawLoad("four_platforms", "events", (
        EV001_V2,
        _event(eventId="EV003", title="排水管堵塞", townName="萧山区瓜沥镇", reportTime=ts("2025-06-20 08:00:00"),
               acceptTime=ts("2025-06-20 09:00:00"), deadline=ts("2025-06-25 08:00:00"),
               finishTime=ts("2025-07-01 12:00:00"), status="已办结", handleDept="区城管局",
               updatedAt=ts("2025-07-02 09:00:00")),
        _event(eventId="EV007", title="路灯不亮", townName="瓜沥镇", reportTime=ts("2025-07-01 20:00:00"),
               status="待受理", handleDept="区城管局", updatedAt=ts("2025-07-01 20:00:00")),
    ), load_id="four_platforms-events-20250703", loaded_at=datetime(2025, 7, 3, 2, 0),
        source_file="events_20250703.jsonl"),
)

ALL_LOADS: tuple[RawLoad, ...] = REGISTRY_LOADS + WATER_LOADS + URBAN_LOADS + UTILITY_LOADS + FOUR_PLATFORMS_LOADS


def _row_hash(row: Row) -> str:
    return hashlib.md5(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def insert_load(con: duckdb.DuckDBPyConnection, load: RawLoad) -> None:
    """Insert one load's rows into raw.<source>__<entity>, filling the lineage columns."""
    spec = contract_entity(load.source, load.entity)
    unknown = {k for row in load.rows for k in row} - set(spec.field_names)
    if unknown:
        raise ValueError(f"fixture rows for {spec.table} carry fields outside the contract: {sorted(unknown)}")
    load_id = load.load_id or f"{spec.table}-{load.loaded_at:%Y%m%d%H%M}"
    source_file = load.source_file or f"{spec.table}.fixture"
    columns = [*spec.field_names, "_source_system", "_source_file", "_row_number", "_load_id", "_loaded_at",
               "_row_hash"]
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {raw_table_name(spec)} ({', '.join(quote_ident(c) for c in columns)}) VALUES ({placeholders})"
    values = [
        [row.get(name) for name in spec.field_names]
        + [load.source, source_file, number, load_id, load.loaded_at, _row_hash(row)]
        for number, row in enumerate(load.rows, start=1)
    ]
    con.executemany(sql, values)


def write_raw_fixture(db_path: Path, loads: tuple[RawLoad, ...] = ALL_LOADS) -> Path:
    """Create (or extend) a build database with the raw schema and the given loads."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db_path))
    try:
        ensure_raw_schema(con)
        for load in loads:
            insert_load(con, load)
    finally:
        con.close()
    return db_path


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(args: list[str], *, build_db: Path, work_dir: Path, as_of: str | None = FIXTURE_AS_OF,
            timeout: int = 600, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real dbt CLI on the project against ``build_db``; target and logs go to ``work_dir``
    so parallel runs never share dbt_project/target. ``extra_env`` selects another target
    (hub.core.warehouse.Warehouse.dbt_env(): PostgreSQL)."""
    env = {
        **os.environ,
        "HUB_BUILD_DB": str(build_db),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        **(extra_env or {}),
    }
    command = [
        dbt_executable(), *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]
    if as_of is not None:
        command += ["--vars", json.dumps({"as_of": as_of})]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def query_rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """A query's rows as dicts keyed by column name."""
    cursor = con.execute(sql)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
