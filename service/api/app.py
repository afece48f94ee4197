"""create_app(): the gateway's FastAPI application, ready for uvicorn (`facellava serve`).

Middleware, outermost first: request context (id, access log, metrics, last-resort 500), CORS (only when
origins are configured), API key gate (401 before the body is read), JSON content type (415), body reception
(413, 408, global byte budget 429), in-flight limit (429, only for requests whose body is in). The
preprocessing pool starts in the lifespan unless one is injected (tests inject fakes; the e2e tests use the real
pool).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from service.api.analysis.analyzer import Analyzer
from service.api.analysis.preprocessing import Preprocessor, start_pool
from service.api.deps import Services
from service.api.engine.client import EngineClient
from service.api.error_responses import install_error_handlers
from service.api.metrics import GatewayMetrics
from service.api.middleware.auth import ApiKeyGate
from service.api.middleware.body_limits import BodyReception, InFlightLimit
from service.api.middleware.content_type import JsonBodyRequired
from service.api.middleware.cors import JsonCORSMiddleware
from service.api.middleware.request_context import RequestContext
from service.api.openapi_docs import install_openapi
from service.api.request_logging import configure_logging
from service.api.routes import analyze, demo, health, openai
from service.api.settings import Settings

log = logging.getLogger("facellava.gateway")

DESCRIPTION = (
    "Face-LLaVA behind a face pipeline: faces are detected, cropped to 256 px squares and given 68 "
    "landmarks before the model answers. Labels come from fixed vocabularies, with confidences from token "
    "probabilities. Expression results describe apparent expression, not a person's internal state. "
    "Uploads are never stored."
)


def create_app(
    settings: Settings | None = None,
    *,
    preprocessor: Preprocessor | None = None,
    engine_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or Settings()
    metrics = GatewayMetrics()
    engine = EngineClient(settings, metrics, transport=engine_transport)
    services = Services(settings, metrics, engine, Analyzer(engine, metrics), preprocessor)
    owns_pool = preprocessor is None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if owns_pool:
            pool = await asyncio.to_thread(start_pool, settings)
            # Load the face models in every worker before serving, so the first requests do not pay for it.
            await pool.warm_up()
            services.preprocessor = pool
        log.info(
            "gateway started", extra={"engine_url": settings.engine_url, "auth": bool(settings.accepted_keys)}
        )
        try:
            yield
        finally:
            await engine.aclose()
            if owns_pool and services.preprocessor is not None:
                await asyncio.to_thread(services.preprocessor.close)

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the gateway itself, not from a CDN, so the
    # interactive docs work on a closed network (the usual place for this service).
    app = FastAPIOffline(title="Face-LLaVA", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.services = services
    install_error_handlers(app)
    install_openapi(app, settings)
    for router in (analyze.router, openai.router, health.router, demo.router):
        app.include_router(router)

    app.add_middleware(
        InFlightLimit,
        max_in_flight=settings.max_in_flight,
        retry_after_s=settings.retry_after_s,
        metrics=metrics,
    )
    app.add_middleware(
        BodyReception,
        max_bytes=settings.max_body_bytes,
        budget_bytes=settings.body_budget_bytes,
        timeout_s=settings.body_timeout_s,
        retry_after_s=settings.retry_after_s,
        metrics=metrics,
    )
    app.add_middleware(JsonBodyRequired, metrics=metrics)
    app.add_middleware(ApiKeyGate, keys=settings.accepted_keys, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(JsonCORSMiddleware, origins=settings.cors_origins)
    app.add_middleware(RequestContext, metrics=metrics)
    return app


def app_from_environment() -> FastAPI:
    """uvicorn factory: settings from FACELLAVA_* variables, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
