"""``hub deploy up|down|status``: the local production deployment (PostgreSQL, Dagster code server, daemon and
webserver, the API) on one machine. Heavy imports happen inside the commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hub.deploy.stack import Deployment

DATA_DIR_HELP = "数据目录 / data directory (default: $HUB_DATA_DIR or ./var)"


def _deployment(data_dir: Path | None, host: str = "127.0.0.1") -> Deployment:
    from hub.core.paths import HubPaths
    from hub.deploy.stack import Deployment

    return Deployment(HubPaths.from_env(data_dir), host=host)


@click.group()
def deploy() -> None:
    """本机生产部署 / the local production deployment: PostgreSQL, Dagster code server, daemon, webserver, API."""


@deploy.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Dagster UI 与 API 的监听地址 / UI and API host")
@click.option("--web-port", default=3000, show_default=True, type=int, help="Dagster UI 端口 / Dagster UI port")
@click.option("--api-port", default=8000, show_default=True, type=int, help="API 端口 / API port")
@click.option("--detach", is_flag=True, help="启动后返回 / return once everything runs (stop with `hub deploy down`)")
@click.option("--catch-up/--no-catch-up", default=True, show_default=True,
              help="启动守护进程前先用 hub run 构建过期部分 / "
              "build what is stale with one `hub run` before the daemon starts")
def up(data_dir: Path | None, host: str, web_port: int, api_port: int, detach: bool, catch_up: bool) -> None:
    """启动部署 / start PostgreSQL, the code server, the daemon, the webserver and the API."""
    from hub.deploy.postgres import PostgresError
    from hub.deploy.stack import down as stop_all
    from hub.deploy.stack import up as start_all

    deployment = _deployment(data_dir, host)
    try:
        start_all(deployment, web_port=web_port, api_port=api_port, echo=click.echo, catch_up=catch_up)
    except (PostgresError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("新文件放入落地目录后由 Dagster 自动处理 / files dropped into "
               f"{deployment.paths.landing} are picked up by the daemon")
    if detach:
        return
    click.echo("按 Ctrl+C 停止 / Ctrl+C stops everything")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stop_all(deployment, echo=click.echo)


@deploy.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
def down(data_dir: Path | None) -> None:
    """停止部署 / stop every process of the deployment and PostgreSQL."""
    from hub.deploy.stack import down as stop_all

    stop_all(_deployment(data_dir), echo=click.echo)


@deploy.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
def status(data_dir: Path | None) -> None:
    """各进程状态 / which processes of the deployment run."""
    from hub.deploy.stack import status as current

    for name, value in current(_deployment(data_dir)).items():
        click.echo(f"{name:<12} {'运行中 / running (' + str(value) + ')' if value else '未运行 / stopped'}")
