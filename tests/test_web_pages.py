"""The web pages in headless Chromium (Debian's chromium driven by Playwright): log in, search, filter a table,
open a town. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_fixtures import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, api_server: LiveServer):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=api_server.base_url, viewport={"width": 1366, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto("/tables")
    assert page.locator("input[name=key]").is_visible()  # not logged in yet: the login form
    page.fill("input[name=key]", api_server.keys["admin"])
    page.click("button[type=submit]")
    page.wait_for_url("**/tables")
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_home_and_every_page_loads(page) -> None:
    for path, name, heading in [
        ("/", "home", "数据枢纽"),
        ("/tables", "tables", "数据表"),
        ("/towns", "towns", "镇街档案"),
        ("/search", "search-empty", "搜索预案与案例"),
        ("/quality", "quality", "数据质量"),
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        assert page.locator("h1").first.inner_text().strip() == heading
        shot(page, name)
    page.goto("/schema/swagger")
    page.wait_for_selector(".swagger-ui .info", timeout=20000)  # the interactive docs render from local files
    shot(page, "swagger")


def test_search_shows_marked_results_and_similar_cases(page) -> None:
    page.goto("/search")
    page.fill("input[name=q]", "台风 群众转移")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results .result")
    results = page.locator("#results .result")
    assert results.count() > 0
    assert page.locator("#results .result mark").count() > 0
    assert page.locator("#results .crumbs").first.inner_text().strip()
    shot(page, "search-results")
    page.fill("textarea[name=similar]", "台风期间山区村民需要紧急转移安置")
    page.click(".similar button[type=submit]")
    page.wait_for_selector("#similar-results .result")
    assert page.locator("#similar-results .result").count() > 0
    shot(page, "search-similar")
    page.locator("#similar-results .result a.title").first.click()
    page.wait_for_selector(".chunk")
    assert page.locator(".chunk").count() > 1
    shot(page, "document")


def test_table_filter_sort_and_export_link(page, snapshot_db) -> None:
    page.goto("/tables/hidden_danger_register")
    page.select_option(".filter-col", "level")
    page.select_option(".filter-op", "eq")
    page.fill(".filter-val", "重大")
    page.select_option("#facet-pick", "category")
    page.click("#filter-form button[type=submit]")
    page.wait_for_load_state()
    expected = snapshot_db.execute("select count(*) from hidden_danger_register where level = '重大'").fetchone()[0]
    assert int(page.locator("#total").inner_text()) == expected
    level_index = page.locator("#data-table thead th").all_inner_texts().index(
        next(t for t in page.locator("#data-table thead th").all_inner_texts() if t.startswith("level"))
    )
    levels = page.locator(f"#data-table tbody tr td:nth-child({level_index + 1})").all_inner_texts()
    assert levels and set(levels) == {"重大"}
    assert page.locator(".facet li").count() > 0
    page.click("#data-table thead th >> text=overdue_days")
    page.wait_for_load_state()
    assert "_sort=overdue_days" in page.url and "level=" in page.url
    shot(page, "table-filtered")
    csv_link = page.locator(".exports a", has_text="CSV").get_attribute("href")
    assert "_format=csv" in csv_link and "level=" in csv_link
    with page.expect_download() as download:
        page.click(".exports a >> text=CSV")
    saved = ARTIFACTS / "export.csv"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\xef\xbb\xbf")


def test_town_page_shows_the_readiness_badges(page, snapshot_db) -> None:
    page.goto("/towns")
    page.click("a.town-card >> text=瓜沥镇")
    page.wait_for_url("**/towns/330109113")
    badges = page.locator("#readiness .badge")
    assert badges.count() == 6
    row = snapshot_db.execute(
        "select has_leadership, has_mechanism, has_plan, has_team, has_supplies, has_drill "
        "from town_dossier where town_code = '330109113'"
    ).fetchone()
    marks = [m.strip() for m in page.locator("#readiness .badge .mark").all_inner_texts()]
    assert marks == ["✓" if ok else "✗" for ok in row]
    shot(page, "town")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "town-mobile")
