"""API load benchmark: requests/s and p50/p95/p99 latency for a table page, a filtered CSV export and a search,
at 8 and 32 concurrent clients, from this process against ``hub serve --workers 2`` in another one (loopback).

The server runs two uvicorn workers sharing one index, its vectors on a Chroma server that ``hub serve`` starts
(``chroma run``). Search rows cycle through the distinct labelled queries (bench/kb_queries.jsonl and
bench/demo_queries.jsonl) with the query-vector cache off, so every search embeds its query; a second pass with
the cache on (its default size) reports the cache's hit rate and what it saves.

Usage: ``python bench/api.py [--data-dir DIR] [--seconds 10] [--workers N] [--no-write]``. Without a published
snapshot in the data directory it builds one with ``hub sample --scale small`` + ``hub run``, and indexes the
sample documents with ``hub kb index``. Results go to docs/benchmarks.md between ``<!-- bench:api -->`` markers.

``--warehouse auto|URL`` compares the engines instead: the same sample published by ``hub run`` to DuckDB and by
``hub run --warehouse`` to PostgreSQL (``auto``: a throw-away server), each served by one ``hub serve`` process,
under the table, export, town and SQL requests (section ``api_engines``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
from common import (
    HUB,
    bench_parser,
    data_dir_or_temp,
    hub_env,
    hub_server,
    load_average,
    machine,
    prepare_sample,
    server_databases,
    write_section,
)
from http_load import SCENARIOS, Result, labelled_queries, load

# Engine comparison: what differs between DuckDB and PostgreSQL serving (search does not touch the warehouse).
# (method, path, JSON body); {town} is the first town the API lists.
ENGINE_SCENARIOS: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "table page": ("GET", SCENARIOS["table page"], None),
    "filtered CSV export": ("GET", SCENARIOS["filtered CSV export"], None),
    "town dossier": ("GET", "/api/towns/{town}", None),
    "SQL aggregate": ("POST", "/api/sql", {"sql": "SELECT town_code, level, count(*) AS n, sum(overdue_days) AS days "
                                                  "FROM hidden_danger_register GROUP BY town_code, level "
                                                  "ORDER BY n DESC"}),
}
CONCURRENCY = (8, 32)
WORKERS = 2
SERVER_SHAPE = {
    True: "uvicorn workers sharing one index; its vectors on the Chroma server `hub serve` starts, `chroma run` on "
    "loopback",
    False: "one uvicorn process, the index's vectors in embedded Chroma: the set-up of issue 5's and issue 14's "
    "baselines",
}
def warm_up(base: str, queries: list[str]) -> None:
    """Both workers load the model and open the index: concurrent first requests, long timeout."""

    async def go() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            for path in SCENARIOS.values():
                urls = [path.format(q=quote(q)) if "{q}" in path else path for q in queries[:8]]
                # failures here are not measured; the rows below count their errors
                await asyncio.gather(*(client.get(url) for url in urls), return_exceptions=True)

    asyncio.run(go())


def hit_rate(result: Result) -> str:
    """The query-vector cache's hit rate as the API reported it (X-Query-Cache), or a dash for other requests."""
    seen = result.cache_hits + result.cache_misses
    return f"{result.cache_hits / seen:.0%}" if seen else "–"


