"""``hub serve --warehouse``: the API on a warehouse published on a real PostgreSQL server.

The same hand-made shared views (api_fixtures.write_build_db, plus a duty roster holding personal data) are
published twice: as a DuckDB snapshot (orchestration.publish.publish_snapshot) and on the server
(orchestration.warehouse.serving.publish_on_server). The real Litestar app serves each, and every answer of the
server-backed app (tables, filters, sorting, paging, CSV exports, town dossiers, SQL per role) must equal the
DuckDB one. Then: a republish on the server is picked up, hostile SQL is refused or stopped by the API's guard or
by the server, and a stopped server leaves tables served from the local replica and SQL a clear 503.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import duckdb
import psycopg
import pytest
from api_fixtures import AS_OF, add_key, towns, write_build_db
from api_fixtures import start_server as start_api
from api_fixtures import stop_server as stop_api
from click.testing import CliRunner
from litestar.testing import TestClient
from pg_server import PgServer, start_server, stop_server
from pg_warehouse import MASKED_COLUMNS

from api.app import create_app
from api.keys import KeyStore
from api.settings import ApiSettings
from api.warehouse_sql import role_secret
from hub.cli.serve_cmd import serve
from hub.core.paths import HubPaths
from hub.core.pointer import read_current, versions
from hub.core.serving_server import current_version
from orchestration.publish import ColumnDoc, PublishedModel, publish_snapshot
from orchestration.warehouse.serving import publish_on_server

TABLE = "hidden_danger_register"
ROSTER = "duty_roster"
SQL_TIMEOUT_MS = 1500
ROLES = ("analyst", "admin")  # tables and SQL are for these two; admin sees personal data, analysts not
ENGINES = ("duckdb", "postgres")


def write_fixture(build: Path, variant: int = 0) -> list[PublishedModel]:
    """The API fixture's shared views plus a table of personal data (names, phone numbers, quoted names)."""
    models = write_build_db(build, variant)
    with duckdb.connect(str(build)) as con:
        con.execute(f"CREATE TABLE marts.{ROSTER} (town_code VARCHAR, duty_person VARCHAR, mobile VARCHAR, "
                    "mechanism_evidence VARCHAR)")
        con.executemany(
            f"INSERT INTO marts.{ROSTER} VALUES (?, ?, ?, ?)",
            [(code, f"{name[:1]}某{'甲乙丙'[i % 3]}", f"138{i:04d}{i * 7 % 10000:04d}",
              f"联络员{name[:1]}小{'东南西北'[i % 4]}，电话1390000{i:04d}") for i, (code, name) in enumerate(towns())],
        )
    columns = tuple(ColumnDoc(c, d) for c, d in (("town_code", "镇街代码"), ("duty_person", "值班人"),
                                                 ("mobile", "手机"), ("mechanism_evidence", "机制证据")))
    return [*models, PublishedModel(f"model.hub.{ROSTER}", ROSTER, "marts", "值班表", columns)]


def load_on_server(build: Path, url: str) -> None:
    """The build database's ``marts`` tables into the server's ``marts`` schema (Arrow through ADBC)."""
    import adbc_driver_postgresql.dbapi as adbc

    with duckdb.connect(str(build), read_only=True) as con, adbc.connect(url) as pg, pg.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS marts CASCADE")
        cur.execute("CREATE SCHEMA marts")
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
                                    ).fetchall():
            cur.adbc_ingest(table, con.sql(f"SELECT * FROM marts.{table}").to_arrow_table(), mode="create",
                            db_schema_name="marts")
        pg.commit()


def publish_on(url: str, build: Path, models: list[PublishedModel]) -> str:
    load_on_server(build, url)
    return publish_on_server(url, models, MASKED_COLUMNS, as_of=AS_OF, build_schema="marts").version


def api(data_dir: Path, warehouse_url: str | None = None) -> tuple[TestClient[Any], dict[str, str]]:
    settings = ApiSettings(paths=HubPaths(data_dir), sql_timeout_ms=SQL_TIMEOUT_MS, sql_row_limit=1000,
                           warehouse_url=warehouse_url, warehouse_poll_s=0.2)
    store = KeyStore(settings.paths.api_dir)
    keys = {role: store.add(f"test-{role}-{time.monotonic_ns()}", role) for role in ("analyst", "staff", "admin")}
    return TestClient(create_app(settings), raise_server_exceptions=False), keys


