"""Fixtures of the API tests: a published serving snapshot, a live ``hub serve`` over HTTP, keys per role.

The session's snapshot is built by the real pipeline (``hub sample --scale small`` + ``hub run``) and
its search index by the kb library from sample documents. The snapshot-switching tests need
snapshots they can tell apart and publish quickly: ``publish_fixture_snapshot`` writes the shared
views (docs/sources.md names and columns, the 27 towns) into a build database and publishes them with
the real ``orchestration.publish.publish_snapshot``; ``variant`` changes the row counts.
"""

from __future__ import annotations

import csv
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from hub.core.paths import SEEDS_DIR, HubPaths
from orchestration.publish import ColumnDoc, PublishedModel, publish_snapshot

HUB = [sys.executable, "-m", "hub.cli.main"]
AS_OF = date(2026, 6, 30)

TABLE_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    "hidden_danger_register": (
        "隐患台账（各来源隐患与风险点统一登记）",
        {"danger_id": "隐患编号", "town_code": "镇街代码", "level": "隐患等级", "is_overdue": "是否逾期"},
    ),
    "town_readiness": ("六有达标情况", {"town_code": "镇街代码", "readiness_score": "六有得分 0-6"}),
    "grid_coverage": ("网格覆盖", {"village_code": "村社代码", "workers_in_post": "在岗网格员"}),
    "rescue_capacity": ("救援力量", {"town_code": "镇街代码", "headcount": "人数"}),
    "event_handling": ("事件处置（部门×月）", {"dept": "部门", "month": "月份"}),
    "responsibility_matrix": ("责任清单矩阵", {"domain": "领域", "lead_units": "牵头单位"}),
    "responsibility_chain_breaks": ("责任链断点", {"domain": "领域"}),
    "town_dossier": ("镇街档案", {"town_code": "镇街代码"}),
    "rescue_teams": ("救援队伍明细", {"team_id": "队伍编号"}),
    "emergency_plans": ("预案明细", {"plan_id": "预案编号"}),
    "town_events": ("镇街事件明细", {"event_id": "事件编号"}),
}

CATEGORIES = ("防汛防台", "地质灾害", "森林防火", "危化品", "供水安全", "城市内涝")
DEPTS = ("区林水局", "区城管局", "区环境集团", "区应急管理局", "区住建局")
SOURCES = ("registry", "utility", "water", "urban")


def towns() -> list[tuple[str, str]]:
    with (SEEDS_DIR / "towns.csv").open(encoding="utf-8") as fh:
        return [(r["town_code"], r["town_name"]) for r in csv.DictReader(fh)]


