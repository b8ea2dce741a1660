"""Authentication as middleware: every request's caller is established once, before routing to a handler.

``AuthenticationMiddleware`` sets ``request.user`` (the ``Principal``, or None for no or a bad credential) and
``request.auth`` (how it was presented: "key", "session" or None). The guards (``api.auth.require``) then only
authorise: ``identify`` answers from the identity this middleware cached on the request, so a key is verified
once per request. A request over its address's failed-authentication budget is not refused here: the cached
429 is raised by the guard (or the login page), so pages still answer it as a page and the API as a problem.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from api.auth import identify_quietly, presented_credential

UNAUTHENTICATED_PATHS = ["^/static/", "^/favicon"]


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        credential = presented_credential(connection)
        return AuthenticationResult(user=identify_quietly(connection), auth=credential[0] if credential else None)


def authentication_middleware() -> DefineMiddleware:
    return DefineMiddleware(AuthenticationMiddleware, exclude=UNAUTHENTICATED_PATHS)