def get(client: TestClient[Any], keys: dict[str, str], role: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {keys[role]}"})


def post_sql(client: TestClient[Any], keys: dict[str, str], role: str, sql: str, **extra: Any) -> Any:
    return client.post("/api/sql", json={"sql": sql, **extra}, headers={"Authorization": f"Bearer {keys[role]}"})


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PublishedModel]]:
    build = tmp_path_factory.mktemp("wh_build") / "build.duckdb"
    return build, write_fixture(build)


@pytest.fixture(scope="module")
def warehouse_url(pg_server: PgServer, fixture_build: tuple[Path, list[PublishedModel]]) -> str:
    pg_server.new_database("hub_api_warehouse")
    # the owner's password keys the SQL roles' passwords (the test server trusts loopback, so any password works)
    url = pg_server.url("hub_api_warehouse", password="owner-secret")
    publish_on(url, *fixture_build)
    return url


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, fixture_build: tuple[Path, list[PublishedModel]],
           warehouse_url: str) -> Iterator[dict[str, tuple[TestClient[Any], dict[str, str]]]]:
    """The same views served from a DuckDB snapshot and from the server, one app each."""
    build, models = fixture_build
    duck_dir = tmp_path_factory.mktemp("api_duckdb")
    publish_snapshot(build, HubPaths(duck_dir).serving, models, as_of=AS_OF)
    apps = {"duckdb": api(duck_dir), "postgres": api(tmp_path_factory.mktemp("api_pg"), warehouse_url)}
    for client, _ in apps.values():
        client.__enter__()
    yield apps
    for client, _ in apps.values():
        client.__exit__(None, None, None)


def both(served: dict[str, tuple[TestClient[Any], dict[str, str]]], role: str, path: str, **params: Any
         ) -> dict[str, Any]:
    answers = {}
    for engine, (client, keys) in served.items():
        response = get(client, keys, role, path, **params)
        assert response.status_code == 200, (engine, response.text[:500])
        answers[engine] = response
    return answers


def without_version(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("snapshot", "built")}


@pytest.mark.parametrize("params", [
    {"overdue_days__gt": "30", "_sort_desc": "overdue_days"},
    {"is_overdue": "是", "town_code__in": "330109113,330109001,330109002"},
    {"owner_dept__contains": "林水", "deadline__isnull": "false", "_sort": "deadline"},
    {"deadline__gte": "2025-01-01", "level__ne": "一般"},
    {"_search": "镇", "is_overdue": "true"},
])
def test_a_table_pages_sql_link_runs_to_its_rows_on_both_engines(served: dict[str, Any], params: dict[str, str]
                                                                 ) -> None:
    """The "用 SQL 查询" link writes the filters as literals both engines read: on a PostgreSQL warehouse the SQL
    page runs on the server, and there it must find the rows the table page counted."""
    for engine, (client, keys) in served.items():
        page = client.get(f"/tables/{TABLE}", params={**params, "_size": "1000"},
                          headers={"Authorization": f"Bearer {keys['analyst']}", "Accept": "text/html"})
        assert page.status_code == 200, (engine, page.text[:300])
        total = int(re.search(r'id="total">(\d+)<', page.text)[1])
        href = re.search(r'<a href="([^"]+)" id="open-sql"', page.text)[1].replace("&amp;", "&")
        sql = dict(parse_qsl(urlsplit(href).query))["q"]
        answer = post_sql(client, keys, "analyst", sql)
        assert answer.status_code == 200, (engine, sql, answer.text[:300])
        assert 0 < len(answer.json()["rows"]) == total, (engine, sql)


def test_row_pages_open_the_same_rows_on_both_engines(served: dict[str, Any]) -> None:
    """The row key is published into ``_tables`` on either engine: a page's 详情 links open its rows, and the same
    link opens the same row on the other engine."""
    row_link = re.compile(r'<th class="rowlink" scope="row"><a href="([^"]+)"')
    shown: dict[str, list[str]] = {}
    links: list[str] = []
    for engine, (client, keys) in served.items():
        auth = {"Authorization": f"Bearer {keys['analyst']}", "Accept": "text/html"}
        page = client.get("/tables/event_handling", params={"_size": "3"}, headers=auth).text
        links = links or [x.replace("&amp;", "&") for x in row_link.findall(page)]
        assert len(links) == 3, engine
        opened = [client.get(link, headers=auth) for link in links]
        assert [r.status_code for r in opened] == [200, 200, 200], engine
        shown[engine] = [r.text.split('id="row-fields"', 1)[1].split("</table>", 1)[0] for r in opened]
    (on_duckdb, on_server), = [tuple(shown.values())]
    assert on_duckdb == on_server


