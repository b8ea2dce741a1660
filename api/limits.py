"""Limits every request meets: a body size cap, a rate limit per API key, and every HTTP error as a
bilingual problem (RFC 9457) with a stable ``code``, like the API's own errors.

The rate limit counts per key (a hash of it, never the key itself), or per client address for
requests without one, in a fixed window of one minute (Litestar's RateLimitMiddleware, in memory).
Health checks are not counted, so monitoring never locks itself out.
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.plugins.problem_details import ProblemDetailsException

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
