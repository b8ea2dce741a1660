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


def start_chroma_server(path: Path, host: str = "127.0.0.1", port: int | None = None) -> ChromaServer:
    """``chroma run --path PATH --host HOST --port PORT`` in the background; returns once it answers."""
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    log_path = path / f"chroma-{port}.log"
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY_ENABLED": "false"}
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [chroma_executable(), "run", "--path", str(path), "--host", host, "--port", str(port)],
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
