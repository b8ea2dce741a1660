"""User-facing errors as RFC 9457 problem details, in Chinese and English, never a stack trace."""

from __future__ import annotations

from typing import Any

from litestar.plugins.problem_details import ProblemDetailsException

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int, code: str, zh: str, en: str, headers: dict[str, str] | None = None, **extra: Any
) -> ProblemDetailsException:
    """An error a client caused or can act on; ``code`` is a stable machine-readable reason."""
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="hub"', **(headers or {})}
    return ProblemDetailsException(
        status_code=status,
        headers=headers,
        title=TITLES.get(status, "Error"),
        detail=f"{zh} / {en}",
        type_=f"urn:hub:error:{code}",
        extra={"code": code, "message_zh": zh, "message_en": en, **extra},
    )


def not_published(what_zh: str, what_en: str) -> ProblemDetailsException:
    return problem(
        503,
        "not_published",
        f"尚未发布{what_zh}，请先运行 hub run",
        f"no {what_en} has been published yet; run `hub run` first",
    )
