"""Pipeline benchmark: end-to-end ``hub run`` per scale, next to the same SQL run directly in DuckDB.

Run from the repository root: ``.venv/bin/python bench/pipeline.py`` (small and medium, ~15 minutes on
2 cores) or ``--large`` to add the 1M-event scale. For each scale it generates the sample data (seed 7,
fixed as-of date), then measures

- **full run**: ``hub run --landing ... --as-of ...`` as a subprocess on an empty data directory
  (ingest, dbt build with all tests, quality report, publish), wall time, with the Dagster step times;
- **floor**: the same SQL without dbt and Dagster: the build database of that run is copied, its
  dbt-built relations dropped, and the compiled SQL that run executed (from its ``run_results.json``:
  every model as CREATE TABLE/VIEW AS, every data test as a query) is run in the same order with the
  DuckDB Python API; ingest is counted at the hub's own ingest step times, publish likewise;
- **incremental run**: ``hub sample add-day`` (one more day of events), then ``hub run`` again with the
  next as-of date on the same data directory;
- **run with nothing new**: ``hub run`` once more, same date, no new file: what any run costs however
  little it has to do (Python, Dagster, dbt start-up and parse, quality report, publish).

``--warehouse auto`` (a throw-away PostgreSQL server started the way the tests start one) or ``--warehouse
postgresql://…`` (a server whose user may create databases: one per scale) adds the same three runs with
``hub run --warehouse`` on the same landing folder, each on a fresh data directory and database, next to the
DuckDB runs of the same scale.

Writes the figures into docs/benchmarks.md between ``<!-- bench:pipeline -->`` and ``<!-- /bench:pipeline -->``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from common import (
    BENCHMARKS_MD,
    HUB,
    SHARED_MACHINE_NOTE,
    bench_parser,
    hub_env,
    load_average,
    machine,
    server_databases,
    write_section,
)

AS_OF = date(2025, 6, 30)


@dataclass
class RunTiming:
    wall_s: float
    steps: dict[str, float] = field(default_factory=dict)  # Dagster step key → seconds
    run_id: str = ""
    dbt_summary: str = ""

    def step_sum(self, prefix: str) -> float:
        return sum(s for k, s in self.steps.items() if k.startswith(prefix))


@dataclass
class ServerRuns:
    full: RunTiming
    incremental: RunTiming
    nothing_new: RunTiming


@dataclass
class ScaleResult:
    scale: str
    events: int
    full: RunTiming
    floor_sql_s: float
    floor_statements: int
    incremental: RunTiming
    new_events: int
    nothing_new: RunTiming
    server: ServerRuns | None = None


def step_times(data_dir: Path, since: float) -> tuple[str, dict[str, float]]:
    """Step durations of the Dagster run one ``hub run`` made (none when nothing was stale) and its id."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(data_dir / "dagster_home"))
    try:
        runs = [r for r in instance.get_runs(limit=5) if (instance.get_run_stats(r.run_id).start_time or 0) >= since]
        steps: dict[str, float] = {}
        for run in runs:
            for s in instance.get_run_step_stats(run.run_id):
                if s.start_time:
                    steps[s.step_key] = (s.end_time or s.start_time) - s.start_time
        return (runs[0].run_id if runs else ""), steps  # newest first
    finally:
        instance.dispose()


