"""From preprocessed faces to per-task answers: one engine request per (face, task), all sent at once.

Concurrency is the point: the engine batches the requests, and because every task on a face starts with the
same medium, its prefix cache computes that face's image tokens once. Videos send expression and deepfake to
the video tower (8 crops) and the other tasks to the image tower on the track's best frame, as the model was
tuned. The first failing engine call cancels the others (their HTTP connections close, so vLLM aborts them).

With constrained label decoding a (face, task) gets a second request on the same medium (so the same cached
prefix): the label alone, under the task's vocabulary grammar. The label and its confidence come from that
answer, the reasoning from the free one (which is not asked for when reasoning is off).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from common.tasks import VIDEO_TOWER_TASKS, MediaKind, TaskName
from service.api.engine_client import EngineClient
from service.api.engine_payloads import Sampling, task_payload
from service.api.errors import ApiError
from service.api.media_encoding import png_data_url, video_data_url
from service.api.metrics import GatewayMetrics
from service.api.schemas import FaceFrame, FaceResult, TaskResult
from service.preprocess.schema import placement
from service.preprocess.types import Face, ImageResult, Track, VideoResult
from service.tasks.confidence import TokenAlignment, TokenLogprob, task_confidence
from service.tasks.constrained import LabelDecoding, constrained_question, parse_constrained, structured_outputs
from service.tasks.parsers import ParsedAnswer, clean_answer, parse_answer
from service.tasks.prompts import prompt_for


@dataclass(frozen=True)
class AnalysisPlan:
    tasks: tuple[TaskName, ...]
    send_landmarks: bool
    reasoning: bool
    prompt_variant: int
    sampling: Sampling
    label_decoding: LabelDecoding = "free"

    @property
    def modes(self) -> tuple[LabelDecoding, ...]:
        """The answers each (face, task) needs: the free one gives the reasoning (and, unconstrained, the label)."""
        if self.label_decoding == "free":
            return ("free",)
        return ("free", "constrained") if self.reasoning else ("constrained",)


@dataclass(frozen=True)
class _Medium:
    """What one tower sees of one face: a data URL and the crop-pixel landmarks."""

    kind: MediaKind
    url: str
    crop_landmarks: np.ndarray


class Analyzer:
    def __init__(self, engine: EngineClient, metrics: GatewayMetrics) -> None:
        self._engine = engine
        self._metrics = metrics

    async def analyze(
        self,
        result: ImageResult | VideoResult,
        plan: AnalysisPlan,
        request_id: str,
        timings: dict[str, float],
    ) -> list[FaceResult]:
        """Answer every task of the plan for every face (video: track); adds encode/engine/parse timings."""
        started = time.perf_counter()
        subjects = result.subjects
        media = await asyncio.gather(
            *(asyncio.to_thread(_media_for, subject, plan.tasks) for subject in subjects)
        )
        timings["encode"] = time.perf_counter() - started

        model = await self._engine.model_name()
        started = time.perf_counter()
        jobs = [
            (face_index, task, media[face_index][_tower(subject, task)])
            for face_index, subject in enumerate(subjects)
            for task in plan.tasks
        ]
        try:
            async with asyncio.TaskGroup() as group:
                calls = [
                    {
                        mode: group.create_task(self._ask(model, task, medium, plan, mode, f"{request_id}-{number}"))
                        for mode in plan.modes
                    }
                    for number, (_, task, medium) in enumerate(jobs)
                ]
        except* ApiError as failures:  # the first typed failure answers the request
            raise failures.exceptions[0] from None
        timings["engine"] = time.perf_counter() - started

        started = time.perf_counter()
        answers: list[dict[TaskName, TaskResult]] = [{} for _ in subjects]
        for (face_index, task, medium), call in zip(jobs, calls, strict=True):
            replies = {mode: _Reply.of(task_call.result()) for mode, task_call in call.items()}
            answers[face_index][task] = self._parse(task, medium.kind, plan, replies)
        timings["parse"] = time.perf_counter() - started
        return [
            _face_result(index, subject, answers[index], result) for index, subject in enumerate(subjects)
        ]

    async def _ask(
        self, model: str, task: TaskName, medium: _Medium, plan: AnalysisPlan, mode: LabelDecoding, request_id: str
    ) -> dict:
        question = prompt_for(task, medium.kind, plan.prompt_variant)
        landmarks = medium.crop_landmarks if plan.send_landmarks else None
        constrained = mode == "constrained"
        payload = task_payload(
            model,
            medium.kind,
            medium.url,
            constrained_question(task, question) if constrained else question,
            plan.sampling,
            landmarks,
            structured_outputs(task) if constrained else None,
        )
        return await self._engine.chat(payload, f"{request_id}-label" if constrained else request_id)

    def _parse(
        self, task: TaskName, kind: MediaKind, plan: AnalysisPlan, replies: dict[LabelDecoding, _Reply]
    ) -> TaskResult:
        free = replies.get("free")
        parsed_free = parse_answer(task, free.text) if free is not None else None
        label_reply = replies[plan.label_decoding]
        parsed: ParsedAnswer = (
            parse_constrained(task, clean_answer(label_reply.text), cut=label_reply.finish_reason == "length")
            if plan.label_decoding == "constrained"
            else parsed_free
        )
        alignment = TokenAlignment(label_reply.tokens, label_reply.text, clean_answer(label_reply.text))
        label_confidences = alignment.label_confidences(parsed.labels)
        if parsed.uncertain:
            self._metrics.uncertain.labels(task).inc()
        return TaskResult(
            tower=kind,
            labels=[hit.label for hit in parsed.labels],
            value=parsed.value,
            confidence=task_confidence(label_confidences),
            label_confidences=label_confidences,
            uncertain=parsed.uncertain,
            label_decoding=plan.label_decoding,
            reasoning=parsed_free.reasoning if plan.reasoning and parsed_free is not None else None,
            raw_text=label_reply.text,
            prompt=prompt_for(task, kind, plan.prompt_variant),
            finish_reason=label_reply.finish_reason,
        )


@dataclass(frozen=True)
class _Reply:
    """The parts of one engine chat completion the gateway reads."""

    text: str
    finish_reason: str | None
    tokens: list[TokenLogprob]

    @classmethod
    def of(cls, response: dict) -> _Reply:
        choice = (response.get("choices") or [{}])[0]
        tokens = [
            TokenLogprob(str(item.get("token", "")), float(item.get("logprob", 0.0)))
            for item in ((choice.get("logprobs") or {}).get("content") or [])
        ]
        return cls((choice.get("message") or {}).get("content") or "", choice.get("finish_reason"), tokens)


def _tower(subject: Face | Track, task: TaskName) -> MediaKind:
    """A track seen in too few frames for the video tower is answered by the image tower (track.tower)."""
    video = isinstance(subject, Track) and subject.tower == "video"
    return "video" if video and task in VIDEO_TOWER_TASKS else "image"


def _media_for(subject: Face | Track, tasks: tuple[TaskName, ...]) -> dict[MediaKind, _Medium]:
    """Encode each medium a face needs once; every task on that face reuses the same bytes."""
    towers = {_tower(subject, task) for task in tasks}
    media: dict[MediaKind, _Medium] = {}
    face = subject if isinstance(subject, Face) else subject.faces[subject.best_frame]
    if "image" in towers:
        media["image"] = _Medium("image", png_data_url(face.crop), face.crop_landmarks)
    if "video" in towers and isinstance(subject, Track) and subject.tower == "video":
        media["video"] = _Medium("video", video_data_url(subject.crops), subject.crop_landmarks)
    return media


def _face_result(
    index: int, subject: Face | Track, tasks: dict[TaskName, TaskResult], result: ImageResult | VideoResult
) -> FaceResult:
    if isinstance(subject, Face):
        return FaceResult(index=index, tasks=tasks, **placement(subject))
    frames = [
        FaceFrame(frame_index=frame_index, time=frame_time, interpolated=face.interpolated, **placement(face))
        for face, frame_index, frame_time in zip(subject.faces, subject.indices, subject.times, strict=True)
    ]
    return FaceResult(
        index=index,
        track_id=subject.id,
        **placement(subject.faces[subject.best_frame]),
        best_frame=subject.best_frame,
        presence=subject.presence,
        tower=subject.tower,
        span=list(subject.span),
        frames=frames,
        tasks=tasks,
    )
