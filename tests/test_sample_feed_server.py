"""The four-platforms feed simulator over real HTTP: paging, updatedSince, tokens, errors, 503s, new files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from hub.sample import add_day, generate
from hub.sample.feed_server import FeedServer, start_feed_server

AS_OF = date(2025, 6, 30)
SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("feed")
    generate(out, seed=5, scale="small", as_of=AS_OF)
    return out


@pytest.fixture()
def feed(sample_dir: Path) -> Iterator[tuple[FeedServer, str]]:
    server, base_url = start_feed_server(sample_dir / "four_platforms", page_size_max=500)
    yield server, base_url
    server.shutdown()
    server.server_close()


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def file_versions(folder: Path) -> set[tuple[str, datetime]]:
    found = set()
    for path in folder.glob("events_*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            found.add((record["eventId"], instant(record["updatedAt"])))
    return found


def fetch_all(client: httpx.Client, base_url: str, **params: object) -> tuple[list[dict[str, object]], int]:
    items: list[dict[str, object]] = []
    pages = 0
    token = None
    while True:
        query = {**params, **({"pageToken": token} if token else {})}
        response = client.get(f"{base_url}/api/v1/events", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        pages += 1
        token = body["nextPageToken"]
        if token is None:
            return items, pages


def test_paging_returns_every_version_once_in_order(feed: tuple[FeedServer, str], sample_dir: Path) -> None:
    _, base_url = feed
    with httpx.Client() as client:
        items, pages = fetch_all(client, base_url, pageSize=500)
    keys = [(instant(str(i["updatedAt"])), str(i["eventId"])) for i in items]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert {(event_id, moment) for moment, event_id in keys} == file_versions(sample_dir / "four_platforms")
    assert pages == -(-len(items) // 500)


def test_updated_since_is_exclusive(feed: tuple[FeedServer, str]) -> None:
    _, base_url = feed
    with httpx.Client() as client:
        everything, _ = fetch_all(client, base_url, pageSize=500)
        pivot = everything[len(everything) // 2]
        since = instant(str(pivot["updatedAt"]))
        later, _ = fetch_all(client, base_url, pageSize=500, updatedSince=since.isoformat())
    assert later and all(instant(str(i["updatedAt"])) > since for i in later)
    assert len(later) == sum(instant(str(i["updatedAt"])) > since for i in everything)
    assert pivot not in later


def test_page_token_is_stable(feed: tuple[FeedServer, str]) -> None:
    _, base_url = feed
    with httpx.Client() as client:
        first = client.get(f"{base_url}/api/v1/events", params={"pageSize": 7}).json()
        again = client.get(f"{base_url}/api/v1/events", params={"pageSize": 7}).json()
        assert first == again
        second = client.get(f"{base_url}/api/v1/events", params={"pageSize": 7, "pageToken": first["nextPageToken"]})
        both = client.get(f"{base_url}/api/v1/events", params={"pageSize": 14}).json()
    assert first["items"] + second.json()["items"] == both["items"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"pageSize": "abc"}, "pageSize"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "501"}, "pageSize"),
        ({"updatedSince": "yesterday"}, "updatedSince"),
        ({"pageToken": "not-a-token!"}, "pageToken"),
    ],
)
def test_bad_parameters_get_400_with_json(feed: tuple[FeedServer, str], params: dict[str, str], parameter: str) -> None:
    _, base_url = feed
    response = httpx.get(f"{base_url}/api/v1/events", params=params)
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == parameter and parameter in body["error"]


def test_unknown_path_is_404_json(feed: tuple[FeedServer, str]) -> None:
    _, base_url = feed
    response = httpx.get(f"{base_url}/api/v2/events")
    assert response.status_code == 404 and "/api/v1/events" in response.json()["error"]


def test_fail_every_answers_503(sample_dir: Path) -> None:
    server, base_url = start_feed_server(sample_dir / "four_platforms", fail_every=3)
    try:
        statuses = [httpx.get(f"{base_url}/api/v1/events", params={"pageSize": 2}).status_code for _ in range(7)]
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [200, 200, 503, 200, 200, 503, 200]


def test_new_files_are_seen_without_restart(tmp_path: Path) -> None:
    generate(tmp_path, seed=9, scale="small", as_of=AS_OF)
    server, base_url = start_feed_server(tmp_path / "four_platforms")
    try:
        with httpx.Client() as client:
            before, _ = fetch_all(client, base_url, pageSize=1000)
            newest = max(instant(str(i["updatedAt"])) for i in before)
            add_day(tmp_path, seed=9)
            fresh, _ = fetch_all(client, base_url, pageSize=1000, updatedSince=newest.isoformat())
    finally:
        server.shutdown()
        server.server_close()
    new_file = tmp_path / "four_platforms" / "events_20250701.jsonl"
    assert len(fresh) == len({key for key in file_versions(new_file.parent) if key[1] > newest}) > 0
    known = {str(i["eventId"]) for i in before}
    resent = [i for i in fresh if i["eventId"] in known]
    assert resent and all(i["status"] == "已办结" for i in resent)  # re-sent with a new status
    assert any(i["eventId"] not in known for i in fresh)
