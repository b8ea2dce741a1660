"""Loading the same files twice adds nothing; registry snapshots keep every distinct load."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from orchestration.ingest.contracts import ENTITIES
from orchestration.ingest.load import ingest_landing, ingest_source

FIXTURES = Path(__file__).parent / "fixtures" / "ingest" / "landing"


def counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [f"{e.source}__{e.name}" for e in ENTITIES] + ["quarantine"]
        return {t: con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables}


def test_second_load_of_the_same_files_changes_nothing(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    db = tmp_path / "hub.duckdb"
    first = ingest_landing(db, landing)
    before = counts(db)
    assert sum(s.rows_loaded for s in first) == sum(v for k, v in before.items() if k != "quarantine") > 0
    second = ingest_landing(db, landing)
    assert counts(db) == before
    assert sum(s.rows_loaded + s.rows_quarantined for s in second) == 0
    assert {f.status for s in second for f in s.files} == {"skipped_duplicate"}
    # The same content under a new name is recognised too; a JSONL export repeating known
    # event versions adds no rows either.
    shutil.copy(landing / "urban" / "积水点_20240501.csv", landing / "urban" / "积水点_20240502.csv")
    events = (landing / "four_platforms" / "events_20240501.jsonl").read_text(encoding="utf-8")
    (landing / "four_platforms" / "events_20240502.jsonl").write_text("\n" + events, encoding="utf-8")
    third = ingest_landing(db, landing)
    after = counts(db)
    assert after["urban__waterlogging_points"] == before["urban__waterlogging_points"]
    assert after["four_platforms__events"] == before["four_platforms__events"]
    fp = next(s for s in third if s.source == "four_platforms")
    assert fp.rows_unchanged == 3 and fp.rows_loaded == 0


def test_registry_snapshots_keep_each_distinct_load(tmp_path: Path) -> None:
    folder = tmp_path / "registry"
    folder.mkdir()
    towns = folder / "towns.csv"
    version_1 = "区划代码,名称,类型\n330109113,瓜沥镇,镇\n"
    version_2 = version_1 + "330109001,城厢街道,街道\n"
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:

        def load(text: str) -> str:
            towns.write_text(text, encoding="utf-8-sig")
            (result,) = ingest_source(con, "registry", tmp_path).files
            return result.status

        assert [load(version_1), load(version_1), load(version_2), load(version_1)] == [
            "loaded", "skipped_duplicate", "loaded", "loaded"  # going back to version 1 is a new snapshot
        ]
        loads = con.execute(
            'SELECT _load_id, count(*) FROM raw.registry__towns GROUP BY 1 ORDER BY 1'
        ).fetchall()
        assert [n for _, n in loads] == [1, 2, 1]
        latest = con.execute(
            'SELECT "名称" FROM raw.registry__towns WHERE _load_id = (SELECT max(_load_id) FROM raw.registry__towns)'
        ).fetchall()
        assert latest == [("瓜沥镇",)]


def test_small_batches_give_the_same_result(tmp_path: Path) -> None:
    """Files are loaded in batches of bounded size; batch boundaries change nothing."""
    from orchestration.ingest.contracts import entity
    from orchestration.ingest.load import entity_files, ingest_entity
    from orchestration.ingest.schema import ensure_raw_schema
    from orchestration.ingest.towns import ensure_town_aliases

    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    events = (landing / "four_platforms" / "events_20240501.jsonl").read_text(encoding="utf-8").splitlines()
    # Three more files: one repeating a known version, one new version, one with a duplicate inside.
    (landing / "four_platforms" / "events_20240502.jsonl").write_text(events[0] + "\n", encoding="utf-8")
    (landing / "four_platforms" / "events_20240503.jsonl").write_text(
        events[1].replace("2024-05-01T10:00:00+08:00", "2024-05-03T10:00:00+08:00") + "\n", encoding="utf-8")
    (landing / "four_platforms" / "events_20240504.jsonl").write_text(events[2] + "\n" + events[2] + "\n",
                                                                      encoding="utf-8")
    outcomes = []
    for batch_bytes in (1, 1 << 30):
        with duckdb.connect(str(tmp_path / f"hub_{batch_bytes}.duckdb")) as con:
            ensure_raw_schema(con)
            ensure_town_aliases(con)
            events_entity = entity("four_platforms", "events")
            results = ingest_entity(con, events_entity, entity_files(events_entity, landing), landing, batch_bytes)
            rows = con.execute(
                'SELECT "eventId", "updatedAt", _source_file FROM raw.four_platforms__events ORDER BY ALL'
            ).fetchall()
            quarantine = con.execute("SELECT source_file, row_number, reason FROM raw.quarantine ORDER BY ALL")
            outcomes.append((rows, quarantine.fetchall(), [(r.source_file, r.rows_loaded, r.rows_quarantined,
                                                             r.rows_unchanged) for r in results]))
    assert outcomes[0] == outcomes[1]
    rows, _, per_file = outcomes[0]
    assert len(rows) == 4  # three from the first file, one new version
    assert per_file[1:] == [("four_platforms/events_20240502.jsonl", 0, 0, 1),
                            ("four_platforms/events_20240503.jsonl", 1, 0, 0),
                            ("four_platforms/events_20240504.jsonl", 0, 1, 1)]
