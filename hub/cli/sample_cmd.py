"""``hub sample``: generate sample exports of the five sources; serve the four-platforms feed; add a day.

Heavy imports stay inside the functions so ``hub --help`` stays fast.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path

import click

SCALES = ("small", "medium", "large")


def _default_landing() -> Path:
    from hub.core.paths import HubPaths

    return HubPaths.from_env().landing


def _from_group(ctx: click.Context, name: str, own: object) -> object:
    """A subcommand's option, else the same option given to ``hub sample`` (``hub sample --out X add-day``)."""
    if own is not None:
        return own
    return ctx.parent.params.get(name) if ctx.parent else None


def _as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


def _print_summary(counts: dict[str, int], seconds: float, out: Path) -> None:
    per_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    planted = 0
    for key, rows in counts.items():
        if key.startswith("planted/"):
            planted += rows
            continue
        source = key.split("/", 1)[0]
        per_source[source][0] += 1
        per_source[source][1] += rows
    for source, (files, rows) in per_source.items():
        click.echo(f"  {source:<15} {files:>4} files/sheets  {rows:>9,} rows")
    click.echo(f"  {planted} rows break the contract on purpose (see docs/sample-data.md)")
    click.echo(f"写入 / written to {out} in {seconds:.1f}s")


@click.group(invoke_without_command=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to write DIR/<source>/... into (default: $HUB_DATA_DIR/landing).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, byte-identical files.")
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="small",
    show_default=True,
    help="Events: small ≈ 5k, medium ≈ 100k, large ≈ 1M over the 12 months before --as-of.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date of the export, YYYY-MM-DD (default: today in Asia/Shanghai).",
)
@click.pass_context
def sample(ctx: click.Context, out: Path | None, seed: int, scale: str, as_of: datetime | None) -> None:
    """生成五个来源系统的样例数据 — write sample exports of all five source systems.

    Without a subcommand, writes four_platforms/, water/, urban/, utility/ and registry/
    under --out in exactly the formats of the source contracts, with planted messiness.
    """
    if ctx.invoked_subcommand is not None:
        return
    from tqdm import tqdm

    from hub.sample.events import EVENT_COUNTS
    from hub.sample.generator import generate

    out = out or _default_landing()
    started = time.perf_counter()
    # disable=None: no bar when stderr is not a terminal (logs, CI), where it would print thousands of updates
    with tqdm(total=EVENT_COUNTS[scale], unit="events", desc="events", leave=False, disable=None) as bar:
        counts = generate(out, seed=seed, scale=scale, as_of=_as_date(as_of), progress=bar.update)
    _print_summary(counts, time.perf_counter() - started, out)


@sample.command("serve-events")
@click.option(
    "--events",
    "events_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with events_YYYYMMDD.jsonl (default: <hub sample --out>/four_platforms, else "
    "$HUB_DATA_DIR/landing/four_platforms).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True, help="0 picks a free port.")
@click.option(
    "--page-size-max",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Larger pageSize requests get a 400.",
)
@click.option(
    "--fail-every",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Answer every Nth events request with 503 (0 = never), to exercise client retries.",
)
@click.option("--quiet", is_flag=True, help="Do not log each request.")
@click.pass_context
def serve_events(
    ctx: click.Context, events_dir: Path | None, host: str, port: int, page_size_max: int, fail_every: int,
    quiet: bool,
) -> None:
    """模拟四平台事件接口 — serve GET /api/v1/events from the JSONL files (Ctrl-C stops)."""
    from hub.sample.feed_server import EVENTS_PATH, base_url_of, make_feed_server

    events_dir = events_dir or (_from_group(ctx, "out", None) or _default_landing()) / "four_platforms"
    try:
        server = make_feed_server(events_dir, host, port, fail_every, page_size_max, verbose=not quiet)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"无法监听 {host}:{port} / cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"四平台事件接口 / events feed: {base_url_of(server)}{EVENTS_PATH}  (folder {events_dir})", err=True)
    _stop_on_sigterm()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _stop_on_sigterm() -> None:
    """Stop like on Ctrl-C when terminated. A process inherits an *ignored* SIGTERM from its parent (a CI job
    or a background shell can pass one on), and a feed simulator that outlives its test or demo is a leak."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@sample.command("add-day")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The sample folder (holding four_platforms/); default: hub sample --out, else $HUB_DATA_DIR/landing.",
)
@click.option("--seed", type=int, default=None, help="Default: hub sample --seed (7).")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day to write, YYYY-MM-DD (default: the day after the latest events file).",
)
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default=None,
    help="Sets how many new events the day has (default: hub sample --scale, small).",
)
@click.pass_context
def add_day_command(ctx: click.Context, out: Path | None, seed: int | None, day: datetime | None,
                    scale: str | None) -> None:
    """追加一天的事件 — write one more day of events (new and re-sent ones) into four_platforms/."""
    from hub.sample.add_day import AddDayError, add_day

    out = _from_group(ctx, "out", out) or _default_landing()
    try:
        counts = add_day(out, seed=_from_group(ctx, "seed", seed), day=_as_date(day),
                         scale=_from_group(ctx, "scale", scale))
    except AddDayError as exc:
        raise click.ClickException(str(exc)) from None
    for name, rows in counts.items():
        click.echo(f"  {name}: {rows} rows")
