"""Cut a document into search chunks along its heading structure.

A section runs from one heading line to the next. Sections become chunks; a long section is cut
at sentence ends (。！？；) within the size bound; small neighbouring sections under the same parent
merge (except law articles: one 条 is one chunk). Each chunk keeps its heading path, its character
offsets in the document text (``text == document[start:end]``) and its order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.headings import Heading, detect_headings

PATH_SEPARATOR = " › "
CHUNKER_VERSION = 4  # bump when chunk boundaries or heading paths change: re-indexing then re-parses every file
_SENTENCE_END = re.compile(r"[。！？；!?;][”’」』）)]*")
_TRIM = " \t\n\r\u3000\u00a0\ufeff"


@dataclass(frozen=True)
class Chunk:
    order: int
    heading_path: tuple[str, ...]
    start: int
    end: int
    text: str

    @property
    def heading_path_text(self) -> str:
        return PATH_SEPARATOR.join(self.heading_path)


@dataclass
class _Section:
    path: tuple[str, ...]
    start: int
    end: int
    is_article: bool
    has_body: bool


def _trimmed_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return start, end


def _sections(text: str, title: str) -> list[_Section]:
    found = detect_headings(text)
    # A leading "# title" that repeats the document title is the root, not a section of its own.
    root = (title,) if title else ()
    sections: list[_Section] = []
    first_start = found[0][0].line_start if found else len(text)
    preamble = text[:first_start].strip(_TRIM)
    if preamble:
        # A preamble that is only the title line folds into the first section.
        sections.append(_Section(root, 0, first_start, False, preamble != title and len(preamble) > 40))
    for index, (heading, chain) in enumerate(found):
        end = found[index + 1][0].line_start if index + 1 < len(found) else len(text)
        titles = tuple(h.title for h in chain)
        if root and titles and titles[0] == root[0]:
            titles = titles[1:]
        body = text[heading.line_end : end].strip(_TRIM)
        has_body = bool(body) or heading.is_article or heading.run_in
        sections.append(_Section(root + titles, heading.line_start, end, heading.is_article, has_body))
    return sections


def _fold_empty_headings(sections: list[_Section]) -> list[_Section]:
    """A heading line with no text of its own ("1 总则" right before "1.1") starts the next section's chunk."""
    folded: list[_Section] = []
    pending_start: int | None = None
    for section in sections:
        if not section.has_body:
            pending_start = section.start if pending_start is None else pending_start
            continue
        if pending_start is not None:
            section = _Section(section.path, pending_start, section.end, section.is_article, True)
            pending_start = None
        folded.append(section)
    if pending_start is not None:
        if folded:  # trailing heading-only lines belong to the last chunk
            last = folded[-1]
            folded[-1] = _Section(last.path, last.start, sections[-1].end, last.is_article, True)
        else:  # a document that is only a title or a few short lines is still one chunk
            first = next(s for s in sections if s.start == pending_start)
            folded.append(_Section(first.path, pending_start, sections[-1].end, False, True))
    return folded


def _split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut [start, end) into spans of at most max_chars, at sentence ends where possible, else at line ends."""
    spans: list[tuple[int, int]] = []
    boundaries = [start + m.end() for m in _SENTENCE_END.finditer(text[start:end])]
    boundaries.append(end)
    piece_start = start
    last_good = None
    for boundary in boundaries:
        if boundary - piece_start <= max_chars:
            last_good = boundary
            continue
        if last_good is not None and last_good > piece_start:
            spans.append((piece_start, last_good))
            piece_start = last_good
            if boundary - piece_start <= max_chars:
                last_good = boundary
                continue
        # One sentence longer than the bound: cut at line ends, then hard.
        while boundary - piece_start > max_chars:
            window = text[piece_start : piece_start + max_chars]
            newline = window.rfind("\n")
            cut = piece_start + newline + 1 if newline > max_chars // 3 else piece_start + max_chars
            spans.append((piece_start, cut))
            piece_start = cut
        last_good = boundary
    if piece_start < end:
        spans.append((piece_start, end))
    return spans


def chunk_text(text: str, title: str = "", max_chars: int = 500, min_chars: int = 120) -> list[Chunk]:
    sections = _fold_empty_headings(_sections(text, title))
    # Merge small neighbours that share a parent, so a chunk says enough to be found on its own.
    merged: list[_Section] = []
    parents: list[tuple[str, ...]] = []  # the parent the sections of each merged group share
    for section in sections:
        parent = section.path[:-1]
        if merged:
            previous = merged[-1]
            either_small = section.end - section.start < min_chars or previous.end - previous.start < min_chars
            if (
                either_small
                and parents[-1] == parent
                and parent
                and not previous.is_article
                and not section.is_article
                and section.end - previous.start <= max_chars
            ):
                # The merged chunk is labelled by the parent its sections share.
                merged[-1] = _Section(parent, previous.start, section.end, False, True)
                continue
        merged.append(section)
        parents.append(parent)
    chunks: list[Chunk] = []
    for section in merged:
        start, end = _trimmed_span(text, section.start, section.end)
        if start >= end:
            continue
        for piece_start, piece_end in _split_long(text, start, end, max_chars):
            s, e = _trimmed_span(text, piece_start, piece_end)
            if s < e:
                chunks.append(Chunk(len(chunks), section.path, s, e, text[s:e]))
    return chunks


__all__ = ["PATH_SEPARATOR", "Chunk", "Heading", "chunk_text"]