@pytest.mark.parametrize("params", [
    {},
    {"level": "重大"},
    {"overdue_days__gt": "30", "_sort_desc": "overdue_days"},
    {"town_code__in": "330109113,330109001", "_sort": "deadline"},
    {"owner_dept__contains": "林水", "_size": "7", "_offset": "14"},
    {"deadline__isnull": "false", "_sort_desc": "deadline", "_size": "25", "_facet": "level"},
    {"is_overdue": "true", "level__ne": "一般", "_facet": "town_code"},
])
def test_table_pages_are_the_same_on_both_engines(served: dict[str, Any], params: dict[str, str]) -> None:
    answers = both(served, "analyst", f"/api/tables/{TABLE}", **params)
    duck, pg = (answers[e].json() for e in ENGINES)
    assert duck["rows"] and without_version(pg) == without_version(duck)


def test_keyset_paging_walks_the_same_rows(served: dict[str, Any]) -> None:
    walked = {}
    for engine, (client, keys) in served.items():
        seen, params = [], {"_sort": "deadline", "_size": "60"}
        while True:
            body = get(client, keys, "analyst", f"/api/tables/{TABLE}", **params).json()
            seen += [r["danger_id"] for r in body["rows"]]
            if not body["next_after"]:
                break
            params["_after"] = body["next_after"]
        walked[engine] = seen
    assert len(walked["postgres"]) == 400 and walked["postgres"] == walked["duckdb"]


def test_table_list_and_catalog_say_which_version(served: dict[str, Any], warehouse_url: str) -> None:
    answers = both(served, "analyst", "/api/tables")
    duck, pg = (answers[e].json() for e in ENGINES)
    assert [without_version(t) for t in pg["tables"]] == [without_version(t) for t in duck["tables"]]
    version = current_version(warehouse_url)
    assert pg["built"]["server_version"] == version and pg["snapshot"].endswith(f"-{version}.duckdb")
    assert pg["built"]["as_of"] == duck["built"]["as_of"] == AS_OF.isoformat()
    assert pg["built"]["row_counts"] == duck["built"]["row_counts"]


def test_csv_export_holds_every_matching_row(served: dict[str, Any]) -> None:
    answers = both(served, "analyst", f"/api/tables/{TABLE}", _format="csv", level="一般")
    duck, pg = (answers[e].content for e in ENGINES)
    total = get(*served["postgres"], "analyst", f"/api/tables/{TABLE}", level="一般").json()["total"]
    assert pg == duck and len(pg.decode("utf-8-sig").strip().splitlines()) == total + 1 > 100


def test_personal_columns_are_masked_for_analysts_in_tables(served: dict[str, Any]) -> None:
    for role in ROLES:
        answers = both(served, role, f"/api/tables/{ROSTER}", _size="100")
        duck, pg = (answers[e].json() for e in ENGINES)
        assert without_version(pg) == without_version(duck)
        names = [r["duty_person"] for r in pg["rows"]]
        assert all(n.endswith("**") for n in names) if role == "analyst" else not any("*" in n for n in names)


def test_a_column_choice_keeps_personal_columns_masked_in_answers_and_exports(served: dict[str, Any]) -> None:
    """``_col`` cuts rows down after they are masked: a chosen personal column is masked as in the whole row."""
    for role in ROLES:
        whole = both(served, role, f"/api/tables/{ROSTER}", _size="100")
        chosen = both(served, role, f"/api/tables/{ROSTER}", _size="100", _col="mobile,duty_person")
        exported = both(served, role, f"/api/tables/{ROSTER}", _col="mobile,duty_person", _format="csv")
        for engine in ENGINES:
            expected = [{"duty_person": r["duty_person"], "mobile": r["mobile"]} for r in whole[engine].json()["rows"]]
            assert chosen[engine].json()["rows"] == expected, (engine, role)
            lines = list(csv.reader(io.StringIO(exported[engine].content.decode("utf-8-sig"))))
            assert lines[0] == ["duty_person", "mobile"]  # the table's order, not the request's
            assert lines[1:] == [[r["duty_person"], r["mobile"]] for r in expected], (engine, role)
        if role == "analyst":
            assert all(r["duty_person"].endswith("**") for r in chosen["postgres"].json()["rows"])


