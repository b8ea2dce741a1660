"""``hub ingest``: load the landing folder (and optionally the four-platforms feed) into the raw layer."""

from __future__ import annotations

from pathlib import Path

import click

SOURCE_NAMES = ("four_platforms", "water", "urban", "utility", "registry")


@click.command()
@click.option("--landing", "landing_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="落地目录 / landing folder with one sub-folder per source (default: <data-dir>/landing)")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="数据目录 / data directory (default: $HUB_DATA_DIR or ./var); the build db is warehouse/hub.duckdb")
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCE_NAMES),
              help="只加载这些数据源 / load only these sources (repeatable; default: all five)")
@click.option("--feed-url", default=None, envvar="HUB_FOUR_PLATFORMS_URL",
              help="四平台接口地址 / base URL of the four-platforms feed (default: $HUB_FOUR_PLATFORMS_URL)")
def ingest(landing_dir: Path | None, data_dir: Path | None, sources: tuple[str, ...], feed_url: str | None) -> None:
    """把各部门导出文件载入原始层 / load the departments' exports into the raw DuckDB layer.

    Good rows go to raw.<source>__<entity> with lineage; rows that break the contract go to
    raw.quarantine with the reason. Re-loading the same files adds nothing.
    """
    import duckdb
    from tqdm import tqdm

    from hub.core.paths import HubPaths
    from orchestration.ingest.feed_client import FeedError, fetch_events
    from orchestration.ingest.load import ingest_source, source_file_count
    from orchestration.ingest.schema import ensure_raw_schema

    paths = HubPaths.from_env(data_dir)
    landing = (landing_dir or paths.landing).resolve()
    if not landing.is_dir():
        raise click.ClickException(f"落地目录不存在 / landing folder not found: {landing}")
    paths.build_db.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(paths.build_db))
    except duckdb.IOException as exc:
        raise click.ClickException(f"无法打开数据库 / cannot open the build database {paths.build_db}: {exc}") from None
    with con:
        ensure_raw_schema(con)
        for source in sources or SOURCE_NAMES:
            with tqdm(total=source_file_count(source, landing), desc=source, unit="file", leave=False,
                      disable=None) as bar:
                summary = ingest_source(con, source, landing, on_file=lambda _: bar.update())
            click.echo(summary.format())
            if source == "four_platforms" and feed_url:
                try:
                    feed = fetch_events(con, feed_url, paths.state)
                except FeedError as exc:
                    # The files above are committed; the cursor did not move, so a re-run fetches again.
                    raise click.ClickException(f"{exc}\n(文件已入库 / the files above were loaded)") from None
                click.echo(feed.format())
    click.echo(f"数据库 / database: {paths.build_db}")
