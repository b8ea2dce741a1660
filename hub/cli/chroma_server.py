"""Start and stop a Chroma server (``chroma run`` from the chromadb wheel, offline) for several API workers.

``hub serve --workers N`` (N > 1) starts one when ``HUB_CHROMA_URL`` is not set, and so can the deployment
command: ``server = start_chroma_server(data_dir / "kb" / "chroma_server")``, then ``HUB_CHROMA_URL=server.url``
for the indexer and every API worker, and ``stop_chroma_server(server)`` at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

# Chroma's single-node server keeps no cache of which segments make up a collection (its default is "nop"), so
# every query first reads them from its SQLite catalogue: three lookups and three log lines per query, 1.6 ms of
# server CPU. An index version's collection never changes once published (a new version is a new collection),
# so a small LRU is safe: queries then cost 0.6 ms of server CPU (docs/benchmarks.md). Adds, deletes and a
# restart behave as without it (tests/test_kb_encoders_and_chroma_server.py).
COLLECTION_CACHE = {
    "cache": {"lru": {"capacity": 1000}},
    "cache_ttl_secs": 60,
    "permitted_parallelism": 32,
    "cache_invalidation_retry_policy": {"delay_ms": 0, "max_retries": 0},
}
# At its default level the server logs several lines for every query (megabytes a day under load).
DEFAULT_LOG_LEVEL = "warn"


@dataclass
class ChromaServer:
    url: str
    path: Path
    process: subprocess.Popen[bytes]
    log_path: Path


def chroma_executable() -> str:
    """The ``chroma`` command of this environment (next to the Python running us), else the one on PATH."""
    beside = Path(sys.executable).parent / "chroma"
    if beside.exists():
        return str(beside)
    found = shutil.which("chroma")
    if found is None:
        raise FileNotFoundError("找不到 chroma 命令（chromadb 未安装？）/ the chroma command is not installed")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"Chroma server at {url} did not answer within {timeout:.0f} s")


def write_server_config(path: Path, host: str, port: int) -> Path:
    """``<path>/chroma.yaml``: the store, the address and the collection cache, for ``chroma run CONFIG``
    (which takes no ``--path``/``--port`` beside a config file). The same file serves a systemd unit."""
    config = {
        "persist_path": str(path.resolve()),  # the file may be used from another working directory (systemd)
        "listen_address": host,
        "port": port,
        "collections_with_segments_provider": COLLECTION_CACHE,
    }
    config_path = path / "chroma.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_path


def start_chroma_server(path: Path, host: str = "127.0.0.1", port: int | None = None) -> ChromaServer:
    """``chroma run <path>/chroma.yaml`` in the background (see ``write_server_config``); returns once
    it answers. ``RUST_LOG`` from the environment sets its log level (default: warnings)."""
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    log_path = path / f"chroma-{port}.log"
    config_path = write_server_config(path, host, port)
    env = {
        **os.environ,
        "ANONYMIZED_TELEMETRY": "False",
        "CHROMA_TELEMETRY_ENABLED": "false",
        "RUST_LOG": os.environ.get("RUST_LOG", DEFAULT_LOG_LEVEL),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [chroma_executable(), "run", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = ChromaServer(f"http://{host}:{port}", path, process, log_path)
    try:
        wait_until_up(server.url, process=process)
    except BaseException:
        stop_chroma_server(server)
        raise
    return server


def stop_chroma_server(server: ChromaServer, timeout: float = 10.0) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=timeout)
