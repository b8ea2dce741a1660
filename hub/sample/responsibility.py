"""The responsibility list (责任清单) with its planted findings: one chain break, two gaps, one conflict.

Everything else is a consistent chain: the same line of department at 省, 市 and 区, then the
territorial governments at 镇 and 村. docs/sample-data.md lists the planted findings.
"""

from __future__ import annotations

LEVELS = ("省", "市", "区", "镇", "村")
TASKS = ("风险普查", "日常监管", "应急处置")
TOWN_LEAD = "各镇人民政府、街道办事处"
VILLAGE_LEAD = "各村（居）民委员会"

# (省, 市, 区) leads of each domain's consistent line.
LINE_CHAINS: dict[str, tuple[str, str, str]] = {
    "供水安全": ("浙江省水利厅", "杭州市林业水利局", "萧山区林业水利局"),
    "城市内涝": ("浙江省住房和城乡建设厅", "杭州市住房和城乡建设局", "萧山区住房和城乡建设局"),
    "山塘水库": ("浙江省水利厅", "杭州市林业水利局", "萧山区林业水利局"),
    "地质灾害": ("浙江省自然资源厅", "杭州市规划和自然资源局", "杭州市规划和自然资源局萧山分局"),
    "森林防火": ("浙江省应急管理厅", "杭州市应急管理局", "萧山区应急管理局"),
    "危化品": ("浙江省应急管理厅", "杭州市应急管理局", "萧山区应急管理局"),
}

# Planted findings (also listed in docs/sample-data.md; tests of later parts rely on them).
CHAIN_BREAK = ("供水安全", "风险普查", ("浙江省水利厅", "杭州市城市管理局", "萧山区环境集团"))
GAP_MISSING_LEVEL = ("森林防火", "风险普查", "市")  # no row at all for this level
GAP_EMPTY_LEAD = ("危化品", "风险普查", "镇")  # a row whose 牵头单位 is empty
CONFLICT = ("危化品", "应急处置", "镇", "萧山区应急管理局")  # a second, different lead beside TOWN_LEAD

PARTNERS = {
    "供水安全": "区环境集团、区卫生健康局",
    "城市内涝": "区城管局、区林水局、区气象局",
    "山塘水库": "区应急管理局、属地镇街",
    "地质灾害": "区应急管理局、区林水局",
    "森林防火": "区林水局、区消防救援大队",
    "危化品": "区市场监管局、区消防救援大队",
}
BASIS = {
    "风险普查": "《第一次全国自然灾害综合风险普查实施方案》",
    "日常监管": "《萧山区安全生产和防灾减灾救灾责任清单（2024年版）》",
    "应急处置": "《萧山区突发事件总体应急预案》",
}


def responsibility_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for domain, chain in LINE_CHAINS.items():
        for task in TASKS:
            leads = CHAIN_BREAK[2] if (domain, task) == CHAIN_BREAK[:2] else chain
            for level, lead in zip(LEVELS, (*leads, TOWN_LEAD, VILLAGE_LEAD), strict=True):
                if (domain, task, level) == GAP_MISSING_LEVEL:
                    continue
                if (domain, task, level) == GAP_EMPTY_LEAD:
                    lead = ""
                row = {
                    "领域": domain,
                    "层级": level,
                    "事项": task,
                    "牵头单位": lead,
                    "配合单位": PARTNERS[domain] if level in ("区", "镇") else "",
                    "依据文件": BASIS[task],
                }
                rows.append(row)
                if (domain, task, level) == CONFLICT[:3]:
                    rows.append({**row, "牵头单位": CONFLICT[3], "依据文件": "《萧山区危险化学品事故应急预案》"})
    return rows
