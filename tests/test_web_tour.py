"""What a new user tripped over on the tour of the demo app (issue 14, task 3), on the real app in process
(Litestar's test client) over a published fixture snapshot: each test fails without its fix."""

from __future__ import annotations

import dataclasses
import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fixtures import add_key, publish_fixture_snapshot
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("tour")
    publish_fixture_snapshot(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {role: add_key(data_dir, f"tour-{role}-{suffix}", role) for role in ("analyst", "staff", "admin")}


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings.from_env(str(data_dir)))) as test_client:
        yield test_client


def get(client: TestClient, keys: dict[str, str], path: str, role: str | None = "admin"):
    auth = {"Authorization": f"Bearer {keys[role]}"} if role else {}
    return client.get(path, headers={**HTML, **auth})


def test_the_home_page_offers_every_page_of_the_menu(client, keys) -> None:
    """考核督办 was in the menu but had no card on the home page, which lists the hub's pages."""
    for role, expected in (("admin", 6), ("staff", 4), ("analyst", 3)):
        page = get(client, keys, "/", role).text
        menu = page.split('<nav>', 1)[1].split("</nav>", 1)[0]
        cards = page.split('class="cards"', 1)[1]
        offered = [href for href in ("/search", "/tables", "/sql", "/towns", "/assessment", "/quality")
                   if f'href="{href}"' in menu]
        assert len(offered) == expected, role
        for href in offered:
            assert f'<a class="card" href="{href}">' in cards, (role, href)
    assert "考核督办" in get(client, keys, "/", "staff").text.split('class="cards"', 1)[1]


def test_the_login_form_does_not_claim_the_key_is_kept_in_a_cookie(client) -> None:
    """The cookie holds a server-side session id, never the key (docs/api.md); the form said the opposite."""
    page = client.get("/login", headers=HTML).text
    assert "密钥只保存在本浏览器的 Cookie 中" not in page
    assert "不保存密钥" in page and "8 小时" in page


def test_no_report_names_the_command_that_writes_one(client, keys) -> None:
    """`hub quality` alone only prints its help; the report is written by `hub quality report`."""
    missing = get(client, keys, "/api/quality/reports/latest", "analyst")
    assert missing.status_code == 404
    assert "hub quality report" in missing.json()["message_zh"]
    assert "hub quality report" in missing.json()["message_en"]


def test_home_and_tables_say_which_day_the_data_runs_up_to(client, keys) -> None:
    """The home page showed only the snapshot's file name (serving-20261204T004608….duckdb); a duty officer
    wants the 数据基准日 and when the data was published."""
    for path in ("/", "/tables"):
        line = get(client, keys, path).text.split('id="snapshot-line"', 1)[1].split("</p>", 1)[0]
        assert "数据基准日 <strong>2026-06-30</strong>" in line, path
        assert re.search(r"发布于 \d{4}-\d{2}-\d{2} \d{2}:\d{2}（北京时间）", line), line
        assert ".duckdb" not in line.split(">", 1)[1]  # the file name only in the tooltip


def test_the_json_export_says_when_it_holds_only_the_first_rows(data_dir, keys) -> None:
    """"导出全部 N 行：CSV · Parquet · JSON" — but a JSON answer is one page of at most HUB_API_PAGE_SIZE_MAX rows, so
    for a larger table the JSON link held the first rows only while the page said it held all."""
    settings = dataclasses.replace(ApiSettings.from_env(str(data_dir)), page_size_max=100)
    with TestClient(create_app(settings)) as small_pages:
        page = get(small_pages, keys, "/tables/hidden_danger_register").text
        total = int(re.search(r'<strong id="total">(\d+)</strong>', page)[1])
        assert total > 100
        link = re.search(r'<a href="([^"]+)" id="json-first-page">JSON（前 100 行，其余按 next_after 翻页）</a>', page)
        assert link is not None
        body = small_pages.get(html.unescape(link[1]), headers={"Authorization": f"Bearer {keys['admin']}"}).json()
        assert len(body["rows"]) == 100 and body["total"] == total and body["next_after"]
        csv_link = re.search(r'<a href="([^"]+)">CSV</a>', page)[1]
        csv = small_pages.get(html.unescape(csv_link), headers={"Authorization": f"Bearer {keys['admin']}"}).text
        assert len(csv.strip().splitlines()) - 1 == total  # CSV and Parquet do hold every row


def test_the_sql_page_says_where_the_table_and_column_names_are(client, keys) -> None:
    """An analyst opening /sql saw an empty editor and five examples, and nothing saying which tables and columns
    there are to query."""
    page = get(client, keys, "/sql", "analyst").text
    hint = page.split('id="sql-tables"', 1)[1].split("</p>", 1)[0]
    assert '<a href="/tables">数据表</a>' in hint
    assert get(client, keys, "/tables", "analyst").status_code == 200  # a page this role can open
