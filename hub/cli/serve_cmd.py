"""``hub serve`` (the Litestar app on uvicorn) and ``hub keys add|list|revoke`` (API keys)."""

from __future__ import annotations

import click

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
@click.option("--workers", default=1, show_default=True, type=int, help="uvicorn worker processes")
def serve(data_dir: str | None, host: str, port: int, demo: bool, workers: int) -> None:
    """提供 API 与网页 / serve the API and web pages on the published snapshot and index."""
    import os

    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    settings = ApiSettings.from_env(data_dir, demo_mode=True if demo else None)
    if data_dir:
        os.environ["HUB_DATA_DIR"] = str(settings.paths.data_dir)
    if demo:
        os.environ["HUB_API_DEMO_MODE"] = "1"
    base = f"http://{host}:{port}"
    click.echo(f"数据目录 / data dir: {settings.paths.data_dir}")
    click.echo(f"网页 / pages:  {base}/   API 文档 / docs: {base}/schema/swagger   OpenAPI: {base}/schema/openapi.json")
    if settings.demo_mode:
        click.echo("演示模式：所有请求视为 admin，勿用于生产 / DEMO MODE: every request acts as admin")
    if workers > 1:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning",
                    http=BOUNDED_HTTP)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", http=BOUNDED_HTTP)


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
