"""``hub serve --workers 2``: each worker accepts on a socket of its own (SO_REUSEPORT), so a burst of keep-alive
connections is spread across the workers instead of landing on whichever drained the shared socket first."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from api_fixtures import HUB, LiveServer, free_port, hub_env, publish_fixture_snapshot, start_server, stop_server

from hub.cli.api_workers import spreads_connections

pytestmark = pytest.mark.skipif(not spreads_connections(), reason="the kernel spreads connections on Linux only")

CONNECTIONS = 16  # at most one of them on a worker by chance: 2 × 17 / 2¹⁶ (0.05 %)
REQUESTS_EACH = 25


def workers_of(server: LiveServer) -> list[int]:
    """The worker processes under ``hub serve`` (its children started by multiprocessing's spawn)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            parent = int((proc / "stat").read_text().split(") ")[-1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.process.pid and b"spawn_main" in cmdline:
            found.append(int(proc.name))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def burst(base_url: str) -> list[str]:
    """CONNECTIONS clients on one event loop, each keeping its connection alive, all opened at once (as a load
    test or a proxy's upstream pool opens them)."""
    failures: list[str] = []
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as c:

        async def client() -> None:
            for _ in range(REQUESTS_EACH):
                response = await c.get("/api/tables/hidden_danger_register", params={"_size": 50, "_sort": "deadline"})
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")

        await asyncio.gather(*(client() for _ in range(CONNECTIONS)))
    return failures


def test_a_burst_of_keep_alive_connections_is_spread_across_the_workers(tmp_path: Path) -> None:
    publish_fixture_snapshot(tmp_path)
    server = start_server(tmp_path, "--workers", "2", "--demo")
    try:
        workers = wait_for_workers(server, 2)
        with httpx.Client(base_url=server.base_url, timeout=60) as warm:
            for _ in range(20):
                assert warm.get("/api/tables/hidden_danger_register", params={"_size": 5}).status_code == 200
        before = {pid: cpu_ticks(pid) for pid in workers}
        failures = asyncio.run(burst(server.base_url))
        used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    finally:
        stop_server(server)
    assert failures == []
    total = sum(used.values())
    assert total > 0
    assert min(used.values()) >= 0.10 * total, f"CPU ticks per worker {used}: one worker served (almost) all"
    assert workers_of(server) == []  # stopped with hub serve


def test_a_worker_that_dies_is_started_again(tmp_path: Path) -> None:
    publish_fixture_snapshot(tmp_path)
    server = start_server(tmp_path, "--workers", "2", "--demo")
    try:
        first = wait_for_workers(server, 2)
        os.kill(first[0], signal.SIGKILL)
        again = wait_for_workers(server, 2, without=first[0])
        assert first[1] in again and first[0] not in again
        with httpx.Client(base_url=server.base_url, timeout=60) as c:
            for _ in range(20):  # new connections, spread over both workers, the new one included
                assert c.get("/api/health", headers={"Connection": "close"}).status_code == 200
    finally:
        stop_server(server)
    assert workers_of(server) == []


def wait_for_workers(server: LiveServer, count: int, without: int | None = None) -> list[int]:
    for _ in range(300):
        workers = [pid for pid in workers_of(server) if pid != without]
        if len(workers) == count:
            return workers
        threading.Event().wait(0.1)
    raise AssertionError(f"hub serve has workers {workers_of(server)}, expected {count}")


def test_a_port_held_by_another_program_fails_at_once(tmp_path: Path) -> None:
    publish_fixture_snapshot(tmp_path)
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = subprocess.run(
            [*HUB, "serve", "--data-dir", str(tmp_path), "--port", str(port), "--workers", "2"],
            env=hub_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "Address already in use" in done.stderr or str(os.strerror(98)) in done.stderr, done.stderr[-800:]
