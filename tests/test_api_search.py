"""Search, similar cases and documents over HTTP, on an index built by the kb library from sample documents."""

from __future__ import annotations

from urllib.parse import quote

from api_fixtures import SAMPLE_DOCS, LiveServer

PLAN = "plans/district_防汛防台专项应急预案.md"
CASE = "cases/20230809_河上镇_台风青岚山区群众转移案例.md"


def test_search_round_trip_finds_the_flood_plan(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        body = c.get("/api/search", params={"q": "台风 防汛 应急响应", "top_k": 5}).json()
    results = body["results"]
    assert 0 < len(results) <= 5
    assert PLAN in {r["doc_id"] for r in results}
    top = results[0]
    assert top["heading_path"] and top["snippet"]
    assert "<mark>" in top["snippet_html"]
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


def test_filters_reach_the_index(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        cases = c.get("/api/search", params={"q": "台风 转移", "type": "案例"}).json()["results"]
        town = c.get("/api/search", params={"q": "应急指挥 转移", "town": "瓜沥镇"}).json()["results"]
    assert cases and {r["doc_type"] for r in cases} == {"案例"}
    assert town and {r["doc_id"] for r in town} == {"plans/330109113_瓜沥镇突发事件总体应急预案.md"}


def test_modes_differ_but_all_answer(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        for mode in ("bm25", "vector", "hybrid"):
            response = c.get("/api/search", params={"q": "山体滑坡 群众转移", "mode": mode})
            assert response.status_code == 200, response.text
            assert response.json()["results"]


def test_bad_search_parameters_are_400(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        assert c.get("/api/search", params={"q": "台风", "mode": "magic"}).json()["code"] == "invalid_request"
        unknown_town = c.get("/api/search", params={"q": "台风", "town": "火星镇"})
        assert unknown_town.status_code == 400 and "town" in unknown_town.json()["message_en"]
        assert c.get("/api/search").status_code == 400


def test_similar_cases_by_text_and_by_id(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        by_text = c.get("/api/cases/similar", params={"text": "台风来临前山区群众紧急转移安置"}).json()["results"]
        by_id = c.get("/api/cases/similar", params={"case_id": CASE}).json()["results"]
        missing = c.get("/api/cases/similar", params={"case_id": "cases/none.md"})
        both = c.get("/api/cases/similar", params={"case_id": CASE, "text": "x"})
    assert by_text[0]["doc_id"].startswith("cases/")
    assert CASE in {r["doc_id"] for r in by_text}
    assert by_id and CASE not in {r["doc_id"] for r in by_id}
    assert missing.status_code == 404
    assert both.status_code == 400


def test_document_has_chunks_in_order_and_its_original(api_server: LiveServer) -> None:
    with api_server.client("staff") as c:
        doc = c.get(f"/api/documents/{quote(PLAN)}").json()
        original = c.get(f"/api/documents/{quote(PLAN)}/file")
        missing = c.get("/api/documents/plans/nothing.md")
    orders = [chunk["order"] for chunk in doc["chunks"]]
    assert orders == sorted(orders) and len(orders) == doc["chunk_count"]
    assert doc["title"] and doc["doc_type"] == "预案"
    assert original.status_code == 200
    assert original.content == (SAMPLE_DOCS / PLAN).read_bytes()
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_document"
