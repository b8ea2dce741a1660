"""The Litestar app: tables, read-only SQL, search, documents, quality reports, town dossiers, web pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.logging.config import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from api.audit import AuditLog
from api.auth import AuthFailureLimiter
from api.authn import authentication_middleware
from api.errors import problem
from api.highlight import mark_terms
from api.keys import KeyStore
from api.limits import (
    header_limit,
    http_problem,
    malformed_body_problem,
    raised_while_decoding_body,
    rate_limit_config,
    security_headers,
)
from api.routes import assessment, meta, quality, search, sql, tables, towns
from api.routes.pages import PAGE_ROUTES, not_found_page, page_error, wants_html
from api.search_service import SearchHolder
from api.serving_db import serving_snapshots
from api.settings import ApiSettings
from api.state import HubState
from api.table_display import display_value

API_DIR = Path(__file__).resolve().parent
STATIC_DIR = API_DIR / "static"
TEMPLATE_DIR = API_DIR / "templates"


def _swagger_ui_dir() -> Path | None:
    """Swagger UI's files from the swagger-ui-bundle wheel, served locally: nothing from the internet."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def _openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url="/static/swagger/swagger-ui-bundle.js",
        css_url="/static/swagger/swagger-ui.css",
        standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
        favicon="<link rel='icon' href='/static/favicon.svg'>",
        path="/swagger",
    )
    return OpenAPIConfig(
        title="萧山区应急管理数据枢纽 API / Xiaoshan emergency data hub",
        version="1.0.0",
        path="/schema",
        render_plugins=[swagger],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", description="API 密钥 / API key"),
                "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
            }
        ),
    )


logger = logging.getLogger("api")


def _logging_config() -> LoggingConfig:
    """Litestar's logging, with the hub's own loggers at INFO and libraries at WARNING: Litestar's default root
    level INFO printed sentence-transformers' "Loading SentenceTransformer model" into `make run`'s output."""
    own = {"level": "INFO", "handlers": ["queue_listener"], "propagate": False}
    return LoggingConfig(
        root={"handlers": ["queue_listener"], "level": "WARNING"},
        loggers={"litestar": own, "api": own, "kb": own},
    )


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A bug, not the caller's fault: logged with its traceback here, never sent to the client."""
    if isinstance(exc, UnicodeDecodeError | RecursionError) and raised_while_decoding_body(exc):
        return malformed_body_problem(exc).to_response(request)  # the caller's malformed body: a 400
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = problem(500, "internal_error", "服务器内部错误，已记录日志", "internal server error; it has been logged")
    return page_error(request, error) if wants_html(request) else error.to_response(request)


def _invalid_request(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's own parameter and body validation, in the same bilingual problem format as ours."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    where = ", ".join(f"{p.get('key')}: {p.get('message')}" for p in problems if isinstance(p, dict)) or exc.detail
    return problem(
        400, "invalid_request", f"请求参数无效（{where}）", f"invalid request ({where})", errors=problems
    ).to_response(request)


def _configure_jinja(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["mark"] = mark_terms
    engine.engine.filters["display"] = display_value


def create_app(settings: ApiSettings | None = None) -> Litestar:
    settings = settings or ApiSettings.from_env()
    hub = HubState(
        settings=settings,
        key_store=KeyStore(settings.paths.api_dir),
        audit=AuditLog(settings.paths.api_dir),
        snapshots=serving_snapshots(settings),
        search=SearchHolder(settings.paths.kb_index),
        auth_failures=AuthFailureLimiter(settings.auth_failure_limit),
    )
    static_dirs = [STATIC_DIR]
    routers = [create_static_files_router(path="/static", directories=static_dirs)]
    swagger_dir = _swagger_ui_dir()
    if swagger_dir is not None:
        routers.append(create_static_files_router(path="/static/swagger", directories=[swagger_dir], name="swagger"))

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        """The app's resources for its lifetime: the search index warms up at start; with a server warehouse the
        replica is brought up to date before the first request and kept so by a background poll; snapshots and
        index close at the end."""
        hub.search.warm_up_in_background()
        poll = None
        if hub.warehouse is not None:
            await asyncio.to_thread(hub.warehouse.sync_once)
            poll = asyncio.create_task(hub.warehouse.keep_mirrored())
        try:
            yield
        finally:
            if poll is not None:
                poll.cancel()
            hub.snapshots.close()
            hub.search.close()

    # 0: no per-key limit here (a gateway in front limits rates, or a load test measures serving alone)
    per_minute = settings.rate_limit_per_minute
    rate_limits = [rate_limit_config(per_minute).middleware] if per_minute > 0 else []
    return Litestar(
        route_handlers=[
            meta.MetaController,
            tables.TablesController,
            sql.SqlController,
            *search.SEARCH_ROUTES,
            quality.QualityController,
            towns.TownsController,
            *PAGE_ROUTES,
            assessment.AssessmentController,
            *routers,
        ],
        state=hub.as_state(),
        openapi_config=_openapi_config(),
        logging_config=_logging_config(),
        template_config=TemplateConfig(
            directory=TEMPLATE_DIR, engine=JinjaTemplateEngine, engine_callback=_configure_jinja
        ),
        plugins=[
            ProblemDetailsPlugin(
                ProblemDetailsConfig(
                    enable_for_all_http_exceptions=True,
                    exception_to_problem_detail_map={HTTPException: http_problem},
                )
            )
        ],
        middleware=[
            header_limit(settings.max_header_bytes),
            *rate_limits,
            authentication_middleware(),
        ],
        before_send=[security_headers],
        request_max_body_size=settings.max_body_bytes,
        lifespan=[lifespan],
        exception_handlers={
            Exception: _unexpected_error,
            ValidationException: _invalid_request,
            NotFoundException: not_found_page,
        },
    )
