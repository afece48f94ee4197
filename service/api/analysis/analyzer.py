"""From preprocessed faces to per-task answers: one engine request per (face, task), all sent at once.

Concurrency is the point: the engine batches the requests, and because every task on a face starts with the
same medium, its prefix cache computes that face's image tokens once. Videos send expression and deepfake to
the video tower (8 crops) and the other tasks to the image tower on the track's best frame, as the model was
tuned. The first failing engine call cancels the others (their HTTP connections close, so vLLM aborts them).

With constrained label decoding a (face, task) gets a second request on the same medium (so the same cached
prefix): the label alone, under the task's vocabulary grammar. The label and its confidence come from that
answer, the reasoning from the free one (which is not asked for when reasoning is off). The same constrained
answer, asked with its top alternatives per position, gives single-label tasks a score for every class
(service/tasks/scores.py); `scores` asks for it with free label decoding too.

Without reasoning a free answer is still generated to its end: Face-LLaVA's action-unit lists, attribute
descriptions and video narratives often name labels (or the verdict) late, so only the response leaves the
reasoning out.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field

import numpy as np

from common.engine_protocol import EngineInfo
from common.tasks import MediaKind
from service.api.analysis.landmark_policy import send_landmarks
from service.api.analysis.media_encoding import png_data_url, video_data_url
from service.api.analysis.sampling_bounds import check_sampling
from service.api.engine.client import EngineClient
from service.api.engine.payloads import (
    OFFICIAL_MAX_TOKENS,
    OFFICIAL_TEMPERATURE,
    OFFICIAL_TOP_K,
    Decoding,
    Sampling,
    media_key,
    task_payload,
)
from service.api.error_responses import ApiError
from service.api.metrics import GatewayMetrics
from service.api.schemas import AnalyzeOptions, FaceFrame, FaceResult, TaskResult
from service.api.settings import Settings
from service.preprocess.faces_json import placement
from service.preprocess.types import Face, ImageResult, PreprocessOptions, Track, VideoResult
from service.tasks.confidence import TokenAlignment, TokenLogprob, task_confidence
from service.tasks.constrained import LabelDecoding, constrained_question, parse_constrained, structured_outputs
from service.tasks.parsers.base import ParsedAnswer, clean_answer
from service.tasks.registry import REGISTRY
from service.tasks.scores import TOP_LOGPROBS, class_scores
from service.tasks.task import Task


@dataclass(frozen=True)
class AnalysisPlan:
    """Everything one /analyze request will do, decided before any work: every refusal a request's options can
    earn (bounds, landmarks the engine cannot use) happens while building it, so preprocessing and engine calls
    never start for a request that will be refused. `tasks` empty: the medium's default tasks."""

    tasks: tuple[str, ...]
    send_landmarks: bool
    reasoning: bool
    prompt_variant: int
    sampling: Sampling
    label_decoding: LabelDecoding = "free"
    decoding: Decoding = "greedy"
    scores: bool = False
    uncertain_below: float = 0.0
    preprocess: PreprocessOptions = field(default_factory=PreprocessOptions)

    @classmethod
    def build(cls, options: AnalyzeOptions, settings: Settings, info: EngineInfo) -> AnalysisPlan:
        """The plan of one /analyze request: its options within the server's settings and bounds and what the
        served engine can do, or the ApiError that refuses the request."""
        max_faces = options.max_faces or settings.default_max_faces
        if max_faces > settings.max_faces_limit:
            raise ApiError("invalid_request", f"max_faces: at most {settings.max_faces_limit}")
        return cls(
            tuple(dict.fromkeys(options.tasks)) if options.tasks else (),
            send_landmarks(options.landmarks or settings.default_landmarks, info),
            options.reasoning,
            options.prompt_variant,
            sampling_for(options, settings),
            options.label_decoding,
            options.decoding,
            options.scores,
            settings.uncertain_below,
            PreprocessOptions(max_faces=max_faces, previews=options.frame_previews),
        )

    def tasks_for(self, kind: MediaKind) -> tuple[str, ...]:
        """The tasks asked for, else the defaults for the medium preprocessing found."""
        return self.tasks or REGISTRY.defaults(kind)

    def modes(self, task: Task) -> tuple[LabelDecoding, ...]:
        """The answers a (face, task) needs: the free one gives the reasoning (and, unconstrained, the label);
        the constrained one the label under the grammar and, for single-label tasks, the class scores."""
        free = self.reasoning or self.label_decoding == "free"
        constrained = self.label_decoding == "constrained" or (self.scores and task.scored)
        return ("free",) * free + ("constrained",) * constrained


def sampling_for(options: AnalyzeOptions, settings: Settings) -> Sampling:
    """The request's decoding parameters: its preset (greedy, or the official inference's sampling), then any
    explicit temperature, top_p or max_tokens, within the server's bounds. The answer is never capped below the
    preset because reasoning is off: the labels may come last."""
    check_sampling(options, settings)
    official = options.decoding == "official"
    preset_tokens = min(OFFICIAL_MAX_TOKENS, settings.max_tokens_limit) if official else settings.default_max_tokens
    preset_temperature = OFFICIAL_TEMPERATURE if official else 0.0
    return Sampling(
        max_tokens=options.max_tokens or preset_tokens,
        temperature=options.temperature if options.temperature is not None else preset_temperature,
        top_p=options.top_p,
        top_k=OFFICIAL_TOP_K if official else None,
        seed=options.seed,
    )


