"""The gateway's side of the preprocessing worker pool: the interface it needs, and error translation.

Typed as a Protocol so unit tests can inject a fake; the real one is service.preprocess.pool.PreprocessPool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from service.api.errors import ApiError
from service.api.settings import Settings
from service.preprocess.errors import http_status
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

if TYPE_CHECKING:
    from service.preprocess.pool import PreprocessPool


class Preprocessor(Protocol):
    async def submit(
        self, data: bytes, options: PreprocessOptions, filename: str | None = None
    ) -> ImageResult | VideoResult: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


def start_pool(settings: Settings) -> PreprocessPool:
    from service.preprocess.pool import PreprocessPool

    return PreprocessPool(settings.preprocess_workers, settings.preprocess_queue)


async def run_preprocess(
    preprocessor: Preprocessor,
    data: bytes,
    options: PreprocessOptions,
    filename: str | None,
    settings: Settings,
) -> ImageResult | VideoResult:
    """Preprocess, turning a PreprocessError into the API error its code stands for."""
    try:
        return await preprocessor.submit(data, options, filename)
    except PreprocessError as exc:
        status = http_status(exc.code)
        retry_after = settings.retry_after_s if status in (429, 503) else None
        raise ApiError(status, exc.code, exc.message, retry_after=retry_after) from exc


def require_faces(result: ImageResult | VideoResult) -> None:
    """A face-free upload is a valid preprocessing result but nothing to analyse: 422 no_face."""
    if not result.subjects:
        raise ApiError(422, "no_face", f"no face found in the {result.media.type}")
