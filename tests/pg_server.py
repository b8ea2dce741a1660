"""A real PostgreSQL server for the tests: Debian's binaries, ``initdb`` in a temporary directory, a random
free loopback port, stopped at the end of the session.

``initdb`` refuses to run as root, so when the tests run as root (CI containers) the cluster belongs to the
``postgres`` system user (created by Debian's ``postgresql`` package) and the server commands run through
``runuser``. The cluster uses the C collation and UTF-8, so text sorts by code point as in DuckDB.

Fixtures:
- ``pg_server`` (session): the running server, with ``admin_url`` (superuser ``hub_admin``, trust auth on
  127.0.0.1 only) and ``new_database(name)`` returning the URL of a fresh, empty database.

Tests that need it are skipped only when the PostgreSQL binaries are absent (``make test`` installs them).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ADMIN = "hub_admin"


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian layout), or the ones on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None  # the system user running the server (None: the current user)
    databases: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return f"postgresql://{ADMIN}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str, user: str = ADMIN, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    def new_database(self, name: str) -> str:
        """Create an empty database (dropped first if it exists) and return its URL."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' LC_COLLATE \'C\' '
                        "LC_CTYPE 'C'")
        self.databases.append(name)
        return self.url(name)


def start_server(base: Path) -> PgServer:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("initdb not found")
    run_as = "postgres" if os.geteuid() == 0 else None
    data_dir = base / "data"
    data_dir.mkdir(parents=True)
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(base, user.pw_uid, user.pw_gid)
        os.chown(data_dir, user.pw_uid, user.pw_gid)
    server = PgServer(bin_dir, data_dir, free_port(), run_as)
    subprocess.run(
        server.command(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", ADMIN, "--auth=trust",
                       "--encoding=UTF8", "--locale=C", "--no-sync"),
        check=True, capture_output=True, text=True, timeout=120,
    )
    options = (f"-p {server.port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=64MB")
    subprocess.run(
        server.command(str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l",
                       str(base / "server.log"), "-w", "-t", "60", "start"),
        check=True, capture_output=True, text=True, timeout=90,
    )
    return server


def stop_server(server: PgServer) -> None:
    subprocess.run(
        server.command(str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "immediate", "-w", "stop"),
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries are not installed (make test installs Debian's postgresql)")
    base = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    os.chmod(base, 0o755)
    try:
        server = start_server(base)
    except subprocess.CalledProcessError as error:
        log = base / "server.log"
        detail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {error.stderr}\n{detail}") from error
    # wait until it accepts connections (pg_ctl -w already waited; a second check costs nothing)
    deadline = time.monotonic() + 30
    while True:
        ready = subprocess.run(server.command(str(server.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p",
                                              str(server.port)), capture_output=True, check=False)
        if ready.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    try:
        yield server
    finally:
        stop_server(server)
        shutil.rmtree(base, ignore_errors=True)