def write_build_db(path: Path, variant: int) -> list[PublishedModel]:
    """A build database with one table per shared view, in schema ``marts``; returns the publish list."""
    rnd = random.Random(1000 + variant)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    all_towns = towns()
    dangers = []
    n_dangers = 400 + 37 * variant
    for i in range(n_dangers):
        code, name = all_towns[i % len(all_towns)]
        deadline = AS_OF + timedelta(days=rnd.randint(-200, 120))
        status = rnd.choice(("待整改", "整改中", "待验收", "已销号"))
        closed = status == "已销号"
        overdue = (not closed) and deadline < AS_OF
        dangers.append((
            f"YH{variant}-{i:05d}", rnd.choice(SOURCES), code, name, rnd.choice(("一般", "一般", "重大")),
            rnd.choice(CATEGORIES), rnd.choice(DEPTS) if rnd.random() > 0.05 else None, deadline, status, closed,
            overdue, (AS_OF - deadline).days if overdue else 0, rnd.randint(1, 400), rnd.random() < 0.2,
        ))
    con.execute(
        "CREATE TABLE marts.hidden_danger_register (danger_id VARCHAR, source_system VARCHAR, town_code VARCHAR, "
        "town_name VARCHAR, level VARCHAR, category VARCHAR, owner_dept VARCHAR, deadline DATE, status VARCHAR, "
        "is_closed BOOLEAN, is_overdue BOOLEAN, overdue_days INTEGER, days_open INTEGER, is_supervised BOOLEAN)"
    )
    con.executemany("INSERT INTO marts.hidden_danger_register VALUES (" + ",".join("?" * 14) + ")", dangers)

    readiness = []
    for code, name in all_towns:
        items = [rnd.random() < 0.7 for _ in range(6)]
        readiness.append((code, name, *items, sum(items)))
    con.execute(
        "CREATE TABLE marts.town_readiness (town_code VARCHAR, town_name VARCHAR, has_leadership BOOLEAN, "
        "has_mechanism BOOLEAN, has_plan BOOLEAN, has_team BOOLEAN, has_supplies BOOLEAN, has_drill BOOLEAN, "
        "readiness_score INTEGER)"
    )
    con.executemany("INSERT INTO marts.town_readiness VALUES (?,?,?,?,?,?,?,?,?)", readiness)

    grid = []
    for code, name in all_towns:
        for v in range(1, 5):
            workers = rnd.choice((0, 1, 2, 3))
            grid.append((f"{code}{v:03d}", f"{name[:2]}{'一二三四'[v - 1]}村", code, workers, workers == 0))
    con.execute(
        "CREATE TABLE marts.grid_coverage (village_code VARCHAR, village_name VARCHAR, town_code VARCHAR, "
        "workers_in_post INTEGER, is_uncovered BOOLEAN)"
    )
    con.executemany("INSERT INTO marts.grid_coverage VALUES (?,?,?,?,?)", grid)

    teams = []
    for i, (code, name) in enumerate(all_towns):
        for t in range(rnd.randint(1, 3)):
            teams.append((
                f"DW{i:02d}{t}", f"{name}{('应急救援队', '民兵抢险队', '蓝天救援队')[t]}",
                rnd.choice(("综合性", "专业", "社会", "微型消防站")), code, rnd.randint(5, 60),
                rnd.choice(("水上救援", "抢险排涝", "山地搜救")), rnd.random() < 0.8, rnd.random() < 0.7,
            ))
    con.execute(
        "CREATE TABLE marts.rescue_teams (team_id VARCHAR, team_name VARCHAR, team_type VARCHAR, town_code VARCHAR, "
        "headcount INTEGER, specialty VARCHAR, is_qualified BOOLEAN, has_agreement BOOLEAN)"
    )
    con.executemany("INSERT INTO marts.rescue_teams VALUES (?,?,?,?,?,?,?,?)", teams)
    con.execute(
        "CREATE TABLE marts.rescue_capacity AS SELECT town_code, count(*)::INTEGER AS teams, "
        "count(*) FILTER (WHERE team_type = '社会')::INTEGER AS social_teams, sum(headcount)::INTEGER AS headcount, "
        "2 AS usable_boats, 3 AS usable_pumps, count(*) FILTER (WHERE NOT is_qualified)::INTEGER AS teams_unqualified, "
        "count(*) FILTER (WHERE NOT has_agreement)::INTEGER AS teams_without_agreement "
        "FROM marts.rescue_teams GROUP BY town_code"
    )

    plans = [
        (f"YA{i:03d}", f"{name}防汛防台应急预案", "专项", "防汛防台", code, date(2023, 5, 1), date(2025, 4, 1),
         f"{name}防汛防台应急预案.docx")
        for i, (code, name) in enumerate(all_towns)
    ]
    con.execute(
        "CREATE TABLE marts.emergency_plans (plan_id VARCHAR, plan_name VARCHAR, plan_category VARCHAR, "
        "hazard_type VARCHAR, town_code VARCHAR, published_date DATE, revised_date DATE, file_name VARCHAR)"
    )
    con.executemany("INSERT INTO marts.emergency_plans VALUES (?,?,?,?,?,?,?,?)", plans)

    events = []
    for i in range(300):
        code, name = all_towns[rnd.randrange(len(all_towns))]
        events.append((
            f"EV{i:06d}", f"{name}{rnd.choice(('道路积水', '树木倒伏', '山体滑坡隐患', '供水中断'))}", code,
            datetime(2026, 6, 1, 8) + timedelta(hours=rnd.randint(0, 700)),
            rnd.choice(("已受理", "处置中", "已办结")), rnd.choice(("一般", "紧急", "特急")), rnd.choice(DEPTS),
        ))
    con.execute(
        "CREATE TABLE marts.town_events (event_id VARCHAR, title VARCHAR, town_code VARCHAR, report_time TIMESTAMP, "
        "status VARCHAR, urgency VARCHAR, handle_dept VARCHAR)"
    )
    con.executemany("INSERT INTO marts.town_events VALUES (?,?,?,?,?,?,?)", events)

    handling = [
        (dept, f"2026-0{m}", rnd.randint(5, 80), round(rnd.uniform(0.5, 12), 2), round(rnd.uniform(10, 200), 2),
         round(rnd.uniform(0.5, 1), 3), round(rnd.uniform(0, 0.3), 3), round(rnd.uniform(0, 0.2), 3),
         round(rnd.uniform(0.6, 1), 3))
        for dept in DEPTS for m in range(1, 7)
    ]
    con.execute(
        "CREATE TABLE marts.event_handling (dept VARCHAR, month VARCHAR, events INTEGER, "
        "median_hours_to_accept DOUBLE, median_hours_to_finish DOUBLE, on_time_rate DOUBLE, returns_per_event DOUBLE, "
        "reassignments_per_event DOUBLE, satisfied_share DOUBLE)"
    )
    con.executemany("INSERT INTO marts.event_handling VALUES (?,?,?,?,?,?,?,?,?)", handling)

    con.execute(
        "CREATE TABLE marts.responsibility_matrix (domain VARCHAR, task VARCHAR, level VARCHAR, lead_units VARCHAR[], "
        "lead_count INTEGER, has_gap BOOLEAN, has_conflict BOOLEAN)"
    )
    con.execute(
        "INSERT INTO marts.responsibility_matrix VALUES "
        "('供水安全', '风险普查', '省', ['省水利厅'], 1, false, false), "
        "('供水安全', '风险普查', '市', ['市城管局'], 1, false, false), "
        "('供水安全', '风险普查', '区', ['区环境集团'], 1, false, false), "
        "('供水安全', '风险普查', '镇', [], 0, true, false), "
        "('城市内涝', '应急处置', '区', ['区城管局', '区林水局'], 2, false, true)"
    )
    con.execute(
        "CREATE TABLE marts.responsibility_chain_breaks (domain VARCHAR, task VARCHAR, upper_level VARCHAR, "
        "upper_unit VARCHAR, lower_level VARCHAR, lower_unit VARCHAR)"
    )
    con.execute(
        "INSERT INTO marts.responsibility_chain_breaks VALUES "
        "('供水安全', '风险普查', '省', '省水利厅', '市', '市城管局'), "
        "('供水安全', '风险普查', '市', '市城管局', '区', '区环境集团')"
    )
    con.execute(
        "CREATE TABLE marts.town_dossier AS SELECT r.*, c.teams, c.headcount, "
        "(SELECT count(*) FROM marts.hidden_danger_register h "
        "WHERE h.town_code = r.town_code AND h.is_overdue)::INTEGER AS overdue_dangers, "
        "(SELECT count(*) FROM marts.grid_coverage g WHERE g.town_code = r.town_code "
        "AND g.is_uncovered)::INTEGER AS uncovered_villages FROM marts.town_readiness r "
        "LEFT JOIN marts.rescue_capacity c USING (town_code) ORDER BY r.town_code"
    )
    con.close()
    return [
        PublishedModel(f"model.hub.{name}", name, "marts", desc, tuple(ColumnDoc(c, d) for c, d in cols.items()),
                       key=ROW_KEYS.get(name, ()))
        for name, (desc, cols) in TABLE_DOCS.items()
    ]


