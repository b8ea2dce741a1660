"""Personal data (grid workers' and responsible persons' names and phones) is masked for roles that do
not need it, in every way the API serves rows: JSON pages, CSV and Parquet exports, the web table
page and SQL. Over HTTP against the snapshot the real pipeline published (its town dossier names
each town's liaison)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest
from api_fixtures import LiveServer

from api.masking import MASK_RULES, MaskKind, mask_name, mask_phone, mask_text, mask_value


@pytest.fixture(scope="module")
def liaison_names(snapshot_db) -> set[str]:
    names = {n for (n,) in snapshot_db.execute("select liaison_name from town_dossier").fetchall() if n}
    assert len(names) >= 10, "the sample data names a liaison in most towns"
    return names


def leaked(text: str, names: set[str]) -> set[str]:
    return {n for n in names if n in text}


def test_rules_mask_names_phones_and_quoted_names() -> None:
    assert mask_name("孙某艳") == "孙**"
    assert mask_phone("联系电话 13800000001，备用 0571-82890110") == "联系电话 138****0001，备用 0571-82890110"
    assert mask_text("应急管理站已挂牌；联络员 LL001 孙某艳 在岗") == "应急管理站已挂牌；联络员 LL001 孙** 在岗"
    assert mask_value(MASK_RULES["mobile"], "13912345678") == "139****5678"
    assert mask_value(MASK_RULES["liaison_name"], None) is None
    assert {r.kind for r in MASK_RULES.values()} == set(MaskKind)


def test_analyst_table_page_masks_names_and_evidence(api_server: LiveServer, liaison_names: set[str]) -> None:
    with api_server.client("analyst") as c:
        response = c.get("/api/tables/town_dossier", params={"_size": 100})
    assert response.status_code == 200
    rows = response.json()["rows"]
    assert len(rows) == 27
    assert not leaked(response.text, liaison_names)
    named = [r for r in rows if r["liaison_name"]]
    assert named and all(r["liaison_name"].endswith("*") for r in named)
    assert any("联络员" in (r["mechanism_evidence"] or "") and "*" in r["mechanism_evidence"] for r in rows)
    assert all(r["town_name"] and "*" not in r["town_name"] for r in rows)  # only the rule's columns change


def test_admin_sees_the_names(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("admin") as c:
        rows = c.get("/api/tables/town_dossier", params={"_size": 100, "_sort": "town_code"}).json()["rows"]
    expected = snapshot_db.execute("select liaison_name from town_dossier order by town_code").fetchall()
    assert [r["liaison_name"] for r in rows] == [n for (n,) in expected]


def test_staff_town_dossier_keeps_the_liaison_to_call(api_server: LiveServer, snapshot_db) -> None:
    code, name = snapshot_db.execute(
        "select town_code, liaison_name from town_dossier where liaison_name is not null order by 1 limit 1"
    ).fetchone()
    with api_server.client("staff") as c:
        body = c.get(f"/api/towns/{code}").json()
    assert body["dossier"]["liaison_name"] == name


@pytest.mark.parametrize("table", ["town_dossier", "town_readiness"])
def test_analyst_exports_are_masked(api_server: LiveServer, liaison_names: set[str], table: str) -> None:
    with api_server.client("analyst") as c:
        csv = c.get(f"/api/tables/{table}", params={"_format": "csv"})
        parquet = c.get(f"/api/tables/{table}", params={"_format": "parquet"})
    assert csv.status_code == 200 and parquet.status_code == 200
    assert csv.text.count("\n") >= 27
    assert not leaked(csv.text, liaison_names)
    exported = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert len(exported) == 27
    assert not leaked(repr(exported), liaison_names)


def test_no_table_served_to_an_analyst_shows_a_name(api_server: LiveServer, liaison_names: set[str]) -> None:
    with api_server.client("analyst") as c:
        tables = [t["name"] for t in c.get("/api/tables").json()["tables"]]
        for table in tables:
            response = c.get(f"/api/tables/{table}", params={"_size": 1000})
            assert response.status_code == 200, table
            assert not leaked(response.text, liaison_names), table


@pytest.mark.parametrize(
    "params",
    [
        {"liaison_name": "孙某艳"},
        {"liaison_name__contains": "某"},
        {"_sort": "liaison_name"},
        {"_sort_desc": "mechanism_evidence"},
        {"_facet": "liaison_name"},
    ],
)
def test_analyst_cannot_probe_masked_columns(api_server: LiveServer, params: dict[str, str]) -> None:
    with api_server.client("analyst") as c:
        response = c.get("/api/tables/town_dossier", params=params)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "personal_data"
    assert "个人信息" in body["message_zh"] and "personal data" in body["message_en"]


@pytest.mark.parametrize(
    "sql",
    [
        "select liaison_name from town_dossier",
        "select t from town_dossier t",
        "select struct_extract(t, 'liaison_name') from town_dossier t",
        "select reverse(liaison_name) from town_dossier",
        "select unicode(substr(liaison_name, 2, 1)) from town_dossier",
        "select mechanism_evidence from town_readiness",
        "with d as (select * from town_dossier) select * from d",
        "select h.town_code, d.liaison_name from hidden_danger_register h join town_dossier d using (town_code)",
    ],
)
def test_analyst_sql_sees_personal_columns_masked(api_server: LiveServer, liaison_names: set[str], sql: str) -> None:
    """However a query reaches a name, an analyst's SQL finds only the masked value: the names are not in the
    copy of the snapshot it runs on."""
    with api_server.client("analyst") as c:
        response = c.post("/api/sql", json={"sql": sql})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["row_count"] > 0
    text = response.text
    assert not leaked(text, liaison_names)
    assert not leaked(text, {n[::-1] for n in liaison_names})
    assert not {str(ord(n[1])) for n in liaison_names} & {str(v) for row in body["rows"] for v in row}


def test_analyst_sql_gives_the_masked_form_of_each_name(api_server: LiveServer, snapshot_db) -> None:
    expected = snapshot_db.execute("select town_code, liaison_name from town_dossier order by 1").fetchall()
    with api_server.client("analyst") as c:
        rows = c.post("/api/sql", json={"sql": "select town_code, liaison_name from town_dossier order by 1"}).json()
    assert [tuple(r) for r in rows["rows"]] == [(code, mask_name(name) if name else name) for code, name in expected]


def test_analyst_sql_on_other_tables_and_admin_sql_work(api_server: LiveServer, liaison_names: set[str]) -> None:
    with api_server.client("analyst") as c:
        ok = c.post("/api/sql", json={"sql": "select count(*) from hidden_danger_register"})
    assert ok.status_code == 200
    with api_server.client("admin") as c:
        admin = c.post("/api/sql", json={"sql": "select liaison_name from town_dossier"})
    assert admin.status_code == 200
    assert {r[0] for r in admin.json()["rows"] if r[0]} == liaison_names


def test_web_table_page_is_masked_for_an_analyst(api_server: LiveServer, liaison_names: set[str]) -> None:
    with api_server.client("analyst") as c:
        page = c.get("/tables/town_dossier", params={"_size": 100})
    assert page.status_code == 200
    assert "town_dossier" in page.text
    assert not leaked(page.text, liaison_names)
