"""Ingest with a PostgreSQL warehouse: the hand-made landing folder is validated in DuckDB as always (contracts,
lineage, quarantine) and its loads reach the server's raw schema with the same rows, quarantine and load log; a
second ingest of the same folder adds only ``skipped_duplicate`` log rows on both sides; a new file adds its rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import psycopg
from pg_server import PgServer
from test_handmade_views import FIXTURE, write_water_workbook

from orchestration.ingest.load import ingest_landing
from orchestration.warehouse.postgres import RAW_TABLES


def counts(con: object, sql: str) -> list[tuple[object, ...]]:
    return sorted(con.execute(sql).fetchall())  # type: ignore[attr-defined]


def snapshot_of(duck_db: Path, url: str) -> tuple[dict[str, int], dict[str, int]]:
    with duckdb.connect(str(duck_db), read_only=True) as duck, psycopg.connect(url) as pg:
        local = {t.name: duck.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}
        remote = {t.name: pg.execute(f"select count(*) from {t.qualified}").fetchone()[0] for t in RAW_TABLES}
    return local, remote


def test_ingest_sends_rows_quarantine_and_load_log_to_the_server(pg_server: PgServer, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURE, landing)
    write_water_workbook(landing / "water" / "水利数据_20250620.xlsx")
    url = pg_server.new_database("hub_ingest")
    duck_db = tmp_path / "ingest.duckdb"

    ingest_landing(duck_db, landing, warehouse=url)
    local, remote = snapshot_of(duck_db, url)
    assert remote == local and local["four_platforms__events"] > 0 and local["registry__towns"] > 0
    log_sql = "select source_system, entity, source_file, status, rows_loaded, rows_quarantined from raw.load_log"
    quarantine_sql = ("select source_system, entity, source_file, row_number, field, reason from raw.quarantine "
                      "order by 1, 2, 3, 4")
    with duckdb.connect(str(duck_db), read_only=True) as duck, psycopg.connect(url) as pg:
        assert counts(pg, log_sql) == counts(duck, log_sql)
        assert counts(pg, quarantine_sql) == counts(duck, quarantine_sql)
        bad = pg.execute("select field, reason from raw.quarantine where value like '2025-13-01%'").fetchall()
        assert len(bad) == 1 and bad[0][0] == "reportTime" and "时间格式无法识别" in bad[0][1]
        lineage = pg.execute(
            "select count(*) from raw.four_platforms__events where _source_file is null or _load_id is null "
            "or _row_hash is null or _loaded_at is null").fetchone()[0]
        assert lineage == 0

    # the same folder again: nothing new on either side but the skipped_duplicate log rows
    ingest_landing(duck_db, landing, warehouse=url)
    local_again, remote_again = snapshot_of(duck_db, url)
    assert remote_again == local_again
    assert {k: v for k, v in local_again.items() if k != "load_log"} == {k: v for k, v in local.items()
                                                                         if k != "load_log"}
    with psycopg.connect(url) as pg:
        statuses = dict(pg.execute("select status, count(*) from raw.load_log group by 1").fetchall())
    assert statuses["skipped_duplicate"] > 0

    # a new day of events: its rows reach the server
    event = json.loads((landing / "four_platforms" / "events_20250624.jsonl").read_text(encoding="utf-8")
                       .splitlines()[0])
    event.update(eventId="SP202507001", updatedAt="2025-07-01 12:00:00")
    (landing / "four_platforms" / "events_20250701.jsonl").write_text(json.dumps(event, ensure_ascii=False) + "\n",
                                                                        encoding="utf-8")
    ingest_landing(duck_db, landing, warehouse=url)
    local_new, remote_new = snapshot_of(duck_db, url)
    assert remote_new == local_new
    assert local_new["four_platforms__events"] == local["four_platforms__events"] + 1