# What the project's dbt uniqueness tests would give these tables (publish reads keys from the manifest).
ROW_KEYS = {"event_handling": ("dept", "month"), "town_readiness": ("town_code",), "town_dossier": ("town_code",)}


def publish_fixture_snapshot(data_dir: Path, variant: int = 0) -> Path:
    paths = HubPaths(data_dir)
    paths.warehouse.mkdir(parents=True, exist_ok=True)
    build = paths.warehouse / f"fixture-{variant}-{time.monotonic_ns()}.duckdb"
    models = write_build_db(build, variant)
    result = publish_snapshot(build, paths.serving, models, as_of=AS_OF)
    build.unlink()
    return result.path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    keys: dict[str, str]

    def client(self, role: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def hub_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **extra})
    return env


def start_server(data_dir: Path, *extra_args: str, env_extra: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    log = (data_dir / f"server-{port}.log").open("wb")
    process = subprocess.Popen(
        [*HUB, "serve", "--data-dir", str(data_dir), "--port", str(port), *extra_args],
        env=hub_env(data_dir, **(env_extra or {})),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / f"server-{port}.log").read_text(errors="replace"))
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return LiveServer(base, data_dir, process, {})
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"hub serve did not start on {base}")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def add_key(data_dir: Path, name: str, role: str) -> str:
    """Through the real CLI, as an operator would: the key is printed once on stdout."""
    out = subprocess.run(
        [*HUB, "keys", "add", name, "--role", role, "--data-dir", str(data_dir)],
        env=hub_env(data_dir), capture_output=True, text=True, check=True,
    )
    return out.stdout.strip().splitlines()[-1]


SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "hub" / "sample" / "kb_docs"
# A few plans and cases of the sample corpus: enough for search, filters, similar cases and the town page,
# small enough to embed in well under a minute on a CPU.
INDEXED_DOCS = (
    "plans/330109113_瓜沥镇突发事件总体应急预案.md",
    "plans/district_防汛防台专项应急预案.md",
    "plans/district_地质灾害专项应急预案.md",
    "cases/20230809_河上镇_台风青岚山区群众转移案例.md",
    "cases/20240722_益农镇_台风大棚看护人员转移案例.md",
    "cases/20210912_进化镇_强降雨诱发滑坡民房受损案例.md",
    "cases/20240614_所前镇_山体崩塌道路中断案例.md",
)


def build_fixture_index(data_dir: Path) -> Path:
    """Index the chosen sample documents with the real kb library into ``<data_dir>/kb/index``."""
    from kb.indexer import build_index
    from kb.settings import KbSettings

    docs = data_dir / "kb_docs"
    for relative in INDEXED_DOCS:
        target = docs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((SAMPLE_DOCS / relative).read_bytes())
    report = build_index(docs, HubPaths(data_dir).kb_index, KbSettings(data_dir=data_dir))
    assert report.version is not None
    return Path(report.version)


def run_real_pipeline(data_dir: Path) -> None:
    """``hub sample --scale small`` then ``hub run``: the snapshot the API serves in production, built for real."""
    env = hub_env(data_dir, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1")
    as_of = AS_OF.isoformat()
    for args in (
        ["sample", "--scale", "small", "--as-of", as_of, "--out", str(HubPaths(data_dir).landing)],
        ["run", "--data-dir", str(data_dir), "--as-of", as_of],
    ):
        done = subprocess.run([*HUB, *args], env=env, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise RuntimeError(f"hub {args[0]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


@pytest.fixture(scope="session")
def api_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("api_data")
    run_real_pipeline(data_dir)
    build_fixture_index(data_dir)
    return data_dir


@pytest.fixture(scope="session")
def api_server(api_data_dir: Path) -> Iterator[LiveServer]:
    server = start_server(api_data_dir, env_extra={"HUB_API_SQL_TIMEOUT_MS": "2000", "HUB_API_SQL_ROW_LIMIT": "1000"})
    server.keys = {role: add_key(api_data_dir, f"test-{role}", role) for role in ("analyst", "staff", "admin")}
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def snapshot_db(api_data_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published snapshot opened directly, to compute the answers the API must give."""
    from hub.core.pointer import read_current

    path = read_current(HubPaths(api_data_dir).serving)
    assert path is not None
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()
