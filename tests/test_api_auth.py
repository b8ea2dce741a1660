"""Keys and roles: 401 without or with a bad key, 403 for the wrong role, hashed storage, revocation, demo mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from api_fixtures import HUB, LiveServer, add_key, hub_env, publish_fixture_snapshot, start_server, stop_server

AREAS = {
    "tables": ("GET", "/api/tables"),
    "table": ("GET", "/api/tables/town_dossier"),
    "sql": ("POST", "/api/sql"),
    "search": ("GET", "/api/search?q=台风"),
    "similar": ("GET", "/api/cases/similar?text=台风转移"),
    "document": ("GET", "/api/documents/plans/district_防汛防台专项应急预案.md"),
    "towns": ("GET", "/api/towns/330109113"),
    "quality": ("GET", "/api/quality/reports"),
}
ALLOWED = {
    "analyst": {"tables", "table", "sql", "quality"},
    "staff": {"search", "similar", "document", "towns", "quality"},
    "admin": set(AREAS),
}


def call(client: httpx.Client, area: str) -> httpx.Response:
    method, path = AREAS[area]
    if method == "POST":
        return client.post(path, json={"sql": "select 1"})
    return client.get(path)


@pytest.mark.parametrize("area", sorted(AREAS))
def test_no_key_is_401(api_server: LiveServer, area: str) -> None:
    with api_server.client() as c:
        response = call(c, area)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_key"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_key_is_401(api_server: LiveServer) -> None:
    with httpx.Client(base_url=api_server.base_url, headers={"X-API-Key": "hub_notarealkey0000000000"}) as c:
        response = c.get("/api/tables")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_key"


@pytest.mark.parametrize("role", ["analyst", "staff", "admin"])
def test_each_role_reaches_exactly_its_areas(api_server: LiveServer, role: str) -> None:
    with api_server.client(role) as c:
        for area in AREAS:
            response = call(c, area)
            if area in ALLOWED[role]:
                assert response.status_code == 200, (role, area, response.text)
            else:
                assert response.status_code == 403, (role, area, response.text)
                assert response.json()["code"] == "wrong_role"


def test_x_api_key_header_works_like_bearer(api_server: LiveServer) -> None:
    with httpx.Client(base_url=api_server.base_url, headers={"X-API-Key": api_server.keys["analyst"]}) as c:
        assert c.get("/api/tables").status_code == 200


def test_keys_are_stored_hashed(api_server: LiveServer) -> None:
    store = (api_server.data_dir / "api" / "keys.sqlite").read_bytes()
    for key in api_server.keys.values():
        assert key.encode() not in store
        assert key[4:].encode() not in store


def test_revoked_key_stops_working(api_server: LiveServer) -> None:
    key = add_key(api_server.data_dir, "short-lived", "analyst")
    with httpx.Client(base_url=api_server.base_url, headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.get("/api/tables").status_code == 200
        listed = subprocess.run(
            [*HUB, "keys", "list", "--data-dir", str(api_server.data_dir)],
            env=hub_env(api_server.data_dir), capture_output=True, text=True, check=True,
        ).stdout
        assert "short-lived\tanalyst" in listed and key not in listed
        subprocess.run(
            [*HUB, "keys", "revoke", "short-lived", "--data-dir", str(api_server.data_dir)],
            env=hub_env(api_server.data_dir), capture_output=True, check=True,
        )
        assert c.get("/api/tables").status_code == 401


def test_web_login_cookie_is_for_reads_only(api_server: LiveServer) -> None:
    with httpx.Client(base_url=api_server.base_url) as c:
        response = c.post("/login", data={"key": api_server.keys["admin"], "next": "/tables"})
        assert response.status_code == 303 and response.headers["location"] == "/tables"
        assert "samesite=strict" in response.headers["set-cookie"].lower()
        assert c.get("/tables").status_code == 200
        assert c.get("/api/tables").status_code == 200
        # A cookie alone never authorises a POST (no cross-site SQL from a logged-in browser).
        assert c.post("/api/sql", json={"sql": "select 1"}).status_code == 401


def test_pages_without_a_key_show_the_login_form(api_server: LiveServer) -> None:
    with httpx.Client(base_url=api_server.base_url) as c:
        response = c.get("/tables")
    assert response.status_code == 401
    assert "text/html" in response.headers["content-type"]
    assert "API 密钥" in response.text and 'name="key"' in response.text


def test_demo_mode_opens_everything_and_is_off_by_default(tmp_path: Path, api_server: LiveServer) -> None:
    publish_fixture_snapshot(tmp_path)
    demo = start_server(tmp_path, "--demo")
    try:
        with httpx.Client(base_url=demo.base_url) as c:
            assert c.get("/api/tables").status_code == 200
            assert c.post("/api/sql", json={"sql": "select 1"}).status_code == 200
            assert c.get("/api/health").json()["demo_mode"] is True
    finally:
        stop_server(demo)
    with httpx.Client(base_url=api_server.base_url) as c:
        health = c.get("/api/health").json()
        assert health["demo_mode"] is False and health["engine"] == "duckdb" and health["warehouse_version"] is None


def test_cli_refuses_a_bad_role_and_a_duplicate(tmp_path: Path) -> None:
    bad = subprocess.run(
        [*HUB, "keys", "add", "x", "--role", "root", "--data-dir", str(tmp_path)],
        env=hub_env(tmp_path), capture_output=True, text=True,
    )
    assert bad.returncode != 0 and "root" in bad.stderr
    add_key(tmp_path, "dup", "staff")
    again = subprocess.run(
        [*HUB, "keys", "add", "dup", "--role", "staff", "--data-dir", str(tmp_path)],
        env=hub_env(tmp_path), capture_output=True, text=True,
    )
    assert again.returncode != 0 and "已存在" in again.stderr


def test_openapi_declares_the_error_responses(api_server: LiveServer) -> None:
    with api_server.client() as c:
        schema = c.get("/schema/openapi.json").json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 12
    for path, method, op in operations:
        if path == "/api/health":
            continue
        declared = set(op["responses"])
        assert {"400", "401", "403"} <= declared, (method, path, declared)
    assert "bearer" in schema["components"]["securitySchemes"]
