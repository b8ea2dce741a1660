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


def column_index(page, name: str) -> int:
    return page.locator("#data-table thead th").evaluate_all(
        f"(ths) => ths.findIndex((th) => th.dataset.column === {name!r})"
    )


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
    levels = page.locator(f"#data-table tbody tr td:nth-child({column_index(page, 'level') + 1})").all_inner_texts()
    assert levels and set(levels) == {"重大隐患"}  # the value labelled by its scale
    assert page.locator(".facet li").count() > 0
    page.click("#data-table thead th[data-column=overdue_days] a")
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


def test_a_rows_details_open_on_its_page_and_lead_to_the_rows_that_hold_its_key(page, snapshot_db) -> None:
    page.goto("/tables/grid_coverage?is_uncovered=true&_sort=village_code")
    village = snapshot_db.execute(
        "select village_code, village_name from grid_coverage where is_uncovered order by village_code limit 1"
    ).fetchone()
    page.click("#data-table tbody tr:first-child th.rowlink a")
    page.wait_for_load_state()
    assert page.url.endswith(f"/tables/grid_coverage/row?village_code={village[0]}")
    assert page.locator("#row-key").inner_text() == village[0]
    assert page.locator("#row-fields tr[data-column=village_name] td").inner_text() == village[1]
    assert "bad" in page.locator("#row-fields tr[data-column=is_uncovered] td").get_attribute("class")  # 无人覆盖
    shot(page, "row")
    page.goto(f"/tables/dim_villages/row?village_code={village[0]}")
    page.click("#referenced a[data-table=grid_coverage]")
    page.wait_for_load_state()
    assert page.locator("#summary").inner_text() == f"1 行，条件：村社代码 = {village[0]}"


def test_the_column_picker_shows_the_chosen_columns_and_keeps_the_address_short(page) -> None:
    page.goto("/tables/hidden_danger_register?is_overdue=true")
    page.click("#colpick summary")
    page.click("#filter-form button[type=submit]")  # every column still ticked: no _col in the address
    page.wait_for_load_state()
    assert "_col=" not in page.url and "is_overdue" in page.url
    page.click("#colpick summary")
    for name in page.eval_on_selector_all("#colpick input", "boxes => boxes.map((box) => box.value)"):
        if name not in ("town_name", "overdue_days"):
            page.uncheck(f"#colpick input[value={name}]")
    page.click("#filter-form button[type=submit]")
    page.wait_for_load_state()
    assert "_col=town_name" in page.url and "_col=overdue_days" in page.url
    shown = page.locator("#data-table thead th[data-column]").evaluate_all("(ths) => ths.map((t) => t.dataset.column)")
    assert shown == ["town_name", "overdue_days"]
    assert "_col=" in page.locator(".exports a", has_text="CSV").get_attribute("href")
    shot(page, "table-columns")


def test_filtered_export_holds_every_matching_row(page, snapshot_db) -> None:
    """Issue 14: after the filter form (page size 20), the CSV held one page; it must hold every match."""
    page.goto("/tables/hidden_danger_register")
    page.select_option(".filter-col", "is_overdue")
    page.select_option(".filter-op", "eq")
    page.fill(".filter-val", "true")
    page.select_option("select[name=_size]", "20")
    page.click("#filter-form button[type=submit]")
    page.wait_for_load_state()
    expected = snapshot_db.execute("select count(*) from hidden_danger_register where is_overdue").fetchone()[0]
    assert expected > 20
    assert int(page.locator("#total").inner_text()) == expected
    assert page.locator("#data-table tbody tr").count() == 20
    assert page.locator("#summary").inner_text() == f"{expected} 行，条件：是否逾期 = 是"
    overdue = page.locator(f"#data-table tbody tr td:nth-child({column_index(page, 'is_overdue') + 1})")
    assert set(overdue.evaluate_all("(tds) => tds.map((td) => td.className)")) == {"bad"}  # overdue is bad: red
    assert overdue.first.evaluate("(td) => getComputedStyle(td).color") == "rgb(180, 35, 24)"
    shot(page, "table-export-filtered")
    with page.expect_download() as download:
        page.click(".exports a >> text=CSV")
    saved = ARTIFACTS / "export-filtered.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) - 1 == expected  # every matching row, not one page


