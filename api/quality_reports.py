"""The daily data-quality reports (HTML + JSON files in ``HubPaths.quality_reports``), read-only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ReportFile:
    name: str  # file stem, shared by the JSON and the HTML of one report
    json_path: Path | None
    html_path: Path | None
    modified: datetime

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modified": self.modified.isoformat(timespec="seconds"),
            "json": f"/api/quality/reports/{self.name}" if self.json_path else None,
            "html": f"/quality/reports/{self.name}" if self.html_path else None,
        }


def list_reports(root: Path) -> list[ReportFile]:
    """Reports newest first; a report is the JSON and/or HTML files sharing one stem."""
    if not root.is_dir():
        return []
    stems: dict[str, dict[str, Path]] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html") and not path.name.startswith("."):
            stems.setdefault(path.stem, {})[path.suffix] = path
    reports = [
        ReportFile(
            name=stem,
            json_path=files.get(".json"),
            html_path=files.get(".html"),
            modified=datetime.fromtimestamp(max(p.stat().st_mtime for p in files.values()), UTC),
        )
        for stem, files in stems.items()
    ]
    return sorted(reports, key=lambda r: (r.modified, r.name), reverse=True)


def find_report(root: Path, name: str) -> ReportFile | None:
    return next((r for r in list_reports(root) if r.name == name), None)


def load_json(report: ReportFile) -> Any:
    assert report.json_path is not None
    return json.loads(report.json_path.read_text(encoding="utf-8"))
