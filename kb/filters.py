"""Metadata filters on documents (type, hazard, town, issuer, year), applied before fusion on both sides."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.hazards import normalise_hazards
from kb.metadata import DOC_TYPE_ALIASES, DOC_TYPES
from kb.towns import normalise_town


class FilterError(ValueError):
    """A filter value that cannot match anything by construction; the message names the parameter."""


@dataclass(frozen=True)
class SearchFilters:
    doc_type: str | None = None
    hazard: str | None = None
    town: str | None = None
    issuer: str | None = None
    year: int | None = None
    doc_id: str | None = None  # one document only ("更多来自本文档")

    def is_empty(self) -> bool:
        return not any((self.doc_type, self.hazard, self.town, self.issuer, self.year, self.doc_id))

    def normalised(self, aliases_csv: Path) -> SearchFilters:
        doc_type = None
        if self.doc_type:
            doc_type = DOC_TYPE_ALIASES.get(self.doc_type.strip())
            if doc_type is None:
                raise FilterError(
                    f"参数 type 无效：{self.doc_type!r}，可选 {'/'.join(DOC_TYPES)} / "
                    f"invalid type filter {self.doc_type!r}"
                )
        hazard = (normalise_hazards(self.hazard) or [None])[0] if self.hazard else None
        town = None
        if self.town:
            town = normalise_town(self.town, aliases_csv)
            if town is None:
                raise FilterError(f"参数 town 无法识别：{self.town!r} / unknown town {self.town!r}")
        issuer = self.issuer.strip() if self.issuer else None
        return SearchFilters(doc_type, hazard, town, issuer or None, self.year, self.doc_id or None)

    def matches(self, document: dict[str, Any]) -> bool:
        if self.doc_id and document.get("doc_id") != self.doc_id:
            return False
        if self.doc_type and document.get("doc_type") != self.doc_type:
            return False
        if self.hazard and self.hazard not in (document.get("hazards") or []):
            return False
        if self.town and self.town not in (document.get("towns") or []):
            return False
        if self.issuer and self.issuer not in (document.get("issuer") or ""):
            return False
        return not (self.year and document.get("year") != self.year)
