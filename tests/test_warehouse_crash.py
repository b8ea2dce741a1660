"""SIGKILL on the server path: a raw copy or a publish killed while its transaction is open leaves the server as it
was (no half-copied load, ``serving`` still the previous version), and running it again ends where an
uninterrupted run ends. The kill is aimed at an open transaction by watching pg_stat_activity."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from dbt_fixtures import write_raw_fixture
from pg_server import PgServer
from pg_warehouse import MASKED_COLUMNS, pg_connect

from hub.core.serving_server import SERVING, current_version
from orchestration.publish import load_manifest, published_models
from orchestration.warehouse.postgres import RAW_TABLES, sync_raw
from orchestration.warehouse.serving import publish_on_server

ROOT = Path(__file__).resolve().parent.parent


def start(code: str, app: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PGAPPNAME": app}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill_inside_transaction(proc: subprocess.Popen[str], admin_url: str, app: str, timeout: float = 60) -> bool:
    """SIGKILL ``proc`` as soon as its connection (application_name ``app``) is inside a transaction that has
    written something; True when it was killed there, False when it finished first."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as admin:
        while time.monotonic() < deadline and proc.poll() is None:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND backend_xid IS NOT NULL",
                (app,)).fetchone()
            if row[0]:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                # the server ends the dead client's backend and rolls its transaction back
                while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                    (app,)).fetchone()[0]:
                    time.sleep(0.05)
                return True
            time.sleep(0.002)
    proc.wait(60)
    return False


def raw_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as con:
        return {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}


def test_a_killed_raw_copy_leaves_no_half_load(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.new_database("hub_crash_sync")
    duck_db = write_raw_fixture(tmp_path / "ingest.duckdb")
    code = f"""
        import duckdb
        from orchestration.warehouse.postgres import sync_raw
        with duckdb.connect({str(duck_db)!r}, read_only=True) as con:
            sync_raw(con, {url!r})
    """
    with duckdb.connect(str(duck_db), read_only=True) as con:
        sync_raw(con, url, tables=[])  # the empty raw tables
        local = {t.name: con.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}
    killed = 0
    for attempt in range(3):
        killed += kill_inside_transaction(start(code, f"hub_crash_sync_{attempt}"), pg_server.admin_url,
                                          f"hub_crash_sync_{attempt}")
        counts = raw_counts(url)
        assert counts in ({name: 0 for name in local}, local), counts  # nothing or everything, never half
        if counts == local:
            break
    assert killed >= 1  # at least one kill hit an open transaction
    with duckdb.connect(str(duck_db), read_only=True) as con:
        sync_raw(con, url)
    assert raw_counts(url) == local


def serving_state(url: str) -> tuple[Any, ...]:
    with pg_connect(url, schema=SERVING) as con:
        as_of = con.execute("SELECT as_of FROM _snapshot").fetchone()[0]
        readiness = con.execute("SELECT * FROM town_readiness ORDER BY town_code").fetchall()
        tables = sorted(r[0] for r in con.execute("SELECT table_name FROM _tables"))
    return as_of, readiness, tables, current_version(url)


def test_a_killed_publish_leaves_serving_unchanged(pg_server: PgServer, pg_dbt_build: dict[str, Any]) -> None:
    url = pg_dbt_build["url"]
    manifest_path = pg_dbt_build["work"] / "target" / "manifest.json"
    models = published_models(load_manifest(manifest_path))
    publish_on_server(url, models, MASKED_COLUMNS, as_of=date(2025, 6, 30))
    before = serving_state(url)
    code = f"""
        from datetime import date
        from orchestration.publish import load_manifest, published_models
        from orchestration.warehouse.serving import publish_on_server
        from pathlib import Path
        import sys
        sys.path.insert(0, "tests")
        from pg_warehouse import MASKED_COLUMNS
        models = published_models(load_manifest(Path({str(manifest_path)!r})))
        publish_on_server({url!r}, models, MASKED_COLUMNS, as_of=date(2025, 7, 31))
    """
    killed = 0
    for attempt in range(3):
        app = f"hub_crash_publish_{attempt}"
        killed += kill_inside_transaction(start(code, app), pg_server.admin_url, app)
        state = serving_state(url)
        if state[0] == date(2025, 7, 31):  # it finished before a kill could land: a whole new version
            assert state[1] == before[1] and state[3] != before[3]
            break
        assert state == before
    assert killed >= 1
    # the rerun ends where an uninterrupted publish ends
    result = publish_on_server(url, models, MASKED_COLUMNS, as_of=date(2025, 7, 31))
    after = serving_state(url)
    assert after[0] == date(2025, 7, 31) and after[1] == before[1] and after[2] == before[2]
    assert after[3] == result.version
