"""The engine refuses a prompt whose <image>/<video> placeholder tokens do not match its media, before the model runs.

A placeholder id (`image_token_id`, `video_token_id`: one past the LLaMA vocabulary) is only meaningful where the
multimodal processor expanded it for a media item; anywhere else it reaches the model as an out-of-vocabulary id,
and an exception inside the model kills the engine core for every later request. Such a prompt can come from any
client: token ids sent to /v1/completions, chat text containing "<image>", a system message. Two checks cover
every path:

- prompts WITH media go through our multimodal processor: `check_placeholder_counts` (called from its `apply`)
  requires exactly one placeholder token per item of each modality;
- prompts WITHOUT media never reach a multimodal processor in vLLM, so `install` wraps vLLM's per-prompt input
  validation (`InputProcessor._validate_model_input`, in the API-server process, where a VLLMValidationError
  becomes an HTTP 400) to refuse any placeholder token in a text-only prompt. vLLM offers no per-model hook for
  text-only prompts; the GPU pin check (scripts/check-gpu-pin) runs this module's tests against the GPU release
  so a change of that method's name or signature is caught.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from common.engine_protocol import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER

_PLACEHOLDERS = {"image": IMAGE_PLACEHOLDER, "video": VIDEO_PLACEHOLDER}


def placeholder_ids(hf_config: Any) -> dict[str, int]:
    """Modality -> its placeholder token id in the served config."""
    return {"image": hf_config.image_token_id, "video": hf_config.video_token_id}


def check_placeholder_counts(prompt: Sequence[int], ids: Mapping[str, int], items: Mapping[str, int]) -> None:
    """Raises ValueError unless the prompt holds exactly one placeholder token per media item of each modality."""
    for modality, token_id in ids.items():
        found, expected = sum(1 for token in prompt if token == token_id), items.get(modality, 0)
        if found != expected:
            raise ValueError(
                f"the prompt holds {found} {_PLACEHOLDERS[modality]} placeholder token(s) but the request carries "
                f"{expected} {modality}(s); each {modality} needs exactly one placeholder"
            )


def install() -> None:
    """Wraps vLLM's input validation once (idempotent): text-only Face-LLaVA prompts must hold no placeholder."""
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.input_processor import InputProcessor

    original = InputProcessor._validate_model_input
    if getattr(original, "_facellava_guard", False):
        return

    def validate_model_input(self: Any, prompt_input: Any, prompt_type: Any) -> None:
        original(self, prompt_input, prompt_type)
        hf_config = self.model_config.hf_config
        if getattr(hf_config, "model_type", None) != "facellava" or prompt_input["type"] != "token":
            return
        try:
            check_placeholder_counts(prompt_input["prompt_token_ids"], placeholder_ids(hf_config), {})
        except ValueError as error:
            raise VLLMValidationError(str(error), parameter="prompt") from None

    validate_model_input._facellava_guard = True  # type: ignore[attr-defined]
    InputProcessor._validate_model_input = validate_model_input  # type: ignore[method-assign]
