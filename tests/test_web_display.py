"""The pages as a reader meets them, on the real app (Litestar's test client) over the real pipeline's snapshot:
Chinese names, key columns first, colours by meaning, facets, exports of every matching row, errors in Chinese,
the dossier's links and charts, the quality report inline, the SQL page. What needs a browser is in
test_web_pages.py."""

from __future__ import annotations

import csv
import html
import io
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pyarrow.parquet as pq
import pytest
from api_fixtures import add_key
from litestar.testing import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.towns_service import DETAIL_LIMIT

CELL = re.compile(r'<td class="([^"]*)"[^>]*>(.*?)</td>')
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def data_dir(api_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's published snapshot and quality reports, copied: this process may already hold the session's
    snapshot file open (``snapshot_db``), and DuckDB refuses a second in-process opening with another configuration."""
    own = tmp_path_factory.mktemp("display_data")
    for part in ("serving", "reports"):
        shutil.copytree(api_data_dir / part, own / part)
    return own


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {role: add_key(data_dir, f"display-{role}-{suffix}", role) for role in ("analyst", "staff", "admin")}


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(ApiSettings.from_env(str(data_dir)))) as test_client:
        yield test_client


def rows(client: TestClient, keys: dict[str, str], sql: str) -> list[list[object]]:
    """The answer computed through the app's own read-only SQL (the snapshot cannot be opened twice in one
    process with a different configuration)."""
    found = client.post("/api/sql", json={"sql": sql}, headers={"Authorization": f"Bearer {keys['admin']}"})
    assert found.status_code == 200, found.text
    return found.json()["rows"]


def scalar(client: TestClient, keys: dict[str, str], sql: str) -> object:
    return rows(client, keys, sql)[0][0]


def get(client: TestClient, keys: dict[str, str], path: str, role: str = "admin", **headers: str):
    return client.get(path, headers={"Authorization": f"Bearer {keys[role]}", **HTML, **headers})


def cells(html: str, table_id: str) -> list[list[tuple[str, str]]]:
    """(class, text) of every body cell of one table, row by row."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
    return [
        [(css, re.sub(r"<[^>]+>", "", text).strip()) for css, text in CELL.findall(r)]
        for r in rows
    ]


def headings(html: str, table_id: str) -> list[str]:
    head = html.split(f'id="{table_id}"', 1)[1].split("</thead>", 1)[0]
    return re.findall(r'<th data-column="([^"]+)"', head)