def test_town_dossier_is_the_same(served: dict[str, Any]) -> None:
    code = towns()[0][0]
    answers = both(served, "staff", f"/api/towns/{code}")
    duck, pg = (answers[e].json() for e in ENGINES)
    assert pg["dossier"]["town_code"] == code and pg["hidden_dangers"]
    assert without_version(pg) == without_version(duck)
    pages = both(served, "staff", f"/towns/{code}")
    assert pages["postgres"].status_code == 200 and towns()[0][1] in pages["postgres"].text


ROSTER_SQL = f"SELECT town_code, duty_person, mobile, mechanism_evidence FROM {ROSTER} ORDER BY town_code"


@pytest.mark.parametrize("role", ROLES)
def test_sql_answers_match_and_analysts_get_masked_columns(served: dict[str, Any], role: str) -> None:
    answers = {e: post_sql(*served[e], role, ROSTER_SQL) for e in ENGINES}
    assert all(a.status_code == 200 for a in answers.values()), {e: a.text[:300] for e, a in answers.items()}
    duck, pg = (answers[e].json() for e in ENGINES)
    assert pg["rows"] == duck["rows"] and len(pg["rows"]) == 27
    assert [c["name"] for c in pg["columns"]] == [c["name"] for c in duck["columns"]]
    person, mobile, evidence = pg["rows"][0][1:]
    if role == "analyst":
        assert person.endswith("**") and "****" in mobile and "*" in evidence
    else:
        assert "*" not in person + mobile + evidence


@pytest.mark.parametrize("sql", [
    "SELECT level, count(*) AS n, max(overdue_days) AS longest FROM hidden_danger_register GROUP BY level "
    "ORDER BY level",
    "SELECT town_code, readiness_score FROM town_readiness WHERE readiness_score >= 4 ORDER BY town_code",
    "SELECT lead_units, lead_count FROM responsibility_matrix ORDER BY domain, level",
    "SELECT danger_id, deadline FROM hidden_danger_register ORDER BY deadline NULLS LAST, danger_id LIMIT 20",
])
def test_sql_answers_are_the_same_on_both_engines(served: dict[str, Any], sql: str) -> None:
    duck, pg = (post_sql(*served[e], "analyst", sql).json() for e in ENGINES)
    assert pg.get("rows") == duck.get("rows") and duck["rows"], (pg, duck)


def test_sql_parameters_bind_on_the_server(served: dict[str, Any]) -> None:
    sql = "SELECT count(*) AS n FROM hidden_danger_register WHERE level = $level AND source_system <> '$level'"
    duck, pg = (post_sql(*served[e], "analyst", sql, params={"level": "重大"}).json() for e in ENGINES)
    assert pg["rows"] == duck["rows"] and pg["rows"][0][0] > 0


def test_the_sql_page_runs_on_the_server(served: dict[str, Any]) -> None:
    client, keys = served["postgres"]
    page = get(client, keys, "analyst", "/sql", q=ROSTER_SQL)
    assert page.status_code == 200 and "**" in page.text
    export = get(client, keys, "admin", "/sql/export.csv", q=ROSTER_SQL)
    assert export.status_code == 200 and len(export.text.strip().splitlines()) == 28


def test_rows_beyond_the_limit_are_cut_and_huge_results_stopped(served: dict[str, Any]) -> None:
    client, keys = served["postgres"]
    body = post_sql(client, keys, "analyst", "SELECT * FROM hidden_danger_register").json()
    assert body["truncated"] is False and body["row_count"] == 400
    many = post_sql(client, keys, "analyst", "SELECT a.danger_id FROM hidden_danger_register a, town_readiness b")
    assert many.json()["truncated"] is True and many.json()["row_count"] == 1000
    wide = post_sql(client, keys, "analyst", "SELECT repeat('x', 10000) AS a, repeat('y', 10000) AS b, "
                    "repeat('z', 10000) AS c FROM hidden_danger_register, town_readiness")
    assert wide.status_code == 413 and wide.json()["code"] == "result_too_large"  # 30 kB a row: the 20 MB cap


