"""Start and stop the deployment's processes: PostgreSQL, then ``dagster code-server start``, ``dagster-daemon
run`` and ``dagster-webserver`` (the last two load the code location through ``workspace.yaml``), then
``hub serve``. Each is its own process (own session), logging to ``<data dir>/deploy/logs/<name>.log``,
its id in ``<data dir>/deploy/pids/<name>.pid`` so ``hub deploy down`` (or an operator) can stop it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.core.paths import PROJECT_ROOT, HubPaths
from hub.core.pointer import process_alive
from hub.deploy.postgres import LocalPostgres, free_port
from orchestration.instance import PG_URL_SETTING, ensure_dagster_home

Echo = Callable[[str], None]
LOCATION = "hub"
ORDER = ("code_server", "daemon", "webserver", "api")  # start order; stopped in reverse


@dataclass(frozen=True)
class Deployment:
    paths: HubPaths
    host: str = "127.0.0.1"  # the webserver and the API; the code server and PostgreSQL stay on loopback

    @property
    def folder(self) -> Path:
        return self.paths.data_dir / "deploy"

    @property
    def postgres(self) -> LocalPostgres:
        return LocalPostgres(self.paths.data_dir / "postgres")

    @property
    def workspace(self) -> Path:
        return self.folder / "workspace.yaml"

    def pid_file(self, name: str) -> Path:
        return self.folder / "pids" / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.folder / "logs" / f"{name}.log"

    @property
    def ports_file(self) -> Path:
        return self.folder / "ports.json"

    def ports(self) -> dict[str, int]:
        try:
            return json.loads(self.ports_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}


def workspace_yaml(code_port: int) -> str:
    return ("# The code location the daemon and the webserver load: the code server started by `hub deploy up`.\n"
            "load_from:\n  - grpc_server:\n      host: 127.0.0.1\n"
            f"      port: {code_port}\n      location_name: {LOCATION}\n")


def environment(deployment: Deployment, pg_url: str) -> dict[str, str]:
    """What every process of the deployment is started with (settings are read from here once, at start)."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "DAGSTER_HOME": str(deployment.paths.dagster_home),
        "HUB_DATA_DIR": str(deployment.paths.data_dir),
        PG_URL_SETTING: pg_url,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "PYTHONUNBUFFERED": "1",
    }


def commands(deployment: Deployment, ports: dict[str, int]) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    workspace = str(deployment.workspace)
    return {
        "code_server": [str(bin_dir / "dagster"), "code-server", "start", "-m", "orchestration.definitions",
                        "-h", "127.0.0.1", "-p", str(ports["code_server"]), "--location-name", LOCATION],
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
        "webserver": [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", deployment.host,
                      "-p", str(ports["webserver"])],
        "api": [sys.executable, "-m", "hub.cli.main", "serve", "--data-dir", str(deployment.paths.data_dir),
                "--host", deployment.host, "--port", str(ports["api"])],
    }


def start_process(deployment: Deployment, name: str, command: list[str], env: dict[str, str]) -> int:
    deployment.log_file(name).parent.mkdir(parents=True, exist_ok=True)
    deployment.pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    with open(deployment.log_file(name), "ab") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT,
                                start_new_session=True, stdin=subprocess.DEVNULL)
    deployment.pid_file(name).write_text(str(proc.pid), encoding="utf-8")
    return proc.pid


def running_pid(deployment: Deployment, name: str) -> int | None:
    try:
        pid = int(deployment.pid_file(name).read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def wait_for_port(port: int, what: str, pid: int, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            raise RuntimeError(f"{what} 已退出 / exited while starting: see {log}")
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} 未在 {timeout:.0f}s 内就绪 / not ready after {timeout:.0f}s: see {log}")


def catch_up_run(deployment: Deployment, env: dict[str, str], echo: Echo) -> None:
    """Before the daemon starts: one `hub run` on the same instance builds whatever is stale (everything on a
    new data directory) in one run, instead of the sensors and automation doing it in many small ones."""
    echo("追赶构建 / catch-up build (`hub run`) before the daemon starts ...")
    with open(deployment.log_file("catch_up"), "ab") as log:
        command = [sys.executable, "-m", "hub.cli.main", "run", "--data-dir", str(deployment.paths.data_dir)]
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=PROJECT_ROOT, check=False)
    echo(f"追赶构建 / catch-up build: {'完成 / done' if done.returncode == 0 else '失败 / FAILED'} "
         f"(log {deployment.log_file('catch_up')})")


def up(deployment: Deployment, web_port: int = 3000, api_port: int = 8000, echo: Echo = print,
       catch_up: bool = True) -> dict[str, int]:
    """Start whatever of the deployment is not running; return the ports. On a fresh start (no code server or
    daemon running) ``catch_up`` first builds what is stale with one `hub run` on the same instance."""
    deployment.folder.mkdir(parents=True, exist_ok=True)
    deployment.log_file("catch_up").parent.mkdir(parents=True, exist_ok=True)
    pg_url = deployment.postgres.start()
    echo(f"PostgreSQL: {pg_url} (cluster {deployment.postgres.cluster})")
    ensure_dagster_home(deployment.paths, pg_url)
    ports = deployment.ports() if any(running_pid(deployment, n) for n in ORDER) else {}
    ports = {"code_server": ports.get("code_server") or free_port(), "webserver": ports.get("webserver") or web_port,
             "api": ports.get("api") or api_port, "postgres": deployment.postgres.running_port() or 0}
    deployment.ports_file.write_text(json.dumps(ports), encoding="utf-8")
    deployment.workspace.write_text(workspace_yaml(ports["code_server"]), encoding="utf-8")
    env = environment(deployment, pg_url)
    if catch_up and not any(running_pid(deployment, n) for n in ("code_server", "daemon")):
        catch_up_run(deployment, env, echo)
    ready_timeouts = {"code_server": 300, "webserver": 180, "api": 120}
    for name, command in commands(deployment, ports).items():
        pid = running_pid(deployment, name) or start_process(deployment, name, command, env)
        if name in ready_timeouts:
            wait_for_port(ports[name], name, pid, ready_timeouts[name], deployment.log_file(name))
        echo(f"{name:<12} pid {pid:<7} log {deployment.log_file(name)}")
    echo(f"Dagster UI: http://{deployment.host}:{ports['webserver']}/  API: http://{deployment.host}:{ports['api']}/")
    return ports


def stop_process(deployment: Deployment, name: str, timeout: float = 30) -> None:
    pid = running_pid(deployment, name)
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)  # its own session: the process and what it started
        deadline = time.monotonic() + timeout
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if process_alive(pid):
            os.killpg(pid, signal.SIGKILL)
    deployment.pid_file(name).unlink(missing_ok=True)


def down(deployment: Deployment, echo: Echo = print) -> None:
    for name in reversed(ORDER):
        stop_process(deployment, name)
        echo(f"已停止 / stopped: {name}")
    deployment.postgres.stop()
    echo("已停止 / stopped: postgres")


def status(deployment: Deployment) -> dict[str, int | None]:
    found: dict[str, int | None] = {name: running_pid(deployment, name) for name in ORDER}
    found["postgres"] = deployment.postgres.running_port()
    return found
