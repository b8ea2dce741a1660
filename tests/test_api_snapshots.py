"""Snapshots switch without downtime: new requests see the new publish, requests in flight finish on the old one."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import duckdb
import httpx
import pytest
from api_fixtures import publish_fixture_snapshot, start_server, stop_server

from api.serving_db import serving_snapshots
from api.settings import ApiSettings
from api.table_query import parse_table_request
from api.tables_service import table_page
from hub.core.paths import HubPaths
from hub.core.pointer import POINTER, read_current

TABLE = "hidden_danger_register"


def danger_count(snapshot: Path) -> int:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return int(con.execute(f"select count(*) from {TABLE}").fetchone()[0])
    finally:
        con.close()


def test_a_lease_keeps_its_snapshot_until_released(tmp_path: Path) -> None:
    first = publish_fixture_snapshot(tmp_path, variant=0)
    snapshots = serving_snapshots(ApiSettings(paths=HubPaths(tmp_path)))
    try:
        old = snapshots.acquire()
        assert old.path == first
        # Three more publishes: the first file is pruned from disk while the lease still holds it open.
        for variant in (1, 2, 3):
            publish_fixture_snapshot(tmp_path, variant=variant)
        assert not first.exists()
        with snapshots.lease() as new:
            assert new.path == read_current(HubPaths(tmp_path).serving)
            assert new.resource.cursor().execute(f"select count(*) from {TABLE}").fetchone()[0] == 400 + 3 * 37
        assert old.resource.cursor().execute(f"select count(*) from {TABLE}").fetchone()[0] == 400
        assert not old.closed
        snapshots.release(old)
        assert old.closed
        with pytest.raises(duckdb.Error):
            old.resource.conn.execute("select 1")
    finally:
        snapshots.close()


def test_counts_and_facets_are_kept_per_snapshot(tmp_path: Path) -> None:
    """Paging and re-sorting a filtered table recount nothing; a new publish counts afresh."""
    publish_fixture_snapshot(tmp_path, variant=0)
    snapshots = serving_snapshots(ApiSettings(paths=HubPaths(tmp_path)))
    ask = [("level", "重大"), ("_facet", "level"), ("_size", "5")]
    try:
        for variant in (0, 1):
            if variant:
                publish_fixture_snapshot(tmp_path, variant=variant)
            with snapshots.lease() as version:
                db = version.resource
                table = db.catalog.table(TABLE)
                assert table is not None
                pages = [
                    table_page(db, parse_table_request(table, [*ask, *extra], 50, 1000))
                    for extra in ([], [("_sort", "deadline")], [("_offset", "5"), ("_sort_desc", "overdue_days")])
                ]
                expected = db.cursor().execute(f"select count(*) from {TABLE} where level = '重大'").fetchone()[0]
                assert expected > 5
                assert [p["total"] for p in pages] == [expected] * 3
                assert [p["facets"]["level"] for p in pages] == [[{"value": "重大", "count": expected}]] * 3
                assert len({tuple(r["danger_id"] for r in p["rows"]) for p in pages}) == 3  # the rows are not cached
                assert (db.counts.misses, db.counts.hits) == (2, 4)  # the count and the facet, once each
    finally:
        snapshots.close()


def test_a_pointer_to_a_missing_snapshot_keeps_the_current_one(tmp_path: Path) -> None:
    first = publish_fixture_snapshot(tmp_path, variant=0)
    snapshots = serving_snapshots(ApiSettings(paths=HubPaths(tmp_path)))
    try:
        with snapshots.lease() as version:
            assert version.path == first
        serving = HubPaths(tmp_path).serving
        (serving / ".serving-half.duckdb.building").write_bytes(b"not a database")
        (serving / POINTER).write_text("serving-does-not-exist.duckdb", encoding="utf-8")
        with snapshots.lease() as version:
            assert version.path == first
    finally:
        snapshots.close()


def test_a_broken_publish_keeps_the_current_snapshot(tmp_path: Path) -> None:
    first = publish_fixture_snapshot(tmp_path, variant=0)
    snapshots = serving_snapshots(ApiSettings(paths=HubPaths(tmp_path)))
    try:
        with snapshots.lease() as version:
            assert version.path == first
        serving = HubPaths(tmp_path).serving
        (serving / "serving-broken.duckdb").write_bytes(b"this is not a DuckDB file" * 100)
        (serving / POINTER).write_text("serving-broken.duckdb", encoding="utf-8")
        with snapshots.lease() as version:
            assert version.path == first
            assert version.resource.cursor().execute("select count(*) from town_dossier").fetchone()[0] == 27
        second = publish_fixture_snapshot(tmp_path, variant=1)
        with snapshots.lease() as version:
            assert version.path == second
    finally:
        snapshots.close()


def test_publishing_while_clients_query(tmp_path: Path) -> None:
    expected: dict[str, int] = {}
    first = publish_fixture_snapshot(tmp_path, variant=0)
    expected[first.name] = danger_count(first)
    server = start_server(tmp_path, "--demo", env_extra={"HUB_API_RATE_LIMIT": "1000000"})
    failures: list[str] = []
    seen: dict[str, int] = {}
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            while not stop.is_set():
                page = c.get(f"/api/tables/{TABLE}", params={"_size": 5, "_facet": "level"})
                sql = c.post("/api/sql", json={"sql": f"select count(*) from {TABLE}"})
                for response in (page, sql):
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    body = response.json()
                    total = body["total"] if "total" in body else body["rows"][0][0]
                    seen[body["snapshot"]] = seen.get(body["snapshot"], 0) + 1
                    # One snapshot per response: its total is that snapshot's, never another's.
                    if body["snapshot"] in expected and expected[body["snapshot"]] != total:
                        failures.append(f"{body['snapshot']}: {total} != {expected[body['snapshot']]}")
                if page.status_code == 200:
                    body = page.json()
                    if sum(f["count"] for f in body["facets"]["level"]) != body["total"]:
                        failures.append("facets and total from different snapshots")

    threads = [threading.Thread(target=client_loop) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for variant in (1, 2, 3, 4):
            path = publish_fixture_snapshot(tmp_path, variant=variant)
            expected[path.name] = 400 + 37 * variant
            # Wait until the clients have seen the new snapshot before publishing the next one.
            for _ in range(300):
                if seen.get(path.name):
                    break
                threading.Event().wait(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        stop_server(server)
    assert not failures, failures[:5]
    assert set(seen) <= set(expected)
    assert len(seen) == 5, seen  # every publish was picked up without a restart


def test_a_new_search_index_is_picked_up(api_data_dir: Path, tmp_path: Path) -> None:
    """Copy the fixture's published index into a fresh data dir, publish a second version, watch the switch."""
    from hub.core import pointer
    from kb import layout

    source = read_current(HubPaths(api_data_dir).kb_index)
    assert source is not None
    publish_fixture_snapshot(tmp_path)
    root = HubPaths(tmp_path).kb_index
    root.mkdir(parents=True)
    build = pointer.new_build_dir(root, layout.INDEX_PREFIX)
    shutil.copytree(source, build, dirs_exist_ok=True)
    first = pointer.publish_build(root, build, pointer.version_name(layout.INDEX_PREFIX))
    server = start_server(tmp_path, "--demo")
    try:
        with httpx.Client(base_url=server.base_url, timeout=60) as c:
            assert c.get("/api/health").json()["search_index"] == first.name
            assert c.get("/api/search", params={"q": "台风", "mode": "bm25"}).status_code == 200
            build = pointer.new_build_dir(root, layout.INDEX_PREFIX)
            shutil.copytree(first, build, dirs_exist_ok=True)
            second = pointer.publish_build(root, build, pointer.version_name(layout.INDEX_PREFIX))
            hits = c.get("/api/search", params={"q": "台风", "mode": "bm25"})
            assert hits.status_code == 200 and hits.json()["results"]
            assert c.get("/api/health").json()["search_index"] == second.name
    finally:
        stop_server(server)
