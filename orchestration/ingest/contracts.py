"""The five source contracts, as data (docs/sources.md documents them for operators).

Every ingest reader, the validator and the sample generator read these specs, so the
contract is written down once. Raw DuckDB tables are named ``raw.<source>__<entity>``,
keep the source's own field names (Chinese headers, camelCase keys) as column names and
hold typed values (see ``FieldType``); dbt staging renames them to English snake_case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    TEXT = "text"  # VARCHAR, trimmed; empty string -> NULL
    INT = "int"  # BIGINT
    FLOAT = "float"  # DOUBLE
    DATE = "date"  # DATE; Excel serials, 2024/5/1, 2024-05-01, 20240501
    DATETIME = "datetime"  # TIMESTAMP, naive Asia/Shanghai local time (ISO-8601 with offset is converted)
    BOOL = "bool"  # BOOLEAN; true/false, 是/否, 1/0
    TEXT_LIST = "text_list"  # VARCHAR[]; JSON array
    JSON = "json"  # JSON text (kept verbatim, e.g. four_platforms flows)
    TOWN = "town"  # VARCHAR as given; must resolve through seeds/town_aliases.csv (name variant or code)
    TOWN_CODE = "town_code"  # VARCHAR, 9 digits; must resolve through seeds/town_aliases.csv
    VILLAGE_CODE = "village_code"  # VARCHAR, 12 digits


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    # Allowed values; a value outside is a contract break (quarantined). Only for closed lists.
    allowed: tuple[str, ...] | None = None
    label: str = ""  # Chinese label for messages, when the field name is not already Chinese


@dataclass(frozen=True)
class Entity:
    source: str  # source system, e.g. "water"
    name: str  # entity, e.g. "reservoirs"; raw table raw.<source>__<name>
    file_pattern: str  # glob under landing/<source>/
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()  # business key; a repeat of a key inside one batch is quarantined
    sheet: str | None = None  # xlsx sheet name (water)
    snapshot: bool = False  # each file is a full snapshot (registry): the latest load wins
    description: str = ""

    @property
    def table(self) -> str:
        return f"{self.source}__{self.name}"

    @property
    def label(self) -> str:
        """The Chinese name of what the rows are ("四平台事件（每次推送…）" → "四平台事件"), else the name."""
        return self.description.split("（")[0] or self.name

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class Source:
    name: str
    owner: str  # owning department, as it is named in the quality report
    owner_label: str
    format: str  # jsonl | xlsx | csv_gbk | csv_utf8_bom | http_json
    entities: tuple[Entity, ...] = field(default_factory=tuple)


T = FieldType
F = Field

EVENT_STATUS = ("待受理", "已受理", "处置中", "已办结", "已退回", "不予受理")
FLOW_ACTIONS = ("上报", "受理", "派单", "签收", "退回", "改派", "延期", "办结", "回访", "督办")

FOUR_PLATFORMS = Source(
    name="four_platforms",
    owner="区社会治理中心",
    owner_label="基层治理四平台",
    format="jsonl",
    entities=(
        Entity(
            source="four_platforms",
            name="events",
            file_pattern="events_*.jsonl",
            key=("eventId", "updatedAt"),
            description="四平台事件（每次推送一个版本，按 updatedAt 取最新）",
            fields=(
                F("eventId", required=True, label="事件编号"),
                F("title", required=True, label="标题"),
                F("content", label="内容"),
                F("source", allowed=("网格巡查", "12345", "视频监控", "部门移交", "群众上报"), label="来源"),
                F("platform", label="平台"),  # open list: newer track names appear
                F("categoryL1", label="一级分类"),
                F("categoryL2", label="二级分类"),
                F("townName", T.TOWN, required=True, label="镇街名称"),
                F("townCode", T.TOWN_CODE, label="镇街代码"),
                F("villageName", label="村社名称"),
                F("gridCode", label="网格编号"),
                F("address", label="地址"),
                F("lng", T.FLOAT, label="经度"),
                F("lat", T.FLOAT, label="纬度"),
                F("reportTime", T.DATETIME, required=True, label="上报时间"),
                F("acceptTime", T.DATETIME, label="受理时间"),
                F("dispatchTime", T.DATETIME, label="派单时间"),
                F("deadline", T.DATETIME, label="处置时限"),
                F("finishTime", T.DATETIME, label="办结时间"),
                F("status", required=True, allowed=EVENT_STATUS, label="状态"),
                F("handleDept", label="处置部门"),
                F("urgency", allowed=("一般", "紧急", "特急"), label="紧急程度"),
                F("satisfaction", allowed=("满意", "基本满意", "不满意"), label="满意度"),
                F("isSupervised", T.BOOL, label="是否督办"),
                F("updatedAt", T.DATETIME, required=True, label="更新时间"),
                F("flows", T.JSON, label="流转记录"),
            ),
        ),
    ),
)

WATER = Source(
    name="water",
    owner="区林水局",
    owner_label="区林水局（水利）",
    format="xlsx",
    entities=(
        Entity(
            source="water",
            name="reservoirs",
            sheet="水库山塘",
            file_pattern="水利数据_*.xlsx",
            key=("工程编号",),
            description="水库山塘等水利工程",
            fields=(
                F("工程编号", required=True),
                F("工程名称", required=True),
                F("工程类型", required=True, allowed=("水库", "山塘", "堤防", "海塘", "水闸", "泵站", "农村供水工程")),
                F("规模等级"),
                F("所在镇街", T.TOWN, required=True),
                F("所在村社"),
                F("经度", T.FLOAT),
                F("纬度", T.FLOAT),
                F("库容(万m³)", T.FLOAT),
                F("管理单位"),
                F("主管部门"),
                F("安全鉴定结论"),
                F("最近检查日期", T.DATE),
            ),
        ),
        Entity(
            source="water",
            name="flood_duty",
            sheet="防汛责任人",
            file_pattern="水利数据_*.xlsx",
            key=("责任对象编号", "责任类别", "姓名", "年度"),
            description="防汛责任人",
            fields=(
                F("责任对象类型", required=True, allowed=("区域", "工程", "风险点")),
                F("责任对象编号", required=True),
                F("责任对象名称"),
                F("责任类别", required=True, allowed=("行政责任人", "技术责任人", "巡查责任人")),
                F("姓名", required=True),
                F("职务"),
                F("单位"),
                F("联系电话"),
                F("年度", T.INT),
            ),
        ),
        Entity(
            source="water",
            name="risk_points",
            sheet="风险点",
            file_pattern="水利数据_*.xlsx",
            key=("风险点编号",),
            description="山洪、地质灾害、低洼易涝等风险点",
            fields=(
                F("风险点编号", required=True),
                F("风险类型", required=True, allowed=("山洪", "地质灾害", "低洼易涝", "危旧房", "供水安全")),
                F("所在镇街", T.TOWN, required=True),
                F("所在村社"),
                F("影响户数", T.INT),
                F("影响人数", T.INT),
                F("转移安置点"),
                F("预警指标"),
                F("普查批次"),
            ),
        ),
    ),
)

URBAN = Source(
    name="urban",
    owner="区城管局",
    owner_label="区城管局",
    format="csv_gbk",
    entities=(
        Entity(
            source="urban",
            name="waterlogging_points",
            file_pattern="积水点_*.csv",
            key=("积水点编号",),
            description="城市积水点",
            fields=(
                F("积水点编号", required=True),
                F("名称", required=True),
                F("镇街", T.TOWN, required=True),
                F("位置描述"),
                F("经度", T.FLOAT),
                F("纬度", T.FLOAT),
                F("成因"),
                F("整治状态", required=True, allowed=("未整治", "整治中", "已整治")),
                F("历史最大积水深度(cm)", T.FLOAT),
                F("责任单位"),
                F("最近积水时间", T.DATETIME),
            ),
        ),
        Entity(
            source="urban",
            name="cases",
            file_pattern="城管案件_*.csv",
            key=("案件编号",),
            description="数字城管与 12345 案件",
            fields=(
                F("案件编号", required=True),
                F("来源", allowed=("数字城管", "12345")),
                F("大类"),
                F("小类"),
                F("镇街", T.TOWN),
                F("上报时间", T.DATETIME, required=True),
                F("派遣单位"),
                F("处置时限", T.DATETIME),
                F("结案时间", T.DATETIME),
                F("处置结果"),
            ),
        ),
    ),
)

UTILITY = Source(
    name="utility",
    owner="区环境集团",
    owner_label="区环境集团（供水）",
    format="jsonl",
    entities=(
        Entity(
            source="utility",
            name="supply_assets",
            file_pattern="supply_assets_*.jsonl",
            key=("asset_id",),
            description="供水设施",
            fields=(
                F("asset_id", required=True, label="设施编号"),
                F("asset_type", required=True, allowed=("水厂", "加压站", "主干管", "单村水站", "联村水站"),
                  label="设施类型"),
                F("name", required=True, label="名称"),
                F("town", T.TOWN, required=True, label="镇街"),
                F("villages", T.TEXT_LIST, label="服务村社"),
                F("population_served", T.INT, label="服务人口"),
                F("design_capacity_m3d", T.FLOAT, label="设计规模(m³/日)"),
                F("operator", label="运营单位"),
            ),
        ),
        Entity(
            source="utility",
            name="outages",
            file_pattern="outages_*.jsonl",
            key=("outage_id",),
            description="停水事件",
            fields=(
                F("outage_id", required=True, label="停水编号"),
                F("kind", required=True, allowed=("planned", "unplanned"), label="类型"),
                F("cause", label="原因"),
                F("start_at", T.DATETIME, required=True, label="开始时间"),
                F("expected_restore_at", T.DATETIME, label="预计恢复时间"),
                F("restored_at", T.DATETIME, label="实际恢复时间"),
                F("towns", T.TEXT_LIST, label="影响镇街"),
                F("affected_households", T.INT, label="影响户数"),
                F("notice_channels", T.TEXT_LIST, label="通知渠道"),
            ),
        ),
        Entity(
            source="utility",
            name="risk_census",
            file_pattern="risk_census_*.jsonl",
            key=("item_id",),
            description="自然灾害综合风险普查（供水部分）",
            fields=(
                F("item_id", required=True, label="普查条目编号"),
                F("census_batch", label="普查批次"),
                F("object_type", label="对象类型"),
                F("object_id", label="对象编号"),
                F("town", T.TOWN, required=True, label="镇街"),
                F("risk_level", required=True, allowed=("低", "中", "高"), label="风险等级"),
                F("finding", label="发现问题"),
                F("rectify_deadline", T.DATE, label="整改期限"),
                F("status", required=True, allowed=("待整改", "整改中", "已整改"), label="状态"),
            ),
        ),
    ),
)


def _registry(name: str, description: str, key: tuple[str, ...], *fields: Field) -> Entity:
    return Entity(source="registry", name=name, file_pattern=f"{name}.csv", key=key, snapshot=True,
                  description=description, fields=fields)


YES_NO = ("是", "否")

REGISTRY = Source(
    name="registry",
    owner="区应急管理局",
    owner_label="区应急管理局（台账）",
    format="csv_utf8_bom",
    entities=(
        _registry("towns", "镇街（应急管理体系）", ("区划代码",),
                  F("区划代码", T.TOWN_CODE, required=True), F("名称", required=True),
                  F("类型", allowed=("街道", "镇", "平台")), F("领导小组成立日期", T.DATE),
                  F("应急管理站挂牌", allowed=YES_NO), F("联络员工号")),
        _registry("villages", "村社", ("区划代码",),
                  F("区划代码", T.VILLAGE_CODE, required=True), F("名称", required=True),
                  F("所属镇街代码", T.TOWN_CODE, required=True), F("类型", allowed=("村", "社区"))),
        _registry("grid_workers", "网格员与联络员", ("工号",),
                  F("工号", required=True), F("姓名", required=True),
                  F("角色", required=True, allowed=("网格员", "联络员")), F("村社代码", T.VILLAGE_CODE),
                  F("网格编号"), F("手机"), F("上岗日期", T.DATE),
                  F("状态", required=True, allowed=("在岗", "离岗")), F("年度培训次数", T.INT)),
        _registry("rescue_teams", "救援队伍", ("队伍编号",),
                  F("队伍编号", required=True), F("队伍名称", required=True),
                  F("类型", required=True, allowed=("综合性", "专业", "社会", "微型消防站")), F("所属单位"),
                  F("驻地镇街", T.TOWN), F("人数", T.INT), F("专长"),
                  F("资质", allowed=("有", "无")), F("协议签订", allowed=YES_NO)),
        _registry("equipment", "应急装备", ("装备编号",),
                  F("装备编号", required=True), F("持有方编号", required=True),
                  F("装备类型", required=True),  # open list ("...")
                  F("数量", T.INT), F("状态", required=True, allowed=("可用", "维修", "报废"))),
        _registry("plans", "预案登记", ("预案编号",),
                  F("预案编号", required=True), F("预案名称", required=True),
                  F("预案类别", required=True,
                    allowed=("总体", "专项", "部门", "单位", "基层组织", "重大活动", "联合")),
                  F("灾种"), F("编制单位"), F("镇街代码", T.TOWN_CODE), F("发布日期", T.DATE),
                  F("最近修订日期", T.DATE), F("文件名")),
        _registry("drills", "演练记录", ("演练编号",),
                  F("演练编号", required=True), F("预案编号"), F("镇街代码", T.TOWN_CODE),
                  F("演练日期", T.DATE, required=True), F("形式", allowed=("桌面", "实战", "综合")),
                  F("参与人数", T.INT), F("评估得分", T.FLOAT)),
        _registry("hidden_dangers", "隐患台账", ("隐患编号",),
                  F("隐患编号", required=True), F("发现日期", T.DATE, required=True),
                  F("镇街代码", T.TOWN_CODE, required=True), F("村社代码", T.VILLAGE_CODE),
                  F("隐患等级", required=True, allowed=("一般", "重大")), F("类别"), F("描述"),
                  F("整改责任单位"), F("督办单位"), F("整改期限", T.DATE),
                  F("状态", required=True, allowed=("待整改", "整改中", "待验收", "已销号")), F("销号日期", T.DATE)),
        _registry("responsibility_list", "责任清单", (),
                  F("领域", required=True), F("层级", required=True, allowed=("省", "市", "区", "镇", "村")),
                  F("事项", required=True), F("牵头单位"), F("配合单位"), F("依据文件")),
    ),
)

SOURCES: tuple[Source, ...] = (FOUR_PLATFORMS, WATER, URBAN, UTILITY, REGISTRY)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}
ENTITIES: tuple[Entity, ...] = tuple(e for s in SOURCES for e in s.entities)
# Chinese labels of the codes published tables carry (column meta ``value_labels_from: {contract: …}``).
CONTRACT_LABELS: dict[str, dict[str, str]] = {
    "sources": {s.name: s.owner_label for s in SOURCES},
    "entities": {e.name: e.label for e in ENTITIES},
    # fields named in English by their source (four_platforms' camelCase, utility's snake_case); the Chinese
    # headers of the other sources need none
    "fields": {f.name: f.label for e in ENTITIES for f in e.fields if f.label},
}

# Lineage columns every raw table carries after the contract fields.
LINEAGE_COLUMNS = ("_source_system", "_source_file", "_row_number", "_load_id", "_loaded_at", "_row_hash")


def entity(source: str, name: str) -> Entity:
    for e in SOURCES_BY_NAME[source].entities:
        if e.name == name:
            return e
    raise KeyError(f"{source}.{name}")
