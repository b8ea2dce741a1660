"""The dbt project built on the PostgreSQL test server over the hand-written raw rows of tests/dbt_fixtures.py.

The raw rows go the way ingest sends them to a server: into a DuckDB build database first, then copied in
bulk to the server's ``raw`` schema by orchestration.warehouse.postgres.sync_raw. dbt then builds with the
target ``postgres`` (hub.core.warehouse.Warehouse.dbt_env()).

Fixtures:
- ``pg_dbt_build`` (session): one ``dbt build`` on PostgreSQL over ALL_LOADS as of 2025-06-30:
  ``{"url", "work", "duck_db", "result"}``.

``build_landing_on_postgres`` runs a landing folder through the whole server path: ingest (validated in DuckDB,
copied to the server's raw schema), ``dbt build`` with the target postgres, and the server publish
(orchestration.warehouse.serving) with the API's masking rules.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from dbt_fixtures import ALL_LOADS, FIXTURE_AS_OF, RawLoad, run_dbt, write_raw_fixture
from pg_server import PgServer

from api.masking import MASK_RULES
from hub.core.warehouse import Warehouse
from orchestration.ingest.load import ingest_landing
from orchestration.publish import published_models
from orchestration.warehouse.postgres import SyncResult, sync_raw
from orchestration.warehouse.serving import publish_on_server

# column name -> mask kind, as the API masks it for analysts
MASKED_COLUMNS = {name: rule.kind.value for name, rule in MASK_RULES.items()}


def load_raw_on_postgres(url: str, duck_db: Path, loads: tuple[RawLoad, ...] = ALL_LOADS) -> SyncResult:
    """Write the loads to a DuckDB build database (as ingest does) and copy them to the server's raw schema."""
    write_raw_fixture(duck_db, loads)
    with duckdb.connect(str(duck_db), read_only=True) as con:
        return sync_raw(con, url)


def run_dbt_on_postgres(args: list[str], url: str, work: Path, as_of: str | None = FIXTURE_AS_OF
                        ) -> subprocess.CompletedProcess[str]:
    return run_dbt(args, build_db=work / "unused.duckdb", work_dir=work, as_of=as_of,
                   extra_env=Warehouse.from_setting(url).dbt_env())


def pg_connect(url: str, schema: str = "main") -> psycopg.Connection[Any]:
    """A read connection to the built models (schema main first on the search path), or to ``serving``."""
    return psycopg.connect(url, autocommit=True, options=f"-c search_path={schema},raw")


def build_landing_on_postgres(url: str, landing: Path, work: Path, as_of: str) -> str:
    """Ingest ``landing`` (validation in a DuckDB file, good rows copied to the server), build and publish on the
    server as of ``as_of``; returns the URL whose ``serving`` schema holds the published views."""
    ingest_landing(work / "ingest.duckdb", landing, warehouse=url)
    result = run_dbt_on_postgres(["build"], url, work, as_of=as_of)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
    publish_on_server(url, published_models(manifest), MASKED_COLUMNS, as_of=date.fromisoformat(as_of))
    return url


@pytest.fixture(scope="session")
def pg_dbt_build(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("dbt_build_pg")
    url = pg_server.new_database("hub_dbt_fixture")
    load_raw_on_postgres(url, work / "ingest.duckdb")
    result = run_dbt_on_postgres(["build"], url, work)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "ERROR=0" in result.stdout and "SKIP=0" in result.stdout
    return {"url": url, "work": work, "duck_db": work / "ingest.duckdb", "result": result}


@pytest.fixture
def pg_con(pg_dbt_build: dict[str, Any]) -> Iterator[psycopg.Connection[Any]]:
    with pg_connect(pg_dbt_build["url"]) as con:
        yield con
