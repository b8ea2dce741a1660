"""API hardening over HTTP: request size cap, rate limit per key, bounded work per request, every 4xx a
bilingual JSON problem, no stack trace or server path in any response, and schemathesis fuzzing the
OpenAPI schema with zero server errors and zero schema violations. Each test server here reads the
session's published snapshot (read-only) and shares its key store."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_fixtures import LiveServer, publish_fixture_snapshot, start_server, stop_server
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings
from hub.core.paths import HubPaths

RATE_LIMIT = 30  # per minute, for the rate-limit server only


@pytest.fixture(scope="module")
def limited_server(api_server: LiveServer) -> Iterator[LiveServer]:
    server = start_server(api_server.data_dir, env_extra={"HUB_API_RATE_LIMIT": str(RATE_LIMIT)})
    server.keys = api_server.keys
    yield server
    stop_server(server)


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] and body["message_zh"] and body["message_en"], body
    if code:
        assert body["code"] == code, body
    return body


def assert_nothing_internal(response: httpx.Response, server: LiveServer) -> None:
    text = response.text
    for marker in ("Traceback", 'File "', "site-packages", str(server.data_dir), str(Path.cwd()), "/root/"):
        assert marker not in text, f"{marker!r} in {response.request.url}: {text[:300]}"


def test_rate_limit_is_per_key_and_says_when_to_retry(limited_server: LiveServer) -> None:
    analyst = {"Authorization": f"Bearer {limited_server.keys['analyst']}"}
    admin = {"Authorization": f"Bearer {limited_server.keys['admin']}"}
    with httpx.Client(base_url=limited_server.base_url, timeout=30) as c:
        statuses = [c.get("/api/tables", headers=analyst).status_code for _ in range(RATE_LIMIT + 5)]
        assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT
        assert set(statuses[RATE_LIMIT:]) == {429}
        limited = c.get("/api/tables", headers=analyst)
        body = assert_problem(limited, 429, "rate_limited")
        assert "频繁" in body["message_zh"]
        assert int(limited.headers["RateLimit-Reset"]) <= 60
        assert c.get("/api/tables", headers=admin).status_code == 200  # another key has its own budget
        assert all(c.get("/api/health").status_code == 200 for _ in range(5))  # monitoring is never limited


def test_a_rate_limit_of_zero_turns_the_limiter_off(tmp_path: Path) -> None:
    """HUB_API_RATE_LIMIT=0: no per-key limit in the hub (a gateway in front limits rates), so no RateLimit
    headers and no 429 however many requests; any positive limit still answers 429 beyond it."""
    publish_fixture_snapshot(tmp_path)
    for per_minute, expected in ((0, [200] * 12), (10, [200] * 10 + [429] * 2)):
        app = create_app(ApiSettings(paths=HubPaths(tmp_path), demo_mode=True, rate_limit_per_minute=per_minute))
        with TestClient(app) as client:
            responses = [client.get("/api/tables") for _ in range(12)]
        assert [r.status_code for r in responses] == expected, per_minute
        assert ("RateLimit-Limit" in responses[0].headers) == (per_minute > 0)


def test_request_body_is_capped(api_server: LiveServer) -> None:
    body = b'{"sql": "select 1 -- ' + b"x" * 2_000_000 + b'"}'
    headers = {"Authorization": f"Bearer {api_server.keys['analyst']}", "content-type": "application/json"}
    response = httpx.post(f"{api_server.base_url}/api/sql", content=body, headers=headers, timeout=30)
    assert_problem(response, 413, "body_too_large")
    assert_nothing_internal(response, api_server)


def four_xx_requests(server: LiveServer) -> list[tuple[str, httpx.Request, int]]:
    analyst = {"Authorization": f"Bearer {server.keys['analyst']}"}
    staff = {"Authorization": f"Bearer {server.keys['staff']}"}
    json_type = {"content-type": "application/json"}
    b = server.base_url
    return [
        ("no key", httpx.Request("GET", f"{b}/api/tables"), 401),
        ("bad key", httpx.Request("GET", f"{b}/api/tables", headers={"Authorization": "Bearer nope"}), 401),
        ("wrong role", httpx.Request("GET", f"{b}/api/tables", headers=staff), 403),
        ("unknown path", httpx.Request("GET", f"{b}/api/nothing-here", headers=analyst), 404),
        ("unknown table", httpx.Request("GET", f"{b}/api/tables/no_such_table", headers=analyst), 404),
        ("wrong method", httpx.Request("DELETE", f"{b}/api/tables", headers=analyst), 405),
        ("bad page size", httpx.Request("GET", f"{b}/api/tables/town_dossier?_size=-1", headers=analyst), 400),
        ("unknown column", httpx.Request("GET", f"{b}/api/tables/town_dossier?nope=1", headers=analyst), 400),
        ("bad cursor", httpx.Request("GET", f"{b}/api/tables/town_dossier?_after=%%%", headers=analyst), 400),
        ("bad format", httpx.Request("GET", f"{b}/api/tables/town_dossier?_format=xls", headers=analyst), 400),
        ("truncated JSON", httpx.Request("POST", f"{b}/api/sql", content=b'{"sql": ', headers={**analyst, **json_type}),
         400),
        ("not JSON", httpx.Request("POST", f"{b}/api/sql", content=b"sql=select 1", headers={**analyst, **json_type}),
         400),
        ("wrong body type", httpx.Request("POST", f"{b}/api/sql", json={"sql": ["select 1"]}, headers=analyst), 400),
        ("search without q", httpx.Request("GET", f"{b}/api/search", headers=staff), 400),
        ("path traversal", httpx.Request("GET", f"{b}/api/documents/..%2F..%2Fapi%2Fkeys.json", headers=staff), 404),
        ("report traversal", httpx.Request("GET", f"{b}/api/quality/reports/..%2Fapi%2Faudit.jsonl", headers=staff),
         404),
        ("unknown town", httpx.Request("GET", f"{b}/api/towns/999999999", headers=staff), 404),
    ]


def test_every_4xx_is_a_bilingual_json_problem_without_internals(api_server: LiveServer) -> None:
    with httpx.Client(timeout=30) as c:
        for what, request, status in four_xx_requests(api_server):
            response = c.send(request)
            assert response.status_code == status, f"{what}: {response.status_code} {response.text[:200]}"
            assert_problem(response, status)
            assert_nothing_internal(response, api_server)


@pytest.mark.parametrize(
    "path",
    [
        "/api/tables/town_dossier?town_code__in=" + ",".join(str(i) for i in range(5000)),
        "/api/tables/%00",
        "/api/tables/town_dossier?_sort=town_code%00",
        "/api/tables/" + "x" * 5000,
        "/api/search?q=" + "防汛" * 5000,
        "/api/search?q=%F0%9F%8C%8A&top_k=100000",
        "/api/cases/similar?q=%E5%8F%B0%E9%A3%8E&top_k=-1",
        "/api/documents/" + "%2e%2e/" * 20 + "etc/passwd",
        "/tables/town_dossier?_size=abc",
        "/search?q=" + "'; DROP TABLE x; --",
    ],
)
def test_odd_requests_are_answered_quickly_without_internals(api_server: LiveServer, path: str) -> None:
    headers = {"Authorization": f"Bearer {api_server.keys['admin']}"}
    started = time.monotonic()
    response = httpx.get(api_server.base_url + path, headers=headers, timeout=60)
    assert time.monotonic() - started < 20
    assert response.status_code < 500, response.text[:300]
    assert_nothing_internal(response, api_server)


@pytest.fixture(scope="module")
def fuzz_server(api_server: LiveServer) -> Iterator[LiveServer]:
    # No rate limit worth the name here: the fuzzer sends thousands of requests with one key.
    server = start_server(api_server.data_dir,
                          env_extra={"HUB_API_RATE_LIMIT": "1000000", "HUB_API_AUTH_FAILURE_LIMIT": "1000000"})
    server.keys = api_server.keys
    yield server
    stop_server(server)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(fuzz_server: LiveServer, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st), "run", f"{fuzz_server.base_url}/schema/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance",
            "--phases", "examples,coverage,fuzzing", "--max-examples", "20", "--max-time", "50",
            "--seed", "7", "--workers", "2", "--request-timeout", "30", "--suppress-health-check", "all",
            "-H", f"Authorization: Bearer {fuzz_server.keys['admin']}",
        ],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,  # cwd: its .schemathesis cache stays in tmp
    )
    summary = done.stdout[-4000:]
    assert done.returncode == 0, summary + done.stderr[-2000:]
    assert "Server error" not in summary and "Response violates schema" not in summary
    tested = re.search(r"Tested:\s+(\d+)", summary)
    assert tested and int(tested.group(1)) >= 10, summary  # every API operation, not a handful
