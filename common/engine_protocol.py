"""What the gateway and the Face-LLaVA engine plugin agree on, importable without torch or vLLM.

The engine is vLLM's own OpenAI-compatible server with our model plugin. Everything the gateway must send to
it that is not plain OpenAI chat (the landmark arrays, the frame count, the crop size the landmarks refer to)
and how it learns which landmark-conditioning mode answered is written down here once, so the two sides cannot
drift.

Request shape (POST /v1/chat/completions):
    messages: one user message whose content holds ONE `image_url` part (a PNG data URL of the 256 px face
    crop) or ONE `video_url` part (FFV1-in-Matroska data URL, or `data:video/jpeg;base64,<png>,<png>,...` with
    FRAMES_PER_VIDEO PNG frames), plus a `text` part with the question. The served chat template renders the
    official llava_v1 prompt; nothing else is needed from the gateway.
    mm_processor_kwargs (top level; `extra_body` in the openai SDK), optional:
        LANDMARKS_IMAGES_KEY: [[[x, y] * LANDMARK_POINTS]] one entry per image, in prompt order
        LANDMARKS_VIDEOS_KEY: [[[[x, y] * LANDMARK_POINTS] * FRAMES_PER_VIDEO]] one entry per video
    Coordinates are pixels of the CROP_SIZE x CROP_SIZE face crop (iBUG-68 order). Values must be finite and
    inside LANDMARK_RANGE_PX; a wrong shape, count or value is an HTTP 400 naming the problem. A request
    without media runs no multimodal processor in vLLM, so landmarks sent with it are not checked or used.

Landmark conditioning: whether the model uses landmarks at all is fixed per engine (`landmark_conditioning` in
the served config.json, "on" or "off", overridable at start with `--hf-overrides '{"landmark_conditioning":
"off"}'`). With "off", landmarks sent in a request are accepted and ignored. The engine reports the mode in
effect through vLLM's endpoint-plugin mechanism: GET INFO_PATH returns EngineInfo. vLLM loads endpoint plugins
only when they are named in VLLM_PLUGINS, and that allow-list then also gates the general (model) plugin, so
the engine process must run with ENGINE_ENV.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

IMAGE_PLACEHOLDER = "<image>"
VIDEO_PLACEHOLDER = "<video>"

FRAMES_PER_VIDEO = 8
CROP_SIZE = 256
LANDMARK_POINTS = 68
# Landmarks may fall a little outside the crop (a face cut by the crop border), never far outside it.
LANDMARK_RANGE_PX: tuple[float, float] = (-0.5 * CROP_SIZE, 1.5 * CROP_SIZE)

LANDMARKS_IMAGES_KEY = "landmarks"
LANDMARKS_VIDEOS_KEY = "landmarks_videos"

# The most `stop` strings a chat request may carry: the engine runs with VLLM_MAX_STOP_STRINGS set to it (vLLM's
# own default is 4 too), and the gateway refuses more with a 422 instead of forwarding them to an engine refusal.
MAX_STOP_STRINGS = 4

GENERAL_PLUGIN_NAME = "facellava"
ENDPOINT_PLUGIN_NAME = "facellava_info"
ENGINE_ENV: dict[str, str] = {
    "VLLM_PLUGINS": f"{GENERAL_PLUGIN_NAME},{ENDPOINT_PLUGIN_NAME}",
    "VLLM_MAX_STOP_STRINGS": str(MAX_STOP_STRINGS),
}
INFO_PATH = "/facellava/info"


class EngineInfo(BaseModel):
    """GET INFO_PATH: which model and which landmark mode this engine serves.

    model_revision is a digest of the source weight hashes recorded at conversion (config.facellava_source),
    so two engines report the same revision exactly when they serve the same released weights.
    """

    landmark_conditioning: Literal["on", "off"]
    model_revision: str
