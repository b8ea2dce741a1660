"""Where everything lives: one data directory (HUB_DATA_DIR, default ./var).

Kept free of Dagster imports so the CLI, the API and tests can use it cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = DBT_PROJECT_DIR / "seeds"


@dataclass(frozen=True)
class HubPaths:
    data_dir: Path
    # A landing folder outside the data directory (`hub run --landing DIR`, setting HUB_LANDING_DIR).
    landing_dir: Path | None = None

    @classmethod
    def from_env(cls, data_dir: str | os.PathLike[str] | None = None) -> HubPaths:
        chosen = data_dir or os.environ.get("HUB_DATA_DIR") or "var"
        landing = os.environ.get("HUB_LANDING_DIR")
        return cls(Path(chosen).resolve(), Path(landing).resolve() if landing else None)

    @property
    def landing(self) -> Path:
        return self.landing_dir or self.data_dir / "landing"

    def landing_for(self, source: str) -> Path:
        return self.landing / source

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse"

    @property
    def build_db(self) -> Path:
        return self.warehouse / "hub.duckdb"

    @property
    def serving(self) -> Path:
        return self.data_dir / "serving"

    @property
    def kb(self) -> Path:
        return self.data_dir / "kb"

    @property
    def kb_index(self) -> Path:
        return self.kb / "index"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"

    @property
    def quality_reports(self) -> Path:
        return self.reports / "quality"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def api_dir(self) -> Path:
        return self.data_dir / "api"

    @property
    def state(self) -> Path:
        """Cursors and other small state of the ingest clients."""
        return self.data_dir / "state"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"设置 {name} 必须是整数 / setting {name} must be an integer, got {raw!r}") from exc
