"""Department names as the exports write them: one canonical name and the variants seen in free text.

The dbt department crosswalk seed must map every variant below to its canonical name;
``UNKNOWN_DEPARTMENTS`` are planted on purpose to map to nothing (the unmapped-values report).
"""

from __future__ import annotations

import random

from hub.sample.common import RATES

DEPARTMENT_VARIANTS: dict[str, tuple[str, ...]] = {
    "区林水局": ("区农业农村局（林水）", "林水局", "萧山区林业水利局", "区林业水利局"),
    "区城管局": ("城管局", "萧山区城市管理局", "区城市管理局", "区综合行政执法局"),
    "区环境集团": ("萧山环境集团", "萧山区环境集团", "环境集团", "区环境集团供水分公司"),
    "区应急管理局": ("应急管理局", "萧山区应急管理局", "区应急局"),
    "区住建局": ("萧山区住房和城乡建设局", "区住房和城乡建设局", "住建局"),
    "区规划资源分局": ("杭州市规划和自然资源局萧山分局", "规划资源分局", "区自然资源分局"),
    "区市场监管局": ("萧山区市场监督管理局", "区市场监督管理局", "市场监管局"),
    "区交通运输局": ("萧山区交通运输局", "交通局"),
    "区消防救援大队": ("萧山区消防救援大队", "消防大队"),
    "区燃气公司": ("萧山燃气公司", "杭州萧山燃气有限公司"),
}

UNKNOWN_DEPARTMENTS = ("区数字治理专班", "区智慧城市运营中心（试运行）", "临时指挥部综合组")


def dept_variant(r: random.Random, canonical: str) -> str:
    """A department as free text: the canonical name or one of its variants, rarely an unknown name."""
    if r.random() < RATES.unknown_dept:
        return r.choice(UNKNOWN_DEPARTMENTS)
    if r.random() < RATES.dept_canonical:
        return canonical
    return r.choice(DEPARTMENT_VARIANTS[canonical])


def town_government_variant(r: random.Random, town_name: str) -> str:
    """A town acting as handling unit: 瓜沥镇人民政府 / 瓜沥镇 / 瓜沥镇四平台."""
    suffix = "人民政府" if town_name.endswith("镇") else "办事处" if town_name.endswith("街道") else "管委会"
    return r.choice((town_name + suffix, town_name, town_name + "综合信息指挥室"))