@dataclass(frozen=True)
class _Medium:
    """What one tower sees of one face: a data URL and the crop-pixel landmarks."""

    kind: MediaKind
    url: str
    crop_landmarks: np.ndarray
    key: str  # the face's routing key, shared by all its media (_media_for)


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
        tasks = plan.tasks_for(result.media.type)
        media = await asyncio.gather(
            *(asyncio.to_thread(_media_for, subject, tasks) for subject in subjects)
        )
        timings["encode"] = time.perf_counter() - started

        model = await self._engine.model_name()
        started = time.perf_counter()
        jobs = [
            (face_index, task, media[face_index][_tower(subject, task)])
            for face_index, subject in enumerate(subjects)
            for task in tasks
        ]
        try:
            async with asyncio.TaskGroup() as group:
                calls = [
                    {
                        mode: group.create_task(self._ask(model, task, medium, plan, mode, f"{request_id}-{number}"))
                        for mode in plan.modes(REGISTRY[task])
                    }
                    for number, (_, task, medium) in enumerate(jobs)
                ]
        except* ApiError as failures:  # the first typed failure answers the request
            raise failures.exceptions[0] from None
        timings["engine"] = time.perf_counter() - started

        started = time.perf_counter()
        answers: list[dict[str, TaskResult]] = [{} for _ in subjects]
        for (face_index, task, medium), call in zip(jobs, calls, strict=True):
            replies = {mode: _Reply.of(task_call.result()) for mode, task_call in call.items()}
            answers[face_index][task] = self._parse(task, medium.kind, plan, replies)
        timings["parse"] = time.perf_counter() - started
        return [
            _face_result(index, subject, answers[index], result) for index, subject in enumerate(subjects)
        ]

    async def _ask(
        self, model: str, name: str, medium: _Medium, plan: AnalysisPlan, mode: LabelDecoding, request_id: str
    ) -> dict:
        task = REGISTRY[name]
        question = task.prompt(medium.kind, plan.prompt_variant)
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
            TOP_LOGPROBS if constrained and task.scored else None,
        )
        return await self._engine.chat(payload, f"{request_id}-label" if constrained else request_id, medium.key)

    def _parse(
        self, name: str, kind: MediaKind, plan: AnalysisPlan, replies: dict[LabelDecoding, _Reply]
    ) -> TaskResult:
        task = REGISTRY[name]
        free = replies.get("free")
        parsed_free = task.parse(free.text) if free is not None else None
        label_reply = replies[plan.label_decoding]
        parsed: ParsedAnswer = (
            parse_constrained(task, clean_answer(label_reply.text), cut=label_reply.finish_reason == "length")
            if plan.label_decoding == "constrained"
            else parsed_free
        )
        alignment = TokenAlignment(label_reply.tokens, label_reply.text, clean_answer(label_reply.text))
        label_confidences = alignment.label_confidences(parsed.labels)
        constrained = replies.get("constrained")
        scores = class_scores(task.labels, constrained.tokens) if constrained and task.scored else None
        uncertain = parsed.uncertain or (
            scores is not None and scores.get(parsed.labels[0].label, 0.0) < plan.uncertain_below
        )
        if uncertain:
            self._metrics.uncertain.labels(name).inc()
        return TaskResult(
            tower=kind,
            labels=[hit.label for hit in parsed.labels],
            value=parsed.value,
            confidence=task_confidence(label_confidences),
            label_confidences=label_confidences,
            scores=scores,
            uncertain=uncertain,
            label_decoding=plan.label_decoding,
            decoding=plan.decoding,
            reasoning=parsed_free.reasoning if plan.reasoning and parsed_free is not None else None,
            raw_text=label_reply.text,
            prompt=task.prompt(kind, plan.prompt_variant),
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
            TokenLogprob(
                str(item.get("token", "")),
                float(item.get("logprob", 0.0)),
                tuple(_token(alternative) for alternative in item.get("top_logprobs") or []),
            )
            for item in ((choice.get("logprobs") or {}).get("content") or [])
        ]
        return cls((choice.get("message") or {}).get("content") or "", choice.get("finish_reason"), tokens)


def _token(item: dict) -> TokenLogprob:
    return TokenLogprob(str(item.get("token", "")), float(item.get("logprob", -math.inf)))


def _tower(subject: Face | Track, task: str) -> MediaKind:
    """A track seen in too few frames for the video tower is answered by the image tower (track.tower)."""
    video = isinstance(subject, Track) and subject.tower == "video"
    return REGISTRY[task].tower("video" if video else "image")


def _media_for(subject: Face | Track, tasks: tuple[str, ...]) -> dict[MediaKind, _Medium]:
    """Encode each medium a face needs once; every task on that face reuses the same bytes.

    Every medium of a face carries one routing key (of its first medium: the crop when any task asks about it),
    so behind vllm-router all of a face's tasks, on the image and the video tower alike, go to one replica.
    """
    towers = {_tower(subject, task) for task in tasks}
    encoded: dict[MediaKind, tuple[str, np.ndarray]] = {}
    face = subject if isinstance(subject, Face) else subject.faces[subject.best_frame]
    if "image" in towers:
        encoded["image"] = (png_data_url(face.crop), face.crop_landmarks)
    if "video" in towers and isinstance(subject, Track) and subject.tower == "video":
        encoded["video"] = (video_data_url(subject.crops), subject.crop_landmarks)
    key = media_key(next(iter(encoded.values()))[0]) if encoded else ""
    return {kind: _Medium(kind, url, landmarks, key) for kind, (url, landmarks) in encoded.items()}


def _face_result(
    index: int, subject: Face | Track, tasks: dict[str, TaskResult], result: ImageResult | VideoResult
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
