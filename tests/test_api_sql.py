"""``POST /api/sql``: one read-only SELECT runs; everything else is refused or stopped, and nothing changes."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest
from api_fixtures import LiveServer

from hub.core.paths import HubPaths
from hub.core.pointer import read_current


def post_sql(server: LiveServer, sql: str, params: dict | None = None, role: str = "analyst"):
    with server.client(role) as c:
        return c.post("/api/sql", json={"sql": sql, **({"params": params} if params is not None else {})})


def test_select_returns_rows_and_columns(api_server: LiveServer, snapshot_db) -> None:
    sql = "select level, count(*) as n from hidden_danger_register group by level order by level"
    response = post_sql(api_server, sql)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ["level", "n"]
    assert [tuple(r) for r in body["rows"]] == snapshot_db.execute(sql).fetchall()
    assert body["truncated"] is False


def test_named_parameters_are_bound(api_server: LiveServer, snapshot_db) -> None:
    response = post_sql(
        api_server, "select count(*) from hidden_danger_register where town_code = $town", {"town": "330109113"}
    )
    expected = snapshot_db.execute(
        "select count(*) from hidden_danger_register where town_code = '330109113'"
    ).fetchone()[0]
    assert response.json()["rows"] == [[expected]]


def test_rows_beyond_the_limit_are_cut_and_flagged(api_server: LiveServer) -> None:
    body = post_sql(api_server, "select range as i from range(5000)").json()
    assert body["truncated"] is True
    assert body["row_count"] == body["row_limit"] == 1000


def test_syntax_error_names_the_position(api_server: LiveServer) -> None:
    response = post_sql(api_server, "select level,\n  count(* from hidden_danger_register")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "syntax_error"
    assert body["line"] == 2
    assert body["column"] >= 1
    assert "语法错误" in body["message_zh"] and "syntax error" in body["message_en"]


def test_unknown_column_is_a_plain_error(api_server: LiveServer) -> None:
    body = post_sql(api_server, "select no_such_column from hidden_danger_register").json()
    assert body["code"] == "sql_error"
    assert "no_such_column" in body["message_en"]


def snapshot_state(server: LiveServer) -> tuple[str, dict[str, int]]:
    """The snapshot file's hash and every table's row count, to prove refused statements changed nothing."""
    path = read_current(HubPaths(server.data_dir).serving)
    assert path is not None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    counts = {}
    with server.client("admin") as c:
        for table in c.get("/api/tables").json()["tables"]:
            counts[table["name"]] = c.get(f"/api/tables/{table['name']}", params={"_size": 1}).json()["total"]
    return digest, counts


def refused_statements(tmp: Path) -> list[str]:
    out = tmp / "out.csv"
    return [
        "DELETE FROM hidden_danger_register",
        "UPDATE town_dossier SET readiness_score = 6",
        "INSERT INTO town_readiness (town_code) VALUES ('x')",
        "DROP TABLE town_dossier",
        "CREATE TABLE stolen AS SELECT * FROM town_dossier",
        "CREATE TEMP TABLE t AS SELECT 1",
        "ALTER TABLE town_dossier ADD COLUMN x INT",
        f"ATTACH '{tmp / 'other.duckdb'}' AS other",
        "DETACH other",
        f"COPY hidden_danger_register TO '{out}'",
        f"COPY (SELECT 1) TO '{out}' (FORMAT csv)",
        f"EXPORT DATABASE '{tmp / 'export'}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_blob('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('https://example.org/x.parquet')",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET threads = 8",
        "SET enable_external_access = true",
        "RESET memory_limit",
        "PRAGMA database_list",
        "PRAGMA enable_profiling",
        "CHECKPOINT",
        "VACUUM",
        "CALL pragma_version()",
        "EXPLAIN SELECT 1",
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE town_dossier",
        "SELECT 1 -- harmless\n; DELETE FROM hidden_danger_register",
        "/* comment */ SELECT 1; /* another */ DELETE FROM town_dossier",
        "SELECT * FROM query('DELETE FROM hidden_danger_register')",
        "BEGIN TRANSACTION",
        "USE memory",
        "",
    ]


def test_refused_statements_change_nothing(api_server: LiveServer, tmp_path: Path) -> None:
    before = snapshot_state(api_server)
    for sql in refused_statements(tmp_path):
        response = post_sql(api_server, sql, role="admin")
        assert response.status_code == 400, f"{sql!r} was not refused: {response.text}"
        body = response.json()
        assert body["code"] in {"not_allowed", "syntax_error", "sql_error", "invalid_request"}, (sql, body)
        assert body["message_zh"] and body["message_en"]
        assert "Traceback" not in response.text
    assert not (tmp_path / "out.csv").exists()
    assert not (tmp_path / "export").exists()
    assert not (tmp_path / "other.duckdb").exists()
    assert snapshot_state(api_server) == before


def test_file_reading_is_refused_as_not_allowed(api_server: LiveServer) -> None:
    body = post_sql(api_server, "SELECT * FROM read_text('/etc/hostname')").json()
    assert body["code"] == "not_allowed"


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from range(100000000) a, range(100000000) b",
        "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r",
    ],
)
def test_runaway_queries_time_out_and_the_server_keeps_serving(api_server: LiveServer, sql: str) -> None:
    started = time.monotonic()
    response = post_sql(api_server, sql)
    elapsed = time.monotonic() - started
    assert response.status_code == 400
    assert response.json()["code"] in ("timeout", "sql_error")  # a recursive CTE may hit the memory limit first
    assert elapsed < 15
    assert post_sql(api_server, "select 42").json()["rows"] == [[42]]


def test_cross_join_reports_a_timeout(api_server: LiveServer) -> None:
    body = post_sql(api_server, "select count(*) from range(100000000) a, range(100000000) b").json()
    assert body["code"] == "timeout"
    assert body["timeout_ms"] == 2000
    assert "超时" in body["message_zh"]


def test_every_statement_is_audited_with_its_key(api_server: LiveServer) -> None:
    marker = f"select '{time.time_ns()}' as marker"
    post_sql(api_server, marker)
    post_sql(api_server, "DROP TABLE town_dossier", role="admin")
    log = [json.loads(line) for line in (api_server.data_dir / "api" / "audit.jsonl").read_text("utf-8").splitlines()]
    sql_entries = [e for e in log if e["action"] == "sql"]
    assert any(e["statement"] == marker and e["key"] == "test-analyst" for e in sql_entries)
    assert sql_entries[-1]["statement"] == "DROP TABLE town_dossier" and sql_entries[-1]["key"] == "test-admin"
    assert all("time" in e for e in sql_entries)


@pytest.mark.parametrize("body", [{}, {"sql": 1}, {"sql": "select 1", "extra": True}, {"sql": "select 1", "params": 3}])
def test_malformed_bodies_are_400(api_server: LiveServer, body: dict) -> None:
    with api_server.client("analyst") as c:
        response = c.post("/api/sql", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
