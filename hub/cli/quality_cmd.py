"""``hub quality report``: the data-quality report on demand, from the current build database.

Heavy imports (duckdb, the checks) happen inside the command so ``hub --help`` stays fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from hub.cli.warehouse_option import warehouse_option
from hub.core.warehouse import Warehouse

DATA_DIR_HELP = "数据目录 / data directory (default: $HUB_DATA_DIR or ./var)"


@click.group()
def quality() -> None:
    """数据质量检查与报告 / data-quality checks and reports."""


@quality.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="报告记录的基准日 / the as-of date recorded with the report (default: today, Asia/Shanghai)")
@click.option("--webhook-url", default=None, metavar="URL",
              help="告警地址 / alert webhook (default: $HUB_QUALITY_WEBHOOK_URL; none: no alert)")
@warehouse_option("on PostgreSQL the dbt quality models are read from the server")
def report(data_dir: Path | None, as_of: str | None, webhook_url: str | None, warehouse: Warehouse) -> None:
    """生成数据质量报告 / measure every check on the build database and write the HTML + JSON report.

    Writes DATA_DIR/reports/quality/quality_<time>_<run>.html and .json and appends the results
    to DATA_DIR/reports/quality_history.duckdb. Run `hub run` first so the build database exists.
    """
    from hub.core.paths import HubPaths
    from orchestration.quality.report import QualityError, produce_report
    from orchestration.resources import today_in_shanghai

    try:
        chosen = date.fromisoformat(as_of) if as_of else today_in_shanghai()
    except ValueError:
        raise click.BadParameter(f"{as_of!r} 不是 YYYY-MM-DD 日期 / is not a YYYY-MM-DD date",
                                 param_hint="--as-of") from None
    paths = HubPaths.from_env(data_dir)
    try:
        produce_report(paths, as_of=chosen, webhook_url=webhook_url, echo=click.echo,
                       warehouse_url=warehouse.url or "")
    except QualityError as exc:
        raise click.ClickException(str(exc)) from None