def report(results: list[Result], cached: list[Result], load_before: float, seconds: float, queries: int,
           workers: int) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## API (`bench/api.py --workers {workers}`)",
        "",
        f"Run {now} on {machine()}; load average at start {load_before:.1f}. Server: `hub serve --demo "
        f"--workers {workers}` ({SERVER_SHAPE[workers > 1]}) on the `hub sample --scale small` snapshot and the "
        f"sample documents' index; client: httpx async from another process over loopback, {seconds:.0f} s per "
        "row, keep-alive. "
        f"Search rows cycle through the {queries} distinct labelled queries (`bench/kb_queries.jsonl`, "
        "`bench/demo_queries.jsonl`) with the query-vector cache off (`HUB_KB_QUERY_CACHE=0`): every hybrid "
        "search embeds its query; the count cache is off too (`HUB_API_COUNT_CACHE=0`): every table page counts "
        "its rows. The per-key rate limit is off (`HUB_API_RATE_LIMIT=0`): one demo key sending hundreds of "
        "requests a second is a load test, not a client to slow down.",
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
        "With the caches on (default sizes), on a freshly started server: the table page repeats one filter, "
        "so after its first request its count comes from the snapshot's count cache (its rows are still "
        "queried); the same cycling hybrid searches hit the query-vector cache only once a worker has seen "
        "the query (each worker has its own):",
        "",
        "| request | clients | requests | errors | cache hit rate | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cached:
        lines.append(
            f"| {r.scenario} | {r.clients} | {r.requests} | {r.errors} | {hit_rate(r)} | {r.rps:.0f} | "
            f"{r.pct(50):.1f} | {r.pct(95):.1f} | {r.pct(99):.1f} |"
        )
    lines += [
        "",
        "- Requests: " + "; ".join(f"*{name}* `{path}`" for name, path in SCENARIOS.items()) + ".",
        "- Goals: issue 5, p95 under 50 ms for table pages and searches at 8 clients, no errors at 32; issue 15, "
        "hybrid search p95 ≤ 50 ms at 8 clients and zero errors at 32 with `--workers 2` and the Chroma server.",
        "- The machine is shared with other jobs while this runs (see the load average); client, the workers "
        "and the Chroma server share its cores.",
    ]
    return "\n".join(lines)


def publish_on_server(data_dir: Path, url: str) -> Path:
    """``hub run --warehouse`` of the sample's landing folder into a fresh data directory of its own (the database
    is new on every run of this script)."""
    server_dir = data_dir / "on_postgres"
    shutil.rmtree(server_dir, ignore_errors=True)
    print("publishing the sample on PostgreSQL: hub run --warehouse …", flush=True)
    subprocess.run([*HUB, "run", "--data-dir", str(server_dir), "--landing", str(data_dir / "landing"),
                    "--warehouse", url], env=hub_env(server_dir), check=True)
    return server_dir


def engine_rows(base: str, seconds: float) -> dict[tuple[str, int], Result]:
    town = httpx.get(f"{base}/api/towns", timeout=60).json()["towns"][0]["town_code"]
    rows = {}
    for name, (_method, path, body) in ENGINE_SCENARIOS.items():
        asyncio.run(load(base, path.format(town=town), 2, 1, [], body))  # warm-up, not measured
        for clients in CONCURRENCY:
            result = asyncio.run(load(base, path.format(town=town), clients, seconds, [], body))
            result.scenario = name
            rows[(name, clients)] = result
            print(f"{base} {name:20} {clients:3} clients p95 {result.pct(95):7.1f} ms errors {result.errors} "
                  f"{result.first_error}", flush=True)
    return rows


def compare_engines(data_dir: Path, warehouse: str, seconds: float) -> str:
    load_before = load_average()
    with server_databases(warehouse) as new_database:
        assert new_database is not None
        url = new_database("hub_bench_api")
        server_dir = publish_on_server(data_dir, url)
        with hub_server(data_dir, "--demo", stop_timeout=30) as base:
            on_duckdb = engine_rows(base, seconds)
        with hub_server(server_dir, "--demo", "--warehouse", url, stop_timeout=30) as base:
            on_server = engine_rows(base, seconds)
    return engines_report(on_duckdb, on_server, load_before, seconds)