def hub_run(landing: Path, data_dir: Path, as_of: date, warehouse: str | None = None) -> RunTiming:
    env = hub_env(data_dir)
    started, started_at = time.perf_counter(), time.time()
    proc = subprocess.run([*HUB, "run", "--landing", str(landing), "--data-dir", str(data_dir), "--as-of",
                           as_of.isoformat(), *(["--warehouse", warehouse] if warehouse else [])],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise SystemExit(f"hub run failed ({proc.returncode}):\n{tail}")
    run_id, steps = step_times(data_dir, started_at)
    dbt_line = next((x for x in proc.stdout.splitlines() if x.startswith("dbt:")), "")
    return RunTiming(wall_s=wall, steps=steps, run_id=run_id, dbt_summary=dbt_line.removeprefix("dbt: "))


def floor_sql(data_dir: Path, run_id: str, work: Path) -> tuple[float, int]:
    """Replay the run's compiled dbt SQL directly in DuckDB on a copy of its build database."""
    target = data_dir / "dbt" / run_id[:8]
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    nodes = manifest["nodes"]
    floor_dir = work / "floor"
    shutil.rmtree(floor_dir, ignore_errors=True)
    floor_dir.mkdir()
    db = floor_dir / "hub.duckdb"  # same file name, so the catalog name in the compiled SQL matches
    shutil.copyfile(data_dir / "warehouse" / "hub.duckdb", db)
    statements: list[str] = []
    models: list[tuple[str, str]] = []
    for result in results:
        unique_id, code = result["unique_id"], result.get("compiled_code")
        node = nodes.get(unique_id, {})
        if not code:
            continue
        if unique_id.startswith("model."):
            kind = "VIEW" if node.get("config", {}).get("materialized") == "view" else "TABLE"
            relation = result.get("relation_name") or node.get("relation_name")
            models.append((relation, kind))
            statements.append(f"CREATE OR REPLACE {kind} {relation} AS {code}")
        elif unique_id.startswith("test."):
            statements.append(f"SELECT count(*) FROM ({code}) AS dbt_test")
    con = duckdb.connect(str(db))
    try:
        con.execute("SET TimeZone = 'Asia/Shanghai'")  # as the dbt profile sets it
        for relation, kind in reversed(models):  # dependants first
            con.execute(f"DROP {kind} IF EXISTS {relation}")
        con.execute("CHECKPOINT")
        started = time.perf_counter()
        for statement in statements:
            con.execute(statement).fetchall()
        con.execute("CHECKPOINT")
        elapsed = time.perf_counter() - started
    finally:
        con.close()
    return elapsed, len(statements)


def count_events(landing: Path) -> int:
    folder = landing / "four_platforms"
    return sum(1 for p in folder.glob("events_*.jsonl") for _ in p.open(encoding="utf-8"))


def bench_scale(scale: str, seed: int, work: Path, new_database: Callable[[str], str] | None = None) -> ScaleResult:
    """``new_database``: name → URL of a fresh, empty PostgreSQL database, to run the scale on a server too."""
    from hub.sample.add_day import add_day
    from hub.sample.generator import generate

    landing = work / scale / "landing"
    data_dir = work / scale / "data"
    server_dir = work / scale / "data_server"
    url = new_database(f"hub_bench_{scale}") if new_database else None
    print(f"[{scale}] generating sample data ...", flush=True)
    generate(landing, seed=seed, scale=scale, as_of=AS_OF)
    events = count_events(landing)
    print(f"[{scale}] full hub run over {events:,} event lines ...", flush=True)
    full = hub_run(landing, data_dir, AS_OF)
    print(f"[{scale}] full run {full.wall_s:.1f}s; floor ...", flush=True)
    floor_s, statements = floor_sql(data_dir, full.run_id, work / scale)
    print(f"[{scale}] floor {floor_s:.1f}s for {statements} statements", flush=True)
    server_full = hub_run(landing, server_dir, AS_OF, url) if url else None
    if server_full:
        print(f"[{scale}] full run on the server {server_full.wall_s:.1f}s", flush=True)
    print(f"[{scale}] add-day + incremental run ...", flush=True)
    before = count_events(landing)
    add_day(landing, seed=seed, scale=scale)
    new_events = count_events(landing) - before
    next_day = AS_OF + timedelta(days=1)
    incremental = hub_run(landing, data_dir, next_day)
    print(f"[{scale}] incremental run {incremental.wall_s:.1f}s; once more with nothing new ...", flush=True)
    nothing_new = hub_run(landing, data_dir, next_day)
    server = None
    if url and server_full:
        server = ServerRuns(server_full, hub_run(landing, server_dir, next_day, url),
                            hub_run(landing, server_dir, next_day, url))
        print(f"[{scale}] on the server: incremental {server.incremental.wall_s:.1f}s, nothing new "
              f"{server.nothing_new.wall_s:.1f}s", flush=True)
    shutil.rmtree(work / scale, ignore_errors=True)
    return ScaleResult(scale, events, full, floor_s, statements, incremental, new_events, nothing_new, server)


def step_split(run: RunTiming) -> str:
    """ingest / dbt / quality / publish step seconds, and the rest of the wall time (start-up, Dagster)."""
    ingest, dbt = run.step_sum("ingest_"), run.steps.get("hub_dbt", 0.0)
    quality, publish = run.steps.get("quality_report", 0.0), run.steps.get("serving_snapshot", 0.0)
    rest = run.wall_s - ingest - dbt - quality - publish
    return f"{ingest:.1f} / {dbt:.1f} / {quality:.1f} / {publish:.1f} / {rest:.1f}"


def report(results: list[ScaleResult], started: str) -> str:
    with_server = any(r.server for r in results)
    lines = [
        "## Pipeline on DuckDB and on PostgreSQL: `hub run --warehouse`" if with_server
        else "## Pipeline: `hub run` end to end",
        "",
        f"Measured {started} by `bench/pipeline.py` on {machine()}, DuckDB {duckdb.__version__}; load average at "
        f"start {load_average():.1f}. Sample data seed 7, as of {AS_OF}; "
        "`hub run` as a subprocess on an empty data directory (no KB documents in the landing folder).",
        "",
        "| scale | event lines | full run (s) | ingest steps (s) | dbt build step (s) | quality (s) | publish (s) | "
        "floor: same SQL in DuckDB (s) | ingest + floor + publish (s) | full ÷ that | incremental run (s) | "
        "incremental ÷ full | run with nothing new (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ingest = r.full.step_sum("ingest_")
        dbt = r.full.steps.get("hub_dbt", 0.0)
        quality = r.full.steps.get("quality_report", 0.0)
        publish = r.full.steps.get("serving_snapshot", 0.0)
        reference = ingest + r.floor_sql_s + publish
        lines.append(
            f"| {r.scale} | {r.events:,} | {r.full.wall_s:.1f} | {ingest:.1f} | {dbt:.1f} | {quality:.1f} | "
            f"{publish:.1f} | {r.floor_sql_s:.1f} ({r.floor_statements} statements) | {reference:.1f} | "
            f"{r.full.wall_s / reference:.2f}× | {r.incremental.wall_s:.1f} (+{r.new_events:,} events) | "
            f"**{r.incremental.wall_s / r.full.wall_s:.0%}** | {r.nothing_new.wall_s:.1f} |"
        )
    lines += [
        "",
        "Where the incremental and the nothing-new runs spend their time — ingest / dbt build / quality / publish "
        "steps / the rest (Python start-up, loading the Definitions, asking Dagster what is stale, creating the "
        "Dagster run and storing its events), seconds:",
        "",
        "| scale | incremental run | run with nothing new |",
        "|---|---|---|",
        *[f"| {r.scale} | {step_split(r.incremental)} | {step_split(r.nothing_new)} |" for r in results],
        "",
        "- *full run*: wall time of `hub run` including Python start-up, loading the Definitions, the one in-process "
        "Dagster run (ingest of every source, `dbt build` of every seed, model and data test — dbt unit tests run in "
        "CI, not here — the quality report with its asset checks, publish of the serving snapshot) and the printed "
        "summary.",
        "- *floor*: the compiled SQL of that very run (from its `run_results.json`: each model as `CREATE OR "
        "REPLACE TABLE/VIEW ... AS`, each data test as a query) replayed in order with the DuckDB Python API on a "
        "copy of the run's build database with the dbt relations dropped. No dbt, no Dagster, no parse, no "
        "unit tests. *ingest + floor + publish* adds the hub's own ingest and publish step times, i.e. the run "
        "with orchestration and dbt costing nothing.",
        "- *incremental run*: after `hub sample add-day`, `hub run` on the same data directory with the next "
        "as-of date: only four_platforms is ingested (the other sources have no file the load log does not know); "
        "dbt rebuilds the models Dagster finds stale (downstream of four_platforms and of the as-of models), the "
        "event models and `int_events_as_of` incrementally; the new date is read from the warehouse, so dbt "
        "re-parses only what changed (nothing); quality report and publish run in full.",
        "- *run with nothing new*: `hub run` once more right after, same date, no new file: Dagster's records say "
        "nothing is stale, so no run is started: the cost of loading the Definitions and asking.",
        "",
        "dbt per run: " + "; ".join(f"{r.scale} full: {r.full.dbt_summary}; {r.scale} incremental: "
                                     f"{r.incremental.dbt_summary}" for r in results),
        *server_report([r for r in results if r.server]),
        SHARED_MACHINE_NOTE,
    ]
    return "\n".join(lines)


def server_report(results: list[ScaleResult]) -> list[str]:
    """The same runs with ``hub run --warehouse`` (PostgreSQL), beside the DuckDB runs of the same scale."""
    if not results:
        return []
    lines = [
        "",
        "The same landing folders with `hub run --warehouse postgresql://…` (a fresh data directory and database "
        "per scale; ingest validated in DuckDB and copied to the server, dbt with the target `postgres`, the server "
        "publish). Steps: ingest / dbt build / quality / publish / the rest, seconds:",
        "",
        "| scale | full run on PostgreSQL (s) | ÷ DuckDB full run | steps | incremental run (s) | ÷ DuckDB "
        "incremental | steps | run with nothing new (s) |",
        "|---|---:|---:|---|---:|---:|---|---:|",
    ]
    for r in results:
        assert r.server is not None
        lines.append(
            f"| {r.scale} | {r.server.full.wall_s:.1f} | {r.server.full.wall_s / r.full.wall_s:.2f}× | "
            f"{step_split(r.server.full)} | {r.server.incremental.wall_s:.1f} | "
            f"{r.server.incremental.wall_s / r.incremental.wall_s:.2f}× | {step_split(r.server.incremental)} | "
            f"{r.server.nothing_new.wall_s:.1f} |"
        )
    lines += ["", "dbt on PostgreSQL: " + "; ".join(
        f"{r.scale} full: {r.server.full.dbt_summary}; {r.scale} incremental: {r.server.incremental.dbt_summary}"
        for r in results if r.server)]
    return lines


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--scale", action="append", choices=("small", "medium", "large"),
                        help="scales to run (default: small and medium)")
    parser.add_argument("--large", action="store_true", help="add the large scale (1M events)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warehouse", default=None, metavar="auto|URL",
                        help="also run each scale on PostgreSQL: auto (a throw-away server) or a server URL")
    args = parser.parse_args()
    scales = args.scale or ["small", "medium"]
    if args.large and "large" not in scales:
        scales.append("large")
    started = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    work = Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    try:
        with server_databases(args.warehouse) as new_database:
            results = [bench_scale(scale, args.seed, work, new_database) for scale in scales]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    section = report(results, started)
    print(section)
    if not args.no_write:  # a run with the server has its own section, so it never replaces the DuckDB-only one
        write_section("pipeline_warehouse" if args.warehouse else "pipeline", section)
        print(f"written to {BENCHMARKS_MD}")


if __name__ == "__main__":
    main()
