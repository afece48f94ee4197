"""Probes and metrics: /healthz (liveness: the process answers and its worker pool can still be repaired; 503
tells the orchestrator to restart it), /readyz (engine reachable and workers alive; 503 with
Retry-After otherwise, and 200 again as soon as they are back, without a restart), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.deps import get_services
from service.api.middleware.auth import require_api_key
from service.api.schemas import HealthStatus

router = APIRouter()


@router.get("/healthz", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
async def healthz(request: Request) -> JSONResponse:
    preprocessor = get_services(request).preprocessor
    # Before the pool has started (lifespan) the process is alive; a pool whose repairs keep failing is not.
    live = preprocessor is None or preprocessor.repairable()
    body = HealthStatus(status="ok" if live else "unavailable", checks={"preprocess_pool_repairable": live})
    return JSONResponse(body.model_dump(), status_code=200 if live else 503)


@router.get("/readyz", response_model=HealthStatus, responses={503: {"model": HealthStatus}})
async def readyz(request: Request) -> JSONResponse:
    services = get_services(request)
    preprocessor = services.preprocessor
    checks = {
        "engine": await services.engine.healthy(),
        "preprocess_workers": preprocessor is not None and preprocessor.alive(),
    }
    ready = all(checks.values())
    body = HealthStatus(status="ok" if ready else "unavailable", checks=checks)
    headers = None if ready else {"Retry-After": str(services.settings.retry_after_s)}
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503, headers=headers)


@router.get("/metrics", dependencies=[Depends(require_api_key)], response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(get_services(request).metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
