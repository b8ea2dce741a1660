"""Publishing on a real PostgreSQL server (orchestration.warehouse.serving): versioned copies behind stable views
switched in one transaction, read-only roles per API role, masked personal columns for analysts, and a login role
for SQL that the server itself keeps from files, programs, other roles, writes and long queries."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import psycopg
import pytest
from pg_server import PgServer
from pg_warehouse import MASKED_COLUMNS, pg_connect

from api.masking import MASK_RULES, mask_value
from hub.core.serving_server import (
    READ_FULL,
    READ_MASKED,
    SERVING,
    SERVING_MASKED,
    VERSION_PREFIX,
    current_version,
    ensure_login_role,
)
from orchestration.publish import PublishedModel, load_manifest, published_models
from orchestration.warehouse.serving import publish_on_server


def models(pg_dbt_build: dict[str, Any]) -> list[PublishedModel]:
    return published_models(load_manifest(pg_dbt_build["work"] / "target" / "manifest.json"))


def versions(url: str) -> list[str]:
    with psycopg.connect(url) as con:
        return [r[0] for r in con.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
                                          (VERSION_PREFIX + "%",))]


def as_user(pg_server: PgServer, url: str, user: str) -> psycopg.Connection[Any]:
    database = url.rsplit("/", 1)[1]
    return psycopg.connect(pg_server.url(database, user=user), autocommit=True)


@pytest.fixture(scope="module")
def published(pg_dbt_build: dict[str, Any]) -> str:
    url = pg_dbt_build["url"]
    publish_on_server(url, models(pg_dbt_build), MASKED_COLUMNS, as_of=date(2025, 6, 30))
    return url


def test_publish_switches_the_stable_views_to_a_new_version(published: str, pg_dbt_build: dict[str, Any]) -> None:
    first = current_version(published)
    for day in (1, 2, 3):
        result = publish_on_server(published, models(pg_dbt_build), MASKED_COLUMNS, as_of=date(2025, 7, day))
    assert current_version(published) == result.version != first
    assert len(versions(published)) == 3 and result.version in versions(published)  # older ones dropped
    with pg_connect(published, schema=SERVING) as con:
        assert con.execute("SELECT as_of FROM _snapshot").fetchone()[0] == date(2025, 7, 3)
        served = con.execute("SELECT * FROM town_readiness ORDER BY town_code").fetchall()
        built = con.execute("SELECT * FROM main.town_readiness ORDER BY town_code").fetchall()
        tables = {r[0] for r in con.execute("SELECT table_name FROM _tables")}
    assert served == built and len(served) == 27
    assert {m.name for m in models(pg_dbt_build)} == tables >= {"town_readiness", "town_dossier", "event_handling"}
    assert result.row_counts["town_readiness"] == 27


def test_the_served_catalog_carries_summaries_and_seed_value_labels(published: str) -> None:
    """As in a DuckDB snapshot: the Chinese summary, and value labels read from the seed the YAML names."""
    with pg_connect(published, schema=SERVING) as con:
        summary, columns = con.execute(
            "SELECT summary, columns FROM _tables WHERE table_name = 'responsibility_matrix'").fetchone()
        lines = dict(con.execute("SELECT line_code, line_name_zh FROM main.department_lines").fetchall())
    assert "牵头单位" in summary
    lead_lines = next(c for c in columns if c["name"] == "lead_lines")
    assert lead_lines["meta"]["value_labels"] == lines and lines["water"] == "水利"
    assert "value_labels_from" not in lead_lines["meta"]


def test_a_publish_that_fails_before_the_switch_leaves_serving_as_it_was(published: str,
                                                                        pg_dbt_build: dict[str, Any]) -> None:
    before, kept = current_version(published), versions(published)
    broken = [*models(pg_dbt_build), PublishedModel("model.hub.gone", "gone", "main", "", ())]
    with pytest.raises(psycopg.errors.UndefinedTable):
        publish_on_server(published, broken, MASKED_COLUMNS, as_of=date(2025, 8, 1))
    assert current_version(published) == before and versions(published) == kept
    with pg_connect(published, schema=SERVING) as con:
        assert con.execute("SELECT as_of FROM _snapshot").fetchone()[0] != date(2025, 8, 1)


def test_roles_read_their_schema_only_and_analysts_see_masked_names(pg_server: PgServer, published: str) -> None:
    ensure_login_role(published, "hub_test_staff", "staff-pass", group=READ_FULL)
    ensure_login_role(published, "hub_test_analyst", "analyst-pass", group=READ_MASKED)
    version = current_version(published)
    with as_user(pg_server, published, "hub_test_staff") as staff:
        full = staff.execute(f"SELECT town_code, liaison_name, mechanism_evidence FROM {SERVING}.town_dossier "
                             "WHERE liaison_name IS NOT NULL ORDER BY 1").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            staff.execute(f"SELECT * FROM {version}.town_dossier")
    assert full and all("*" not in r[1] for r in full)
    with as_user(pg_server, published, "hub_test_analyst") as analyst:
        masked = analyst.execute("SELECT town_code, liaison_name, mechanism_evidence FROM town_dossier "
                                 "WHERE liaison_name IS NOT NULL ORDER BY 1").fetchall()
        for forbidden in (f"{SERVING}.town_dossier", f"{version}.town_dossier", "main.town_dossier",
                          "raw.registry__grid_workers", "main.stg_registry__grid_workers"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                analyst.execute(f"SELECT * FROM {forbidden}")
    # the same masks as the API's (api.masking) for every row
    assert masked == [
        (code, mask_value(MASK_RULES["liaison_name"], name), mask_value(MASK_RULES["mechanism_evidence"], evidence))
        for code, name, evidence in full
    ]
    assert any(r[2] and "**" not in r[2] and "*" in r[2] for r in masked)  # 李一 → 李*: one star, as in the API


def test_every_masked_column_matches_the_api_mask(pg_server: PgServer, published: str) -> None:
    with pg_connect(published, schema=SERVING) as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND column_name = ANY(%s) ORDER BY 1, 2", (SERVING, list(MASKED_COLUMNS))).fetchall()
        assert columns  # town_dossier.liaison_name, town_readiness.mechanism_evidence …
        for table, column in columns:
            full = [r[0] for r in con.execute(f'SELECT "{column}" FROM {SERVING}."{table}" ORDER BY 1')]
            masked = [r[0] for r in con.execute(f'SELECT "{column}" FROM {SERVING_MASKED}."{table}"')]
            assert sorted(masked, key=str) == sorted((mask_value(MASK_RULES[column], v) for v in full), key=str), \
                (table, column)


@pytest.fixture(scope="module")
def sandbox(pg_server: PgServer, published: str) -> psycopg.Connection[Any]:
    settings = {"statement_timeout": "1s", "default_transaction_read_only": "on", "search_path": SERVING_MASKED}
    ensure_login_role(published, "hub_test_sql", "sql-pass", group=READ_MASKED, settings=settings)
    with as_user(pg_server, published, "hub_test_sql") as con:
        yield con


HOSTILE = {
    "copy to program": "COPY (SELECT 1) TO PROGRAM 'id'",
    "copy from file": "COPY town_dossier FROM '/etc/passwd'",
    "read a server file": "SELECT pg_read_file('/etc/passwd')",
    "list a server directory": "SELECT pg_ls_dir('/')",
    "server-side large object import": "SELECT lo_import('/etc/passwd')",
    "install dblink": "CREATE EXTENSION dblink",
    "dblink": "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)",
    "become the administrator": "SET ROLE hub_admin",
    "become the full reader": "SET ROLE hub_read_full",
    "create a table": "CREATE TABLE town_copy AS SELECT * FROM town_dossier",
    "create a temporary table": "CREATE TEMP TABLE t AS SELECT 1",
    "write": "DELETE FROM town_dossier",
    "sleep past the limit": "SELECT pg_sleep(5)",
    "a recursive CTE without end": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                                   "SELECT count(*) FROM r",
    "terminate another session": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_sql_role_is_refused_by_the_server(sandbox: psycopg.Connection[Any], name: str) -> None:
    started = time.monotonic()
    try:
        rows = sandbox.execute(HOSTILE[name]).fetchall()
    except psycopg.Error:
        rows = None
    if name == "terminate another session":
        assert rows is None or all(r[0] is not True for r in rows)  # may run, but can signal nobody
    else:
        assert rows is None, f"{name} ran: {rows!r}"
    assert time.monotonic() - started < 4  # the 1 s statement_timeout stopped the long ones
    assert sandbox.execute("SELECT count(*) FROM town_dossier").fetchone()[0] == 27  # still usable
