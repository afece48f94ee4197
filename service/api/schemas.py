"""Request and response models of the public API (versioned: SCHEMA_VERSION changes on any breaking change).

Coordinates are pixels of the decoded (EXIF-rotated) upload; landmarks are the 68 iBUG-300W points.
Confidences are probabilities in [0, 1] read from the model's token log-probabilities, not self-reported.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.engine_protocol import MAX_STOP_STRINGS
from service.api.engine.payloads import Decoding
from service.preprocess import faces_json
from service.tasks.constrained import LabelDecoding
from service.tasks.registry import REGISTRY

SCHEMA_VERSION = "1"

# The registered tasks' names (service/tasks/registry.py): a task added there is accepted and documented here.
TaskName = Literal[REGISTRY.names]  # type: ignore[valid-type]

Point = Annotated[list[float], Field(min_length=2, max_length=2)]
Box = Annotated[list[float], Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] in pixels")]


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. no_face, too_large, engine_unavailable")
    message: str
    request_id: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class AnalyzeOptions(BaseModel):
    """What to analyse and how; the same fields as multipart form fields or JSON keys."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[TaskName] | None = Field(
        None, min_length=1, max_length=len(REGISTRY), description="default: every task that suits the media"
    )
    max_faces: int | None = Field(
        None,
        ge=1,
        description="faces analysed: on an image the highest detector scores; on a video the tracks present in "
        "the most sampled frames, then the largest",
    )
    landmarks: Literal["auto", "on", "off"] | None = Field(
        None, description="condition the model on 68 landmarks: auto = when the served model uses them"
    )
    reasoning: bool = Field(
        True,
        description="off: the reasoning is left out of the response (the answer is still generated to its end, "
        "so labels named late are kept)",
    )
    decoding: Decoding = Field(
        "greedy",
        description="greedy: temperature 0, deterministic; official: as the official inference (sampling at "
        "temperature 0.1, top-k 50, up to 1024 tokens); temperature, top_p and max_tokens override either",
    )
    scores: bool = Field(
        False,
        description="also score every class of the single-label tasks (expression, deepfake) from one constrained "
        "answer's log-probabilities; always on with label_decoding=constrained",
    )
    label_decoding: LabelDecoding = Field(
        "free",
        description="free: the label is parsed from the model's answer; constrained: it is also asked for alone, "
        "decoded so it can only be a member of the task's vocabulary",
    )
    prompt_variant: int = Field(
        0, ge=0, lt=REGISTRY.prompt_variants, description="which of the paper's prompts to ask"
    )
    # The upper bounds of temperature and max_tokens are settings (sampling_bounds.py), not constants here.
    temperature: float | None = Field(None, ge=0, description="default 0 (greedy)")
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    frame_previews: bool = Field(
        False,
        description="video: also return the frames the faces are reported on as small JPEG data URLs "
        "(media.previews), for clients that cannot play the upload themselves",
    )


class MediaSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base64: str | None = Field(None, description="the file's bytes, base64 (a data: URL prefix is accepted)")
    url: str | None = Field(None, description="http(s) URL; only when the server enables URL fetching")
    filename: str | None = Field(None, max_length=255)

    @model_validator(mode="after")
    def _exactly_one(self) -> MediaSource:
        if (self.base64 is None) == (self.url is None):
            raise ValueError("give exactly one of media.base64 and media.url")
        return self


class AnalyzeJSONRequest(AnalyzeOptions):
    media: MediaSource


class AnalyzeForm(BaseModel):
    """The multipart form of POST /analyze (documentation of the fields; values are strings on the wire)."""

    file: bytes = Field(json_schema_extra={"format": "binary"}, description="image or video file")
    tasks: str | None = Field(None, description="task names, comma-separated and/or in repeated fields")
    max_faces: int | None = None
    landmarks: Literal["auto", "on", "off"] | None = None
    reasoning: bool | None = None
    decoding: Decoding | None = None
    scores: bool | None = None
    label_decoding: LabelDecoding | None = None
    prompt_variant: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    frame_previews: bool | None = None


class FramePreviewOut(BaseModel):
    frame_index: int
    time: float = Field(description="seconds from the first frame")
    image: str = Field(description="data:image/jpeg;base64 URL, at most 640 px on its long side; scale it to the "
                       "media's width x height to draw the face coordinates on it")


class MediaOut(faces_json.MediaOut):
    """The media fields of `facellava faces`, plus which frames of a video the model saw."""

    sampled_frames: list[int] = Field(default_factory=list, description="frame indices the model saw (video)")
    sampled_times: list[float] = Field(default_factory=list, description="their timestamps in seconds")
    previews: list[FramePreviewOut] = Field(
        default_factory=list, description="video, with frame_previews: the sampled frames and each face's frames"
    )


