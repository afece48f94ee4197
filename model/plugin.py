"""vLLM plugin entry points for Face-LLaVA (declared in pyproject.toml).

`register` (group vllm.general_plugins) runs in every vLLM process: it makes the served config's model type
known to transformers, names the model class lazily (importing the plugin pulls in neither torch nor the model
code before vLLM asks for it) and installs the placeholder guard for text-only prompts (model/placeholder_guard.py).

`FaceLlavaInfoEndpoint` (group vllm.endpoint_plugins, loaded only when named in VLLM_PLUGINS) adds GET
/facellava/info to vLLM's OpenAI server: the landmark-conditioning mode in effect (after any --hf-overrides)
and the model revision, read from the engine's own model config (common/engine_protocol.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
from argparse import Namespace
from typing import Any

from fastapi import FastAPI, Request

from common.engine_protocol import ENDPOINT_PLUGIN_NAME, INFO_PATH, EngineInfo

ARCHITECTURE = "FaceLlavaForConditionalGeneration"
DETOKENIZER_LOGGER = "vllm.v1.engine.detokenizer"
DECODE_STREAM_RESET = "Encountered invalid prefix detokenization error"


class FirstDecodeStreamResetOnly(logging.Filter):
    """Keeps the first of vLLM's "invalid prefix detokenization error ... resetting decode stream" warnings and
    drops the rest.

    Why harmless: tokenizers' DecodeStream refuses a step whose byte-fallback tokens (<0x..>) do not yet form
    valid UTF-8; vLLM catches exactly that error, starts a new stream and decodes the token again
    (vllm-project/vllm#17448, #19449), so the text is still returned, invalid bytes as U+FFFD. A random tiny model
    samples such byte tokens all the time (~1,600 warnings in a few minutes of tests); a trained model rarely
    does. One line per process still shows that it happens; every other vLLM warning passes untouched.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith(DECODE_STREAM_RESET):
            return True
        first, self.seen = not self.seen, True
        if first:
            record.msg += " (further ones are not logged: harmless, see model/plugin.py)"
        return first


def quiet_decode_stream_resets() -> None:
    """Install the filter on vLLM's detokenizer logger, once per process."""
    logger = logging.getLogger(DETOKENIZER_LOGGER)
    if not any(isinstance(f, FirstDecodeStreamResetOnly) for f in logger.filters):
        logger.addFilter(FirstDecodeStreamResetOnly())


def register() -> None:
    """Runs in every vLLM process (imports deferred to here, see the module docstring)."""
    from transformers import AutoConfig
    from vllm import ModelRegistry

    from model.config import FaceLlavaConfig
    from model.placeholder_guard import install

    quiet_decode_stream_resets()

    AutoConfig.register(FaceLlavaConfig.model_type, FaceLlavaConfig, exist_ok=True)
    install()
    if ARCHITECTURE not in ModelRegistry.get_supported_archs():
        ModelRegistry.register_model(ARCHITECTURE, f"model.facellava:{ARCHITECTURE}")


def model_revision(hf_config: Any) -> str:
    """A digest of the source weight hashes recorded at conversion: equal exactly for equal weights."""
    source = getattr(hf_config, "facellava_source", None)
    if not source:
        return "unrecorded"
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]


def engine_info(hf_config: Any) -> EngineInfo:
    """Read from the engine's own config, so --hf-overrides are reflected, not the folder's config.json."""
    return EngineInfo(
        landmark_conditioning=hf_config.landmark_conditioning, model_revision=model_revision(hf_config)
    )


class FaceLlavaInfoEndpoint:
    """vLLM endpoint plugin: GET INFO_PATH -> EngineInfo."""

    name = ENDPOINT_PLUGIN_NAME
    required_tasks = ("generate",)

    def attach_router(self, app: FastAPI) -> None:
        @app.get(INFO_PATH, response_model=EngineInfo)
        async def facellava_info(request: Request) -> EngineInfo:
            return request.app.state.facellava_info

    async def init_state(self, engine_client: Any, state: Any, args: Namespace) -> None:
        state.facellava_info = engine_info(engine_client.model_config.hf_config)
