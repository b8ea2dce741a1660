"""The hazard types the knowledge base recognises, each with the words that name it in text."""

from __future__ import annotations

import re

# Canonical name → words that mention it. Order matters only for display.
HAZARD_TERMS: dict[str, tuple[str, ...]] = {
    "台风": ("台风", "热带风暴", "防台"),
    "洪涝": ("洪水", "洪涝", "暴雨洪水", "防汛", "汛情", "溃堤", "决口"),
    "内涝": ("内涝", "积水", "低洼易涝", "城市看海"),
    "山洪": ("山洪",),
    "地质灾害": ("地质灾害", "滑坡", "泥石流", "崩塌", "地面塌陷", "塌方"),
    "地震": ("地震",),
    "森林火灾": ("森林火灾", "山林火灾", "森林草原火灾", "林火", "森林防火"),
    "危险化学品": ("危险化学品", "危化品", "化学品泄漏", "有毒气体"),
    "火灾": ("火灾", "起火", "着火", "消防救援"),
    "燃气爆炸": ("燃气爆炸", "燃气泄漏", "液化石油气", "天然气泄漏", "爆炸"),
    "停水": ("停水", "供水中断", "供水安全", "爆管"),
    "安全生产事故": ("安全生产事故", "生产安全事故", "坍塌", "垮塌", "透水"),
    "交通事故": ("交通事故", "道路交通", "公路交通"),
    "公共卫生": ("公共卫生", "传染病", "疫情", "食物中毒"),
    "气象灾害": ("气象灾害", "暴雪", "寒潮", "冰雹", "雷电灾害"),
}

# Free-form labels (from front matter) mapped to the canonical names above.
HAZARD_ALIASES: dict[str, str] = {
    term: canonical for canonical, terms in HAZARD_TERMS.items() for term in (canonical, *terms)
}


def hazards_in(text: str, title: str = "") -> list[str]:
    """Hazards named in the title, or often enough in the text to be a topic (twice, and once per 5,000 chars)."""
    min_mentions = max(2, len(text) // 5000)
    found = []
    for canonical, terms in HAZARD_TERMS.items():
        in_title = any(term in title for term in terms)
        mentions = sum(text.count(term) for term in terms)
        if in_title or mentions >= min_mentions:
            found.append(canonical)
    return found


def normalise_hazards(labels: object) -> list[str]:
    """Front-matter hazards (a list or a 、/,-separated string) as canonical names; unknown labels kept as given."""
    if labels is None:
        return []
    items = labels if isinstance(labels, list) else re.split(r"[、，,;；/]", str(labels))
    result: list[str] = []
    for item in items:
        label = str(item).strip()
        if not label:
            continue
        canonical = HAZARD_ALIASES.get(label)
        if canonical is None:
            canonical = next((c for term, c in HAZARD_ALIASES.items() if term in label), label)
        if canonical not in result:
            result.append(canonical)
    return result
