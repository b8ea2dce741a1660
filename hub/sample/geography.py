"""Towns (from the project's own seeds), their name variants, rough centres, and generated villages."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from hub.core.towns import read_town_aliases, read_towns
from hub.sample.common import RATES, rng

SOUTHERN_MOUNTAIN_TOWNS = ("楼塔镇", "河上镇", "戴村镇", "进化镇", "浦阳镇")
HILLY_TOWNS = (*SOUTHERN_MOUNTAIN_TOWNS, "义桥镇", "所前镇", "临浦镇", "闻堰街道")

# Roads of the built-up towns, where 城管 records waterlogging points.
URBAN_ROADS = (
    "市心路",
    "人民路",
    "金城路",
    "通惠路",
    "萧金路",
    "育才路",
    "工人路",
    "体育路",
    "山阴路",
    "建设一路",
    "弘慧路",
    "鸿宁路",
    "北塘路",
    "晨晖路",
    "高新路",
    "南秀路",
    "萧绍路",
    "湘湖路",
    "风情大道",
    "机场路",
)
# Roads named in event addresses: the built-up ones and two in the southern hills.
ROADS = (*URBAN_ROADS, "楼塔路", "进化大道")

# Approximate centres (lng, lat) and village/community counts per town; counts add up to 552.
TOWN_LAYOUT: dict[str, tuple[float, float, int]] = {
    "城厢街道": (120.270, 30.160, 22),
    "北干街道": (120.280, 30.180, 20),
    "蜀山街道": (120.240, 30.120, 24),
    "新塘街道": (120.300, 30.170, 22),
    "靖江街道": (120.450, 30.210, 18),
    "南阳街道": (120.500, 30.250, 20),
    "闻堰街道": (120.200, 30.120, 16),
    "宁围街道": (120.300, 30.220, 22),
    "新街街道": (120.340, 30.190, 24),
    "盈丰街道": (120.260, 30.220, 14),
    "楼塔镇": (120.120, 29.930, 30),
    "河上镇": (120.170, 29.980, 32),
    "戴村镇": (120.210, 30.000, 34),
    "浦阳镇": (120.240, 29.920, 32),
    "进化镇": (120.320, 29.980, 34),
    "临浦镇": (120.260, 30.030, 26),
    "义桥镇": (120.220, 30.070, 24),
    "所前镇": (120.300, 30.060, 20),
    "衙前镇": (120.360, 30.150, 14),
    "瓜沥镇": (120.450, 30.180, 40),
    "益农镇": (120.600, 30.220, 16),
    "党湾镇": (120.550, 30.250, 20),
    "萧山经济技术开发区": (120.300, 30.200, 10),
    "萧山商业城": (120.280, 30.190, 4),
    "围垦区": (120.600, 30.300, 4),
    "红山农场": (120.400, 30.200, 2),
    "萧山钱江世纪城": (120.260, 30.240, 8),
}


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    kind: str  # 街道 | 镇 | 平台
    short_names: tuple[str, ...]
    prefixed_name: str
    old_code: str
    lng: float
    lat: float
    village_count: int

    @property
    def is_mountain(self) -> bool:
        return self.name in SOUTHERN_MOUNTAIN_TOWNS

    @property
    def is_hilly(self) -> bool:
        return self.name in HILLY_TOWNS


@dataclass(frozen=True)
class Village:
    code: str  # 12 digits: town code + 3
    name: str
    town_code: str
    kind: str  # 村 | 社区


@cache
def towns() -> tuple[Town, ...]:
    """The 27 towns of dbt_project/seeds/towns.csv with the aliases of town_aliases.csv."""
    aliases: dict[str, dict[str, list[str]]] = {}
    for alias in read_town_aliases():
        aliases.setdefault(alias.town_code, {}).setdefault(alias.kind, []).append(alias.alias)
    result = []
    for row in read_towns():
        code, name = row.code, row.name
        lng, lat, count = TOWN_LAYOUT[name]
        kinds = aliases[code]
        result.append(
            Town(
                code=code,
                name=name,
                kind=row.kind,
                short_names=tuple(kinds["short_name"]),
                prefixed_name=kinds["prefixed_name"][0],
                old_code=kinds["old_code"][0],
                lng=lng,
                lat=lat,
                village_count=count,
            )
        )
    return tuple(result)


def town_by_name(name: str) -> Town:
    return next(t for t in towns() if t.name == name)


def town_variant(r: random.Random, town: Town) -> str:
    """The town as a messy export writes it: standard name mostly, else a short name, prefixed name or old code."""
    x = r.random()
    if x < RATES.town_short_name:
        return r.choice(town.short_names)
    x -= RATES.town_short_name
    if x < RATES.town_prefixed_name:
        return town.prefixed_name
    x -= RATES.town_prefixed_name
    if x < RATES.town_old_code:
        return town.old_code
    return town.name


VILLAGE_FIRST = "东西南北上下前后大小新石溪山桥塘湖云金凤龙梅竹松柏杨徐许沈王章楼傅孔华丁俞葛安永长高横青白茅朱"
VILLAGE_SECOND_PLAIN = "家塘桥头湾浦墩庄园林里埠港村闸沙湖河"
VILLAGE_SECOND_HILL = "坞岭岙溪坂畈山坑源岩口头"
COMMUNITY_FIRST = "城河湘金通育崇文湖世宁振兴富丰明星华银江银潘萧"
COMMUNITY_SECOND = "湖城惠才化苑滨纪新苑安盛阳光都桥园庭湾北南东西"


def _village_name(r: random.Random, kind: str, hilly: bool, used: set[str]) -> str:
    while True:
        if kind == "社区":
            name = r.choice(COMMUNITY_FIRST) + r.choice(COMMUNITY_SECOND) + "社区"
        else:
            second = VILLAGE_SECOND_HILL if hilly and r.random() < 0.7 else VILLAGE_SECOND_PLAIN
            name = r.choice(VILLAGE_FIRST) + r.choice(second) + "村"
        if name[0] != name[1] and name not in used:
            used.add(name)
            return name


@cache
def villages(seed: int) -> tuple[Village, ...]:
    """552 villages and communities: communities mostly in the 街道 and platforms, villages in the towns."""
    r = rng(seed, "villages")
    used: set[str] = set()
    result = []
    for town in towns():
        community_share = {"街道": 0.7, "平台": 1.0}.get(town.kind, 0.15)
        communities = round(town.village_count * community_share)
        for i in range(town.village_count):
            kind = "社区" if i < communities else "村"
            # Communities are numbered 0xx/1xx and villages 2xx, as in the national statistical codes.
            number = (1 + i) if kind == "社区" else (200 + i - communities + 1)
            name = _village_name(r, kind, town.is_hilly, used)
            result.append(Village(code=f"{town.code}{number:03d}", name=name, town_code=town.code, kind=kind))
    return tuple(result)


def villages_of(seed: int, town_code: str) -> list[Village]:
    return [v for v in villages(seed) if v.town_code == town_code]


def point_near(r: random.Random, town: Town, spread: float = 0.03) -> tuple[float, float]:
    return round(town.lng + r.uniform(-spread, spread), 6), round(town.lat + r.uniform(-spread, spread), 6)
