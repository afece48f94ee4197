"""POST /analyze: upload an image or a video, get per-face labels, confidences and reasoning for each task."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from fastapi import APIRouter, Depends, Request

from service.api.analysis.analyze_input import read_analyze_input
from service.api.analysis.analyzer import AnalysisPlan
from service.api.analysis.preprocessing import require_faces, run_preprocess
from service.api.deps import Services, get_preprocessor, get_services
from service.api.error_responses import ApiError
from service.api.middleware.auth import require_api_key
from service.api.openapi_docs import ANALYZE_REQUEST_BODY, ERROR_RESPONSES
from service.api.schemas import AnalyzeResponse, MediaOut, ModelOut

router = APIRouter(dependencies=[Depends(require_api_key)])


@router.post(
    "/analyze",
    response_model=AnalyzeResponse,
    responses=ERROR_RESPONSES,
    openapi_extra={"requestBody": ANALYZE_REQUEST_BODY},
    summary="Analyse the faces in an image or a video",
)
async def analyze(request: Request) -> AnalyzeResponse:
    services = get_services(request)
    try:
        async with asyncio.timeout(services.settings.request_timeout_s):
            return await _analyze(request, services)
    except TimeoutError as exc:
        raise ApiError("timeout", f"the analysis took over {services.settings.request_timeout_s:g} s") from exc


async def _analyze(request: Request, services: Services) -> AnalyzeResponse:
    """read -> plan -> preprocess -> analyse -> respond; nothing is validated after the plan is built."""
    started = time.perf_counter()
    settings = services.settings
    upload = await read_analyze_input(request, settings)
    timings = {"upload": time.perf_counter() - started}
    info = await services.engine.info()  # an engine that is down fails the request before any work
    plan = AnalysisPlan.build(upload.options, settings, info)  # every refusal of the options happens here

    before = time.perf_counter()
    result = await run_preprocess(get_preprocessor(request), upload.data, plan.preprocess, upload.filename, settings)
    # The worker round trip: the worker's own stages (decode ... crop) plus the hand-over both ways.
    timings.update(result.timings, preprocess=time.perf_counter() - before)
    require_faces(result)
    faces = await services.analyzer.analyze(result, plan, request.state.request_id, timings)
    timings["total"] = time.perf_counter() - started

    services.metrics.observe_stages(timings)
    services.metrics.faces.observe(len(faces))
    return AnalyzeResponse(
        request_id=request.state.request_id,
        model=ModelOut(name=await services.engine.model_name(), revision=info.model_revision),
        landmarks_conditioned=plan.send_landmarks,
        media=MediaOut(**dataclasses.asdict(result.media)),
        faces=faces,
        timings={stage: round(seconds, 6) for stage, seconds in timings.items()},
    )

