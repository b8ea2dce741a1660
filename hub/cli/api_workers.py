"""``hub serve --workers N`` on Linux: N uvicorn servers, each accepting on a listening socket of its own, all
bound to the same address with SO_REUSEPORT, so that the kernel spreads new connections across the workers.

uvicorn's own ``--workers`` shares one socket, which every worker drains as fast as it can: a burst of
keep-alive connections (a load test, a proxy's upstream pool) can all land on one worker while the others idle
(measured: one worker served every request of a run; docs/operations.md, "API workers"). A worker that exits
is started again; SIGTERM or SIGINT stops them all.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from typing import Any

import click

APP = "api.app:create_app"
QUICK_EXIT_SECONDS = 10.0  # a worker that ends this soon after its start failed to start
QUICK_EXITS_ALLOWED = 3  # in a row, then the command gives up instead of restarting forever


def spreads_connections() -> bool:
    """Whether the kernel balances connections across SO_REUSEPORT sockets (Linux does; others only share)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    return sock


def _worker(host: str, port: int, uvicorn_options: dict[str, Any]) -> None:
    import uvicorn

    config = uvicorn.Config(APP, factory=True, **uvicorn_options)
    config.load()  # the app is built before the socket listens: no connection waits on a worker still starting
    uvicorn.Server(config).run(sockets=[reuse_port_socket(host, port)])


def run_workers(host: str, port: int, workers: int, **uvicorn_options: Any) -> None:
    """Serve with ``workers`` processes until SIGTERM or SIGINT. The address is checked here first (bound, not
    listening, so it takes no connections): a port held by another program fails at once, with its error."""
    try:
        guard = reuse_port_socket(host, port, listen=False)
    except OSError as exc:
        raise click.ClickException(
            f"无法监听 {host}:{port}（--host / --port）/ cannot listen on {host}:{port} (--host / --port): "
            f"{exc.strerror}"
        ) from None
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    running: list[tuple[BaseProcess, float]] = []
    quick_exits = 0
    try:
        while not stopping:
            for process, started in [entry for entry in running if not entry[0].is_alive()]:
                running.remove((process, started))
                quick_exits = quick_exits + 1 if time.monotonic() - started < QUICK_EXIT_SECONDS else 0
                if quick_exits >= QUICK_EXITS_ALLOWED:
                    raise SystemExit(f"API 进程反复启动失败 / API workers keep failing to start (exit code "
                                     f"{process.exitcode}); see the log above")
            while len(running) < workers and not stopping:
                process = context.Process(target=_worker, args=(host, port, uvicorn_options), daemon=False)
                process.start()
                running.append((process, time.monotonic()))
            time.sleep(0.2)
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()
        for process, _ in running:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        guard.close()
