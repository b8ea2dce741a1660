"""A small stand-in for the four platforms' HTTP API, serving the events_*.jsonl files of one folder.

``GET /api/v1/events?updatedSince=<ISO-8601>&pageSize=<n>&pageToken=<t>`` answers
``{"items": [...], "nextPageToken": "..." | null}``. Items are the JSONL lines verbatim, ordered by
(updatedAt, eventId); ``updatedSince`` is exclusive; a page token encodes the last item's key, so it
is stable and still valid after new files arrive. The folder is re-read when its files change.
``fail_every=N`` answers every Nth events request with 503, to exercise a client's retries.
Standard library only (ThreadingHTTPServer), so it starts fast in tests and in ``make run``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import threading
from datetime import UTC, datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

EVENTS_PATH = "/api/v1/events"
DEFAULT_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE_MAX = 1000
SHANGHAI = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Key = tuple[int, str]  # (updatedAt as microseconds since the epoch, eventId)


class BadParameter(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def parse_instant(text: str) -> int:
    """ISO-8601 with or without offset (no offset = Asia/Shanghai local time) -> microseconds since the epoch."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return (moment - EPOCH) // timedelta(microseconds=1)


def encode_token(key: Key) -> str:
    raw = json.dumps([key[0], key[1]], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_token(token: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        micros, event_id = json.loads(raw)
        if not isinstance(micros, int) or not isinstance(event_id, str):
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadParameter("pageToken", "pageToken 无效 / invalid pageToken") from None
    return micros, event_id


class EventStore:
    """The versions found in a folder's events_*.jsonl, sorted by key, reloaded when the files change."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int], ...] | None = None
        self._keys: list[Key] = []
        self._lines: list[bytes] = []

    def _current_signature(self) -> tuple[tuple[str, int, int], ...]:
        signature = []
        for path in sorted(self.folder.glob("events_*.jsonl")):
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while we looked: the next request sees the new state
                continue
            signature.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(signature)

    def _load(self) -> None:
        versions: dict[Key, bytes] = {}
        for path in sorted(self.folder.glob("events_*.jsonl")):
            with path.open("rb") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        record = json.loads(line)
                        key = (parse_instant(str(record["updatedAt"])), str(record.get("eventId") or ""))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line the real API could not have produced: not served
                    versions.setdefault(key, line)  # an exact repeat of (eventId, updatedAt) is served once
        keys = sorted(versions)
        self._keys = keys
        self._lines = [versions[k] for k in keys]

    def page(self, after: Key | None, size: int) -> tuple[list[bytes], Key | None]:
        with self._lock:
            signature = self._current_signature()
            if signature != self._signature:
                self._load()
                self._signature = signature
            keys, lines = self._keys, self._lines
        start = bisect.bisect_right(keys, after) if after else 0
        end = min(start + size, len(keys))
        next_key = keys[end - 1] if end < len(keys) else None
        return lines[start:end], next_key


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], store: EventStore, page_size_max: int, fail_every: int, verbose: bool
    ) -> None:
        super().__init__(address, FeedHandler)
        self.store = store
        self.page_size_max = page_size_max
        self.fail_every = fail_every
        self.verbose = verbose
        self.requests_seen = 0
        self._counter_lock = threading.Lock()

    def should_fail(self) -> bool:
        with self._counter_lock:
            self.requests_seen += 1
            return self.fail_every > 0 and self.requests_seen % self.fail_every == 0


class FeedHandler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, parameter: str | None = None, **headers: str) -> None:
        payload: dict[str, object] = {"error": message, "status": status}
        if parameter:
            payload["parameter"] = parameter
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), headers)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(HTTPStatus.OK, b'{"status":"ok"}')
            return
        if url.path != EVENTS_PATH:
            self._error(HTTPStatus.NOT_FOUND, f"没有这个地址 / not found: {url.path}; use {EVENTS_PATH}")
            return
        if self.server.should_fail():
            self._error(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "服务暂时不可用，请重试 / temporarily unavailable, retry",
                **{"Retry-After": "0"},
            )
            return
        try:
            after, size = self._parameters(parse_qs(url.query, keep_blank_values=True))
        except BadParameter as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc), exc.parameter)
            return
        lines, next_key = self.server.store.page(after, size)
        token = json.dumps(encode_token(next_key) if next_key else None).encode("utf-8")
        self._send(HTTPStatus.OK, b'{"items":[' + b",".join(lines) + b'],"nextPageToken":' + token + b"}")

    def _parameters(self, query: dict[str, list[str]]) -> tuple[Key | None, int]:
        def single(name: str) -> str | None:
            values = query.get(name)
            if values is None:
                return None
            if len(values) > 1:
                raise BadParameter(name, f"参数 {name} 只能出现一次 / parameter {name} given more than once")
            return values[0]

        size_text = single("pageSize")
        size = DEFAULT_PAGE_SIZE
        if size_text is not None:
            if not size_text.isdigit() or int(size_text) < 1:
                raise BadParameter(
                    "pageSize", f"pageSize 必须是正整数 / pageSize must be a positive integer, got {size_text!r}"
                )
            size = int(size_text)
            if size > self.server.page_size_max:
                raise BadParameter(
                    "pageSize",
                    f"pageSize 不能超过 {self.server.page_size_max} / "
                    f"pageSize must be at most {self.server.page_size_max}, got {size}",
                )
        after: Key | None = None
        since_text = single("updatedSince")
        if since_text is not None and since_text != "":
            try:
                after = (parse_instant(since_text), "\U0010ffff")  # exclusive: after every eventId at that instant
            except ValueError:
                raise BadParameter(
                    "updatedSince",
                    f"updatedSince 不是 ISO-8601 时间 / updatedSince is not an ISO-8601 time: {since_text!r}",
                ) from None
        token = single("pageToken")
        if token:
            token_key = decode_token(token)
            after = max(after, token_key) if after else token_key
        return after, size


def make_feed_server(
    events_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    fail_every: int = 0,
    page_size_max: int = DEFAULT_PAGE_SIZE_MAX,
    verbose: bool = False,
) -> FeedServer:
    if not events_dir.is_dir():
        raise FileNotFoundError(f"事件目录不存在 / events folder not found: {events_dir}")
    return FeedServer((host, port), EventStore(events_dir), page_size_max, fail_every, verbose)


def base_url_of(server: FeedServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def start_feed_server(
    events_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    fail_every: int = 0,
    page_size_max: int = DEFAULT_PAGE_SIZE_MAX,
) -> tuple[FeedServer, str]:
    """Serve in a background thread; stop with ``server.shutdown(); server.server_close()``."""
    server = make_feed_server(Path(events_dir), host, port, fail_every, page_size_max)
    threading.Thread(target=server.serve_forever, name="feed-server", daemon=True).start()
    return server, base_url_of(server)