def engines_report(on_duckdb: dict[tuple[str, int], Result], on_server: dict[tuple[str, int], Result],
                   load_before: float, seconds: float) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## API on DuckDB and on PostgreSQL (`bench/api.py --warehouse`)",
        "",
        f"Run {now} on {machine()}; load average at start {load_before:.1f}. The `hub sample --scale small` data "
        "published twice, by `hub run` (DuckDB snapshot) and by `hub run --warehouse` (a PostgreSQL server on "
        "the same machine, throw-away, fsync off); each served by one `hub serve --demo` process (with "
        "`--warehouse`: tables, towns and exports from the local replica of the server's version, SQL on the "
        "server as the read-only role of the caller (demo mode: admin, the full role)). Client: httpx async "
        f"from another process over loopback, {seconds:.0f} s per row, keep-alive.",
        "",
        "| request | clients | DuckDB req/s | DuckDB p50 ms | DuckDB p95 ms | PostgreSQL req/s | PostgreSQL p50 ms "
        "| PostgreSQL p95 ms | errors (DuckDB / PostgreSQL) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, duck in on_duckdb.items():
        pg = on_server[key]
        lines.append(
            f"| {key[0]} | {key[1]} | {duck.rps:.0f} | {duck.pct(50):.1f} | {duck.pct(95):.1f} | {pg.rps:.0f} | "
            f"{pg.pct(50):.1f} | {pg.pct(95):.1f} | {duck.errors} / {pg.errors} |"
        )
    lines += [
        "",
        "- Requests: " + "; ".join(
            f"*{name}* `{method} {path}`" + (f" `{body['sql']}`" if body else "")
            for name, (method, path, body) in ENGINE_SCENARIOS.items()
        ) + ".",
        "- Client, API and PostgreSQL share the machine's cores; see the load average.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="data directory (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each measurement")
    parser.add_argument("--warehouse", default=None, metavar="auto|URL",
                        help="compare the engines: DuckDB and PostgreSQL (auto: a throw-away server, or a server URL "
                        "whose user may create databases)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help="API worker processes (1: one process, embedded Chroma; its own section of the results)")
    args = parser.parse_args()
    queries = labelled_queries()
    with data_dir_or_temp(args.data_dir, "bench-api-") as data_dir:
        prepare_sample(data_dir)
        if args.warehouse:
            text = compare_engines(data_dir, args.warehouse, args.seconds)
            if not args.no_write:
                write_section("api_engines", text)
            print(text)
            return
        load_before = load_average()
        results: list[Result] = []
        cached: list[Result] = []
        workers = ("--workers", str(args.workers))
        caches_off = {"HUB_KB_QUERY_CACHE": "0", "HUB_API_COUNT_CACHE": "0"}
        with hub_server(data_dir, "--demo", *workers, stop_timeout=30, **caches_off) as base:
            warm_up(base, queries)
            for name, path in SCENARIOS.items():
                for clients in CONCURRENCY:
                    result = asyncio.run(load(base, path, clients, args.seconds, queries))
                    result.scenario = name
                    results.append(result)
                    print(
                        f"{name:22} {clients:3} clients  {result.rps:7.0f} req/s  p50 {result.pct(50):7.1f}  "
                        f"p95 {result.pct(95):7.1f}  p99 {result.pct(99):7.1f} ms  errors {result.errors}",
                        flush=True,
                    )
        with hub_server(data_dir, "--demo", *workers, stop_timeout=30) as base:
            warm_up(base, ["预热"])
            for name in ("table page", "search (hybrid)"):
                for clients in CONCURRENCY:
                    result = asyncio.run(load(base, SCENARIOS[name], clients, args.seconds, queries))
                    result.scenario = f"{name}, caches on"
                    cached.append(result)
                    print(f"{result.scenario:28} {clients:3} clients p95 {result.pct(95):7.1f} ms "
                          f"hit rate {hit_rate(result)}", flush=True)
    text = report(results, cached, load_before, args.seconds, len(queries), args.workers)
    if not args.no_write:
        write_section("api" if args.workers == WORKERS else f"api_workers_{args.workers}", text)
    print(text)


if __name__ == "__main__":
    main()
