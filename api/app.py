"""The FastAPI application factory: settings, service, middleware, error handlers, routers."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.observability import Metrics, RequestContextMiddleware, request_id_var
from api.routes import admin, ask, documents, health, openai_compat, web
from api.routes.documents import UPLOAD_FRAMING_BYTES
from api.security import write_refusal
from api.service import Answering, AnsweringService
from qa import __version__
from qa.config import Settings, get_settings
from qa.pipeline import QAPipeline

log = logging.getLogger(__name__)


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": message, "status": status, "request_id": request_id_var.get()}, status_code=status, headers=headers
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"


def create_app(
    settings: Settings | None = None,
    pipeline_factory: Callable[[], QAPipeline] | None = None,
    load_in_background: bool = True,
    service: Answering | None = None,
) -> FastAPI:
    """The app over this process's answering service (models loaded from `pipeline_factory`, by default from the
    settings), or over a given `service`, e.g. the Ray Serve ingress's forwarding one."""
    settings = settings or get_settings()
    metrics = Metrics()
    if service is None:
        local = AnsweringService(settings, pipeline_factory or (lambda: QAPipeline.from_settings(settings)))
        local.on_batch = metrics.batch_size.observe
        local.on_cache = lambda hit: metrics.answer_cache.labels("hit" if hit else "miss").inc()
        service = local
    answering = service

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        answering.start(load_in_background)
        yield
        log.info("shutting down: finishing questions in flight")
        answering.shutdown()

    app = FastAPI(
        title="News QA",
        version=__version__,
        description="Extractive question answering over a corpus of news articles: every answer is a span "
        "copied from an article, with its citation; the service abstains when the corpus holds no answer.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _error(422, _describe_validation(exc))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception):
        log.exception("unexpected error")
        return _error(500, "internal error; the request id identifies it in the logs")

    # Starlette's HTTPException is FastAPI's base: one handler covers routing errors (404, 405) and ours.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    app.include_router(health.router)
    app.include_router(admin.router)
    app.include_router(ask.router)
    app.include_router(documents.router)
    app.include_router(openai_compat.router)
    app.include_router(web.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        upload_body_bytes=settings.max_upload_bytes + UPLOAD_FRAMING_BYTES,
        upload_guard=lambda headers: write_refusal(settings, headers),
    )
    return app
