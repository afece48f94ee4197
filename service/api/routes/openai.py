"""The OpenAI-compatible API: GET /v1/models and POST /v1/chat/completions (streamed or not), forwarded to the
engine after the face pipeline has cropped the request's image or video."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from service.api.analysis.chat_media import prepare_chat
from service.api.analysis.landmark_policy import send_landmarks
from service.api.analysis.sampling_bounds import check_sampling
from service.api.deps import get_preprocessor, get_services
from service.api.error_responses import ApiError
from service.api.headers import FACE_HEADER, FACES_HEADER, LANDMARKS_HEADER
from service.api.middleware.auth import require_api_key
from service.api.openapi_docs import ERROR_RESPONSES
from service.api.schemas import ChatCompletionRequest, ChatCompletionResponse, ModelCard, ModelList

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])


@router.get("/models", response_model=ModelList, responses=ERROR_RESPONSES)
async def list_models(request: Request) -> ModelList:
    engine = get_services(request).engine
    name = await engine.model_name()
    cards = [ModelCard(id=str(m["id"]), created=int(m.get("created", 0))) for m in await engine.models()]
    return ModelList(data=[card for card in cards if card.id == name])


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletionResponse,
            "content": {"text/event-stream": {}},
            "description": "a chat completion, or server-sent events when stream is true",
        },
        404: {"description": "unknown model"},
        **ERROR_RESPONSES,
    },
)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    services = get_services(request)
    settings = services.settings
    model = await services.engine.model_name()
    if body.model != model:
        raise ApiError("model_not_found", f"this server serves the model {model!r}")
    check_sampling(body, settings)
    with_landmarks = send_landmarks(settings.default_landmarks, await services.engine.info())
    try:
        async with asyncio.timeout(settings.request_timeout_s):
            prepared = await prepare_chat(
                body.messages, get_preprocessor(request), settings, with_landmarks, body.face
            )
    except TimeoutError as exc:
        raise ApiError("timeout", "preparing the media took too long") from exc
    sent = body.model_dump(exclude_none=True, exclude={"face"})  # `face` is ours, not the engine's
    payload = {**sent, "messages": prepared.messages, **prepared.extra}
    if body.max_tokens is None and body.max_completion_tokens is None:
        payload["max_tokens"] = settings.default_max_tokens  # not the engine's default: the rest of the context
    headers = {LANDMARKS_HEADER: str(bool(prepared.extra)).lower()}
    if prepared.face is not None:
        headers |= {FACE_HEADER: str(prepared.face), FACES_HEADER: str(prepared.faces)}
    request_id = request.state.request_id
    if body.stream:
        stream = await services.engine.stream_chat(payload, request_id)
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)
    return JSONResponse(await services.engine.chat(payload, request_id), headers=headers)
