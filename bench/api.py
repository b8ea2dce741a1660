"""API load benchmark: requests/s and p50/p95/p99 latency for a table page, a filtered CSV export and a search,
at 8 and 32 concurrent clients, from this process against ``hub serve`` running in another one (loopback).

Usage: ``python bench/api.py [--data-dir DIR] [--seconds 10] [--no-write]``. Without a published snapshot
in the data directory it builds one with ``hub sample --scale small`` + ``hub run``, and indexes the sample
documents with ``hub kb index``. Results go to docs/benchmarks.md between ``<!-- bench:api -->`` markers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from common import (
    bench_parser,
    data_dir_or_temp,
    hub_server,
    load_average,
    machine,
    percentile,
    prepare_sample,
    write_section,
)

SCENARIOS = {
    "table page": "/api/tables/hidden_danger_register?_size=50&_sort=deadline&is_closed=false",
    "filtered CSV export": "/api/tables/hidden_danger_register?level=一般&is_closed=false&_format=csv",
    "search (bm25)": "/api/search?q=台风 山塘 转移&mode=bm25&top_k=10",
    "search (hybrid)": "/api/search?q=台风 山塘 转移&mode=hybrid&top_k=10",
}
CONCURRENCY = (8, 32)


@dataclass
class Result:
    scenario: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def load(base: str, path: str, clients: int, seconds: float) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    await response.aread()
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += 0 if ok else 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return Result("", clients, len(latencies), errors, elapsed, latencies)


def report(results: list[Result], load_before: float, seconds: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## API (`bench/api.py`)",
        "",
        f"Run {now} on {machine()}; load average at start {load_before:.1f}. Server: `hub serve --demo` "
        f"(one uvicorn process) on the `hub sample --scale small` snapshot and the sample documents' index; "
        f"client: httpx async from a second process over loopback, {seconds:.0f} s per row, keep-alive.",
        "",
        "| request | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.clients} | {r.requests} | {r.errors} | {r.rps:.0f} | {r.pct(50):.1f} | "
            f"{r.pct(95):.1f} | {r.pct(99):.1f} |"
        )
    lines += [
        "",
        "- Requests: " + "; ".join(f"*{name}* `{path}`" for name, path in SCENARIOS.items()) + ".",
        "- Goal (issue 5): p95 under 50 ms for table pages and searches at 8 clients, no errors at 32.",
        "- The machine is shared with other jobs while this runs (see the load average); client and server "
        "share its cores.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    args = parser.parse_args()
    with data_dir_or_temp(args.data_dir, "bench-api-") as data_dir:
        prepare_sample(data_dir)
        load_before = load_average()
        results: list[Result] = []
        with hub_server(data_dir, "--demo", stop_timeout=20) as base:
            for path in SCENARIOS.values():  # warm-up: model, caches, first connections
                httpx.get(base + path, timeout=120)
            for name, path in SCENARIOS.items():
                for clients in CONCURRENCY:
                    result = asyncio.run(load(base, path, clients, args.seconds))
                    result.scenario = name
                    results.append(result)
                    print(
                        f"{name:22} {clients:3} clients  {result.rps:7.0f} req/s  p50 {result.pct(50):7.1f}  "
                        f"p95 {result.pct(95):7.1f}  p99 {result.pct(99):7.1f} ms  errors {result.errors}",
                        flush=True,
                    )
    text = report(results, load_before, args.seconds)
    if not args.no_write:
        write_section("api", text)
    print(text)


if __name__ == "__main__":
    main()
