"""``hub serve`` (the Litestar app on uvicorn) and ``hub keys add|list|revoke`` (API keys)."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hub.cli.warehouse_option import warehouse_option
from hub.core.warehouse import Warehouse

if TYPE_CHECKING:
    from hub.cli.chroma_server import ChromaServer

DATA_DIR_OPTION = click.option(
    "--data-dir", type=click.Path(file_okay=False), default=None, help="数据目录 / data directory (HUB_DATA_DIR)"
)


# uvicorn's httptools protocol with a cap on request line + headers (HUB_API_MAX_HEADER_BYTES, 431 beyond).
BOUNDED_HTTP = "api.limits:BoundedHttpToolsProtocol"


@click.command()
@DATA_DIR_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址 / bind address")
@click.option("--port", default=8000, show_default=True, type=int, help="端口 / port")
@click.option("--demo", is_flag=True, default=False, help="演示模式：无需密钥 / open demo mode, no key needed")
@click.option("--workers", default=1, show_default=True, type=int,
              help="API 工作进程数 / API worker processes (on Linux each accepts on a socket of its own)")
@warehouse_option("on PostgreSQL tables and pages read a local replica of the published version, SQL runs on the "
                  "server")
def serve(data_dir: str | None, host: str, port: int, demo: bool, workers: int, warehouse: Warehouse) -> None:
    """提供 API 与网页 / serve the API and web pages on the published snapshot and index."""
    import os

    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings
    from hub.cli.api_workers import APP, run_workers, spreads_connections
    from hub.core.warehouse import redact

    # "duckdb" when the option chose DuckDB, so a HUB_WAREHOUSE the option overrode is not read again
    settings = ApiSettings.from_env(data_dir, demo_mode=True if demo else None, warehouse=warehouse.url or "duckdb")
    if data_dir:
        os.environ["HUB_DATA_DIR"] = str(settings.paths.data_dir)
    if demo:
        os.environ["HUB_API_DEMO_MODE"] = "1"
    # the workers of --workers N read their settings from the environment: the option's choice, not a leftover
    # each worker's share of the cores for embedding queries, unless the operator chose (kb/settings.py)
    os.environ.setdefault("HUB_KB_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    if warehouse.url:
        os.environ["HUB_WAREHOUSE"] = warehouse.url
    else:
        os.environ.pop("HUB_WAREHOUSE", None)
    base = f"http://{host}:{port}"
    click.echo(f"数据目录 / data dir: {settings.paths.data_dir}")
    if settings.warehouse_url:
        click.echo(f"数据仓库 / warehouse: {redact(settings.warehouse_url)} (本地副本 / local replica in "
                   f"{settings.paths.serving}; SQL 在服务器上执行 / SQL runs on the server)")
    click.echo(f"网页 / pages:  {base}/   API 文档 / docs: {base}/schema/swagger   OpenAPI: {base}/schema/openapi.json")
    if settings.demo_mode:
        click.echo("演示模式：所有请求视为 admin，勿用于生产 / DEMO MODE: every request acts as admin")
    chroma = _shared_vectors(settings.paths.data_dir, settings.paths.kb_index, workers)
    if chroma is not None:
        # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default handler this process
        # would end there and leave its Chroma server running. Exiting by SystemExit runs the `finally` below.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        if workers > 1 and spreads_connections():  # a socket per worker: connections spread evenly
            run_workers(host, port, workers, log_level="warning", http=BOUNDED_HTTP)
        elif workers > 1:
            uvicorn.run(APP, factory=True, host=host, port=port, workers=workers,
                        log_level="warning", http=BOUNDED_HTTP)
        else:
            uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", http=BOUNDED_HTTP)
    finally:
        if chroma is not None:
            from hub.cli.chroma_server import stop_chroma_server

            stop_chroma_server(chroma)


def _shared_vectors(data_dir: Path, index_root: Path, workers: int) -> ChromaServer | None:
    """Several workers share the search vectors through a Chroma server (an embedded store is for one process).

    Starts ``chroma run`` on <data-dir>/kb/chroma_server unless HUB_CHROMA_URL names one, and moves a current
    index built in embedded mode onto it (a new version, no re-embedding). One worker needs this only when
    the current index's vectors are already on a server. Returns the server this command started, if any.
    """
    import os

    from hub.core.pointer import read_current
    from kb import layout
    from kb.settings import KbSettings

    current = read_current(index_root)
    on_server = current is not None and (current / layout.MANIFEST).exists() and layout.dense_store(
        json.loads((current / layout.MANIFEST).read_text(encoding="utf-8"))
    ).get("store") == "server"
    if workers <= 1 and not on_server:
        return None
    started = None
    if not os.environ.get("HUB_CHROMA_URL", "").strip():
        from hub.cli.chroma_server import start_chroma_server

        started = start_chroma_server(data_dir / "kb" / "chroma_server")
        os.environ["HUB_CHROMA_URL"] = started.url
        click.echo(f"Chroma 服务 / Chroma server: {started.url} ({data_dir / 'kb' / 'chroma_server'})")
    if workers > 1 and current is not None:
        from kb.indexer import move_to_server

        moved = move_to_server(index_root, KbSettings.from_env())
        if moved is not None:
            click.echo(f"检索向量已移至 Chroma 服务 / search vectors moved to the Chroma server: {moved.name}")
    return started


@click.group()
def keys() -> None:
    """管理 API 密钥 / manage API keys (stored hashed under <data-dir>/api)."""


@keys.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["analyst", "staff", "admin"]), required=True, help="角色 / role")
@DATA_DIR_OPTION
def keys_add(name: str, role: str, data_dir: str | None) -> None:
    """新建密钥并打印一次 / create a key and print it once."""
    from api.keys import KeyStore
    from hub.core.paths import HubPaths

    try:
        secret = KeyStore(HubPaths.from_env(data_dir).api_dir).add(name, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(secret)
    click.echo(f"密钥 {name}（{role}）已创建，只显示这一次 / key {name} ({role}) created; shown only once", err=True)


@keys.command("list")
@DATA_DIR_OPTION
def keys_list(data_dir: str | None) -> None:
    """列出密钥（不含密钥本身）/ list keys (never the secrets)."""
    from api.keys import KeyStore
    from hub.core.paths import HubPaths

    found = KeyStore(HubPaths.from_env(data_dir).api_dir).list()
    if not found:
        click.echo("（没有密钥 / no keys）")
    for key in found:
        state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
        click.echo(f"{key.name}\t{key.role}\t{key.created_at}\t{state}")


@keys.command("revoke")
@click.argument("name")
@DATA_DIR_OPTION
def keys_revoke(name: str, data_dir: str | None) -> None:
    """吊销密钥 / revoke a key."""
    from api.keys import KeyStore
    from hub.core.paths import HubPaths

    if not KeyStore(HubPaths.from_env(data_dir).api_dir).revoke(name):
        raise click.ClickException(f"没有有效的密钥 {name!r} / no active key named {name!r}")
    click.echo(f"已吊销 / revoked: {name}")
