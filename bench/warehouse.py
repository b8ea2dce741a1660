"""Warehouse benchmark: the same ingest, dbt build and publish on DuckDB and on a PostgreSQL server.

Run from the repository root: ``.venv/bin/python bench/warehouse.py [--scale medium] [--warehouse URL]``.
Without ``--warehouse`` it starts a throw-away PostgreSQL server the way the tests do (Debian's binaries,
``initdb`` in a temporary directory, a random loopback port, fsync off: a lower bound for a server's cost).
For the scale it generates the sample data (seed 7, fixed as-of date), ingests it once into a DuckDB build
database (validation and quarantine stay in DuckDB on both engines), then measures

- **DuckDB**: ``dbt build`` (all models, data tests and unit tests) on a copy of that database, then the
  DuckDB publish (a new serving snapshot file);
- **PostgreSQL**: the bulk copy of the raw layer to the server (``sync_raw``), ``dbt build`` with the target
  ``postgres``, then the server publish (version schema, ``serving`` / ``serving_masked`` views).

This is not ``hub run --warehouse``: the Dagster run, the quality report and start-up costs are left out on both
sides, so the two columns compare the engines on the same work. Writes the figures into docs/benchmarks.md
between ``<!-- bench:warehouse -->`` and ``<!-- /bench:warehouse -->``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
from common import ROOT, SHARED_MACHINE_NOTE, TELEMETRY_OFF, bench_parser, load_average, machine, write_section

AS_OF = date(2025, 6, 30)


def dbt_build(env: dict[str, str], work: Path) -> tuple[float, str]:
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--project-dir", str(ROOT / "dbt_project"),
               "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(work / "target"),
               "--log-path", str(work / "logs"), "--vars", json.dumps({"as_of": AS_OF.isoformat()})]
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-4000:])
    done = next(line for line in proc.stdout.splitlines() if "Done. PASS=" in line)
    return elapsed, done.split("Done. ", 1)[1].strip()


def timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.1f}s", flush=True)
    return elapsed, result


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--warehouse", help="postgresql://… of an empty database (default: a throw-away server)")
    args = parser.parse_args()

    from hub.core.warehouse import Warehouse
    from hub.sample.generator import generate
    from orchestration.ingest.load import ingest_landing
    from orchestration.publish import publish_snapshot, published_models
    from orchestration.warehouse.postgres import sync_raw
    from orchestration.warehouse.serving import publish_on_server

    sys.path.insert(0, str(ROOT / "tests"))
    from api.masking import MASK_RULES

    started_at = datetime.now().strftime("%Y-%m-%d %H:%M")
    work = Path(tempfile.mkdtemp(prefix="hub-bench-warehouse-"))
    server = None
    try:
        url = args.warehouse
        if not url:
            from pg_server import start_server

            base = Path(tempfile.mkdtemp(prefix="hub-bench-pg-"))
            os.chmod(base, 0o755)
            server = start_server(base)
            url = server.new_database("hub_bench")
        landing = work / "landing"
        print(f"[{args.scale}] generating sample data ...", flush=True)
        generate(landing, seed=7, scale=args.scale, as_of=AS_OF)
        events = sum(1 for p in (landing / "four_platforms").glob("events_*.jsonl") for _ in p.open(encoding="utf-8"))
        ingest_db = work / "ingest.duckdb"
        ingest_s, _ = timed("ingest (DuckDB, both engines)", ingest_landing, ingest_db, landing)

        duck_db = work / "duck" / "hub.duckdb"
        duck_db.parent.mkdir()
        shutil.copy(ingest_db, duck_db)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DBT_ENV_SECRET_"))}
        env.update(TELEMETRY_OFF)
        duck_env = {**env, "HUB_BUILD_DB": str(duck_db), **Warehouse.from_setting("duckdb").dbt_env()}
        duck_dbt_s, duck_done = dbt_build(duck_env, work / "duck")
        print(f"  dbt build (DuckDB): {duck_dbt_s:.1f}s {duck_done}", flush=True)
        manifest = json.loads((work / "duck" / "target" / "manifest.json").read_text(encoding="utf-8"))
        models = published_models(manifest)
        duck_publish_s, _ = timed("publish (DuckDB)", publish_snapshot, duck_db, work / "duck" / "serving", models,
                                  as_of=AS_OF)

        with duckdb.connect(str(ingest_db), read_only=True) as con:
            sync_s, synced = timed("raw copy to PostgreSQL", sync_raw, con, url)
        pg_env = {**env, **Warehouse.from_setting(url).dbt_env()}
        pg_dbt_s, pg_done = dbt_build(pg_env, work / "pg")
        print(f"  dbt build (PostgreSQL): {pg_dbt_s:.1f}s {pg_done}", flush=True)
        masks = {name: rule.kind.value for name, rule in MASK_RULES.items()}
        pg_publish_s, _ = timed("publish (PostgreSQL)", publish_on_server, url, models, masks, as_of=AS_OF)
    finally:
        if server is not None:
            from pg_server import stop_server

            stop_server(server)
            shutil.rmtree(server.data_dir.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    duck_total = duck_dbt_s + duck_publish_s
    pg_total = sync_s + pg_dbt_s + pg_publish_s
    body = "\n".join([
        "## Warehouse: DuckDB and PostgreSQL on the same work",
        "",
        f"Measured {started_at} by `bench/warehouse.py` on {machine()}, DuckDB {duckdb.__version__}, "
        f"PostgreSQL {'given by --warehouse' if args.warehouse else 'throw-away server (fsync off)'}; load average "
        f"at start {load_average():.1f}. Sample data seed 7, scale {args.scale} ({events:,} event lines), as of "
        f"{AS_OF}. Ingest (validation in DuckDB, the same for both engines): {ingest_s:.1f} s; "
        f"{synced.total_rows:,} raw rows copied to the server.",
        "",
        "| step | DuckDB | PostgreSQL |",
        "|---|---|---|",
        f"| raw copy to the server (ADBC, binary COPY) | – | {sync_s:.1f} s |",
        f"| `dbt build` (models, data tests, unit tests) | {duck_dbt_s:.1f} s | {pg_dbt_s:.1f} s |",
        f"| publish | {duck_publish_s:.1f} s | {pg_publish_s:.1f} s |",
        f"| **total after ingest** | **{duck_total:.1f} s** | **{pg_total:.1f} s ({pg_total / duck_total:.2f}x)** |",
        "",
        f"- dbt on DuckDB: {duck_done}; on PostgreSQL: {pg_done}.",
        "- Not `hub run --warehouse`: Dagster, the quality report and start-up are left out on both sides.",
        SHARED_MACHINE_NOTE,
    ])
    print(body)
    if not args.no_write:
        write_section("warehouse", body)


if __name__ == "__main__":
    main()
