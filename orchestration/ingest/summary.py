"""What a load did, per file and per source, with a readable Chinese/English summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FileResult:
    source_file: str
    entity: str
    status: str  # loaded | skipped_duplicate | rejected
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_unchanged: int = 0  # already in the raw table with the same key and content (HTTP feed, re-exports)
    message: str = ""
    reasons: Counter[str] = field(default_factory=Counter)


@dataclass
class SourceSummary:
    source: str
    files: list[FileResult] = field(default_factory=list)
    label: str = ""  # shown instead of the source name, e.g. "four_platforms HTTP"

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_unchanged(self) -> int:
        return sum(f.rows_unchanged for f in self.files)

    @property
    def reason_counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.reasons)
        return total

    def top_reasons(self, n: int = 5) -> list[tuple[str, int]]:
        return self.reason_counts.most_common(n)

    def add(self, result: FileResult) -> None:
        self.files.append(result)

    def format(self) -> str:
        statuses = Counter(f.status for f in self.files)
        lines = [
            f"【{self.label or self.source}】入库 {self.rows_loaded} 行 / rows loaded, "
            f"隔离 {self.rows_quarantined} 行 / rows quarantined, "
            f"未变化 {self.rows_unchanged} 行 / rows unchanged; "
            f"文件 {len(self.files)} 个 / files (已入库 loaded {statuses['loaded']}, "
            f"重复跳过 skipped {statuses['skipped_duplicate']}, 拒收 rejected {statuses['rejected']})"
        ]
        for reason, count in self.top_reasons():
            lines.append(f"    {count:>7}  {reason}")
        for f in self.files:
            if f.status == "rejected":
                lines.append(f"    拒收 / rejected {f.source_file} [{f.entity}]: {f.message}")
        return "\n".join(lines)