HOSTILE = {
    "copy to program": ("COPY (SELECT 1) TO PROGRAM 'id'", "refused"),
    "read a server file": ("SELECT pg_read_file('/etc/passwd')", "refused"),
    "large object import": ("SELECT lo_import('/etc/passwd')", "refused"),
    "dblink": ("SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)", "refused"),
    "set role": ("SET ROLE hub_admin", "refused"),
    "set statement_timeout": ("SET statement_timeout = 0", "refused"),
    "set_config": ("SELECT set_config('statement_timeout', '0', false)", "refused"),
    "create": ("CREATE TABLE stolen AS SELECT * FROM duty_roster", "refused"),
    "pg_settings": ("SELECT name, setting FROM pg_settings", "refused"),
    "catalog of roles": ("SELECT rolname, rolpassword FROM pg_authid", "refused"),
    "the unmasked schema": ("SELECT duty_person FROM serving.duty_roster", "refused"),
    "the catalog it may see": ("SELECT * FROM information_schema.tables", "allowed"),
    "dynamic SQL": ("SELECT query_to_xml('SELECT * FROM serving.duty_roster', true, true, '')", "refused"),
    "terminate a session": ("SELECT pg_terminate_backend(1)", "refused"),
    "pg_sleep past the limit": ("SELECT pg_sleep(5)", "stopped"),
    "a recursive CTE without end": ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                                    "SELECT count(*) FROM r", "stopped"),
    "a cross join for minutes": ("SELECT count(*) FROM generate_series(1, 10000) a, generate_series(1, 10000) b, "
                                 "generate_series(1, 10000) c", "stopped"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sql_is_refused_or_stopped(served: dict[str, Any], name: str) -> None:
    sql, expected = HOSTILE[name]
    client, keys = served["postgres"]
    started = time.monotonic()
    response = post_sql(client, keys, "analyst", sql)
    elapsed = time.monotonic() - started
    body = response.json()
    if expected == "allowed":  # what the role may see: the views of its own schema, no version schema
        assert response.status_code == 200
        schemas = {row[1] for row in body["rows"]}
        assert schemas <= {"serving_masked", "information_schema", "pg_catalog"}, schemas
    else:
        assert response.status_code == 400, (name, response.status_code, response.text[:300])
        codes = {"not_allowed", "syntax_error", "sql_error"} if expected == "refused" else {"timeout"}
        assert body["code"] in codes, (name, body)
        assert body["message_zh"] and body["message_en"] and "Traceback" not in response.text
        assert elapsed < (SQL_TIMEOUT_MS / 1000 + 4 if expected == "stopped" else 3), f"{name}: {elapsed:.1f} s"
    after = post_sql(client, keys, "analyst", "SELECT count(*) FROM town_dossier")
    assert after.status_code == 200 and after.json()["rows"] == [[27]]


def test_sql_login_roles_are_locked_down(served: dict[str, Any], warehouse_url: str) -> None:
    with psycopg.connect(warehouse_url) as con:
        roles = dict(con.execute(
            "SELECT r.rolname, array_agg(g.rolname ORDER BY g.rolname) FROM pg_roles r "
            "JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid "
            "WHERE r.rolname LIKE 'hub_api_sql_%' GROUP BY r.rolname").fetchall())
        settings = dict(con.execute(
            "SELECT r.rolname, s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname LIKE 'hub_api_sql_%'").fetchall())
        superusers = con.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'hub_api_sql_%' "
                                 "AND (rolsuper OR rolcreaterole OR rolcreatedb)").fetchone()[0]
    assert roles == {"hub_api_sql_masked": ["hub_read_masked"], "hub_api_sql_full": ["hub_read_full"]}
    assert "default_transaction_read_only=on" in settings["hub_api_sql_masked"]
    assert f"statement_timeout={SQL_TIMEOUT_MS}ms" in settings["hub_api_sql_masked"]
    assert "search_path=serving_masked" in settings["hub_api_sql_masked"] and superusers == 0


