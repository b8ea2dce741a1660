"""``/api/tables`` over real HTTP on a published snapshot: data dictionary, filters, sort, paging, facets, exports.

Expected answers are computed by querying the same snapshot file directly with DuckDB.
"""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pyarrow.parquet as pq
import pytest
from api_fixtures import LiveServer

TABLE = "hidden_danger_register"


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def test_lists_every_published_table_with_its_dictionary(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c:
        body = c.get("/api/tables").json()
    published = {name for (name,) in rows(snapshot_db, "select table_name from _tables")}
    assert {t["name"] for t in body["tables"]} == published
    register = next(t for t in body["tables"] if t["name"] == TABLE)
    documented = json.loads(rows(snapshot_db, "select columns from _tables where table_name = ?", [TABLE])[0][0])
    assert {c["name"]: c["description"] for c in register["columns"]} == {
        c["name"]: c["description"] for c in documented
    }
    assert any(c["description"] for c in register["columns"])
    assert register["rows"] == rows(snapshot_db, f"select count(*) from {TABLE}")[0][0]
    assert body["built"]["as_of"] == "2026-06-30"
    assert body["built"]["row_counts"][TABLE] == register["rows"]


@pytest.mark.parametrize(
    ("query", "where", "params"),
    [
        ({"level": "重大"}, "level = ?", ["重大"]),
        ({"overdue_days__gt": "30"}, "overdue_days > ?", [30]),
        ({"deadline__lte": "2026-03-01"}, "deadline <= ?", ["2026-03-01"]),
        ({"town_code__in": "330109113,330109001"}, "town_code in (?, ?)", ["330109113", "330109001"]),
        ({"owner_dept__contains": "林水"}, "owner_dept like ?", ["%林水%"]),
        ({"deadline__isnull": "true"}, "deadline is null", []),
        ({"deadline__isnull": "false", "level": "中"}, "deadline is not null and level = ?", ["中"]),
        ({"is_overdue": "true", "level__ne": "一般"}, "is_overdue and level <> ?", ["一般"]),
    ],
)
def test_filters_match_the_same_query_in_duckdb(
    api_server: LiveServer, snapshot_db, query: dict, where: str, params: list
) -> None:
    expected = rows(snapshot_db, f"select danger_id from {TABLE} where {where} order by rowid", params)
    assert expected, "the fixture must have rows for every filter, or the test proves nothing"
    with api_server.client("analyst") as c:
        body = c.get(f"/api/tables/{TABLE}", params={**query, "_size": 1000}).json()
    assert body["total"] == len(expected)
    assert [r["danger_id"] for r in body["rows"]] == [d for (d,) in expected]


def test_sort_descending_puts_nulls_last(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c:
        body = c.get(f"/api/tables/{TABLE}", params={"_sort_desc": "deadline", "_size": 1000}).json()
    values = [r["deadline"] for r in body["rows"]]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=True)
    assert values[len(present) :] == [None] * (len(values) - len(present))
    assert len(values) > len(present) > 0


def _walk(c, params: dict, key: str) -> list[str]:
    """Follow the pages of a table: by offset (key="next_offset") or by keyset cursor (key="next_after")."""
    seen: list[str] = []
    page = {**params}
    for _ in range(200):
        body = c.get(f"/api/tables/{TABLE}", params=page).json()
        seen.extend(r["danger_id"] for r in body["rows"])
        assert len(body["rows"]) <= params["_size"]
        if body[key] is None:
            return seen
        page = {**params, ("_after" if key == "next_after" else "_offset"): body[key]}
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("key", ["next_offset", "next_after"])
@pytest.mark.parametrize(
    ("sort", "order_sql"), [(None, "rowid"), ("deadline", "deadline is null, deadline, rowid")]
)
def test_paging_visits_every_row_once_in_order(
    api_server: LiveServer, snapshot_db, key: str, sort: str | None, order_sql: str
) -> None:
    params = {"_size": 37, "level__in": "一般,未分级"}  # 未分级 rows have no deadline: NULLs across pages
    if sort:
        params["_sort"] = sort
    with api_server.client("analyst") as c:
        seen = _walk(c, params, key)
    sql = f"select danger_id from {TABLE} where level in ('一般', '未分级') order by {order_sql}"
    expected = [d for (d,) in rows(snapshot_db, sql)]
    assert seen == expected


def test_facets_count_within_the_filter(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c:
        body = c.get(f"/api/tables/{TABLE}", params={"is_overdue": "true", "_facet": "level,category"}).json()
    for column in ("level", "category"):
        expected = dict(rows(snapshot_db, f"select {column}, count(*) from {TABLE} where is_overdue group by 1"))
        assert {f["value"]: f["count"] for f in body["facets"][column]} == expected


def test_csv_export_is_utf8_with_bom_and_complete(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c:
        response = c.get(f"/api/tables/{TABLE}", params={"town_code": "330109113", "_format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    sql = f"select danger_id, town_name from {TABLE} where town_code = '330109113' order by rowid"
    expected = rows(snapshot_db, sql)
    assert [(r["danger_id"], r["town_name"]) for r in parsed] == expected
    assert parsed[0]["town_name"] == "瓜沥镇"


def test_csv_export_of_a_whole_table_streams_every_row(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c, c.stream("GET", f"/api/tables/{TABLE}", params={"_format": "csv"}) as r:
        text = b"".join(r.iter_bytes()).decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) - 1 == rows(snapshot_db, f"select count(*) from {TABLE}")[0][0]


def test_parquet_export_keeps_types(api_server: LiveServer, snapshot_db) -> None:
    with api_server.client("analyst") as c:
        response = c.get(f"/api/tables/{TABLE}", params={"is_overdue": "true", "_format": "parquet"})
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == rows(snapshot_db, f"select count(*) from {TABLE} where is_overdue")[0][0]
    assert str(table.schema.field("deadline").type) == "date32[day]"
    assert "__rowid" not in table.column_names


def test_exports_are_audited(api_server: LiveServer) -> None:
    with api_server.client("analyst") as c:
        assert c.get(f"/api/tables/{TABLE}", params={"level": "重大", "_format": "csv"}).status_code == 200
    log = (api_server.data_dir / "api" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(log[-1])
    assert entry["key"] == "test-analyst"
    assert entry["action"] == "export_csv"
    assert "level=" in entry["statement"] and entry["table"] == TABLE


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/tables/no_such_table", {}, 404, "unknown_table"),
        ("/api/tables/_tables", {}, 404, "unknown_table"),
        (f"/api/tables/{TABLE}", {"nope": "1"}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {'level" OR 1=1 --': "x"}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {"_sort": "level; drop table town_dossier"}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {"_facet": 'level" from town_dossier --'}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {"level__like": "%"}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {"overdue_days__gt": "abc"}, 400, "bad_value"),
        (f"/api/tables/{TABLE}", {"_after": "not-a-cursor"}, 400, "bad_parameter"),
        # An export is streamed: a bad cursor must be refused before the 200 starts (schemathesis found it).
        (f"/api/tables/{TABLE}", {"_after": "", "_format": "csv"}, 400, "bad_parameter"),
        (f"/api/tables/{TABLE}", {"_format": "xlsx"}, 400, "invalid_request"),
        (f"/api/tables/{TABLE}", {"_size": "0"}, 400, None),
    ],
)
def test_bad_requests_say_what_is_wrong(api_server: LiveServer, path: str, params: dict, status: int, code) -> None:
    with api_server.client("analyst") as c:
        response = c.get(path, params=params)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if code:
        assert body["code"] == code
        assert body["message_zh"] and body["message_en"]
    assert "Traceback" not in response.text


def test_a_value_that_looks_like_sql_is_only_a_value(api_server: LiveServer) -> None:
    with api_server.client("analyst") as c:
        body = c.get(f"/api/tables/{TABLE}", params={"level": "一般' OR '1'='1"}).json()
    assert body["total"] == 0
