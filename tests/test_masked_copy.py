"""api/masked_copy.py on real DuckDB files: personal columns masked in the copy, the snapshot untouched,
one copy per snapshot, copies of retired snapshots removed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from api.masked_copy import masked_copy, rules_fingerprint


def _snapshot(path: Path, liaison: str) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create table town_dossier (town_code varchar, liaison_name varchar, mechanism_evidence varchar, "
                "readiness_score integer)")
    con.execute("insert into town_dossier values (?, ?, ?, 5), ('330109001', null, null, 2)",
                ["330109113", liaison, f"应急管理站已挂牌；联络员 LL009 {liaison} 在岗，电话 13812345678"])
    con.execute("create table rescue_teams (team_id varchar, headcount integer)")
    con.execute("insert into rescue_teams values ('T1', 12)")
    con.close()
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_masked_copy_masks_personal_columns_only(tmp_path: Path) -> None:
    (tmp_path / "serving").mkdir()
    snapshot = _snapshot(tmp_path / "serving" / "serving-1.duckdb", "孙某艳")
    copy = masked_copy(snapshot, tmp_path / "api")
    assert copy == tmp_path / "api" / "masked" / rules_fingerprint() / "serving-1.duckdb"
    assert _rows(copy, "select * from town_dossier order by 1") == [
        ("330109001", None, None, 2),
        ("330109113", "孙**", "应急管理站已挂牌；联络员 LL009 孙** 在岗，电话 138****5678", 5),
    ]
    assert _rows(copy, "select * from rescue_teams") == [("T1", 12)]
    assert _rows(snapshot, "select liaison_name from town_dossier where liaison_name is not null") == [("孙某艳",)]
    assert "孙某艳".encode() not in copy.read_bytes()


def test_masked_copy_once_per_snapshot_and_stale_copies_go(tmp_path: Path) -> None:
    serving, api_dir = tmp_path / "serving", tmp_path / "api"
    serving.mkdir()
    first = masked_copy(_snapshot(serving / "serving-1.duckdb", "孙某艳"), api_dir)
    made = first.stat().st_mtime_ns
    assert masked_copy(serving / "serving-1.duckdb", api_dir).stat().st_mtime_ns == made  # not made again

    second_snapshot = _snapshot(serving / "serving-2.duckdb", "莫某波")
    (serving / "serving-1.duckdb").unlink()  # publish keeps a few snapshots and deletes the older ones
    second = masked_copy(second_snapshot, api_dir)
    assert not first.exists() and second.exists()
    assert sorted(p.name for p in second.parent.iterdir()) == ["serving-2.duckdb"]  # no temp files left


def test_a_copy_made_under_older_rules_is_made_again(tmp_path: Path) -> None:
    """A column added to MASK_RULES (such as the assessment's evidence_detail) is masked in the copy of a
    snapshot already served: the copy made under the old rules is not reused, and it is removed."""
    serving, api_dir = tmp_path / "serving", tmp_path / "api"
    serving.mkdir()
    snapshot = _snapshot(serving / "serving-1.duckdb", "孙某艳")
    old = api_dir / "masked" / "older-rules" / "serving-1.duckdb"
    old.parent.mkdir(parents=True)
    old.write_bytes(snapshot.read_bytes())  # unmasked, as an older rule set might have left a column
    copy = masked_copy(snapshot, api_dir)
    assert copy != old and not old.exists()
    assert "孙某艳".encode() not in copy.read_bytes()


def test_without_a_masked_copy_only_masked_roles_lose_sql(tmp_path: Path) -> None:
    """A data directory where the copy cannot be written (here `api` is a file) still serves the snapshot;
    only SQL for roles that would read the copy is refused, with a 503 that says why."""
    from litestar.exceptions import HTTPException

    from api.serving_db import open_serving_db
    from api.settings import ApiSettings
    from hub.core.paths import HubPaths

    (tmp_path / "serving").mkdir()
    snapshot = _snapshot(tmp_path / "serving" / "serving-1.duckdb", "孙某艳")
    (tmp_path / "api").write_text("not a folder", encoding="utf-8")
    db = open_serving_db(snapshot, ApiSettings(paths=HubPaths.from_env(str(tmp_path))))
    try:
        assert db.masked_conn is None
        assert db.sql_cursor("staff").execute("select count(*) from town_dossier").fetchone() == (2,)
        with pytest.raises(HTTPException) as refused:  # never the unmasked snapshot instead
            db.sql_cursor("analyst")
        assert refused.value.status_code == 503 and "masked copy is unavailable" in str(refused.value.detail)
    finally:
        db.close()