def test_a_republish_on_the_server_is_served(pg_server: PgServer, tmp_path: Path) -> None:
    pg_server.new_database("hub_api_republish")
    url = pg_server.url("hub_api_republish", password="owner-secret")
    build = tmp_path / "build.duckdb"
    models = write_fixture(build, variant=0)
    first = publish_on(url, build, models)
    client, keys = api(tmp_path / "data", url)
    serving = HubPaths(tmp_path / "data").serving
    with client:
        assert get(client, keys, "analyst", f"/api/tables/{TABLE}").json()["total"] == 400
        first_replica = read_current(serving)
        assert first_replica is not None and first_replica.name.endswith(f"-{first}.duckdb")
        for variant in (1, 2, 3):
            other = tmp_path / f"build{variant}.duckdb"
            version = publish_on(url, other, write_fixture(other, variant=variant))
            body = wait_for(lambda v=version: get(client, keys, "analyst", f"/api/tables/{TABLE}").json(),
                            lambda b, v=version: b["snapshot"].endswith(f"-{v}.duckdb"))
            assert body["total"] == 400 + 37 * variant
        assert not first_replica.exists()  # the keep policy: the current replica and two before it
        assert len(versions(serving)) == 3
        sql = post_sql(client, keys, "admin", "SELECT count(*) FROM hidden_danger_register").json()
        assert sql["rows"] == [[511]] and sql["snapshot"] == version


def wait_for(fetch: Any, done: Any, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture
def own_server(pg_server: PgServer) -> Iterator[PgServer]:
    """A server of this test's own, to stop under the API (in /tmp like the session's: the postgres user must
    reach it)."""
    base = Path(tempfile.mkdtemp(prefix="hub-pg-own-"))
    os.chmod(base, 0o755)
    server = start_server(base)
    yield server
    stop_server(server)
    shutil.rmtree(base, ignore_errors=True)


def test_a_stopped_server_leaves_tables_served_and_sql_a_clear_503(own_server: PgServer, tmp_path: Path) -> None:
    own_server.new_database("hub_api_stop")
    url = own_server.url("hub_api_stop", password="owner-secret")
    build = tmp_path / "build.duckdb"
    publish_on(url, build, write_fixture(build))
    client, keys = api(tmp_path / "data", url)
    with client:
        before = get(client, keys, "analyst", f"/api/tables/{TABLE}", _size="100").json()
        assert post_sql(client, keys, "analyst", "SELECT 1").status_code == 200
        served_version = current_version(url)
        stop_server(own_server)
        time.sleep(1)  # several polls fail meanwhile
        after = get(client, keys, "analyst", f"/api/tables/{TABLE}", _size="100")
        assert after.status_code == 200 and after.json() == before
        town = get(client, keys, "staff", f"/api/towns/{towns()[0][0]}")
        assert town.status_code == 200
        sql = post_sql(client, keys, "analyst", "SELECT 1")
        assert sql.status_code == 503 and sql.json()["code"] == "warehouse_unavailable"
        assert "Traceback" not in sql.text and "owner-secret" not in sql.text
        health = client.get("/api/health")
        assert health.status_code == 200 and "owner-secret" not in health.text
        assert health.json()["engine"] == "postgres"
        assert health.json()["warehouse_version"] == served_version  # still the version it mirrored
        assert client.app.state.warehouse.status()["last_error"]


def test_a_server_down_at_start_serves_the_replica_on_disk(tmp_path: Path, warehouse_url: str,
                                                           served: dict[str, Any]) -> None:
    """A worker starting while the server is away serves the replica an earlier worker left (none: 503)."""
    data = tmp_path / "data"
    client, keys = api(data, warehouse_url)
    with client:
        assert get(client, keys, "analyst", f"/api/tables/{TABLE}").status_code == 200
    unreachable = warehouse_url.replace(warehouse_url.rsplit(":", 1)[1].split("/")[0], "1")
    client, keys = api(data, unreachable)
    with client:
        assert get(client, keys, "analyst", f"/api/tables/{TABLE}").json()["total"] == 400
    empty, keys = api(tmp_path / "empty", unreachable)
    with empty:
        assert get(empty, keys, "analyst", f"/api/tables/{TABLE}").status_code == 503


def test_hub_serve_names_a_bad_warehouse_url() -> None:
    result = CliRunner().invoke(serve, ["--warehouse", "mysql://user:secret@db/hub"])
    assert result.exit_code == 2
    assert "--warehouse" in result.output and "secret" not in result.output


def test_the_replica_records_the_version_it_mirrors(served: dict[str, Any], warehouse_url: str) -> None:
    client, _ = served["postgres"]
    with client.app.state.snapshots.lease() as version:  # the app's own connection (one configuration per file)
        recorded = version.resource.cursor().execute("SELECT server_version, as_of FROM _snapshot").fetchone()
    assert recorded == (current_version(warehouse_url), date(2026, 6, 30))


def test_a_url_without_password_keys_the_sql_roles_with_the_data_dirs_secret(tmp_path: Path, pg_server: PgServer,
                                                                            warehouse_url: str) -> None:
    """An owner trusted without a password (peer, certificate, trust): the login roles' passwords derive from a
    secret made once in the data directory, owner-only, the same for every worker of that host."""
    data = tmp_path / "data"
    client, keys = api(data, pg_server.url("hub_api_warehouse"))
    with client:
        assert get(client, keys, "analyst", f"/api/tables/{TABLE}").json()["total"] == 400
        sql = post_sql(client, keys, "analyst", f"SELECT count(*) AS n FROM {TABLE}")
        assert sql.status_code == 200, sql.text
        assert sql.json()["rows"] == [[400]]
    secret_file = data / "api" / "warehouse_sql_secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600 and len(secret_file.read_text()) == 64
    second = ApiSettings(paths=HubPaths(data), warehouse_url=pg_server.url("hub_api_warehouse"))
    assert role_secret(pg_server.url("hub_api_warehouse"), second.paths.api_dir) == secret_file.read_text()
    assert role_secret(warehouse_url, second.paths.api_dir) == "owner-secret"  # a password in the URL keys them


def test_a_version_that_cannot_be_copied_keeps_the_replica_in_service(pg_server: PgServer, tmp_path: Path) -> None:
    """A copy that fails half-way (here the new version lost a table) publishes nothing: the previous replica
    stays in service, the error is kept for the status, and the next good publish is served."""
    pg_server.new_database("hub_api_broken")
    url = pg_server.url("hub_api_broken", password="owner-secret")
    build = tmp_path / "build.duckdb"
    models = write_fixture(build)
    first = publish_on(url, build, models)
    client, keys = api(tmp_path / "data", url)
    serving = HubPaths(tmp_path / "data").serving
    with client:
        broken = publish_on(url, build, models)
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"DROP TABLE {broken}.{ROSTER} CASCADE")  # also drops the two views of it
        status = wait_for(client.app.state.warehouse.status, lambda s: s["last_error"])
        assert status["last_error"] and status["server_version"] == first
        assert get(client, keys, "analyst", f"/api/tables/{TABLE}").json()["snapshot"].endswith(f"-{first}.duckdb")
        assert [p.name for p in versions(serving)] == [read_current(serving).name]  # no half-made replica published
        good = publish_on(url, build, models)
        body = wait_for(lambda: get(client, keys, "analyst", f"/api/tables/{TABLE}").json(),
                        lambda b: b["snapshot"].endswith(f"-{good}.duckdb"))
        assert body["total"] == 400 and client.app.state.warehouse.status()["last_error"] is None


