"""Search results as staff see them (issue 14): grouped by document, a relevance floor, a true count, a folder's
README not indexed, bad parameters refused, and a hit opened at its chunk, highlighted under its heading path.

The index is built by the real kb library (default encoder) from sample documents that include the water-supply
plan and both water-main cases; the API is the real Litestar app (in process), the pages are checked in headless
Chromium against a live ``hub serve``. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from api_fixtures import SAMPLE_DOCS, LiveServer, add_key, start_server, stop_server
from litestar.testing import TestClient

from hub.core.paths import HubPaths

WATER_QUERY = "供水管网爆管停水怎么处置"
DOCS = (
    "README.md",
    "plans/district_城市供水突发事件专项应急预案.md",
    "plans/district_防汛防台专项应急预案.md",
    "plans/district_突发事件总体应急预案.md",
    "cases/20230315_新塘街道_供水管道爆裂大面积停水案例.md",
    "cases/20240522_钱江世纪城_施工挖断供水主管停水案例.md",
    "cases/20240309_新街街道_施工挖破燃气管道泄漏案例.md",
    "cases/20230809_河上镇_台风青岚山区群众转移案例.md",
    "other/萧山区应急值班值守工作制度.md",
)
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def search_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kb.indexer import build_index
    from kb.settings import KbSettings

    data_dir = tmp_path_factory.mktemp("search_results")
    docs = data_dir / "kb_docs"
    for relative in DOCS:
        target = docs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((SAMPLE_DOCS / relative).read_bytes())
    report = build_index(docs, HubPaths(data_dir).kb_index, KbSettings(data_dir=data_dir))
    assert report.version is not None and report.documents == len(DOCS) - 1
    return data_dir


@pytest.fixture(scope="module")
def api(search_data_dir: Path, monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from api.app import create_app
    from api.settings import ApiSettings

    monkeypatch_module.setenv("HUB_DATA_DIR", str(search_data_dir))
    key = add_key(search_data_dir, "search-staff", "staff")
    app = create_app(ApiSettings.from_env(str(search_data_dir)))
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield client


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_folder_readme_is_not_a_document(api: TestClient) -> None:
    assert api.get("/api/documents/README.md").status_code == 404
    body = api.get("/api/search", params={"q": "示例文档 说明 目录"}).json()
    assert "README.md" not in {r["doc_id"] for r in body["results"]}


def test_no_document_fills_the_first_ranks_and_the_page_draws_on_three(api: TestClient) -> None:
    body = api.get("/api/search", params={"q": WATER_QUERY}).json()
    results = body["results"]
    first_five = [r["doc_id"] for r in results[:5]]
    assert max(first_five.count(d) for d in first_five) <= 2, first_five
    assert len({r["doc_id"] for r in results}) >= 3
    assert "plans/district_城市供水突发事件专项应急预案.md" in {r["doc_id"] for r in results[:5]}
    # the flat list and the groups hold the same hits; each group is one document, best first
    assert [h["chunk_id"] for g in body["groups"] for h in g["hits"]] == sorted(
        (r["chunk_id"] for r in results), key=[h["chunk_id"] for g in body["groups"] for h in g["hits"]].index
    )
    assert len({g["doc_id"] for g in body["groups"]}) == len(body["groups"])
    assert [g["score"] for g in body["groups"]] == sorted((g["score"] for g in body["groups"]), reverse=True)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_more_from_this_document_lists_its_other_matching_chunks(api: TestClient) -> None:
    body = api.get("/api/search", params={"q": WATER_QUERY}).json()
    group = next(g for g in body["groups"] if g["more"] > 0)
    assert group["more_url"] and "doc=" in group["more_url"]
    more = api.get("/api/search", params={"q": WATER_QUERY, "doc": group["doc_id"]}).json()
    assert {r["doc_id"] for r in more["results"]} == {group["doc_id"]}
    assert len(more["results"]) >= min(group["matching_chunks"], 30) > len(group["hits"])


def test_the_count_is_every_match_not_the_page_size(api: TestClient) -> None:
    body = api.get("/api/search", params={"q": WATER_QUERY, "top_k": 10}).json()
    assert body["total"] > len(body["results"]) == 10
    keyword = api.get("/api/search", params={"q": "停水", "mode": "bm25", "top_k": 100}).json()
    # every chunk whose indexed tokens include 停水 is a match, and the count says how many there are
    from kb.tokenizer import shared_tokenizer

    tokenize = shared_tokenizer().tokenize
    containing = sum(
        1
        for doc_id in DOCS[1:]
        for chunk in api.get(f"/api/documents/{quote(doc_id)}").json()["chunks"]
        if "停水" in tokenize(f"{chunk['heading_path']}\n{chunk['text']}")
    )
    assert keyword["total"] == containing == sum(g["matching_chunks"] for g in keyword["groups"]) > 10


def test_nonsense_finds_nothing(api: TestClient) -> None:
    for mode in ("hybrid", "vector", "bm25"):
        body = api.get("/api/search", params={"q": "zzzqqqxxx", "mode": mode}).json()
        assert body["results"] == [] and body["groups"] == [] and body["total"] == 0, mode


def test_bad_parameters_are_a_clear_400(api: TestClient) -> None:
    weird = api.get("/api/search", params={"q": "台风", "mode": "weird"})
    year = api.get("/api/search", params={"q": "台风", "year": "abc"})
    for response, name in ((weird, "mode"), (year, "year")):
        assert response.status_code == 400
        assert name in response.json()["message_en"] and response.json()["message_zh"]


def test_the_search_page_says_what_is_wrong_in_chinese(api: TestClient) -> None:
    weird = api.get("/search", params={"q": "台风", "mode": "weird"}).text
    year = api.get("/search", params={"q": "台风", "year": "abc"}).text
    assert "参数 mode 无效" in weird and 'id="results"' not in weird
    assert "年份无效" in year and 'id="results"' not in year
    assert "没有找到相关内容" in api.get("/search", params={"q": "zzzqqqxxx"}).text


def test_the_response_schema_shows_the_groups(api: TestClient) -> None:
    schema = api.get("/schema/openapi.json").json()
    ok = schema["paths"]["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = ok["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][name]["properties"]
    assert {"results", "groups", "total", "total_is_lower_bound", "documents"} <= set(fields)
    document = schema["paths"]["/api/documents/{doc_path}"]["get"]["responses"]["200"]
    assert document["content"]["application/json"]["schema"]


def test_the_document_page_marks_the_hit_chunk(api: TestClient) -> None:
    hit = api.get("/api/search", params={"q": WATER_QUERY}).json()["results"][0]
    page = api.get(hit["url"].split("#")[0]).text
    assert f'class="chunk hit-chunk" id="chunk-{hit["order"]}"' in page
    assert page.count("hit-chunk") == 1


# ---- in the browser ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(search_data_dir: Path) -> Iterator[LiveServer]:
    server = start_server(search_data_dir)
    server.keys = {"staff": add_key(search_data_dir, "browser-staff", "staff")}
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def page(live: LiveServer) -> Iterator[object]:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright
    from test_web_pages import CHROMIUM_ARGS

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live.base_url, viewport={"width": 1366, "height": 900}, locale="zh-CN")
        page = context.new_page()
        page.goto("/login?next=/search")
        page.fill("input[name=key]", live.keys["staff"])
        page.click("button[type=submit]")
        page.wait_for_url("**/search")
        yield page
        browser.close()


@pytest.mark.browser
def test_browser_water_main_search_draws_on_three_documents(page) -> None:
    page.goto("/search")
    page.fill("input[name=q]", WATER_QUERY)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results .doc-group")
    groups = page.locator("#results > .doc-group")
    assert groups.count() >= 3
    docs = [groups.nth(i).get_attribute("data-doc") for i in range(groups.count())]
    assert len(set(docs)) == len(docs)
    count = page.locator("#result-count").inner_text()
    assert "共" in count and "共 10 条结果" not in count
    assert page.locator("a.more-from-doc").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "search-grouped-water-main.png"), full_page=True)


@pytest.mark.browser
def test_browser_nonsense_query_says_nothing_found(page) -> None:
    page.goto("/search?q=zzzqqqxxx")
    assert "没有找到相关内容" in page.locator("#no-results").inner_text()
    assert page.locator("#results").count() == 0
    page.screenshot(path=str(ARTIFACTS / "search-nothing-found.png"), full_page=True)


@pytest.mark.browser
def test_browser_opened_hit_is_highlighted_below_the_sticky_header(page) -> None:
    page.goto("/search?" + f"q={quote(WATER_QUERY)}")
    link = page.locator("#results .doc-group").first.locator("a.open-hit").first
    href = link.get_attribute("href")
    link.click()
    page.wait_for_load_state("load")
    order = href.rsplit("#chunk-", 1)[1]
    chunk = page.locator(f"#chunk-{order}")
    assert "hit-chunk" in (chunk.get_attribute("class") or "")
    assert chunk.locator(".crumbs").inner_text().strip()
    header_bottom = page.evaluate("document.querySelector('header.topbar').getBoundingClientRect().bottom")
    top = page.evaluate(f"document.getElementById('chunk-{order}').getBoundingClientRect().top")
    assert top >= header_bottom - 1, (top, header_bottom)  # the heading path is not under the sticky header
    border = page.evaluate(f"getComputedStyle(document.getElementById('chunk-{order}')).borderTopColor")
    assert border == "rgb(217, 119, 6)"
    page.screenshot(path=str(ARTIFACTS / "search-hit-opened.png"), full_page=False)


def test_an_opened_hit_leads_back_to_its_results(api: TestClient) -> None:
    """Tour (issue 14): "← 返回搜索" on a document opened from a result went to an empty search form."""
    body = api.get("/api/search", params={"q": WATER_QUERY, "type": "案例"}).json()
    page = api.get(body["results"][0]["url"].split("#")[0]).text
    found = re.search(r'<a href="([^"]+)" id="back-to-results">← 返回搜索结果</a>', page)
    assert found is not None
    back = urlsplit(html.unescape(found[1]))
    assert back.path == "/search"
    assert parse_qs(back.query) == {"q": [WATER_QUERY], "mode": ["hybrid"], "type": ["案例"]}
    assert "没有找到相关内容" not in api.get(html.unescape(found[1])).text
    # and again at the end of the opened chunk, where the reader is when the chunk is far down the document
    hit_chunk = page.split('class="chunk hit-chunk"', 1)[1].split("</article>", 1)[0]
    assert f'<p class="back-inline"><a href="{found[1]}">← 返回搜索结果</a></p>' in hit_chunk
    # the address comes from the query string: only our own results page is ever linked
    elsewhere = api.get(f"/documents/{quote(DOCS[1])}", params={"back": "https://example.org/search?q=x"}).text
    assert 'id="back-to-results"' not in elsewhere and "example.org" not in elsewhere
