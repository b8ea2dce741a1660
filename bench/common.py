"""Helpers every benchmark script shares: repository paths, telemetry off, the machine description,
percentiles, a ``hub serve`` on a sample snapshot, and writing a section of docs/benchmarks.md.

The scripts run as ``python bench/x.py`` from the repository root, so Python puts ``bench/`` on sys.path
and ``import common`` finds this file; importing it puts the repository root there too, for
``orchestration`` and ``kb``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCHMARKS_MD = ROOT / "docs" / "benchmarks.md"
SAMPLE_DOCS = ROOT / "hub" / "sample" / "kb_docs"
HUB = [sys.executable, "-m", "hub.cli.main"]
TELEMETRY_OFF = {
    "HF_HUB_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}
for _name, _value in TELEMETRY_OFF.items():  # this process too (kb.py loads the model and Chroma in-process)
    os.environ.setdefault(_name, _value)


SHARED_MACHINE_NOTE = "- The machine was shared with other jobs while this ran; see the load average above."


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """A command line described by the script's docstring, with the ``--no-write`` every benchmark has."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only; do not touch docs/benchmarks.md")
    return parser


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def memory_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def machine() -> str:
    """Cores, CPU, memory and Python, for the line above each benchmark table."""
    return (f"{os.cpu_count()} cores, {cpu_model()}, {memory_gb():.0f} GB RAM; "
            f"{platform.python_implementation()} {platform.python_version()}, {platform.system()}")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile with linear interpolation between the closest ranks (numpy's default); NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = p / 100 * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def write_section(name: str, body: str) -> None:
    """Put ``body`` between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in docs/benchmarks.md,
    replacing what stood there, or append the section if the markers are not there yet."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = BENCHMARKS_MD.read_text(encoding="utf-8") if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_MD.write_text(text, encoding="utf-8")


def hub_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without any HUB_* setting of the caller, pointed at ``data_dir``, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(TELEMETRY_OFF, HUB_DATA_DIR=str(data_dir), **extra)
    return env


def prepare_sample(data_dir: Path) -> None:
    """A published snapshot of ``hub sample --scale small`` and an index of the sample documents, unless
    the data directory has them already."""
    from hub.core.paths import HubPaths
    from hub.core.pointer import read_current

    paths = HubPaths(data_dir)
    env = hub_env(data_dir)
    if read_current(paths.serving) is None:
        print("building a snapshot: hub sample --scale small + hub run …", flush=True)
        subprocess.run([*HUB, "sample", "--scale", "small", "--out", str(paths.landing)], env=env, check=True)
        subprocess.run([*HUB, "run", "--data-dir", str(data_dir)], env=env, check=True)
    if read_current(paths.kb_index) is None:
        print("indexing the sample documents: hub kb index …", flush=True)
        subprocess.run([*HUB, "kb", "index", "--docs", str(SAMPLE_DOCS)], env=env, check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def data_dir_or_temp(data_dir: Path | None, prefix: str) -> Iterator[Path]:
    """The given data directory, or a temporary one removed afterwards."""
    if data_dir is not None:
        yield data_dir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as temp:
        yield Path(temp)


def hub_command(code: Path | None) -> tuple[list[str], dict[str, str]]:
    """The ``hub`` command of this checkout (None), or of another checkout of the project (an older revision,
    run with this environment's packages): (command, environment additions)."""
    if code is None:
        return HUB, {}
    # the CLI lived in orchestration/ before it moved to hub/ (2026-12-03)
    module = "hub.cli.main" if (code / "hub" / "cli" / "main.py").exists() else "orchestration.cli.main"
    return [sys.executable, "-m", module], {"PYTHONPATH": str(code)}


@contextmanager
def hub_server(data_dir: Path, *serve_args: str, stop_timeout: float = 30, code: Path | None = None,
               rate_limit: str = "0", **env_extra: str) -> Iterator[str]:
    """``hub serve`` on a free loopback port in another process, for the duration of the block; yields its
    base URL once it answers /api/health. ``env_extra``: HUB_* settings for the server; ``code``: serve
    with another checkout's code (``hub_command``)."""
    import httpx

    port = free_port()
    command, code_env = hub_command(code)
    process = subprocess.Popen(
        [*command, "serve", "--data-dir", str(data_dir), "--port", str(port), *serve_args],
        # The per-key rate limit (HUB_API_RATE_LIMIT) would turn a load test into a 429 test: 0 turns it off.
        env=hub_env(data_dir, HUB_API_RATE_LIMIT=rate_limit, **env_extra, **code_env),
        cwd=code or ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit("hub serve did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=stop_timeout)


@contextmanager
def server_databases(setting: str | None) -> Iterator[Callable[[str], str] | None]:
    """``auto``: a throw-away server (tests/pg_server.py); a URL: new databases on that server; None: none."""
    if not setting:
        yield None
        return
    if setting != "auto":
        yield lambda name: create_database(setting, name)
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from pg_server import start_server, stop_server  # the throw-away server the tests start

    base = Path(tempfile.mkdtemp(prefix="hub-bench-pg-"))
    os.chmod(base, 0o755)  # the server may run as the postgres system user
    server = start_server(base)
    try:
        yield server.new_database
    finally:
        stop_server(server)
        shutil.rmtree(base, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        con.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
    return urlsplit(url)._replace(path=f"/{name}").geturl()
