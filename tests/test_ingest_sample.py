"""End to end on the project's sample generator (small scale): every row it writes is read, and the
rows it breaks on purpose are exactly the rows that end in the quarantine."""

from __future__ import annotations

import fnmatch
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.contracts import ENTITIES
from orchestration.ingest.load import ingest_landing


def entity_of(written_key: str) -> str:
    """'water/水利数据_20250630.xlsx#风险点' → 'water__risk_points'."""
    path, _, sheet = written_key.partition("#")
    source, name = path.split("/", 1)
    for e in ENTITIES:
        if e.source == source and fnmatch.fnmatch(name, e.file_pattern) and (e.sheet or "") == sheet:
            return e.table
    raise AssertionError(f"no entity for {written_key}")


def test_sample_data_loads_and_planted_breaks_are_quarantined(tmp_path: Path) -> None:
    generator = pytest.importorskip("hub.sample.generator")
    counts = generator.generate(tmp_path / "landing", seed=7, scale="small", as_of=date(2025, 6, 30))
    written: Counter[str] = Counter()
    planted: Counter[str] = Counter()
    for key, value in counts.items():
        if key.startswith("planted/"):
            planted[key.removeprefix("planted/").split(":")[0]] += value
        else:
            written[entity_of(key)] += value
    summaries = ingest_landing(tmp_path / "hub.duckdb", tmp_path / "landing")
    assert sum(s.rows_quarantined for s in summaries) == sum(planted.values()) > 0
    with duckdb.connect(str(tmp_path / "hub.duckdb"), read_only=True) as con:
        read = dict(con.execute(
            "SELECT source_system || '__' || entity, sum(rows_read)::BIGINT FROM raw.load_log GROUP BY 1"
        ).fetchall())
        quarantined = dict(con.execute(
            "SELECT source_system || '__' || entity, count(DISTINCT (source_file, row_number)) "
            "FROM raw.quarantine GROUP BY 1"
        ).fetchall())
        loaded = {e.table: con.execute(f'SELECT count(*) FROM raw."{e.table}"').fetchall()[0][0] for e in ENTITIES}
    assert read == dict(written)
    assert quarantined == dict(planted)
    # No good row is lost: everything written is loaded or quarantined; only event versions that
    # repeat an identical earlier one (same key, same content) count as unchanged.
    unchanged = {"four_platforms__events": next(s for s in summaries if s.source == "four_platforms").rows_unchanged}
    for table, rows in written.items():
        assert loaded[table] + quarantined.get(table, 0) + unchanged.get(table, 0) == rows, table
