"""What the towns report through the four platforms: category, handling department, wording, season."""

from __future__ import annotations

from dataclasses import dataclass

SUMMER = (6, 7, 8, 9)  # 梅汛 and 台汛
WINTER = (11, 12, 1, 2, 3, 4)  # dry season: forest fires


@dataclass(frozen=True)
class EventKind:
    platform: str
    category_l1: str
    category_l2: str
    depts: tuple[str, ...]  # canonical handling departments; "town" means the town government itself
    titles: tuple[str, ...]
    content: str
    weight: float
    peak_months: tuple[int, ...] = ()
    hilly_only: bool = False

    def weight_in(self, month: int) -> float:
        return self.weight * (3.0 if month in self.peak_months else 1.0)


EVENT_KINDS: tuple[EventKind, ...] = (
    EventKind(
        "综合执法",
        "城市管理",
        "道路积水",
        ("区城管局",),
        ("{road}积水严重", "{village}道路积水影响通行"),
        "{address}因强降雨出现积水，深约{n}厘米，车辆行人通行困难，请尽快排水。",
        8,
        SUMMER,
    ),
    EventKind(
        "综合执法",
        "城市管理",
        "道路破损",
        ("区交通运输局", "区城管局"),
        ("{road}路面破损", "{road}坑槽影响行车"),
        "{address}路面出现坑洞约{n}平方米，夜间易发生事故。",
        8,
    ),
    EventKind(
        "综合执法",
        "违法建设",
        "违章搭建",
        ("town", "区城管局"),
        ("{village}违章搭建", "居民楼顶违章搭建"),
        "群众反映{address}有人正在搭建彩钢棚约{n}平方米，未见审批手续。",
        7,
    ),
    EventKind(
        "综合执法",
        "市容环境",
        "占道经营",
        ("区城管局",),
        ("{road}占道经营", "{village}流动摊贩占道"),
        "{address}早晚有{n}个摊位占用人行道经营，影响通行。",
        9,
    ),
    EventKind(
        "综治工作",
        "水利安全",
        "山塘渗漏",
        ("区林水局",),
        ("{village}山塘渗漏", "{village}山塘坝脚渗水"),
        "巡查发现{address}山塘坝体背水坡渗水，渗流约{n}处，需技术人员现场查看。",
        2,
        SUMMER,
        True,
    ),
    EventKind(
        "综治工作",
        "水利安全",
        "河道堤防险情",
        ("区林水局",),
        ("{village}河道护岸坍塌", "堤防出现裂缝"),
        "{address}河道护岸坍塌约{n}米，汛期存在隐患。",
        2,
        SUMMER,
    ),
    EventKind(
        "便民服务",
        "公共服务",
        "停水",
        ("区环境集团",),
        ("{village}停水", "{road}一带无预告停水"),
        "{address}附近约{n}户居民家中停水超过4小时，未收到停水通知。",
        5,
    ),
    EventKind(
        "便民服务",
        "公共服务",
        "水质异常",
        ("区环境集团",),
        ("{village}自来水浑浊", "自来水有异味"),
        "{address}居民反映自来水发黄有异味，已持续{n}天。",
        2,
    ),
    EventKind(
        "综治工作",
        "安全生产",
        "燃气安全",
        ("区燃气公司", "区应急管理局"),
        ("{village}燃气异味", "餐馆燃气泄漏"),
        "{address}附近闻到明显燃气异味，现场已疏散约{n}人，请燃气公司到场。",
        3,
    ),
    EventKind(
        "综治工作",
        "安全生产",
        "危化品",
        ("区应急管理局",),
        ("危化品违规存放", "{village}小作坊存放油漆"),
        "{address}一处仓库违规存放危化品约{n}桶，无防火措施。",
        1.5,
    ),
    EventKind(
        "综治工作",
        "地质灾害",
        "边坡裂缝",
        ("区规划资源分局",),
        ("{village}山体滑坡隐患", "{village}边坡出现裂缝"),
        "{address}房屋后方边坡出现裂缝长约{n}米，雨后有落石，涉及住户需转移。",
        1.5,
        SUMMER,
        True,
    ),
    EventKind(
        "综治工作",
        "森林防火",
        "野外用火",
        ("区林水局",),
        ("{village}野外烧荒", "林区违规用火"),
        "{address}山脚有人焚烧杂草，距林区约{n}米，存在火灾风险。",
        2,
        WINTER,
        True,
    ),
    EventKind(
        "综治工作",
        "消防安全",
        "消防通道堵塞",
        ("区消防救援大队", "town"),
        ("{village}消防通道被占", "电动车楼道充电"),
        "{address}消防通道被{n}辆车辆长期占用，楼道内有电动车充电。",
        5,
    ),
    EventKind(
        "综合执法",
        "环境卫生",
        "垃圾清运不及时",
        ("区环境集团",),
        ("{village}垃圾清运不及时", "{road}垃圾满溢"),
        "{address}垃圾桶满溢已{n}天未清运，气味明显。",
        7,
    ),
    EventKind(
        "市场监管",
        "食品安全",
        "无证经营",
        ("区市场监管局",),
        ("{village}无证小吃店", "食品作坊卫生差"),
        "{address}一家小吃店无营业执照，后厨卫生条件差，约{n}名顾客反映。",
        4,
    ),
    EventKind(
        "综治工作",
        "矛盾纠纷",
        "邻里纠纷",
        ("town",),
        ("{village}邻里纠纷", "宅基地边界纠纷"),
        "{address}两户村民因宅基地边界发生争执，涉及约{n}人，需调解。",
        6,
    ),
    EventKind(
        "综合执法",
        "环境噪声",
        "施工噪声",
        ("区城管局", "区住建局"),
        ("{road}夜间施工扰民", "工地噪声扰民"),
        "{address}工地夜间22点后仍在施工，噪声持续约{n}小时。",
        4,
    ),
    EventKind(
        "便民服务",
        "城市管理",
        "树木倒伏",
        ("区城管局",),
        ("{road}行道树倒伏", "台风过后树木倒伏"),
        "{address}行道树倒伏{n}棵，压住非机动车道。",
        1.5,
        (7, 8, 9),
    ),
)

SOURCES = (("网格巡查", 45), ("12345", 25), ("视频监控", 8), ("部门移交", 7), ("群众上报", 15))
URGENCY = (("一般", 80), ("紧急", 17), ("特急", 3))
DEADLINE_HOURS = {"一般": 168, "紧急": 72, "特急": 24}
NEWER_PLATFORM = "基层智治"  # a newer track name: the contract leaves platform open
NEWER_PLATFORM_RATE = 0.02
