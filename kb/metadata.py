"""Document metadata: what the author declared (front matter / sidecar) first, else what the text says.

Title, type (预案 / 案例 / 法律法规 / 其他), issuing body, date, 文号, hazards, towns; for cases
also the event date, place and the outcome figures the text states (deaths, injuries, ...).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kb.hazards import hazards_in, normalise_hazards
from kb.towns import normalise_town, towns_in

DOC_TYPES = ("预案", "案例", "法律法规", "其他")
DOC_TYPE_ALIASES = {
    "预案": "预案", "应急预案": "预案", "plan": "预案",
    "案例": "案例", "case": "案例", "调查报告": "案例",
    "法律法规": "法律法规", "法律": "法律法规", "行政法规": "法律法规", "地方性法规": "法律法规",
    "部门规章": "法律法规", "规章": "法律法规", "law": "法律法规",
    "其他": "其他", "other": "其他",
}  # fmt: skip
INFO_END = "<!-- INFO END -->"

# 文号: issuer abbreviation, year in any bracket style, serial number: 萧委办发〔2021〕20号, 国办函[2019]5号.
_DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,12})\s*[〔\[【(（［]\s*((?:19|20)\d{2})\s*[〕\]】)）］]\s*第?\s*(\d{1,4})\s*号"
)
_DATE_CN = re.compile(r"((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?")
_DATE_ISO = re.compile(r"((?:19|20)\d{2})[-/.](\d{1,2})(?:[-/.](\d{1,2}))?")
_ISSUER_LINE = re.compile(
    r"^[\s\u3000]*([\u4e00-\u9fff（）()“”·]{2,40}?(?:人民政府|人民代表大会常务委员会|人民代表大会|委员会|办公室|办公厅|"
    r"指挥部|应急管理局|管理局|应急管理部|国务院|局|厅|部|调查评估组|调查组|中心))[\s\u3000]*$",
    re.MULTILINE,
)
_CONGRESS = re.compile(r"(全国人民代表大会常务委员会|全国人民代表大会|[\u4e00-\u9fff]{2,10}省人民代表大会常务委员会)")
_PLACE = re.compile(
    r"([\u4e00-\u9fff]{2,8}?(?:省|自治区)[\u4e00-\u9fff]{2,8}?(?:市|州|盟)[\u4e00-\u9fff]{1,8}?(?:区|县|旗|市))"
)
_XIAOSHAN_PLACE = re.compile(r"(萧山区[\u4e00-\u9fff]{2,6}?(?:镇|街道))")

_FIGURES: dict[str, tuple[re.Pattern[str], ...]] = {
    "deaths": (re.compile(r"(\d+)\s*(?:名|人)\s*(?:死亡|遇难)"), re.compile(r"(?:死亡|遇难)\s*(\d+)\s*人")),
    "injured": (re.compile(r"(\d+)\s*(?:名|人)\s*(?:受伤|重伤|轻伤)"), re.compile(r"受伤\s*(\d+)\s*人")),
    "missing": (re.compile(r"(\d+)\s*(?:名|人)\s*失踪"), re.compile(r"失踪\s*(\d+)\s*人")),
    "evacuated": (re.compile(r"转移(?:安置)?(?:群众|人员|受威胁群众)?\s*(\d+(?:\.\d+)?)\s*(万)?\s*(?:余)?人"),),
    "direct_loss_10k_yuan": (re.compile(r"直接经济损失(?:约|达|共计|为)?\s*(\d+(?:\.\d+)?)\s*(万|亿)\s*元"),),
}


@dataclass
class DocumentMetadata:
    title: str
    doc_type: str
    issuer: str | None = None
    date: str | None = None  # YYYY-MM-DD or YYYY-MM as known
    doc_number: str | None = None
    hazards: list[str] = field(default_factory=list)
    towns: list[str] = field(default_factory=list)  # town codes
    plan_category: str | None = None
    event_date: str | None = None
    place: str | None = None
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def year(self) -> int | None:
        return int(self.date[:4]) if self.date else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["year"] = self.year
        return data


def normalise_doc_number(text: str) -> str | None:
    """The first 文号 in the text with its brackets normalised: 萧委办发[2021]20号 → 萧委办发〔2021〕20号."""
    match = _DOC_NUMBER.search(text)
    if not match:
        return None
    return f"{match.group(1)}〔{match.group(2)}〕{int(match.group(3))}号"


def _iso(year: str, month: str, day: str | None) -> str | None:
    try:
        if day:
            return date(int(year), int(month), int(day)).isoformat()
        return f"{int(year):04d}-{int(month):02d}" if 1 <= int(month) <= 12 else None
    except ValueError:
        return None


def parse_date(value: object) -> str | None:
    """A date from front matter or text: 2021年3月5日, 2021-03-05, 2021/3/5, 2021-03 → ISO text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    for pattern in (_DATE_CN, _DATE_ISO):
        match = pattern.search(text)
        if match:
            return _iso(match.group(1), match.group(2), match.group(3))
    if re.fullmatch(r"(?:19|20)\d{2}", text):
        return text
    return None


