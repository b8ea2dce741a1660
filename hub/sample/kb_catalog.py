"""Plans described by the demo documents in hub/sample/kb_docs/ (their YAML front matter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

KB_DOCS_DIR = Path(__file__).resolve().parent / "kb_docs"
TEXT_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class PlanDocument:
    file_name: str  # path relative to kb_docs/, with forward slashes
    title: str
    plan_category: str
    town_code: str  # "" for district-level plans
    revised: date | None


def _front_matter(text: str) -> dict[str, object]:
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        data = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}  # a broken header is the document author's finding, not a reason to stop generating
    return data if isinstance(data, dict) else {}


def _as_date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def plan_documents(docs_dir: Path = KB_DOCS_DIR) -> list[PlanDocument]:
    """Documents whose front matter has a title and a plan_category, sorted by file name."""
    if not docs_dir.is_dir():
        return []
    found = []
    for path in sorted(docs_dir.rglob("*")):
        if path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
            continue
        meta = _front_matter(path.read_text(encoding="utf-8", errors="replace"))
        title, category = meta.get("title"), meta.get("plan_category")
        if not title or not category:
            continue
        revised = _as_date(meta.get("revised") or meta.get("revision_date") or meta.get("date"))
        found.append(
            PlanDocument(
                file_name=path.relative_to(docs_dir).as_posix(),
                title=str(title).strip(),
                plan_category=str(category).strip(),
                town_code=str(meta.get("town_code") or ""),
                revised=revised,
            )
        )
    return found
