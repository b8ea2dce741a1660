"""The API of this checkout against an older revision, in the same run: table page and BM25 search at 8 clients.

Absolute latencies move with the machine these benchmarks run on (the 2026-11-28 code served the table page at 447
req/s that day and at about 300 on 2026-12-04), so "no slower than on day X" is measured against day X's code,
here and now: each revision is served by one ``hub serve --demo`` process (one worker) on the same snapshot and
index, and the rounds alternate between them so that a change in the machine's load hits both alike.

The older revision is checked out into a temporary git worktree and run with this environment's packages.

Usage: ``python bench/api_revisions.py --rev a8f98ad [--data-dir DIR] [--rounds 3] [--seconds 10] [--no-write]``.
Without a published snapshot in the data directory it builds one as bench/api.py does. Results go to
docs/benchmarks.md between ``<!-- bench:api_revisions -->`` markers.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from common import (
    ROOT,
    bench_parser,
    data_dir_or_temp,
    hub_server,
    load_average,
    machine,
    prepare_sample,
    write_section,
)
from http_load import SCENARIOS, Result, labelled_queries, load

SAME_LIMIT = "100000000"  # requests per minute per key, for every revision
REQUESTS = ("table page", "search (bm25)")
CLIENTS = 8


def short_rev(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()

def compare(data_dir: Path, rev: str, rounds: int, seconds: float) -> str:
    queries = labelled_queries()
    load_before = load_average()
    results: dict[tuple[str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-rev-") as temp, ExitStack() as servers:
        old = Path(temp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), rev], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            labels = {f"{short_rev(rev)} ({rev})": old, f"{short_rev('HEAD')} (this checkout)": None}
            # Older revisions cannot turn the per-key limit off (HUB_API_RATE_LIMIT=0 came later): every
            # revision gets the same limit, far above what the load reaches, so each pays the same limiter.
            bases = {label: servers.enter_context(hub_server(data_dir, "--demo", code=code, rate_limit=SAME_LIMIT))
                     for label, code in labels.items()}
            for base in bases.values():  # warm-up, not measured: each loads its index and snapshot
                for name in REQUESTS:
                    asyncio.run(load(base, SCENARIOS[name], 2, 2, queries))
            for round_number in range(rounds):
                for label, base in bases.items():
                    for name in REQUESTS:
                        result = asyncio.run(load(base, SCENARIOS[name], CLIENTS, seconds, queries))
                        results.setdefault((label, name), []).append(result)
                        print(f"round {round_number + 1} {label:28} {name:14} {result.rps:5.0f} req/s "
                              f"p95 {result.pct(95):6.1f} ms errors {result.errors} {result.first_error}", flush=True)
        finally:
            servers.close()
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)
    return report(results, load_before, rounds, seconds)


def report(results: dict[tuple[str, str], list[Result]], load_before: float, rounds: int, seconds: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## API across revisions (`bench/api_revisions.py`)",
        "",
        f"Run {now} on {machine()}; load average at start {load_before:.1f}. Each revision served by one "
        f"`hub serve --demo` process (one worker) on the same `hub sample --scale small` snapshot and index; "
        f"{rounds} rounds of {seconds:.0f} s per request and revision, alternating; {CLIENTS} clients (httpx "
        "async, keep-alive, another process). Medians over the rounds; search cycles through the labelled "
        "queries. Each revision runs with its own default settings (caches included).",
        "",
        "| revision | request | req/s | p50 ms | p95 ms | errors | p95 per round |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (label, name), runs in results.items():
        lines.append(
            f"| {label} | {name} | {statistics.median(r.rps for r in runs):.0f} | "
            f"{statistics.median(r.pct(50) for r in runs):.1f} | {statistics.median(r.pct(95) for r in runs):.1f} | "
            f"{sum(r.errors for r in runs)} | {' / '.join(f'{r.pct(95):.1f}' for r in runs)} |"
        )
    lines += ["", "- Requests: " + "; ".join(f"*{name}* `{SCENARIOS[name]}`" for name in REQUESTS) + "."]
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rev", required=True, help="the older revision (a commit, tag or branch)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (default: a temporary one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    args = parser.parse_args()
    with data_dir_or_temp(args.data_dir, "bench-api-rev-") as data_dir:
        prepare_sample(data_dir)
        text = compare(data_dir, args.rev, args.rounds, args.seconds)
    if not args.no_write:
        write_section("api_revisions", text)
    print(text)


if __name__ == "__main__":
    main()
