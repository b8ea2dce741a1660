"""Loading the same files twice adds nothing (unchanged files are not even read); registry snapshots keep
every distinct load."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb

from orchestration.ingest.contracts import ENTITIES
from orchestration.ingest.load import content_hash, ingest_landing, ingest_source

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


def landing_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file())


def age(landing: Path) -> None:
    """Date every file an hour back, so its mtime is old enough to be trusted (see RACY_NS)."""
    hour_ago = time.time_ns() - 3600 * 1_000_000_000
    for path in landing_files(landing):
        os.utime(path, ns=(hour_ago, hour_ago))


def log_stats(db: Path) -> dict[tuple[str, str], tuple[int | None, int | None]]:
    """Size and mtime logged by the newest load_log row of every (file, entity)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {(f, e): (size, mtime) for f, e, size, mtime in con.execute(
            "SELECT source_file, entity, file_size, file_mtime_ns FROM raw.load_log "
            "QUALIFY row_number() OVER (PARTITION BY source_file, entity ORDER BY finished_at DESC, load_id DESC) = 1"
        ).fetchall()}


def rewrite_keeping_stat(path: Path, data: bytes, mtime_shift_ns: int = 0) -> None:
    """Replace the content with same-size bytes and put the old mtime back (shifted if asked)."""
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + mtime_shift_ns))


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    """Same size and mtime as logged: the logged hash is taken without reading. Proven by replacing every
    file with same-size garbage and restoring its mtime: the next run still skips them all."""
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    age(landing)
    db = tmp_path / "hub.duckdb"
    ingest_landing(db, landing)
    logged = log_stats(db)
    for path in landing_files(landing):
        st = path.stat()
        stats = {v for (f, _), v in logged.items() if f == path.relative_to(landing).as_posix()}
        assert stats == {(st.st_size, st.st_mtime_ns)}, path
    before = counts(db)
    originals = {p: p.read_bytes() for p in landing_files(landing)}
    for path, data in originals.items():
        rewrite_keeping_stat(path, b"#" * len(data))

    second = ingest_landing(db, landing)
    assert {f.status for s in second for f in s.files} == {"skipped_duplicate"}  # garbage never read
    assert counts(db) == before
    assert log_stats(db) == logged  # the skipped rows carry size and mtime: the cache stays warm

    # A changed mtime means read again: the same content is still skipped (with the new mtime logged),
    # a same-size edit (one event's new version) is loaded.
    points = landing / "urban" / "积水点_20240501.csv"
    rewrite_keeping_stat(points, originals[points], mtime_shift_ns=1_000_000_000)
    events = landing / "four_platforms" / "events_20240501.jsonl"
    lines = originals[events].split(b"\n")
    lines[2] = lines[2].replace(b'"updatedAt": "2024-05-01T10', b'"updatedAt": "2024-05-01T11')
    edited = b"\n".join(lines)  # a new version of event E20240501003
    rewrite_keeping_stat(events, edited, mtime_shift_ns=1_000_000_000)
    third = {f.source_file: f for s in ingest_landing(db, landing) for f in s.files}
    assert third["urban/积水点_20240501.csv"].status == "skipped_duplicate"
    assert log_stats(db)[("urban/积水点_20240501.csv", "waterlogging_points")] == (
        points.stat().st_size, points.stat().st_mtime_ns)
    assert (third["four_platforms/events_20240501.jsonl"].status, third["four_platforms/events_20240501.jsonl"]
            .rows_loaded) == ("loaded", 1)
    assert counts(db)["four_platforms__events"] == before["four_platforms__events"] + 1
    assert {f.status for name, f in third.items() if name != "four_platforms/events_20240501.jsonl"} == {
        "skipped_duplicate"}


def test_freshly_written_file_is_read_again(tmp_path: Path) -> None:
    """An mtime within RACY_NS of the read is not trusted (a same-size rewrite in the same timestamp
    tick would keep it): no mtime is logged and the next run reads the file."""
    folder = tmp_path / "registry"
    folder.mkdir()
    towns = folder / "towns.csv"
    towns.write_text("区划代码,名称,类型\n330109113,瓜沥镇,镇\n", encoding="utf-8-sig")
    with duckdb.connect(str(tmp_path / "hub.duckdb")) as con:
        assert [f.status for f in ingest_source(con, "registry", tmp_path).files] == ["loaded"]
        assert con.execute("SELECT file_size, file_mtime_ns FROM raw.load_log").fetchall() == [
            (towns.stat().st_size, None)]
        towns.write_text("区划代码,名称,类型\n330109001,城厢街,镇\n", encoding="utf-8-sig")  # same size
        assert [f.status for f in ingest_source(con, "registry", tmp_path).files] == ["loaded"]


OLD_LOAD_LOG_DDL = """
CREATE TABLE raw.load_log (
    load_id VARCHAR NOT NULL, source_system VARCHAR NOT NULL, entity VARCHAR, source_file VARCHAR NOT NULL,
    file_hash VARCHAR, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL, rows_quarantined BIGINT NOT NULL,
    status VARCHAR NOT NULL, message VARCHAR, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL
)
"""


def test_load_log_without_stat_columns_is_migrated(tmp_path: Path) -> None:
    """A build database made before file_size and file_mtime_ns gets them; its rows keep counting by hash."""
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    age(landing)
    points = landing / "urban" / "积水点_20240501.csv"
    db = tmp_path / "hub.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute(OLD_LOAD_LOG_DDL)
        con.execute(
            "INSERT INTO raw.load_log VALUES ('L0', 'urban', 'waterlogging_points', 'urban/积水点_20240501.csv', ?, "
            "2, 2, 0, 'loaded', NULL, TIMESTAMP '2024-05-01 08:00', TIMESTAMP '2024-05-01 08:00')",
            [content_hash(points.read_bytes())],
        )
    first = {f.source_file: f for s in ingest_landing(db, landing) for f in s.files}
    assert first["urban/积水点_20240501.csv"].status == "skipped_duplicate"  # read and hashed: no stat logged
    assert first["urban/城管案件_20240501.csv"].status == "loaded"
    with duckdb.connect(str(db), read_only=True) as con:
        columns = [r[0] for r in con.execute("DESCRIBE raw.load_log").fetchall()]
        assert columns[-3:] == ["finished_at", "file_size", "file_mtime_ns"]
        assert con.execute("SELECT file_size, file_mtime_ns FROM raw.load_log WHERE load_id = 'L0'").fetchall() == [
            (None, None)]
    assert log_stats(db)[("urban/积水点_20240501.csv", "waterlogging_points")] == (
        points.stat().st_size, points.stat().st_mtime_ns)
    rewrite_keeping_stat(points, b"#" * points.stat().st_size)
    second = {f.source_file: f for s in ingest_landing(db, landing) for f in s.files}
    assert {f.status for f in second.values()} == {"skipped_duplicate"}  # now from the logged stat data
