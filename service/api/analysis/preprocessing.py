"""The gateway's side of the preprocessing worker pool: the interface it needs, and error translation.

Typed as a Protocol so unit tests can inject a fake; the real one is service.preprocess.pool.PreprocessPool.
A server-side bug (HTTP 500, internal_error) reaches the client as a generic message; its details go to the log,
with the request id, never into the error body.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from service.api.error_catalogue import lookup
from service.api.error_responses import INTERNAL_ERROR_MESSAGE, ApiError
from service.api.settings import Settings
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

if TYPE_CHECKING:
    from service.preprocess.pool import PreprocessPool

log = logging.getLogger("facellava.preprocess")


class Preprocessor(Protocol):
    async def submit(
        self, data: bytes, options: PreprocessOptions, filename: str | None = None
    ) -> ImageResult | VideoResult: ...

    def alive(self) -> bool: ...

    def repairable(self) -> bool: ...

    def close(self) -> None: ...


def start_pool(settings: Settings) -> PreprocessPool:
    from service.preprocess.pool import PreprocessPool

    return PreprocessPool(settings.preprocess_workers, settings.preprocess_queue, settings.preprocess_limits)


async def run_preprocess(
    preprocessor: Preprocessor,
    data: bytes,
    options: PreprocessOptions,
    filename: str | None,
    settings: Settings,
) -> ImageResult | VideoResult:
    """Preprocess, turning a PreprocessError into the API error its code stands for.

    Media over FACELLAVA_PREPROCESS_MAX_BYTES is refused here, before it is copied to a worker (which would
    refuse it too: that check guards `facellava faces`)."""
    limit = settings.preprocess_limits.max_bytes
    if len(data) > limit:
        raise ApiError("too_large", f"the media is over the {limit}-byte limit")
    try:
        return await preprocessor.submit(data, options, filename)
    except PreprocessError as exc:
        status = lookup(exc.code).http_status
        message = exc.message
        if status == 500:
            log.error("preprocessing failed", extra={"code": exc.code, "detail": exc.message})
            message = INTERNAL_ERROR_MESSAGE
        retry_after = settings.retry_after_s if status in (429, 503) else None
        raise ApiError(exc.code, message, retry_after=retry_after) from exc


def require_faces(result: ImageResult | VideoResult) -> None:
    """A face-free upload is a valid preprocessing result but nothing to analyse: 422 no_face."""
    if not result.subjects:
        raise ApiError("no_face", f"no face found in the {result.media.type}")