def test_hub_serve_with_two_workers_makes_one_replica(pg_server: PgServer, tmp_path: Path, warehouse_url: str,
                                                      served: dict[str, Any]) -> None:
    """The real command: ``hub serve --warehouse URL --workers 2``; both workers mirror under one lock, so the
    data directory holds one replica, and both answer tables and SQL."""
    data = tmp_path / "data"
    data.mkdir()
    server = start_api(data, "--warehouse", warehouse_url, "--workers", "2",
                       env_extra={"HUB_CHROMA_URL": "http://127.0.0.1:9", "HUB_API_WAREHOUSE_POLL_S": "0.5"})
    try:
        server.keys = {"analyst": add_key(data, "analyst", "analyst")}
        with server.client("analyst") as c:
            for _ in range(6):  # requests reach both workers
                assert c.get(f"/api/tables/{TABLE}").json()["total"] == 400
                body = c.post("/api/sql", json={"sql": ROSTER_SQL}).json()
                assert body["row_count"] == 27 and body["rows"][0][1].endswith("**")
        replicas = versions(HubPaths(data).serving)
        assert len(replicas) == 1 and replicas[0].name.endswith(f"-{current_version(warehouse_url)}.duckdb")
    finally:
        stop_api(server)
    log = next(data.glob("server-*.log")).read_text(errors="replace")
    assert "owner-secret" not in log and "Traceback" not in log
