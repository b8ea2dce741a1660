"""A PostgreSQL server for Dagster's storage, initialised in the data directory: Debian's binaries, a free
loopback port, the socket in the cluster's folder, trust authentication on 127.0.0.1 only.

``initdb`` refuses to run as root: as root the cluster belongs to the ``postgres`` system user (created by
Debian's ``postgresql`` package; `make deploy` installs it when missing) and the server commands run through
``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ADMIN = "hub_admin"
DATABASE = "dagster"


class PostgresError(Exception):
    """PostgreSQL could not be found, initialised or started; the message says why and what to do."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL server binaries (Debian layout), or the ones on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise PostgresError("未找到 PostgreSQL / PostgreSQL server binaries not found: install Debian's postgresql "
                        "(`apt-get install postgresql`, which `make deploy` does)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class LocalPostgres:
    """A cluster in ``base``/cluster, its socket and log in ``base``."""

    base: Path

    @property
    def cluster(self) -> Path:
        return self.base / "cluster"

    @property
    def run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _command(self, tool: str, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, str(bin_dir() / tool), *args]

    def _run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._command(tool, *args), capture_output=True, text=True, timeout=timeout,
                              check=False)

    def url(self, port: int) -> str:
        # The driver named: SQLAlchemy 2.1 defaults to psycopg 3, whose server-side parameters break the
        # `NOTIFY channel, %s` dagster-postgres sends; psycopg2 binds on the client.
        return f"postgresql+psycopg2://{ADMIN}@127.0.0.1:{port}/{DATABASE}"

    def initialise(self) -> None:
        if (self.cluster / "PG_VERSION").exists():
            return
        self.cluster.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in (self.base, self.cluster):
                os.chown(path, user.pw_uid, user.pw_gid)
            os.chmod(self.base, 0o755)
            reachable = subprocess.run(["runuser", "-u", self.run_as, "--", "test", "-w", str(self.cluster)],
                                       check=False).returncode == 0
            if not reachable:
                raise PostgresError(f"用户 {self.run_as} 无法进入 {self.base} / the {self.run_as} user cannot reach "
                                    f"{self.base}: let it traverse the data directory's parents (chmod o+x)")
        done = self._run("initdb", "-D", str(self.cluster), "-U", ADMIN, "--auth=trust", "--encoding=UTF8",
                         "--locale=C")
        if done.returncode != 0:
            raise PostgresError(f"initdb 失败 / initdb failed: {done.stderr.strip() or done.stdout.strip()}")

    def running_port(self) -> int | None:
        """The port of the server running on this cluster, if one is."""
        pid_file = self.cluster / "postmaster.pid"
        try:
            lines = pid_file.read_text(encoding="utf-8").splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return port

    def start(self) -> str:
        """Initialise when needed, start when not running, create the database; return its URL."""
        self.initialise()
        port = self.running_port()
        if port is None:
            port = free_port()
            options = f"-p {port} -c listen_addresses=127.0.0.1 -k {self.base} -c max_connections=100"
            done = self._run("pg_ctl", "-D", str(self.cluster), "-o", options, "-l", str(self.base / "server.log"),
                             "-w", "-t", "60", "start", timeout=90)
            if done.returncode != 0:
                raise PostgresError(f"PostgreSQL 启动失败 / PostgreSQL did not start: {done.stderr.strip()} "
                                    f"(see {self.base / 'server.log'})")
        self._create_database(port)
        return self.url(port)

    def _create_database(self, port: int) -> None:
        import psycopg

        admin = f"postgresql://{ADMIN}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(admin, autocommit=True) as con:
                    if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
                        con.execute(f'CREATE DATABASE "{DATABASE}" ENCODING \'UTF8\'')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.running_port() is not None:
            self._run("pg_ctl", "-D", str(self.cluster), "-m", "fast", "-w", "stop", timeout=90)
