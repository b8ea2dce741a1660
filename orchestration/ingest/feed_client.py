"""HTTP client for the four-platforms event feed (docs/sources.md §1).

``GET {base}/api/v1/events?updatedSince=&pageSize=&pageToken=`` → ``{"items": [...], "nextPageToken": ...}``.
Transient failures (5xx, 429, connection errors, timeouts) are retried with exponential backoff,
a bounded number of times; a 4xx is an error naming the URL and the response body. The cursor
(the greatest ``updatedAt`` seen) is saved under the state directory only after the pages' rows are
committed, so a crash never skips events and a second run fetches only what changed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import httpx

from orchestration.ingest.contracts import FOUR_PLATFORMS
from orchestration.ingest.load import load_parts
from orchestration.ingest.schema import ensure_raw_schema
from orchestration.ingest.staging import json_lines_part
from orchestration.ingest.summary import SourceSummary
from orchestration.ingest.towns import ensure_town_aliases

CURSOR_FILE = "four_platforms_cursor.json"
EVENTS_PATH = "/api/v1/events"
SHANGHAI = ZoneInfo("Asia/Shanghai")
EVENTS = FOUR_PLATFORMS.entities[0]


class FeedError(RuntimeError):
    """The feed refused a request or stayed unavailable; the message names the URL."""


def read_cursor(state_dir: Path) -> str | None:
    path = Path(state_dir) / CURSOR_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("updatedSince")
    except FileNotFoundError:
        return None
    except (ValueError, AttributeError) as exc:
        raise FeedError(f"游标文件无法解析 / cannot read cursor file {path}: {exc}") from None


def write_cursor(state_dir: Path, updated_since: str) -> None:
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{CURSOR_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"updatedSince": updated_since}, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, state_dir / CURSOR_FILE)


def parse_updated_at(value: object) -> datetime | None:
    """updatedAt as an aware datetime; text without an offset is Asia/Shanghai local time."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def get_with_retries(
    client: httpx.Client,
    url: str,
    params: dict[str, str | int],
    max_attempts: int,
    backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    problem = ""
    for attempt in range(1, max_attempts + 1):
        try:
            response = client.get(url, params=params)
        except httpx.TransportError as exc:  # connection refused/reset, timeouts
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code >= 500 or response.status_code == 429:
                problem = f"HTTP {response.status_code}"
            elif response.status_code >= 400:
                raise FeedError(
                    f"四平台接口拒绝请求 / feed rejected the request: HTTP {response.status_code} "
                    f"{response.request.url}: {response.text[:500]}"
                )
            else:
                return response
        if attempt < max_attempts:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    raise FeedError(f"四平台接口暂不可用 / feed unavailable after {max_attempts} attempts: {url} ({problem})")


def fetch_events(
    con: duckdb.DuckDBPyConnection,
    base_url: str,
    state_dir: Path,
    page_size: int = 500,
    max_attempts: int = 5,
    backoff_seconds: float = 0.5,
    timeout_seconds: float = 30.0,
) -> SourceSummary:
    """Fetch every event changed since the stored cursor, page by page, into raw.four_platforms__events."""
    ensure_raw_schema(con)
    ensure_town_aliases(con)
    summary = SourceSummary("four_platforms", label="four_platforms HTTP")
    url = base_url.rstrip("/") + EVENTS_PATH
    cursor = read_cursor(state_dir)
    newest = parse_updated_at(cursor)
    token: str | None = None
    with httpx.Client(timeout=timeout_seconds) as client:
        while True:
            params: dict[str, str | int] = {"pageSize": page_size}
            if cursor:
                params["updatedSince"] = cursor
            if token:
                params["pageToken"] = token
            response = get_with_retries(client, url, params, max_attempts, backoff_seconds)
            try:
                page = response.json()
                items = page["items"]
                token = page.get("nextPageToken")
            except (ValueError, KeyError, TypeError, AttributeError):
                raise FeedError(
                    f"四平台接口返回格式不符 / feed answered without an items list: {response.request.url}: "
                    f"{response.text[:300]}"
                ) from None
            if items:
                request_url = str(response.request.url)
                lines = [json.dumps(item, ensure_ascii=False) for item in items]
                for result in load_parts(con, EVENTS, [json_lines_part(request_url, lines, None)],
                                         skip_existing=True):
                    summary.add(result)
                seen = [t for t in (parse_updated_at(i.get("updatedAt")) for i in items if isinstance(i, dict)) if t]
                if seen and (newest is None or max(seen) > newest):
                    newest = max(seen)
            if not token:
                break
    # Moved only once every page is committed: the contract does not promise pages in updatedAt
    # order, so a cursor moved mid-run could skip older events of a later page after a crash.
    # A re-run after a crash refetches, and rows already stored are not inserted again.
    if newest is not None:
        write_cursor(state_dir, newest.astimezone(SHANGHAI).isoformat())
    return summary