def _dates_in(text: str) -> list[str]:
    found = []
    for match in _DATE_CN.finditer(text):
        iso = _iso(match.group(1), match.group(2), match.group(3))
        if iso:
            found.append(iso)
    return found


def guess_title(text: str) -> str:
    for line in text.split("\n")[:15]:
        cleaned = line.strip(" \t\u3000#").strip()
        if cleaned and len(cleaned) <= 60 and not cleaned.startswith("<!--"):
            return cleaned
    return ""


def guess_doc_type(title: str, text: str) -> str:
    if "预案" in title:
        return "预案"
    articles = len(re.findall(r"(?m)^#*\s*第[一二三四五六七八九十]+条", text))
    if re.search(r"(法|条例|规定|办法|细则|决定)$", title) or articles >= 3:
        return "法律法规"
    if re.search(r"(调查|评估)报告|案例|事故|灾害.{0,6}报告", title):
        return "案例"
    return "其他"


def guess_issuer(text: str, doc_type: str) -> str | None:
    head = text.split(INFO_END, 1)[0] if INFO_END in text else text[:1500]
    if doc_type == "法律法规":
        if congress := _CONGRESS.search(head):
            return congress.group(1)
        if "国务院" in head[:800]:
            return "国务院"
    # A signature line at the end, then a line near the top naming an organisation.
    for region in (text[-600:], text[:1500]):
        lines = [m.group(1) for m in _ISSUER_LINE.finditer(region)]
        if lines:
            return lines[-1] if region is not text[:1500] else lines[0]
    return None


def _figures(text: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for name, patterns in _FIGURES.items():
        for pattern in patterns:
            match = pattern.search(text)
            if not match:
                continue
            value = float(match.group(1))
            unit = match.group(2) if match.lastindex and match.lastindex >= 2 else None
            if unit == "万":
                value *= 10_000 if name == "evacuated" else 1
            elif unit == "亿":
                value *= 10_000
            figures[name] = value
            break
    return figures


def _declared_type(value: object) -> str | None:
    return DOC_TYPE_ALIASES.get(str(value).strip()) if value else None


def extract_metadata(text: str, declared: dict[str, Any], aliases_csv: Path) -> DocumentMetadata:
    title = str(declared.get("title") or "").strip() or guess_title(text)
    doc_type = _declared_type(declared.get("doc_type")) or guess_doc_type(title, text)
    head = text.split(INFO_END, 1)[0] if INFO_END in text else text[:1500]
    date_value = parse_date(declared.get("date"))
    if date_value is None:
        dates = _dates_in(head)
        # Law title blocks list adoption then amendments: the latest is this version.
        date_value = max(dates) if doc_type == "法律法规" and dates else (dates[0] if dates else None)
    doc_number = (
        normalise_doc_number(str(declared["doc_number"])) if declared.get("doc_number") else None
    ) or normalise_doc_number(text[:1500])
    hazards = normalise_hazards(declared.get("hazards") or declared.get("hazard")) or hazards_in(text, title)
    towns = towns_in(text, aliases_csv)
    declared_town = declared.get("town_code") or declared.get("town")
    if declared_town:
        code = normalise_town(str(declared_town), aliases_csv) or str(declared_town)
        towns = [code, *[t for t in towns if t != code]]
    metadata = DocumentMetadata(
        title=title,
        doc_type=doc_type,
        issuer=str(declared.get("issuer") or "").strip() or guess_issuer(text, doc_type),
        date=date_value,
        doc_number=doc_number,
        hazards=hazards,
        towns=towns,
        plan_category=str(declared["plan_category"]).strip() if declared.get("plan_category") else None,
    )
    if doc_type == "案例":
        body = text.split(INFO_END, 1)[-1]
        # The first full date (with a day) in the body is the event; a bare month is usually the report's date.
        dates = _dates_in(body[:5000])
        full_dates = [d for d in dates if len(d) == 10]
        metadata.event_date = parse_date(declared.get("event_date")) or next(iter(full_dates or dates), None)
        place = declared.get("place")
        if not place and (match := _XIAOSHAN_PLACE.search(body) or _PLACE.search(body)):
            place = match.group(1)
        metadata.place = str(place) if place else None
        metadata.figures = _figures(body)
    return metadata