def test_colours_say_good_and_bad_by_meaning(page, snapshot_db) -> None:
    page.goto("/tables/grid_coverage?is_uncovered=true")
    uncovered = page.locator(f"#data-table tbody tr td:nth-child({column_index(page, 'is_uncovered') + 1})")
    assert uncovered.count() > 0
    assert set(uncovered.evaluate_all("(tds) => tds.map((td) => td.className)")) == {"bad"}
    assert set(uncovered.all_inner_texts()) == {"✓ 是"}
    page.goto("/towns")
    pills = page.locator(".town-card .score-pill")
    scores = dict(zip(pills.all_inner_texts(), pills.evaluate_all("(ps) => ps.map((p) => p.className)"), strict=False))
    assert scores["6/6"] == "score-pill score-4"
    lowest = min(scores, key=lambda s: int(s.split("/")[0]))
    assert scores[lowest] != scores["6/6"]
    colour = {text: page.locator(".town-card .score-pill", has_text=text).first.evaluate(
        "(p) => getComputedStyle(p).color") for text in ("6/6", lowest)}
    assert colour["6/6"] != colour[lowest]
    assert page.locator("#chart-readiness svg.readiness").is_visible()
    shot(page, "towns-scores")


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


def test_dossier_shows_its_charts_and_all_events(page, snapshot_db) -> None:
    page.goto("/towns/330109113")
    for chart in ("#chart-events svg.events", "#chart-overdue svg.overdue", "#chart-evidence svg.readiness-evidence"):
        box = page.locator(chart).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 50, chart
    total = snapshot_db.execute("select count(*) from town_events where town_code = '330109113'").fetchone()[0]
    assert page.locator("#events h2").inner_text() == f"近期事件（{total}）"
    shot(page, "town-charts")
    page.click("#all-events")
    page.wait_for_load_state()
    assert int(page.locator("#total").inner_text()) == total


def test_sql_page_runs_a_query_and_exports_it(page, snapshot_db) -> None:
    page.goto("/sql")
    page.click("#examples a >> text=各镇街逾期隐患数")
    page.wait_for_selector("#sql-results")
    expected = snapshot_db.execute(
        "select count(distinct town_name) from hidden_danger_register where is_overdue"
    ).fetchone()[0]
    assert int(page.locator("#sql-row-count").inner_text()) == expected
    query = "SELECT town_name, readiness_score FROM town_readiness WHERE readiness_score < 6 ORDER BY 2, 1"
    page.fill("#sql-editor", query)
    page.click("#sql-form button[type=submit]")
    page.wait_for_selector("#sql-results")
    rows = snapshot_db.execute(query).fetchall()
    assert page.locator("#sql-results tbody tr").count() == len(rows)
    assert "q=SELECT" in page.url  # the query is in the URL: a link shares it
    assert page.locator("#sql-share").get_attribute("href").startswith("/sql?q=")
    shot(page, "sql-page")
    with page.expect_download() as download:
        page.click("#sql-export")
    saved = ARTIFACTS / "sql-export.csv"
    download.value.save_as(saved)
    lines = saved.read_text(encoding="utf-8-sig").strip().splitlines()
    assert lines[0] == "town_name,readiness_score" and len(lines) - 1 == len(rows)


def test_analyst_menu_lists_only_pages_it_can_open(browser, api_server: LiveServer) -> None:
    context = browser.new_context(base_url=api_server.base_url, viewport={"width": 1366, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("input[name=key]", api_server.keys["analyst"])
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto("/tables")
        menu = page.locator(".topbar nav a").all_inner_texts()
        assert {"数据表", "SQL 查询", "数据质量"} <= set(menu)
        assert not {"搜索", "镇街"} & set(menu)  # an analyst gets 403 on both, so neither is offered
        for link in page.locator(".topbar nav a").evaluate_all("(as) => as.map((a) => a.getAttribute('href'))"):
            if not link.startswith("/schema"):
                assert page.goto(link).status == 200, link
        shot(page, "analyst-menu")
    finally:
        context.close()