def test_filtered_page_exports_every_matching_row(client, keys) -> None:
    # The filter form submitted with a page size of 20: the export links must not carry it.
    page = get(client, keys, "/tables/hidden_danger_register?col=is_overdue&op=eq&val=true&_size=20")
    assert page.status_code == 200
    expected = scalar(client, keys, "select count(*) from hidden_danger_register where is_overdue")
    assert expected > 20
    assert f'id="total">{expected}<' in page.text
    links = dict(re.findall(r'<a href="(/api/tables/hidden_danger_register\?[^"]+)">(CSV|Parquet|JSON)</a>', page.text))
    by_format = {fmt: href.replace("&amp;", "&") for href, fmt in links.items()}
    assert set(by_format) == {"CSV", "Parquet", "JSON"}
    for href in by_format.values():
        query = dict(parse_qsl(urlsplit(href).query))
        assert query.get("is_overdue") == "true" and query.get("_size") != "20" and "_offset" not in query
    exported = client.get(by_format["CSV"], headers={"Authorization": f"Bearer {keys['admin']}"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) - 1 == expected
    assert f'导出全部 <strong id="total">{expected}</strong> 行' in page.text


def test_table_page_reads_in_chinese_with_key_columns_first(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register").text
    assert "<h1>隐患总台账 <code" in page
    assert "<title>隐患总台账 · 数据表</title>" in page
    assert "var as_of" not in page and "SOURCES.md" not in page
    columns = headings(page, "data-table")
    assert columns[:3] == ["town_name", "is_overdue", "overdue_days"]  # meta order, not the ID columns
    assert columns.index("overdue_days") < columns.index("register_id")
    # the sidebar: shared views first, dimension tables last, by their Chinese names
    side = page.split('class="side"', 1)[1].split("</aside>", 1)[0]
    names = re.findall(r'href="/tables/([a-z_]+)"', side)
    assert names[0] == "hidden_danger_register" and names[-1].startswith("dim_")
    first_dim = next(i for i, n in enumerate(names) if n.startswith("dim_"))
    assert all(n.startswith("dim_") for n in names[first_dim:])
    assert ">隐患总台账</a>" in side and ">hidden_danger_register</a>" not in side


def test_colours_follow_meaning_not_value(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register?is_overdue=true&_size=5").text
    col = headings(page, "data-table").index("is_overdue")
    overdue = {row[col] for row in cells(page, "data-table")}
    assert overdue == {("bad", "✓ 是")}  # overdue is bad: red, even though the value is "yes"
    page = get(client, keys, "/tables/hidden_danger_register?is_overdue=false&_size=5").text
    assert {row[col] for row in cells(page, "data-table")} == {("good", "✗ 否")}
    grid = get(client, keys, "/tables/grid_coverage?is_uncovered=true&_size=5").text
    col = headings(grid, "data-table").index("is_uncovered")
    assert {row[col][0] for row in cells(grid, "data-table")} == {"bad"}
    towns = get(client, keys, "/tables/town_readiness?_sort=readiness_score&_size=100").text
    col = headings(towns, "data-table").index("readiness_score")
    by_score = {int(row[col][1]): row[col][0] for row in cells(towns, "data-table")}
    assert by_score.get(6) == "num score-4"
    low = min(by_score)
    assert low < 6 and by_score[low] != by_score[6]


def test_level_values_say_which_scale_they_belong_to(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register?_facet=level").text
    facet = page.split('data-column="level"><h3>', 1)[1].split("</div>", 1)[0]
    labels = re.findall(r'<a href="[^"]*">([^<]+)</a><span class="count">', facet)
    assert "重大隐患" in labels and "高风险" in labels and "重大" not in labels and "高" not in labels


def test_coded_values_read_in_chinese(client, keys) -> None:
    """Lines of department showed their codes ("emergency、territorial"), the danger's source its system code
    ("registry"): they read as the department_lines seed and the source names say (水利, 区应急管理局隐患台账)."""
    seed = Path(__file__).resolve().parents[1] / "dbt_project" / "seeds" / "department_lines.csv"
    line_names = {row["line_code"]: row["line_name_zh"] for row in csv.DictReader(seed.open(encoding="utf-8"))}
    page = get(client, keys, "/tables/responsibility_matrix?has_gap=false&_size=200").text
    col = headings(page, "data-table").index("lead_lines")
    shown = [row[col][1] for row in cells(page, "data-table")]
    raw = [r[0] for r in rows(client, keys, "select lead_lines from responsibility_matrix where not has_gap")]
    assert sorted(shown) == sorted("、".join(line_names[code] for code in value.split("、")) for value in raw)
    assert any("、" in value for value in shown)  # a list of lines, each part labelled
    danger = get(client, keys, "/tables/hidden_danger_register?_facet=source_system&_facet=owner_dept_line").text
    facet = danger.split('data-column="source_system"><h3>', 1)[1].split("</div>", 1)[0]
    assert "区应急管理局隐患台账" in facet and ">registry<" not in facet
    facet = danger.split('data-column="owner_dept_line"><h3>', 1)[1].split("</div>", 1)[0]
    assert set(re.findall(r'<a href="[^"]*">([^<]+)</a>', facet)) <= set(line_names.values())


def test_unmapped_values_name_their_source_entity_and_kind_in_chinese(client, keys) -> None:
    """The values no name list matches were listed by code (four_platforms, events, town): the source and entity
    now read as the source contracts name them, the kind as what the value should have matched."""
    from orchestration.ingest.contracts import SOURCES_BY_NAME

    raw = rows(client, keys, "select source, entity, kind from unmapped_values")
    assert raw, "the sample data plants unmapped values"
    page = get(client, keys, "/tables/unmapped_values?_size=200").text
    table = cells(page, "data-table")
    heads = headings(page, "data-table")
    shown = sorted((row[heads.index("source")][1], row[heads.index("kind")][1]) for row in table)
    kinds = {"town": "镇街", "village": "村社", "unit": "单位", "category": "隐患类别"}
    assert shown == sorted((SOURCES_BY_NAME[source].owner_label, kinds[kind]) for source, _, kind in raw)
    entities = {row[heads.index("entity")][1] for row in table}
    assert entities and all(re.search(r"[\u4e00-\u9fff]", e) for e in entities), entities
    # a field the source names in English (four_platforms' townName) reads as its Chinese label
    fields = {row[heads.index("field")][1] for row in table}
    english = {f for (f,) in rows(client, keys, "select field from unmapped_values") if f.isascii()}
    assert english and not english & fields and all(re.search(r"[\u4e00-\u9fff]", f) for f in fields), fields
    # each source's values together, the most frequent first
    stored = rows(client, keys, 'select source, "rows" from unmapped_values')
    assert stored == sorted(stored, key=lambda r: (r[0], -r[1]))


def test_a_boolean_filter_takes_the_words_the_pages_show(client, keys) -> None:
    """The pages show booleans as 是/否 and a bad boolean filter asked for "是/否", yet 是 was refused: it is now
    read as true (否 as false) in the API and the filter form, and the form shows 是/否 back, not true/false."""
    auth = {"Authorization": f"Bearer {keys['analyst']}"}
    overdue = scalar(client, keys, "select count(*) from hidden_danger_register where is_overdue")
    on_time = scalar(client, keys, "select count(*) from hidden_danger_register where not is_overdue")
    assert overdue and on_time
    for params, expected in ((("is_overdue", "是"),), overdue), ((("is_overdue", "否"),), on_time), \
            ((("is_overdue__in", "是,否"),), overdue + on_time), ((("is_overdue__ne", "是"),), on_time):
        answer = client.get("/api/tables/hidden_danger_register", params=params, headers=auth)
        assert answer.status_code == 200 and answer.json()["total"] == expected, (params, answer.text[:300])
    refused = client.get("/api/tables/hidden_danger_register", params={"is_overdue": "也许"}, headers=auth)
    assert refused.status_code == 400 and "是/否" in refused.json()["message_zh"]
    page = get(client, keys, "/tables/hidden_danger_register?col=is_overdue&op=eq&val=是", "analyst").text
    assert f'id="summary">{overdue} 行，条件：是否逾期 = 是<' in page
    assert re.search(r'<input name="val"[^>]*value="是"', page)
    page = get(client, keys, "/tables/hidden_danger_register?is_overdue=true", "analyst").text
    assert re.search(r'<input name="val"[^>]*value="是"', page)


def test_facets_are_links_with_counts_and_the_summary_says_the_filter(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register").text
    facet = page.split('data-column="is_overdue"><h3>', 1)[1].split("</div>", 1)[0]
    found = dict(re.findall(r'<a href="([^"]+)">是</a><span class="count">(\d+)</span>', facet))
    (href, count), = found.items()
    expected = scalar(client, keys, "select count(*) from hidden_danger_register where is_overdue")
    assert int(count) == expected
    filtered = get(client, keys, "/tables/hidden_danger_register" + href.replace("&amp;", "&")).text
    assert f'id="summary">{expected} 行，条件：是否逾期 = 是<' in filtered
    # the count is said once above the rows (the export repeats it for what it holds), then which rows show
    assert f'id="showing">显示第 1–{min(expected, 50)} 行<' in filtered and f"共 {expected} 行" not in filtered
    assert 'id="suggested-facets"' in filtered  # more facets the metadata suggests


def test_row_links_to_the_town_dossier_and_related_rows(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register?town_code=330109113&_size=5").text
    assert '<a href="/towns/330109113">330109113</a>' in page
    assert re.search(r'<a href="/tables/dim_units\?unit_name=[^"]+">', page)  # danger → its responsible unit
    # an analyst cannot open the town pages: its link goes to the town's row of the dossier table instead
    analyst = get(client, keys, "/tables/hidden_danger_register?town_code=330109113&_size=5", "analyst").text
    assert '<a href="/tables/town_dossier/row?town_code=330109113">330109113</a>' in analyst
    assert 'href="/towns/' not in analyst
    assert get(client, keys, "/tables/town_dossier/row?town_code=330109113", "analyst").status_code == 200
    events = get(client, keys, "/tables/town_events?town_code=330109113&_size=5").text
    handling = re.search(r'<a href="(/tables/event_handling/row\?dept=[^"&]+&amp;month=\d{4}-\d{2})">', events)
    assert handling, "an event links to its department's handling row of that month"
    assert get(client, keys, handling[1].replace("&amp;", "&")).status_code == 200


def test_every_row_opens_on_a_page_of_its_own_with_the_tables_that_hold_its_key(client, keys) -> None:
    page = get(client, keys, "/tables/hidden_danger_register?is_overdue=true&_sort=register_id&_size=5").text
    links = re.findall(r'<th class="rowlink" scope="row"><a href="([^"]+)"', page)
    assert len(links) == 5
    first = rows(client, keys, "select register_id, description, town_name from hidden_danger_register "
                               "where is_overdue order by register_id limit 1")[0]
    assert links[0] == "/tables/hidden_danger_register/row?" + urlencode({"register_id": first[0]})
    record = get(client, keys, links[0])
    assert record.status_code == 200
    assert f'id="row-key">{html.escape(first[0])}<' in record.text
    field = r'<tr data-column="([^"]+)"><th scope="row">.*?</th><td[^>]*>(.*?)</td></tr>'
    fields = dict(re.findall(field, record.text))
    assert fields["description"] == html.escape(first[1])
    assert re.sub(r"<[^>]+>", "", fields["town_name"]) == first[2]
    columns = rows(client, keys, "select column_name from information_schema.columns "
                                 "where table_name = 'hidden_danger_register'")
    assert set(fields) == {c[0] for c in columns}  # every column, each once

    # a town: the other tables holding its code, with how many of their rows do
    town = get(client, keys, "/tables/dim_towns/row?town_code=330109113").text
    events = scalar(client, keys, "select count(*) from town_events where town_code = '330109113'")
    assert events and re.search(
        rf'<a href="/tables/town_events\?town_code=330109113" data-table="town_events">[^<]+</a> '
        rf'<span class="count">{events} 行</span>', town)

    # a key of two columns, from the table page
    handling = get(client, keys, "/tables/event_handling?_size=1").text
    link = re.search(r'<th class="rowlink" scope="row"><a href="([^"]+)"', handling)[1].replace("&amp;", "&")
    assert "dept=" in link and "month=" in link and get(client, keys, link).status_code == 200

    # the API says each table's key, for scripts that want one row
    listed = client.get("/api/tables", headers={"Authorization": f"Bearer {keys['analyst']}"}).json()["tables"]
    by_name = {t["name"]: t["key"] for t in listed}
    assert by_name["hidden_danger_register"] == ["register_id"] and by_name["event_handling"] == ["dept", "month"]

    # what cannot be a row: each answer says which parameter, in Chinese
    missing = get(client, keys, "/tables/event_handling/row?dept=x")
    assert missing.status_code == 400 and "month" in missing.text
    extra = get(client, keys, "/tables/dim_towns/row?town_code=330109113&town_name=x")
    assert extra.status_code == 400 and "town_name" in extra.text and "不是本表的记录键" in extra.text
    absent = get(client, keys, "/tables/dim_towns/row?town_code=999")
    assert absent.status_code == 404 and "没有 town_code=999 的记录" in absent.text


def test_bad_filter_value_is_a_chinese_400_naming_column_and_type(client, keys) -> None:
    api = client.get("/api/tables/hidden_danger_register?overdue_days=abc",
                     headers={"Authorization": f"Bearer {keys['admin']}"})
    assert api.status_code == 400
    body = api.json()
    assert "overdue_days" in body["message_zh"] and "整数" in body["message_zh"]
    assert "Conversion" not in api.text and "INT" not in body["message_zh"]
    page = get(client, keys, "/tables/hidden_danger_register?col=deadline&op=gt&val=明天")
    assert page.status_code == 400 and "日期" in page.text and "Conversion Error" not in page.text


def test_unknown_page_is_html_for_browsers_and_json_for_api_clients(client, keys) -> None:
    page = get(client, keys, "/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "没有这个页面" in page.text
    api = client.get("/no-such-page", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "not_found"
    under_api = client.get("/api/no-such-thing", headers=HTML)
    assert under_api.headers["content-type"].startswith("application/problem+json")


def test_menu_shows_only_pages_the_role_can_open(client, keys) -> None:
    def menu(role: str) -> list[str]:
        nav = get(client, keys, "/quality", role).text.split("<nav>", 1)[1].split("</nav>", 1)[0]
        return re.findall(r'<a href="([^"]+)"', nav)

    analyst, staff = menu("analyst"), menu("staff")
    assert {"/tables", "/sql", "/quality"} <= set(analyst) and not {"/search", "/towns"} & set(analyst)
    assert {"/search", "/towns", "/quality"} <= set(staff) and not {"/tables", "/sql"} & set(staff)
    for role, hrefs in (("analyst", analyst), ("staff", staff)):
        for href in hrefs:
            if not href.startswith("/schema"):
                assert get(client, keys, href, role).status_code == 200, (role, href)


def test_dossier_links_to_all_events_with_canonical_departments_and_charts(client, keys) -> None:
    page = get(client, keys, "/towns/330109113", "staff").text
    total = scalar(client, keys, "select count(*) from town_events where town_code = '330109113'")
    assert total > 20
    assert f"近期事件（{total}）" in page
    # staff cannot open the tables: the rest of the events come on the dossier itself, and nothing links into them
    assert 'id="all-events" href="/towns/330109113?events=all#events"' in page
    assert not re.findall(r'href="/tables/[^"]*"', page)
    everything = get(client, keys, "/towns/330109113?events=all", "staff").text
    assert len(cells(everything, "events-table")) == min(total, DETAIL_LIMIT) and 'id="all-events"' not in everything
    admin = get(client, keys, "/towns/330109113", "admin").text
    assert 'id="all-events" href="/tables/town_events?town_code=330109113&amp;_sort_desc=report_time"' in admin
    depts = {row[-1][1] for row in cells(page, "events-table")}
    canonical = scalar(client, keys, "select list(distinct dept) from town_events")
    assert depts <= set(canonical)
    assert not depts & {"城管局", "萧山区城市管理局", "区城市管理局"}  # spellings the crosswalk resolves
    for chart in ("events", "overdue", "readiness-evidence"):
        assert f'class="marks {chart}"' in page
    overdue = cells(page, "dangers")
    assert overdue and all(row[6][0] in ("good", "bad") for row in overdue)
    # an id in the dossier opens its row, for a role that may open the tables
    register_ids = rows(client, keys, "select register_id from hidden_danger_register where town_code = '330109113'")
    danger = re.search(r'<a href="(/tables/hidden_danger_register/row\?register_id=[^"]+)">', admin)
    assert danger and parse_qsl(urlsplit(html.unescape(danger[1])).query)[0][1] in {r[0] for r in register_ids}
    assert get(client, keys, html.unescape(danger[1])).status_code == 200
    assert re.search(r'<a href="/tables/town_events/row\?event_id=[^"]+">', admin)


def test_towns_page_colours_scores_and_draws_readiness_bars(client, keys) -> None:
    page = get(client, keys, "/towns", "staff").text
    assert 'class="marks readiness"' in page
    scores = re.findall(r'class="score-pill (score-\d)">(\d)/6<', page)
    assert ("score-4", "6") in scores
    assert all(css == "score-0" for css, score in scores if score == "0")
    assert {css for css, score in scores if score == "6"} == {"score-4"}


def test_quality_page_shows_the_report_inline_with_beijing_times(client, keys) -> None:
    page = get(client, keys, "/quality", "analyst").text
    assert "<iframe" not in page
    assert 'id="quality-report"' in page and "按部门汇总" in page
    assert "UTC" not in page
    assert "北京时间" in page and "数据基准日" in page


def test_sql_page_runs_a_query_through_the_sandbox(client, keys) -> None:
    query = "SELECT town_name, readiness_score FROM town_readiness ORDER BY readiness_score, town_name LIMIT 5"
    page = client.get("/sql", params={"q": query}, headers={"Authorization": f"Bearer {keys['analyst']}", **HTML})
    assert page.status_code == 200 and 'id="sql-results"' in page.text
    assert scalar(client, keys, query) in page.text
    refused = client.get("/sql", params={"q": "DROP TABLE town_readiness"},
                         headers={"Authorization": f"Bearer {keys['analyst']}", **HTML})
    assert refused.status_code == 400 and 'id="sql-error"' in refused.text
    assert get(client, keys, "/sql", "staff").status_code == 403


def test_sql_results_head_published_columns_with_their_chinese_labels(client, keys) -> None:
    """A result column named like a published column reads as that column does on the tables pages (its Chinese
    label, the name beneath); a name two tables label differently, or one the query made up, stays as it is."""
    query = "SELECT town_name, overdue_days, count(*) AS n FROM hidden_danger_register GROUP BY ALL LIMIT 3"
    page = client.get("/sql", params={"q": query}, headers={"Authorization": f"Bearer {keys['analyst']}", **HTML})
    head = page.text.split('id="sql-results"', 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r'<th data-column="([^"]+)"[^>]*>(.*?)</th>', head)
    assert [name for name, _ in cells] == ["town_name", "overdue_days", "n"]
    shown = {name: re.sub(r"<[^>]+>", " ", html).split() for name, html in cells}
    assert shown["overdue_days"] == ["逾期天数", "overdue_days"]
    raw = client.get("/sql", params={"q": "SELECT town_raw FROM hidden_danger_register LIMIT 1"},
                     headers={"Authorization": f"Bearer {keys['analyst']}", **HTML}).text
    # described "镇街（原值）/ the town as …": the label ends at the slash even without a space before it
    assert re.search(r'data-column="town_raw"[^>]*>镇街（原值）<div class="coldesc">town_raw<', raw)
    assert shown["town_name"] == ["镇街名称", "town_name"]  # as hidden_danger_register labels it (another table
    assert shown["n"] == ["n"]                                 # labels its town_name 镇街名称（原值）)
    joined = "SELECT e.town_name, d.level FROM town_events e JOIN hidden_danger_register d USING (town_code) LIMIT 1"
    page = client.get("/sql", params={"q": joined}, headers={"Authorization": f"Bearer {keys['analyst']}", **HTML})
    head = page.text.split('id="sql-results"', 1)[1].split("</thead>", 1)[0]
    assert re.search(r'data-column="level"[^>]*>[^<a-z]*[\u4e00-\u9fff]', head), head


def test_sql_page_lists_the_tables_and_columns_to_query(client, keys) -> None:
    """The SQL page sent analysts to the tables pages to find a column's name: it now lists every published table
    by its Chinese name with its columns (name, Chinese label, type) beside the editor."""
    page = get(client, keys, "/sql", "analyst").text
    outline = page.split('id="sql-tables"', 1)[1].split("</aside>", 1)[0]
    published = client.get("/api/tables", headers={"Authorization": f"Bearer {keys['analyst']}"}).json()["tables"]
    listed = re.findall(r"<summary>[^<]*<code>([a-z_]+)</code></summary>", outline)
    assert sorted(listed) == sorted(t["name"] for t in published)
    danger = outline.split("<code>hidden_danger_register</code>", 1)[1].split("</details>", 1)[0]
    assert "<code>overdue_days</code> 逾期天数" in danger and "<summary>隐患总台账 " in outline


def test_every_table_is_named_in_chinese(client, keys) -> None:
    """The 考核 history tables' descriptions put the slash right after a full-width bracket ("部门月度考核（历月）/ …"):
    their cards and sidebar entries showed the English table name."""
    cjk = re.compile(r"[\u4e00-\u9fff]")
    page = get(client, keys, "/tables").text
    names = re.findall(r'<a class="card table-card" href="/tables/[^"]+">\s*<h2>([^<]+)</h2>', page)
    published = client.get("/api/tables", headers={"Authorization": f"Bearer {keys['admin']}"}).json()["tables"]
    assert len(names) == len(published)
    assert all(cjk.search(name) for name in names), [n for n in names if not cjk.search(n)]
    assert "部门月度考核（历月）" in names
    side = get(client, keys, "/tables/assessment_department_monthly_history").text
    assert "<h1>部门月度考核（历月） <code" in side


def test_every_table_is_described_in_chinese(client, keys) -> None:
    """The cards and table pages showed the English half of the dbt description ("one row per …"): they now show
    the model's Chinese meta.summary, which /api/tables also gives."""
    from orchestration.dbt_project import MANIFEST_PATH
    from orchestration.publish import load_manifest, published_models

    summaries = {m.name: m.summary for m in published_models(load_manifest(MANIFEST_PATH))}
    cjk = re.compile(r"[\u4e00-\u9fff]")
    listing = get(client, keys, "/tables").text
    cards = re.findall(r'<a class="card table-card" href="/tables/([^"]+)">.*?<p>(.*?)</p>', listing, re.DOTALL)
    assert cards and all(cjk.search(text) and "one row per" not in text for _, text in cards), cards
    published = client.get("/api/tables", headers={"Authorization": f"Bearer {keys['admin']}"}).json()["tables"]
    assert {t["name"]: t["summary"] for t in published} == {t["name"]: summaries[t["name"]] for t in published}
    page = get(client, keys, "/tables/hidden_danger_register").text
    shown = html.unescape(page.split('table-desc">', 1)[1].split("</p>", 1)[0])
    assert shown == summaries["hidden_danger_register"] and "逾期" in shown


def test_a_snapshot_published_before_summaries_still_reads(tmp_path: Path) -> None:
    """Snapshots kept from before ``_tables.summary`` existed: the page falls back to the description's text."""
    import duckdb

    from api.catalog import load_catalog
    from api.table_display import plain_description, table_label

    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("CREATE TABLE _tables (table_name VARCHAR, description VARCHAR, columns JSON)")
        con.execute("INSERT INTO _tables VALUES ('t', '旧表 / one row per thing', '[]')")
        table = load_catalog(con).table("t")
    assert table is not None and table.summary == ""
    assert (table_label(table), plain_description(table)) == ("旧表", "one row per thing")


def test_the_assessment_page_names_no_file(client, keys) -> None:
    """Tour: the 考核督办 page sent staff to "seeds/assessment_indicators.csv", a dbt project file they never see."""
    page = get(client, keys, "/assessment", "staff")
    assert page.status_code == 200 and "<h1>考核与督办" in page.text
    assert "seeds/" not in page.text and ".csv" not in page.text
    assert "各项指标的权重、指标值与得分见各单位页面" in page.text


def test_a_table_page_opens_its_query_on_the_sql_page(client, keys) -> None:
    """As Datasette's "View and edit SQL": the page's filters and sort as SQL with the values written in, which
    the SQL page runs to the same rows."""
    page = get(client, keys, "/tables/hidden_danger_register?is_overdue=是&days_open__gte=30&deadline__lt=2099-01-01"
               "&town_name__contains=镇&_sort_desc=overdue_days&_size=500", "analyst").text
    total = int(re.search(r'id="total">(\d+)<', page)[1])
    assert 0 < total <= 500
    href = re.search(r'<a href="([^"]+)" id="open-sql"', page)[1].replace("&amp;", "&")
    sql = dict(parse_qsl(urlsplit(href).query))["q"]
    # the filters in the URL's order, values as literals of their column's type
    assert sql == ('SELECT * FROM "hidden_danger_register" WHERE "is_overdue" = true AND "days_open" >= 30 '
                   """AND "deadline" < '2099-01-01' AND strpos(lower(CAST("town_name" AS VARCHAR)), lower('镇')) > 0 """
                   """ORDER BY "overdue_days" DESC NULLS LAST LIMIT 500""")
    opened = get(client, keys, href, "analyst")
    assert opened.status_code == 200 and 'id="sql-results"' in opened.text
    answer = client.post("/api/sql", json={"sql": sql}, headers={"Authorization": f"Bearer {keys['analyst']}"})
    assert answer.status_code == 200, answer.text
    columns, found = answer.json()["columns"], answer.json()["rows"]
    assert len(found) == total
    first = found[0][[c if isinstance(c, str) else c["name"] for c in columns].index("overdue_days")]
    assert first == scalar(client, keys, "select max(overdue_days) from hidden_danger_register where is_overdue "
                                         "and days_open >= 30 and town_name like '%镇%'")


def test_a_search_box_finds_a_word_in_any_text_column_but_never_a_personal_one(client, keys) -> None:
    """As Datasette's table search: _search finds the rows holding a word in any text column, on the API, the
    page (with its summary and SQL) and the export; personal columns are not searched, for any role."""
    from api.masking import MASK_RULES

    auth = {"Authorization": f"Bearer {keys['analyst']}"}
    everything = client.get("/api/tables/hidden_danger_register", params={"_size": 1000}, headers=auth).json()
    assert everything["total"] <= 1000
    text_columns = [c["name"] for c in everything["columns"] if c["type"] == "VARCHAR"]
    expected = sum(any("山塘" in (row[c] or "") for c in text_columns) for row in everything["rows"])
    assert 0 < expected < everything["total"]
    found = client.get("/api/tables/hidden_danger_register", params={"_search": "山塘", "_size": 1000}, headers=auth)
    assert found.status_code == 200 and found.json()["total"] == expected == len(found.json()["rows"])
    page = get(client, keys, "/tables/hidden_danger_register?_search=山塘&is_overdue=是", "analyst").text
    both = sum(row["is_overdue"] and any("山塘" in (row[c] or "") for c in text_columns) for row in everything["rows"])
    assert f'id="summary">{both} 行，条件：含“山塘”；是否逾期 = 是<' in page
    assert re.search(r'<input type="search" name="_search"[^>]*value="山塘"', page)
    href = re.search(r'<a href="([^"]+)" id="open-sql"', page)[1].replace("&amp;", "&")
    sql = dict(parse_qsl(urlsplit(href).query))["q"]
    assert "strpos(lower(CAST(\"description\" AS VARCHAR)), lower('山塘')) > 0" in sql
    assert len(rows(client, keys, sql)) == both
    exported = client.get("/api/tables/hidden_danger_register", params={"_search": "山塘", "_format": "csv"},
                          headers=auth)
    assert len(list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))) - 1 == expected
    # a personal column holds a name, yet searching for it finds nothing, even for an admin who sees it
    person = next((t, c) for t in client.get("/api/tables", headers=auth).json()["tables"]
                  for c in t["columns"] if c["name"] in MASK_RULES and MASK_RULES[c["name"]].kind == "name")
    table, column = person[0]["name"], person[1]["name"]
    name = scalar(client, keys, f'select "{column}" from "{table}" where "{column}" is not null limit 1')
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    searched = client.get(f"/api/tables/{table}", params={"_search": name}, headers=admin).json()
    assert all(name not in str(v) for row in searched["rows"] for k, v in row.items() if k == column)
    too_long = client.get("/api/tables/hidden_danger_register", params={"_search": "字" * 101}, headers=auth)
    assert too_long.status_code == 400 and too_long.json()["parameter"] == "_search"
    page = get(client, keys, "/tables/hidden_danger_register?_search=" + "字" * 101, "analyst")
    assert page.status_code == 400 and "_search" in page.text


def test_every_link_a_role_is_shown_opens_for_it(client, keys) -> None:
    """Staff followed evidence links on the assessment pages into the tables, which answered 403: crawl the pages
    each role sees (a few of every kind of address) and open every link they show."""
    href = re.compile(r'href="(/[^"#]*)')
    for role in ("analyst", "staff", "admin"):
        seen: set[str] = set()
        queue, broken = ["/"], []
        per_kind: dict[str, int] = {}
        while queue and len(seen) < 250:
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            page = get(client, keys, path, role)
            if page.status_code != 200:
                broken.append((page.status_code, path))
                continue
            for link in (html.unescape(h) for h in href.findall(page.text)):
                if link.startswith(("/api/", "/static/", "/schema", "/logout", "/sql/export")) or "_format=" in link:
                    continue
                kind = urlsplit(link).path.rsplit("/", 1)[0] + ("?" if "?" in link else "")
                per_kind[kind] = per_kind.get(kind, 0) + 1
                if per_kind[kind] <= 12:
                    queue.append(link)
        assert len(seen) > 40, (role, len(seen))
        assert not broken, (role, broken[:5])


def test_a_column_choice_holds_on_the_page_the_api_the_sql_link_and_every_export(client, keys) -> None:
    wanted = ["overdue_days", "town_name"]  # asked in this order; answered in the table's
    expected = scalar(client, keys, "select count(*) from hidden_danger_register where is_overdue")
    auth = {"Authorization": f"Bearer {keys['analyst']}"}
    answer = client.get("/api/tables/hidden_danger_register",
                        params={"is_overdue": "true", "_col": ",".join(wanted), "_size": "1000"}, headers=auth).json()
    names = [c["name"] for c in answer["columns"]]
    assert sorted(names) == sorted(wanted) and answer["total"] == expected == len(answer["rows"])
    assert all(list(row) == names for row in answer["rows"])

    page = get(client, keys, "/tables/hidden_danger_register?col=is_overdue&op=eq&val=是"
                             "&_col=overdue_days&_col=town_name", "analyst").text
    assert headings(page, "data-table") == ["town_name", "overdue_days"]  # the page's own column order
    every_column = [c[0] for c in rows(client, keys, "select column_name from information_schema.columns "
                                                     "where table_name = 'hidden_danger_register'")]
    assert f"· 2/{len(every_column)} 列" in page
    assert re.search(r'<th class="rowlink" scope="row"><a href="/tables/hidden_danger_register/row\?register_id=', page)
    exports = dict((fmt, html.unescape(href)) for href, fmt in re.findall(r'<a href="([^"]+)">(CSV|Parquet)</a>', page))
    lines = list(csv.reader(io.StringIO(client.get(exports["CSV"], headers=auth).content.decode("utf-8-sig"))))
    assert lines[0] == names and len(lines) - 1 == expected
    parquet = pq.read_table(io.BytesIO(client.get(exports["Parquet"], headers=auth).content))
    assert parquet.column_names == names and parquet.num_rows == expected
    sql = dict(parse_qsl(urlsplit(html.unescape(re.search(r'<a href="([^"]+)" id="open-sql"', page)[1])).query))["q"]
    assert sql.startswith(f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)} FROM "hidden_danger_register"')

    # every box ticked (the form without JavaScript) is no choice: the links do not carry 27 column names
    everything = "&".join(f"_col={name}" for name in every_column)
    whole = get(client, keys, f"/tables/hidden_danger_register?{everything}", "analyst").text
    assert "_col=" not in whole.split('id="data-table"', 1)[0].split("</form>", 1)[1]
    refused = client.get("/api/tables/hidden_danger_register?_col=nope", headers=auth)
    assert refused.status_code == 400 and "_col" in refused.json()["message_zh"]
