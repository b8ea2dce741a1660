"""Publish: a new versioned serving file per run, the pointer switched atomically, old readers unaffected;
``hub sql`` runs exactly one read-only SELECT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from hub.core.pointer import read_current, versions
from hub.core.sql_guard import SqlRejected, check_statement
from orchestration.publish import publish_snapshot, published_models

HUB = [sys.executable, "-m", "hub.cli.main"]


def _manifest() -> dict:
    """The part of a dbt manifest publish reads: two published models, one internal one."""
    def model(name: str, published: bool, description: str, columns: dict[str, str]) -> dict:
        return {
            "resource_type": "model",
            "name": name,
            "alias": name,
            "schema": "main_marts",
            "description": description,
            "tags": ["published"] if published else [],
            "config": {"materialized": "table", "meta": {}},
            "columns": {c: {"name": c, "description": d} for c, d in columns.items()},
        }

    return {
        "nodes": {
            "model.hub.town_readiness": model("town_readiness", True, "六有 readiness per town",
                                              {"town_code": "镇街代码", "readiness_score": "六有得分"}),
            "model.hub.grid_coverage": model("grid_coverage", True, "网格覆盖", {"village_code": "村社代码"}),
            "model.hub.int_secret": model("int_secret", False, "internal", {"x": ""}),
        }
    }


def _write_build_db(path: Path, score: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA main_marts")
    con.execute("CREATE TABLE main_marts.town_readiness (town_code VARCHAR, town_name VARCHAR, readiness_score INT)")
    con.execute("INSERT INTO main_marts.town_readiness VALUES ('330109113', '瓜沥镇', ?), ('330109001', '城厢街道', 2)",
                [score])
    con.execute("CREATE TABLE main_marts.grid_coverage AS SELECT '330109113201' AS village_code, FALSE AS is_uncovered")
    con.execute("CREATE TABLE main_marts.int_secret AS SELECT 1 AS x")
    con.close()


def test_published_models_reads_tags_and_meta() -> None:
    manifest = _manifest()
    manifest["nodes"]["model.hub.int_secret"]["config"]["meta"] = {"publish": True}
    names = [m.name for m in published_models(manifest)]
    assert names == ["grid_coverage", "int_secret", "town_readiness"]
    del manifest["nodes"]["model.hub.int_secret"]
    readiness = next(m for m in published_models(manifest) if m.name == "town_readiness")
    assert readiness.schema == "main_marts"
    assert [c.description for c in readiness.columns] == ["镇街代码", "六有得分"]


def test_value_labels_come_from_the_seed_and_a_missing_seed_does_not_stop_publishing(tmp_path: Path) -> None:
    """``value_labels_from`` is read at publish time; value labels are for reading only, so a build without the
    seed (a partial dbt build) still publishes, with the codes as they are."""
    manifest = _manifest()
    manifest["nodes"]["seed.hub.department_lines"] = {
        "resource_type": "seed", "name": "department_lines", "alias": "department_lines", "schema": "main_seeds"}
    column = manifest["nodes"]["model.hub.town_readiness"]["columns"]["town_code"]
    column["config"] = {"meta": {"value_labels_from": {"seed": "department_lines", "key": "code", "label": "zh"}}}
    models = [m for m in published_models(manifest) if m.name == "town_readiness"]
    build_db = tmp_path / "hub.duckdb"
    _write_build_db(build_db, 5)

    def town_code_meta(serving: str) -> dict:
        snapshot = publish_snapshot(build_db, tmp_path / serving, models, as_of=date(2025, 6, 30))
        with duckdb.connect(str(snapshot.path), read_only=True) as con:
            (columns,) = con.execute("SELECT columns FROM _tables WHERE table_name = 'town_readiness'").fetchone()
        return next(c for c in json.loads(columns) if c["name"] == "town_code").get("meta", {})

    assert town_code_meta("without_seed") == {"value_labels": {}}
    with duckdb.connect(str(build_db)) as con:
        con.execute("CREATE SCHEMA main_seeds")
        con.execute("CREATE TABLE main_seeds.department_lines AS SELECT '330109113' AS code, '瓜沥' AS zh")
    assert town_code_meta("with_seed") == {"value_labels": {"330109113": "瓜沥"}}


def test_publish_switches_pointer_keeps_old_and_old_reader_unaffected(tmp_path: Path) -> None:
    build_db = tmp_path / "warehouse" / "hub.duckdb"
    build_db.parent.mkdir()
    serving = tmp_path / "serving"
    models = published_models(_manifest())

    _write_build_db(build_db, score=5)
    first = publish_snapshot(build_db, serving, models, as_of=date(2025, 6, 30))
    assert read_current(serving) == first.path
    assert first.row_counts == {"grid_coverage": 1, "town_readiness": 2}

    # A reader holds the first snapshot open while the next publish happens.
    reader = duckdb.connect(str(first.path), read_only=True)
    assert reader.execute("SELECT readiness_score FROM town_readiness WHERE town_code = '330109113'").fetchone() == (5,)

    build_db.unlink()
    _write_build_db(build_db, score=6)
    second = publish_snapshot(build_db, serving, models, as_of=date(2025, 7, 1))
    assert second.path != first.path
    assert read_current(serving) == second.path
    assert first.path.exists(), "the previous snapshot is kept for rollback"
    assert reader.execute("SELECT readiness_score FROM town_readiness WHERE town_code = '330109113'").fetchone() == (5,)
    reader.close()

    con = duckdb.connect(str(second.path), read_only=True)
    assert con.execute("SELECT readiness_score FROM town_readiness WHERE town_code = '330109113'").fetchone() == (6,)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert tables == {"town_readiness", "grid_coverage", "_tables", "_snapshot"}, "internal models stay out"
    description, columns = con.execute(
        "SELECT description, columns FROM _tables WHERE table_name = 'town_readiness'").fetchone()
    assert description == "六有 readiness per town"
    assert json.loads(columns) == [
        {"name": "town_code", "type": "VARCHAR", "description": "镇街代码"},
        {"name": "town_name", "type": "VARCHAR", "description": ""},
        {"name": "readiness_score", "type": "INTEGER", "description": "六有得分"},
    ]
    as_of, counts = con.execute("SELECT as_of, row_counts FROM _snapshot").fetchone()
    assert as_of == date(2025, 7, 1)
    assert json.loads(counts) == {"grid_coverage": 1, "town_readiness": 2}
    con.close()

    # Only the newest three survive; no temp file or WAL is left behind.
    for _ in range(3):
        publish_snapshot(build_db, serving, models)
    kept = versions(serving)
    assert len(kept) == 3 and first.path not in kept and read_current(serving) == kept[-1]
    assert sorted(p.name for p in serving.iterdir() if p.name.startswith(".") or p.suffix == ".wal") == []


def test_failed_publish_leaves_current_snapshot(tmp_path: Path) -> None:
    build_db = tmp_path / "hub.duckdb"
    serving = tmp_path / "serving"
    _write_build_db(build_db, score=4)
    good = publish_snapshot(build_db, serving, published_models(_manifest()))
    manifest = _manifest()
    manifest["nodes"]["model.hub.missing"] = {**manifest["nodes"]["model.hub.town_readiness"], "name": "missing",
                                              "alias": "missing"}
    with pytest.raises(duckdb.Error):
        publish_snapshot(build_db, serving, published_models(manifest))
    assert read_current(serving) == good.path
    assert versions(serving) == [good.path]
    assert not any(p.name.startswith(".serving") for p in serving.iterdir())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("DELETE FROM town_readiness", "only SELECT queries"),
        ("CREATE TEMP TABLE t AS SELECT 1", "only SELECT queries"),
        ("COPY town_readiness TO '/tmp/x.csv'", "only SELECT queries"),
        ("SELEC 1", "syntax error"),
        ("SELECT current_setting('temp_directory')", "not allowed"),
    ],
)
def test_the_sql_guard_refuses(query: str, message: str) -> None:
    with pytest.raises(SqlRejected, match=message):
        check_statement(query)


def _hub(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_DATA_DIR": str(data_dir)}
    return subprocess.run([*HUB, *args], capture_output=True, text=True, env=env, timeout=120)


def test_hub_sql_cli(tmp_path: Path) -> None:
    missing = _hub("sql", "SELECT 1", data_dir=tmp_path)
    assert missing.returncode != 0 and "no published snapshot" in missing.stderr

    build_db = tmp_path / "warehouse" / "hub.duckdb"
    build_db.parent.mkdir()
    _write_build_db(build_db, score=5)
    snapshot = publish_snapshot(build_db, tmp_path / "serving", published_models(_manifest())).path

    table = _hub("sql", "SELECT town_name, readiness_score FROM town_readiness ORDER BY town_code", data_dir=tmp_path)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[2].split("|")[0].strip() == "城厢街道"
    as_json = _hub("sql", "--format", "json", "SELECT * FROM town_readiness ORDER BY town_code", data_dir=tmp_path)
    assert json.loads(as_json.stdout)[1] == {"town_code": "330109113", "town_name": "瓜沥镇", "readiness_score": 5}
    as_csv = _hub("sql", "--format", "csv", "SELECT town_code, readiness_score FROM town_readiness ORDER BY 1",
                  data_dir=tmp_path)
    assert as_csv.stdout.splitlines() == ["town_code,readiness_score", "330109001,2", "330109113,5"]

    write = _hub("sql", "DROP TABLE town_readiness", data_dir=tmp_path)
    assert write.returncode != 0 and "only SELECT queries" in write.stderr and "Traceback" not in write.stderr
    two = _hub("sql", "SELECT 1; DROP TABLE town_readiness", data_dir=tmp_path)
    assert two.returncode != 0 and "exactly one statement" in two.stderr
    outside = _hub("sql", f"SELECT * FROM read_csv('{build_db}')", data_dir=tmp_path)
    # The same guard as the API: file readers are refused before anything runs.
    assert outside.returncode != 0 and "read_csv is not allowed" in outside.stderr
    unknown = _hub("sql", "SELECT * FROM no_such_view", data_dir=tmp_path)
    assert unknown.returncode != 0 and "no_such_view" in unknown.stderr

    con = duckdb.connect(str(snapshot), read_only=True)
    assert con.execute("SELECT count(*) FROM town_readiness").fetchone() == (2,), "the snapshot is unchanged"
    con.close()
