"""The API keeps answering while a full rebuild and publish run in another process: clients loop over
tables, SQL, search, town dossiers and CSV exports for the whole ``hub run`` with zero failed requests,
and the server moves to the new snapshot without a restart."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_fixtures import AS_OF, HUB, LiveServer, hub_env, start_server, stop_server

from hub.core.paths import HubPaths
from hub.core.pointer import read_current

pytestmark = pytest.mark.slow

CLIENTS = 4


# (role, path, params) the clients cycle through: every kind of read the API serves.
REQUESTS: list[tuple[str, str, dict]] = [
    ("analyst", "/api/tables/hidden_danger_register", {"_size": 50, "_facet": "level"}),
    ("analyst", "/api/tables/town_readiness", {"_sort_desc": "readiness_score"}),
    ("analyst", "/api/tables/event_handling", {"_format": "csv"}),
    ("analyst", "/api/sql", {"sql": "select town_code, count(*) from hidden_danger_register group by 1"}),
    ("staff", "/api/search", {"q": "台风 人员转移", "top_k": 5}),
    ("staff", "/api/towns/330109113", {}),
    ("admin", "/api/tables", {}),
]


@pytest.fixture(scope="module")
def rebuild_dir(api_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("concurrency") / "data"
    shutil.copytree(api_data_dir, data_dir, ignore=shutil.ignore_patterns("server-*.log"))
    shutil.rmtree(data_dir / "warehouse")  # a full rebuild: every file ingested again, every model built
    return data_dir


@pytest.fixture(scope="module")
def busy_server(rebuild_dir: Path, api_server: LiveServer) -> Iterator[LiveServer]:
    server = start_server(rebuild_dir, env_extra={"HUB_API_RATE_LIMIT": "1000000"})
    server.keys = api_server.keys
    yield server
    stop_server(server)


def test_api_answers_every_request_during_a_full_rebuild_and_publish(
    rebuild_dir: Path, busy_server: LiveServer
) -> None:
    old_snapshot = read_current(HubPaths(rebuild_dir).serving)
    assert old_snapshot is not None
    stop = threading.Event()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    snapshots_seen: set[str] = set()
    lock = threading.Lock()

    def client(offset: int) -> None:
        clients = {role: httpx.Client(base_url=busy_server.base_url, timeout=60,
                                      headers={"Authorization": f"Bearer {key}"})
                   for role, key in busy_server.keys.items()}
        i = offset
        try:
            while not stop.is_set():
                role, path, params = REQUESTS[i % len(REQUESTS)]
                i += 1
                try:
                    if path == "/api/sql":
                        response = clients[role].post(path, json=params)
                    else:
                        response = clients[role].get(path, params=params)
                    ok = response.status_code == 200
                    detail = f"{response.status_code} {response.text[:200]}"
                    snapshot = response.json().get("snapshot") if ok and path in ("/api/sql", "/api/tables") else None
                except httpx.HTTPError as exc:
                    ok, detail, snapshot = False, repr(exc), None
                with lock:
                    outcomes["ok" if ok else "failed"] += 1
                    if not ok:
                        failures.append(f"{path}: {detail}")
                    if snapshot:
                        snapshots_seen.add(snapshot)
        finally:
            for c in clients.values():
                c.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        run = subprocess.run(
            [*HUB, "run", "--data-dir", str(rebuild_dir), "--as-of", AS_OF.isoformat()],
            env=hub_env(rebuild_dir, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1"),
            capture_output=True, text=True, timeout=900,
        )
        time.sleep(3)  # keep the clients going across the switch to the new snapshot
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    new_snapshot = read_current(HubPaths(rebuild_dir).serving)
    assert new_snapshot is not None and new_snapshot != old_snapshot
    assert failures == [], f"{len(failures)} failed of {sum(outcomes.values())}: {failures[:5]}"
    assert outcomes["ok"] >= time.monotonic() - started, outcomes  # at least one answer a second, all along
    assert {old_snapshot.name, new_snapshot.name} <= snapshots_seen  # switched without a restart
