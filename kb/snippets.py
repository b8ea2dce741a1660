"""Snippets: a window of the chunk around the query's terms, plain and with the terms marked."""

from __future__ import annotations

import html
import re

WINDOW = 160


def term_pattern(terms: list[str]) -> re.Pattern[str] | None:
    """Longest terms first so 应急预案 wins over 预案; single characters are noise in Chinese."""
    usable = sorted({t for t in terms if len(t) >= 2 or (t.isascii() and t.isalnum())}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(re.escape(t) for t in usable), re.IGNORECASE)


def make_snippet(text: str, pattern: re.Pattern[str] | None, window: int = WINDOW) -> tuple[str, str]:
    """(plain snippet, HTML snippet with <mark>…</mark>, escaped) centred on the densest run of matches."""
    matches = list(pattern.finditer(text)) if pattern else []
    if matches:
        # The window that covers the most matches, starting a little before one of them.
        best_start, best_count = 0, -1
        for match in matches:
            start = max(0, match.start() - window // 4)
            count = sum(1 for m in matches if start <= m.start() and m.end() <= start + window)
            if count > best_count:
                best_start, best_count = start, count
        start = best_start
    else:
        start = 0
    end = min(len(text), start + window)
    start = max(0, min(start, end - window))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    piece = text[start:end].replace("\n", " ")
    plain = f"{prefix}{piece}{suffix}"
    if not pattern:
        return plain, html.escape(plain)
    marked: list[str] = []
    cursor = 0
    for match in pattern.finditer(piece):
        marked.append(html.escape(piece[cursor : match.start()]))
        marked.append(f"<mark>{html.escape(match.group(0))}</mark>")
        cursor = match.end()
    marked.append(html.escape(piece[cursor:]))
    return plain, f"{html.escape(prefix)}{''.join(marked)}{html.escape(suffix)}"
