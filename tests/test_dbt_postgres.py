"""The dbt project on a real PostgreSQL server (tests/pg_server.py) against the same project on DuckDB.

- every model, seed, data test and unit test of ``dbt build`` passes with the target ``postgres``;
- every model holds the same rows on both engines, built from the same raw rows (tests/dbt_fixtures.py);
- the incremental event models (delete+insert) end on PostgreSQL where a full build ends;
- the raw layer reaches the server in bulk, once per load: a second sync copies nothing, and a sync that fails
  half-way leaves the server as it was and is completed by the next one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from dbt_fixtures import ALL_LOADS, FOUR_PLATFORMS_LOADS, insert_load, query_rows, run_dbt, write_raw_fixture
from pg_server import PgServer
from pg_warehouse import load_raw_on_postgres, pg_connect, run_dbt_on_postgres

from hub.core.warehouse import Warehouse
from orchestration.warehouse.postgres import RAW_TABLES, sync_raw


@pytest.fixture(scope="module")
def duck_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dbt_build_duck")
    db = write_raw_fixture(work / "hub.duckdb")
    result = run_dbt(["build"], build_db=db, work_dir=work)
    assert result.returncode == 0, result.stdout[-6000:]
    return work


def built_models(work: Path) -> list[str]:
    manifest = json.loads((work / "target" / "manifest.json").read_text())
    return sorted(n["name"] for n in manifest["nodes"].values()
                  if n["resource_type"] in ("model", "seed") and n["config"]["materialized"] != "ephemeral")


def normalise(value: Any) -> Any:
    """One representation per value on both engines: numbers as floats rounded to 9 places (NUMERIC vs
    HUGEINT sums, DOUBLE ratios), lists as tuples, JSON as sorted JSON text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return None if math.isnan(number) else round(number, 9)
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, str) for v in value):
        return tuple(value)  # a text list (VARCHAR[] / text[])
    if isinstance(value, (list, tuple, dict)):  # parsed JSON (jsonb)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return json.dumps(parsed, ensure_ascii=False, sort_keys=True) if isinstance(parsed, (list, dict)) else value
    if isinstance(value, (dt.datetime, dt.date, str)):
        return value
    return repr(value)


