"""``hub run``, ``hub sql`` and ``hub demo``: the one-shot pipeline, read-only SQL and the whole demo.

Heavy imports (dagster, dbt, duckdb) happen inside the commands so ``hub --help`` stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import click

from hub.cli.warehouse_option import warehouse_option
from hub.core.warehouse import Warehouse

DATA_DIR_HELP = "数据目录 / data directory (default: $HUB_DATA_DIR or ./var)"


def _parse_as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} 不是 YYYY-MM-DD 日期 / is not a YYYY-MM-DD date", param_hint="--as-of"
        ) from None


@click.command()
@click.option("--landing", "landing", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="落地目录 / landing folder with <source>/ subfolders (default: DATA_DIR/landing)")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="统计基准日 / the date the views are computed as of (default: today, Asia/Shanghai)")
@click.option("--feed-url", default=None, metavar="URL",
              help="四平台接口地址 / four-platforms HTTP feed base URL (default: $HUB_FOUR_PLATFORMS_URL)")
@click.option("--rebuild-all", is_flag=True,
              help="重建全部模型 / rebuild every dbt model, not only those the new data or date reach")
@click.option("--verbose", "-v", is_flag=True,
              help="详细输出 / also print Dagster's log and every dbt line (otherwise in the dbt log only)")
@warehouse_option("on PostgreSQL, dbt builds there and the shared views are published to schema serving")
def run(landing: Path | None, data_dir: Path | None, as_of: str | None, feed_url: str | None,
        rebuild_all: bool, verbose: bool, warehouse: Warehouse) -> None:
    """一次性运行：接入、dbt 构建、发布 / one-shot run: ingest, dbt build, (KB index), publish."""
    from hub.core.paths import HubPaths
    from orchestration.pipeline import PipelineError, run_pipeline

    paths = HubPaths.from_env(data_dir)
    chosen_landing = (landing or paths.landing).resolve()
    if not chosen_landing.is_dir():
        raise click.BadParameter(f"落地目录不存在 / landing folder not found: {chosen_landing}",
                                 param_hint="--landing")
    started = time.perf_counter()
    try:
        outcome = run_pipeline(paths, landing=chosen_landing, as_of=_parse_as_of(as_of), feed_url=feed_url,
                               echo=click.echo, rebuild_all=rebuild_all, verbose=verbose, warehouse=warehouse)
    except PipelineError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"用时 / took {time.perf_counter() - started:.1f} s")
    _exit(0 if outcome.success else 1)


def _exit(code: int) -> None:
    """Leave without interpreter teardown: after a pipeline run, native extensions (DuckDB's bindings) print
    spurious reference-leak warnings at shutdown that would bury the summary. Everything is written by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _display_width(text))


def _cell(value: Any) -> str:
    return "NULL" if value is None else str(value)


def format_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> str:
    """Render a result as an aligned text table (CJK-aware), CSV or a JSON list of objects."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, row, strict=True)) for row in rows], ensure_ascii=False, default=str,
                          indent=1)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([_display_width(c), *(_display_width(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [" | ".join(_pad(c, w) for c, w in zip(columns, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.append(f"({len(rows)} 行 / rows)")
    return "\n".join(lines)


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="输出格式 / output format")
@click.option("--timeout", "timeout_s", type=click.IntRange(1, 3600), default=60, show_default=True,
              help="查询超时秒数 / query time limit in seconds")
@warehouse_option("on PostgreSQL the query reads schema serving")
@click.argument("query")
def sql(data_dir: Path | None, fmt: str, timeout_s: int, warehouse: Warehouse, query: str) -> None:
    """对当前发布快照执行一条只读 SELECT / run one read-only SELECT against the current serving snapshot.

    Tables: the shared views (hidden_danger_register, town_readiness, ...), _tables (data dictionary)
    and _snapshot (when and as of which date it was built).
    """
    from hub.cli.readonly_sql import run_readonly_select, run_readonly_select_server
    from hub.core.paths import HubPaths
    from hub.core.pointer import read_current
    from hub.core.sql_guard import SqlRejected

    if warehouse.url:
        try:
            columns, rows = run_readonly_select_server(warehouse.url, query, timeout_ms=timeout_s * 1000)
        except SqlRejected as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(format_rows(columns, rows, fmt))
        return
    paths = HubPaths.from_env(data_dir)
    snapshot = read_current(paths.serving)
    if snapshot is None:
        raise click.ClickException(
            f"尚无发布快照 / no published snapshot under {paths.serving}: run `hub run` first"
        )
    try:
        columns, rows = run_readonly_select(snapshot, query, timeout_ms=timeout_s * 1000)
    except SqlRejected as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_rows(columns, rows, fmt))


@click.command()
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help=DATA_DIR_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="API 监听地址 / API host")
@click.option("--port", default=8000, show_default=True, type=int, help="API 端口 / API port")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True,
              help="样例数据规模 / sample data scale")
@click.option("--seed", default=7, show_default=True, type=int, help="样例数据随机种子 / sample data seed")
@click.option("--no-serve", is_flag=True, help="构建后不启动 API / build everything but do not start the API")
def demo(data_dir: Path | None, host: str, port: int, scale: str, seed: int, no_serve: bool) -> None:
    """完整演示 / the whole demo: sample data, feed simulator, pipeline, KB index, quality report, API."""
    from hub.cli.demo import run_demo
    from hub.core.paths import HubPaths
    from orchestration.pipeline import PipelineError

    try:
        ok = run_demo(HubPaths.from_env(data_dir), host=host, port=port, scale=scale, seed=seed, serve=not no_serve,
                      echo=click.echo)
    except PipelineError as exc:
        raise click.ClickException(str(exc)) from None
    _exit(0 if ok else 1)