class ModelOut(BaseModel):
    name: str
    revision: str | None = None


class TaskResult(BaseModel):
    tower: Literal["image", "video"] = Field(description="which vision tower answered")
    labels: list[str] = Field(description="labels from the task's fixed vocabulary, first-mentioned first")
    value: int | None = Field(None, description="age in years (age task)")
    confidence: float | None = Field(None, ge=0, le=1, description="least label probability; null if unknown")
    label_confidences: dict[str, float | None] = Field(default_factory=dict)
    scores: dict[str, float] | None = Field(
        None,
        description="single-label tasks: every label of the vocabulary with its probability under the label "
        "grammar (sums to 1); null when not asked for, unreadable, or the task is multi-label or numeric",
    )
    uncertain: bool = Field(
        description="the answer names no label of the vocabulary, or its label scores below the server's "
        "FACELLAVA_UNCERTAIN_BELOW"
    )
    label_decoding: LabelDecoding = Field(
        "free", description="how the labels were decoded: parsed from free text, or constrained to the vocabulary"
    )
    decoding: Decoding = Field("greedy", description="the decoding preset the answer was generated with")
    reasoning: str | None = Field(None, description="the model's explanation (null when reasoning is off)")
    raw_text: str = Field(description="the model text the labels were read from")
    prompt: str
    finish_reason: str | None = None


class FaceFrame(BaseModel):
    frame_index: int
    time: float
    box: Box
    score: float
    landmarks: list[Point]
    interpolated: bool


class FaceResult(BaseModel):
    index: int
    track_id: int | None = Field(None, description="video: the face track")
    box: Box
    score: float = Field(description="detector confidence (video: of the best frame)")
    landmarks: list[Point] = Field(description="68 iBUG points in image pixels (video: best frame)")
    best_frame: int | None = Field(None, description="video: position 0-7 of the frame used for image tasks")
    presence: float | None = Field(
        None, description="video: fraction of sampled frames where it was detected"
    )
    tower: Literal["video", "image"] | None = Field(
        None,
        description="video: which tower answered the video tasks; 'image' when the face was seen in too few "
        "frames for the video tower, answered from its best frame",
    )
    span: list[float] | None = Field(
        None, description="video: [start, end] seconds of the clip that this face's frames and answers cover"
    )
    frames: list[FaceFrame] | None = Field(
        None, description="video: the frames of this face, sampled inside its span (image tower: the best one)"
    )
    tasks: dict[str, TaskResult] = Field(description="per task asked (a registered task name), its result")


class AnalyzeResponse(BaseModel):
    schema_version: Literal["1"] = SCHEMA_VERSION
    request_id: str
    model: ModelOut
    landmarks_conditioned: bool = Field(description="whether 68-point landmarks were fed to the model")
    media: MediaOut
    faces: list[FaceResult]
    timings: dict[str, float] = Field(description="seconds per stage: decode, detect, landmarks, engine, ...")


# OpenAI-compatible chat


class MediaURL(BaseModel):
    url: str = Field(description="data: URL (http(s) only when the server enables URL fetching)")
    detail: str | None = None


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ImagePart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["image_url"]
    image_url: MediaURL


class VideoPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["video_url"]
    video_url: MediaURL


ContentPart = Annotated[TextPart | ImagePart | VideoPart, Field(discriminator="type")]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str | list[ContentPart]
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat request; images and videos are cropped to the main face before the model sees them."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=64)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(
        None, ge=-1, description="vLLM's top-k (-1: off); the official decoding is temperature 0.1 with top_k 50"
    )
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    stop: str | Annotated[list[str], Field(max_length=MAX_STOP_STRINGS)] | None = None
    n: Literal[1] = 1
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | None = None
    face: int = Field(
        0,
        ge=0,
        description="Face-LLaVA extension: which face of the image or video the model sees, in /analyze's order "
        "(image: highest detector score first; video: the face tracks present in the most sampled frames, then "
        "the largest). The response headers X-Facellava-Face and X-Facellava-Faces say which was used, of how many.",
    )


class ChatChoiceMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | None = None


class ChatChoice(BaseModel):
    model_config = ConfigDict(extra="allow")
    index: int
    message: ChatChoiceMessage
    finish_reason: str | None = None


class ChatCompletionResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "facellava"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class HealthStatus(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, bool] = Field(default_factory=dict)