def table_rows(con: Any, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    rows = query_rows(con, f'select * from "{table}"')
    columns = sorted(rows[0]) if rows else []
    return columns, sorted((tuple(normalise(r[c]) for c in columns) for r in rows), key=repr)


def test_dbt_build_on_postgres_runs_every_node(pg_dbt_build: dict[str, Any]) -> None:
    results = json.loads((pg_dbt_build["work"] / "target" / "run_results.json").read_text())["results"]
    kinds: dict[str, int] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        assert r["status"] in ("pass", "success"), (r["unique_id"], r["status"], r.get("message"))
    manifest = json.loads((pg_dbt_build["work"] / "target" / "manifest.json").read_text())
    expected = {"model": 0, "seed": 0, "test": 0}
    for node in manifest["nodes"].values():
        if node["resource_type"] in expected:
            expected[node["resource_type"]] += 1
    assert kinds["model"] == expected["model"] and kinds["seed"] == expected["seed"]
    assert kinds["test"] == expected["test"]
    assert kinds["unit_test"] == len(manifest["unit_tests"]) >= 16
    assert "target='postgres'" in pg_dbt_build["result"].stdout


def test_try_cast_helpers_work_in_a_query_planned_in_parallel(pg_dbt_build: dict[str, Any]) -> None:
    """At scale PostgreSQL plans the flows model in parallel; a PARALLEL SAFE function with an exception block
    then fails ("cannot start subtransactions during a parallel operation"). Forced parallel mode shows it."""
    with pg_connect(pg_dbt_build["url"]) as con:
        con.execute("SET force_parallel_mode = on")
        values = con.execute(
            "SELECT main.hub_try_integer(v), main.hub_try_timestamp(v), main.hub_try_timestamptz(v), "
            "main.hub_try_date(v, 'YYYYMMDD') FROM (VALUES ('12'), ('x'), ('2025-02-30 10:00')) AS t(v)").fetchall()
    assert [r[0] for r in values] == [12, None, None] and all(r[1] is None for r in values)


def test_every_model_has_the_same_rows_on_both_engines(pg_dbt_build: dict[str, Any], duck_built: Path) -> None:
    tables = built_models(duck_built)
    assert len(tables) >= 60
    differences = []
    with duckdb.connect(str(duck_built / "hub.duckdb"), read_only=True) as duck, \
            pg_connect(pg_dbt_build["url"]) as pg:
        for table in tables:
            duck_columns, duck_rows = table_rows(duck, table)
            pg_columns, pg_rows = table_rows(pg, table)
            if (duck_columns, duck_rows) != (pg_columns, pg_rows):
                differences.append((table, duck_columns, duck_rows[:3], pg_columns, pg_rows[:3]))
        non_empty = [t for t in tables if query_rows(duck, f'select count(*) as n from "{t}"')[0]["n"] > 0]
    assert differences == []
    assert len(non_empty) >= 50  # the comparison is not between empty tables


def test_incremental_event_models_on_postgres_match_a_full_build(pg_server: PgServer, pg_dbt_build: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """Build without the later events export, copy it to the server, build the events' descendants again: the
    delete+insert incremental models end where the full build ends."""
    later_export = FOUR_PLATFORMS_LOADS[-1]
    url = pg_server.new_database("hub_dbt_incremental")
    duck_db = tmp_path / "ingest.duckdb"
    load_raw_on_postgres(url, duck_db, tuple(load for load in ALL_LOADS if load is not later_export))
    first = run_dbt_on_postgres(["build"], url, tmp_path)
    assert first.returncode == 0, first.stdout[-4000:]
    with duckdb.connect(str(duck_db)) as writer:
        insert_load(writer, later_export)
        copied = sync_raw(writer, url)
    assert copied.loads == {"four_platforms__events": 1} and copied.rows == {"four_platforms__events": 3}
    second = run_dbt_on_postgres(["build", "--select", "stg_four_platforms__event_versions+"], url, tmp_path)
    assert second.returncode == 0, second.stdout[-4000:]
    queries = {
        "events": "select event_id, updated_at, version_count, status, town_code, finish_time "
                  "from stg_four_platforms__events order by event_id",
        "flows": "select event_id, step_number, action, flow_time from stg_four_platforms__event_flows "
                 "order by event_id, step_number",
        "handling": "select dept, month, events, due_events, on_time_events, returns, reassignments "
                    "from event_handling order by dept, month",
        "as_of": "select event_id, status, returns, reassignments from int_events_as_of order by event_id",
    }
    with pg_connect(url) as incremental, pg_connect(pg_dbt_build["url"]) as full:
        for name, sql in queries.items():
            assert query_rows(incremental, sql) == query_rows(full, sql), name
        assert query_rows(incremental, "select count(*) as n from stg_four_platforms__event_versions") == [{"n": 8}]


def raw_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as con:
        return {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}


@pytest.fixture
def fresh_database(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    yield pg_server.new_database(f"hub_sync_{request.node.name[:40].lower()}")


def test_sync_copies_each_load_once(fresh_database: str, tmp_path: Path) -> None:
    duck_db = write_raw_fixture(tmp_path / "ingest.duckdb")
    with duckdb.connect(str(duck_db)) as con:
        first = sync_raw(con, fresh_database)
        again = sync_raw(con, fresh_database)
        local = {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}
    assert first.total_rows == sum(len(load.rows) for load in ALL_LOADS) == 79
    assert again.loads == {} and again.total_rows == 0
    assert raw_counts(fresh_database) == local
    with psycopg.connect(fresh_database) as pg:
        # types as in DuckDB: lists stay lists, JSON is jsonb, times stay naive local times
        towns, = pg.execute("select towns from raw.utility__outages").fetchone()
        action, = pg.execute("select flows -> 0 ->> 'action' from raw.four_platforms__events "
                             "where \"eventId\" = 'EV002' limit 1").fetchone()
        loaded_at, = pg.execute("select min(_loaded_at) from raw.registry__towns").fetchone()
    assert towns == ["瓜沥镇", "城厢"] and action == "上报" and loaded_at == dt.datetime(2025, 6, 1, 10, 0)


def test_a_failed_sync_leaves_the_server_unchanged_and_the_next_one_completes_it(fresh_database: str,
                                                                                   tmp_path: Path) -> None:
    duck_db = write_raw_fixture(tmp_path / "ingest.duckdb")
    with duckdb.connect(str(duck_db)) as con:
        sync_raw(con, fresh_database, tables=[])  # creates the raw tables only
        # the server refuses the last table of the sync (a real trigger): the whole copy is rolled back
        with psycopg.connect(fresh_database, autocommit=True) as pg:
            pg.execute("create function raw.refuse() returns trigger language plpgsql as "
                       "$$ begin raise exception 'disk full'; end $$")
            pg.execute("create trigger refuse before insert on raw.registry__responsibility_list "
                       "for each statement execute function raw.refuse()")
        with pytest.raises(Exception, match="disk full"):
            sync_raw(con, fresh_database)
        assert set(raw_counts(fresh_database).values()) == {0}
        with psycopg.connect(fresh_database, autocommit=True) as pg:
            pg.execute("drop trigger refuse on raw.registry__responsibility_list")
        resumed = sync_raw(con, fresh_database)
        local = {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}
    assert resumed.total_rows == 79
    assert raw_counts(fresh_database) == local


def test_warehouse_setting_selects_the_dbt_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_WAREHOUSE", raising=False)
    assert Warehouse.from_setting().dbt_target == "build"
    monkeypatch.setenv("HUB_WAREHOUSE", "postgresql://hub:s%40cret@db.example:6432/hub_xs")
    warehouse = Warehouse.from_setting()
    assert warehouse.dbt_env() == {
        "HUB_DBT_TARGET": "postgres", "HUB_PG_HOST": "db.example", "HUB_PG_PORT": "6432", "HUB_PG_USER": "hub",
        "DBT_ENV_SECRET_HUB_PG_PASSWORD": "s@cret", "HUB_PG_DBNAME": "hub_xs",
    }
    assert "s%40cret" not in str(warehouse) and "***" in str(warehouse)
    with pytest.raises(ValueError, match="unsupported warehouse URL"):
        Warehouse.from_setting("mysql://u@h/db")
