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
from argparse import Namespace
from typing import Any

from fastapi import FastAPI, Request

from common.engine_protocol import ENDPOINT_PLUGIN_NAME, INFO_PATH, EngineInfo

ARCHITECTURE = "FaceLlavaForConditionalGeneration"


def register() -> None:
    """Runs in every vLLM process (imports deferred to here, see the module docstring)."""
    from transformers import AutoConfig
    from vllm import ModelRegistry

    from model.config import FaceLlavaConfig
    from model.placeholder_guard import install

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
