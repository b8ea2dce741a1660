"""Limits every request meets: a header and a body size cap, a rate limit per API key, security headers on
every response, and every HTTP error as a bilingual problem (RFC 9457) with a stable ``code``, like the
API's own errors.

The header cap is enforced twice: ``BoundedHttpToolsProtocol`` (what ``hub serve`` runs uvicorn with)
closes a connection whose request line and headers grow past ``HUB_API_MAX_HEADER_BYTES`` before they
are complete, so a 20 MB header is never buffered; ``header_limit`` refuses the same in the app, for any
other ASGI server.

The rate limit counts per key (a hash of it, never the key itself), or per client address for
requests without one, in a fixed window of one minute (Litestar's RateLimitMiddleware, in memory).
Health checks are not counted, so monitoring never locks itself out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.plugins.problem_details import ProblemDetailsException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.auth import presented_key
from api.errors import problem

UNCOUNTED_PATHS = ["/api/health", "/static"]

# status → (code, 中文, English); the client's own words for 400s are appended when Litestar gives them.
HTTP_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "请求格式有误", "malformed request"),
    401: ("missing_key", "需要 API 密钥", "an API key is required"),
    403: ("forbidden", "无权访问", "forbidden"),
    404: ("not_found", "请求的地址不存在", "no such resource"),
    405: ("method_not_allowed", "该地址不支持此请求方法", "method not allowed on this path"),
    406: ("not_acceptable", "无法提供所要求的响应格式", "cannot produce the requested media type"),
    413: ("body_too_large", "请求体过大", "request body too large"),
    431: ("headers_too_large", "请求头过大", "request headers too large"),
    415: ("unsupported_media_type", "不支持的请求体格式，请用 JSON", "unsupported media type; send JSON"),
    429: ("rate_limited", "请求过于频繁，请稍后再试", "too many requests for this key; retry after the reset time"),
}


def rate_limit_identifier(request: Request[Any, Any, Any]) -> str:
    key = presented_key(request)
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return "addr:" + get_remote_address(request)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute), identifier_for_request=rate_limit_identifier, exclude=UNCOUNTED_PATHS
    )


def http_problem(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own HTTP errors (unknown path, wrong method, body too large, rate limit, bad JSON) as ours."""
    if isinstance(exc, ProblemDetailsException):
        return exc
    code, zh, en = HTTP_ERRORS.get(exc.status_code, ("http_error", "请求无法处理", "the request cannot be handled"))
    detail = exc.detail if exc.detail and exc.detail not in ("Bad Request", "Not Found") else ""
    if detail and exc.status_code == 400:
        zh, en = f"{zh}：{detail}", f"{en}: {detail}"
    return problem(exc.status_code, code, zh, en, headers=exc.headers)


ASGIApp = Callable[..., Any]


def _raw_problem(status: int, code: str, zh: str, en: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(
        {"status": status, "title": "Request Header Fields Too Large", "type": f"urn:hub:error:{code}",
         "detail": f"{zh} / {en}", "code": code, "message_zh": zh, "message_en": en},
        ensure_ascii=False,
    ).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    return headers, body


def _header_problem(limit: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    return _raw_problem(431, "headers_too_large", f"请求头过大（上限 {limit} 字节）",
                        f"request line and headers too large (limit {limit} bytes)")


def header_limit(max_bytes: int) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware: a request whose path, query string and headers add up to more than ``max_bytes``
    is answered 431 before anything reads them (no key is hashed, no route runs)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
                size += sum(len(k) + len(v) + 4 for k, v in scope.get("headers") or ())
                if size > max_bytes:
                    headers, body = _header_problem(max_bytes)
                    await send({"type": "http.response.start", "status": 431,
                                "headers": [*headers, *SECURITY_HEADERS]})
                    await send({"type": "http.response.body", "body": body})
                    return
            await app(scope, receive, send)

        return guarded

    return middleware


# Pages and the API load scripts and images from this server only; no inline script runs, nothing frames.
# Inline styles are allowed (a printable notice page carries its own print stylesheet); they cannot run code.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI (Litestar renders it with an inline start-up script and style) and the quality report files
# (one self-contained HTML file with an inline stylesheet) need inline code; nothing user-supplied is in them.
CSP_SWAGGER = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CSP_REPORT = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def content_security_policy(path: str) -> str:
    if path.startswith("/schema"):
        return CSP_SWAGGER
    if path.startswith("/quality/reports/"):
        return CSP_REPORT
    return CSP


async def security_headers(message: dict[str, Any], scope: dict[str, Any]) -> None:
    """A ``before_send`` hook (so it sees every response, 404s of unknown paths included): a
    Content-Security-Policy, nosniff, DENY framing and no referrer."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or ())
    present = {k.lower() for k, _ in headers}
    csp = content_security_policy(scope.get("path", "")).encode()
    headers += [(k, v) for k, v in [(b"content-security-policy", csp), *SECURITY_HEADERS] if k not in present]
    message["headers"] = headers


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the request line plus headers of each request: past
    ``HUB_API_MAX_HEADER_BYTES`` before the headers are complete, the client gets 431 and the connection is
    closed (the parser would otherwise buffer a header of any size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from hub.core.paths import env_int

        super().__init__(*args, **kwargs)
        self._max_head = env_int("HUB_API_MAX_HEADER_BYTES", 65_536)
        self._head_bytes = 0
        self._in_head = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    LINGER_SECONDS = 2.0  # after the 431, what the client still sends is read and dropped for this long
    LINGER_BYTES = 16 * 1024 * 1024  # or up to this much, so that it reads the answer instead of a reset

    def data_received(self, data: bytes) -> None:
        if getattr(self, "_lingering", 0):
            self._lingering += len(data)  # dropped unparsed: the answer has been sent
            if self._lingering > self.LINGER_BYTES:
                self.transport.close()
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self._max_head and not self.transport.is_closing():
            headers, body = _header_problem(self._max_head)
            head = b"HTTP/1.1 431 Request Header Fields Too Large\r\n" + b"".join(
                k + b": " + v + b"\r\n" for k, v in [*headers, (b"connection", b"close")]
            )
            self.transport.write(head + b"\r\n" + body)
            self._lingering = 1
            self.loop.call_later(self.LINGER_SECONDS, self.transport.close)


def raised_while_decoding_body(exc: BaseException) -> bool:
    """Whether ``exc`` came out of Litestar's JSON body decoding (msgspec raises UnicodeDecodeError for invalid
    UTF-8 and RecursionError for deep nesting, which Litestar does not turn into a 400 itself)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in ("decode_json", "decode_msgpack"):
            return True
        tb = tb.tb_next
    return False


def malformed_body_problem(exc: BaseException) -> ProblemDetailsException:
    if isinstance(exc, UnicodeDecodeError):
        return problem(400, "malformed_body", "请求体不是有效的 UTF-8 JSON", "the request body is not valid UTF-8 JSON")
    return problem(400, "malformed_body", "请求体 JSON 嵌套过深", "the request body's JSON is nested too deeply")
