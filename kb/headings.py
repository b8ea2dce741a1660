"""Find the headings of a Chinese official document from its numbering schemes.

Schemes, by family: Markdown ``#``; 第X编/章/节/条 (law); 一、; （一）; 1 / 1.1 / 1.1.1; （1）; ①.
Levels are not fixed per scheme: documents mix schemes freely, so the level of a scheme is the
depth at which it first appears under its parent (a stack, as a reader would track it), with the
ranked families (Markdown depth, 编>章>节>条, dotted depth) closing deeper or equal ranks.

In-text cross-references ("依照本法第十条", "根据第三条规定") are not headings: a heading starts a
line; a 第X条 heading is followed by a space or the article text (not 规定/的/、 ...), and article
numbers only go up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CN_DIGITS = "零〇一二三四五六七八九十百千两"
_CN_NUM = f"[{CN_DIGITS}]+"
_SPACE = "[ \t\u3000\u00a0]"
_SENTENCE_PUNCT = re.compile(r"[。；！？，,;!?]")
_TOC_LINE = re.compile(r"(?:\.{3,}|…{2,}|·{3,}|－{3,})\s*\d*\s*$")

_MARKDOWN = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LAW_PART = re.compile(rf"^第({_CN_NUM}|\d+)(编|章|节)(?:{_SPACE}+(.*)|$|(.{{1,25}})$)")
_ARTICLE = re.compile(rf"^第({_CN_NUM}|\d+)条(?:之({_CN_NUM}))?({_SPACE}*)(.*)$")
# Words that continue a reference ("第十条规定", "第十条的", "第十条、第十一条") rather than start an article.
_REFERENCE_CONTINUATION = re.compile(r"^(?:规定|之规定|的|、|和|或|至|及|中|第|款|项|所|（|\(|，|。|；)")
_CN_ENUM = re.compile(rf"^({_CN_NUM})[、．.]{_SPACE}*(.+)$")
_CN_PAREN = re.compile(rf"^[（(]({_CN_NUM})[）)]{_SPACE}*(.+)$")
_DOTTED = re.compile(rf"^(\d{{1,2}}(?:[.．]\d{{1,2}}){{0,3}})(?:[.．、]{_SPACE}*|{_SPACE}+)(\S.*)$")
_NUM_PAREN = re.compile(rf"^[（(](\d{{1,2}})[）)]{_SPACE}*(.+)$")
_PLAIN_HEADING = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff、与和及（）]{1,14}$")
_CIRCLED = re.compile(rf"^([①-⑳]){_SPACE}*(.+)$")

LAW_RANK = {"编": 1, "章": 2, "节": 3, "条": 4}
# The customary order of enumerations in official documents: 一、 > （一） > （1） > ①.
ENUM_RANK = {"cn": 1, "cn_paren": 2, "num_paren": 3, "circled": 4}
_BARE_NUMBER = re.compile(r"^\d{1,2}(?:[.．]\d{1,2}){0,3}$")
SHORT_HEADING = 30


@dataclass(frozen=True)
class Heading:
    family: str  # md (Markdown #), law (编/章/节/条), dotted (1 / 1.1), enum (一、 /（一）/（1）/ ①), plain
    rank: int  # order inside the family: md depth, 编..条, dotted depth, enumeration order
    title: str  # as shown in the heading path
    line_start: int  # offset of the heading line in the document text
    line_end: int  # offset just past the heading line (before its newline)
    is_article: bool = False
    run_in: bool = False  # the heading line carries text of its own ("（一）提前部署。8月8日…")


def chinese_number(text: str) -> int | None:
    """二十三 → 23, 一百零五 → 105, '12' → 12; None when not a number."""
    if text.isdigit():
        return int(text)
    values = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
    units = {"十": 10, "百": 100, "千": 1000}
    total, digit = 0, 0
    for ch in text:
        if ch in values:
            digit = values[ch]
        elif ch in units:
            total += (digit or 1) * units[ch]
            digit = 0
        else:
            return None
    return total + digit


def _is_short_title(rest: str) -> bool:
    return 0 < len(rest) <= SHORT_HEADING and not _SENTENCE_PUNCT.search(rest)


def _run_in_title(rest: str) -> str:
    """The heading part of a line like "（一）清水河流域强降雨影响大。7 月 23 日…" (heading run into its text)."""
    head = re.split(r"[。；：:！？，,]", rest, maxsplit=1)[0].strip()
    return head if len(head) <= 24 else head[:20] + "…"


class HeadingDetector:
    """Stateful across one document: article numbers must increase."""

    def __init__(self) -> None:
        self.last_article = 0

    def detect(self, line: str, line_start: int, line_end: int) -> Heading | None:
        stripped = line.strip(" \t\u3000\u00a0\ufeff")
        if not stripped or _TOC_LINE.search(stripped):
            return None

        def make(family: str, rank: int, title: str, is_article: bool = False, run_in: bool = False) -> Heading:
            return Heading(family, rank, title.strip(), line_start, line_end, is_article, run_in)

        if match := _MARKDOWN.match(stripped):
            return make("md", len(match.group(1)), match.group(2))
        if match := _LAW_PART.match(stripped):
            rest = (match.group(3) or match.group(4) or "").strip()
            if rest and _SENTENCE_PUNCT.search(rest):
                return None  # "第三章规定的…" at a damaged line start is a sentence
            label = f"第{match.group(1)}{match.group(2)}"
            return make("law", LAW_RANK[match.group(2)], f"{label} {rest}" if rest else label)
        if match := _ARTICLE.match(stripped):
            return self._article(match, make)
        if match := _CN_ENUM.match(stripped):
            return self._enumerated("cn", f"{match.group(1)}、", match.group(2), make, run_in=True)
        if match := _CN_PAREN.match(stripped):
            return self._enumerated("cn_paren", f"（{match.group(1)}）", match.group(2), make, run_in=True)
        if match := _DOTTED.match(stripped):
            number = match.group(1).replace("．", ".")
            depth = number.count(".") + 1
            rest = match.group(2).strip()
            if _is_short_title(rest) and not re.match(r"^[\d%％万亿元米]", rest):
                return make("dotted", depth, f"{number} {rest}")
            return None
        if match := _NUM_PAREN.match(stripped):
            return self._enumerated("num_paren", f"（{match.group(1)}）", match.group(2), make, run_in=False)
        if match := _CIRCLED.match(stripped):
            return self._enumerated("circled", match.group(1), match.group(2), make, run_in=False)
        return None

    def _article(self, match: re.Match[str], make) -> Heading | None:  # type: ignore[no-untyped-def]
        number = chinese_number(match.group(1))
        spaced, rest = bool(match.group(3)), match.group(4)
        # "第十条 …" (a space) is an article; "第十条规定…" with no space may be a reference after a broken line.
        if number is None or (not spaced and (not rest or _REFERENCE_CONTINUATION.match(rest))):
            return None
        if number <= self.last_article and match.group(2) is None:
            return None  # numbers only go up; a repeat is a quotation or a reference after a broken line
        self.last_article = number
        label = f"第{match.group(1)}条" + (f"之{match.group(2)}" if match.group(2) else "")
        return make("law", LAW_RANK["条"], label, is_article=True)

    @staticmethod
    def _enumerated(family: str, label: str, rest: str, make, run_in: bool) -> Heading | None:  # type: ignore[no-untyped-def]
        rest = rest.strip()
        if _is_short_title(rest):
            return make("enum", ENUM_RANK[family], label + rest)
        if run_in:
            return make("enum", ENUM_RANK[family], label + _run_in_title(rest), run_in=True)
        return None  # a long "（1）…" or "①…" line is a list item, not a heading


def _close_and_push(stack: list[Heading], heading: Heading) -> None:
    cut = None
    for index, open_heading in enumerate(stack):
        if open_heading.family == heading.family and open_heading.rank >= heading.rank:
            cut = index
            break
        # A Markdown, law or unnumbered heading closes any enumeration opened under an earlier one.
        if heading.family in ("md", "law", "plain") and open_heading.family not in ("md", "law"):
            cut = index
            break
    if cut is not None:
        del stack[cut:]
    stack.append(heading)


def _is_plain_heading(lines: list[str], index: int) -> bool:
    """An unnumbered heading ("处置经过"): a short line alone between blank lines, with text after it."""
    if not _PLAIN_HEADING.match(lines[index].strip(" \t\u3000")):
        return False
    blank_before = index > 0 and not lines[index - 1].strip()
    blank_after = index + 2 < len(lines) and not lines[index + 1].strip() and bool(lines[index + 2].strip())
    return blank_before and blank_after


def detect_headings(text: str) -> list[tuple[Heading, list[Heading]]]:
    """Each heading with its chain (the headings above it, then itself), in document order."""
    detector = HeadingDetector()
    found: list[tuple[Heading, list[Heading]]] = []
    stack: list[Heading] = []
    lines = text.split("\n")
    offset = 0
    for index, line in enumerate(lines):
        end = offset + len(line)
        heading = detector.detect(line, offset, end)
        if heading is None and _BARE_NUMBER.match(line.strip()) and index + 1 < len(lines):
            # "3" on one line and "运行机制" on the next: a heading broken by the export.
            joined = line.strip() + " " + lines[index + 1].strip()
            heading = detector.detect(joined, offset, end + 1 + len(lines[index + 1]))
        if heading is None and _is_plain_heading(lines, index):
            heading = Heading("plain", 0, line.strip(), offset, end)
        # Inside a law article, "（一）…；" lines are the article's items: one 条 stays one unit.
        inside_article = bool(stack) and stack[-1].is_article
        if heading is not None and not (inside_article and heading.family not in ("md", "law")):
            _close_and_push(stack, heading)
            found.append((heading, list(stack)))
        offset = end + 1
    return found
