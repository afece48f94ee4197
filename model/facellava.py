"""Face-LLaVA as a vLLM model: the vision side (model/vision_encoder.py) spliced into vLLM's own LLaMA.

The decoder is vLLM's LlamaForCausalLM built from `config.text_config`, so tensor parallelism, quantization,
prefix caching and the attention backends work as for any LLaMA. The vision side (both LanguageBind towers,
mm_projector, FRLP, FRGCA) is small and replicated; its modules keep the official names so that the serving
folder's tensors, which carry the official state-dict names, load through one WeightsMapper.

The placeholder tokens "<image>" / "<video>" are added after the original vocabulary (ids vocab and vocab +
1), so they are out of range for the embedding table and the LM head keeps the official vocabulary and logits:
vLLM masks them before the text-embedding lookup (configure_mm_token_handling) and scatters the visual
embeddings over them.

Every request input was validated by the processor (model/processing.py) in the API server: nothing here may
raise on request data, because an exception in `embed_multimodal` kills the engine core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

import torch
from torch import nn
from vllm.config import VllmConfig
from vllm.model_executor.model_loader.utils import initialize_model
from vllm.model_executor.models.interfaces import MultiModalEmbeddings, SupportsMultiModal, SupportsPP
from vllm.model_executor.models.utils import (
    AutoWeightsLoader,
    WeightsMapper,
    init_vllm_registered_model,
    maybe_prefix,
)
from vllm.multimodal import MULTIMODAL_REGISTRY
from vllm.sequence import IntermediateTensors

from common.engine_protocol import (
    IMAGE_PLACEHOLDER,
    LANDMARKS_IMAGES_KEY,
    LANDMARKS_VIDEOS_KEY,
    VIDEO_PLACEHOLDER,
)
from model.config import FaceLlavaConfig
from model.padded_head_attention import PaddedHeadLlamaForCausalLM, needs_padded_heads
from model.processing import (
    FaceLlavaDummyInputsBuilder,
    FaceLlavaMultiModalProcessor,
    FaceLlavaProcessingInfo,
    given_key,
)
from model.vision_encoder import LANDMARK_MODULE_NAMES, FaceLlavaVisionMixin

Encoder = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def _as_batch(value: object) -> torch.Tensor:
    """A batched field arrives stacked, or as a list when items differ in shape; ours never do, so stack."""
    return value if isinstance(value, torch.Tensor) else torch.stack(list(value))


def _encode_mixed(
    encode: Encoder, pixels: torch.Tensor, landmarks: torch.Tensor, given: torch.Tensor
) -> torch.Tensor:
    """Encode a batch where only some items came with landmarks (requests batch together)."""
    given = given.to(torch.bool).flatten()
    if bool(given.all()):
        return encode(pixels, landmarks)
    if not bool(given.any()):
        return encode(pixels, None)
    with_lm = encode(pixels[given], landmarks[given])
    without = encode(pixels[~given], None)
    out = with_lm.new_empty((pixels.shape[0], *with_lm.shape[1:]))
    out[given] = with_lm
    out[~given] = without
    return out


@MULTIMODAL_REGISTRY.register_processor(
    FaceLlavaMultiModalProcessor,
    info=FaceLlavaProcessingInfo,
    dummy_inputs=FaceLlavaDummyInputsBuilder,
)
class FaceLlavaForConditionalGeneration(FaceLlavaVisionMixin, nn.Module, SupportsMultiModal, SupportsPP):
    packed_modules_mapping: ClassVar[dict[str, list[str]]] = {
        "qkv_proj": ["q_proj", "k_proj", "v_proj"],
        "gate_up_proj": ["gate_proj", "up_proj"],
    }

    # Official state-dict names (the serving folder keeps them) -> this module tree.
    hf_to_vllm_mapper = WeightsMapper(
        orig_to_new_prefix={
            "model.image_tower.image_tower.": "image_tower.",
            "model.video_tower.video_tower.": "video_tower.",
            "model.mm_projector.": "mm_projector.",
            "model.landmarks_projector.": "landmarks_projector.",
            "model.global_landmarks_projector.": "global_landmarks_projector.",
            "model.landmarks_cross_attn.": "landmarks_cross_attn.",
            "model.": "language_model.model.",
            "lm_head.": "language_model.lm_head.",
        }
    )

    @classmethod
    def get_placeholder_str(cls, modality: str, i: int) -> str | None:
        if modality.startswith("image"):
            return IMAGE_PLACEHOLDER
        if modality.startswith("video"):
            return VIDEO_PLACEHOLDER
        raise ValueError(f"Face-LLaVA takes images and videos, not {modality}")

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__()
        config: FaceLlavaConfig = vllm_config.model_config.hf_config
        self.config = config
        self.configure_mm_token_handling(
            vocab_size=config.text_config.vocab_size,
            mm_token_ids=[config.image_token_id, config.video_token_id],
        )
        # One block for everything on the vision side: each _mark_tower_model call replaces the recorded
        # names.
        with self._mark_tower_model(vllm_config, {"image", "video"}):
            self.init_vision_modules(config)
        with self._mark_language_model(vllm_config):
            self.language_model = self._init_language_model(vllm_config, prefix)
        self.make_empty_intermediate_tensors = self.language_model.make_empty_intermediate_tensors

    def _init_language_model(self, vllm_config: VllmConfig, prefix: str) -> nn.Module:
        text_config = self.config.text_config
        lm_prefix = maybe_prefix(prefix, "language_model")
        if needs_padded_heads(text_config):
            return initialize_model(
                vllm_config=vllm_config.with_hf_config(text_config),
                prefix=lm_prefix,
                model_class=PaddedHeadLlamaForCausalLM,
            )
        return init_vllm_registered_model(vllm_config=vllm_config, hf_config=text_config, prefix=lm_prefix)

    def embed_multimodal(self, **kwargs: object) -> MultiModalEmbeddings:
        """Visual embeddings per item, in prompt order: [image tokens, H] per image, [frames * frame tokens, H]
        per video (frames flattened: the prompt holds a video's frame tokens as one placeholder). vLLM batches
        one modality per call."""
        for pixels_key, landmarks_key, encode in (
            ("pixel_values", LANDMARKS_IMAGES_KEY, self.encode_images),
            ("pixel_values_videos", LANDMARKS_VIDEOS_KEY, self.encode_videos),
        ):
            if kwargs.get(pixels_key) is not None:
                pixels = _as_batch(kwargs[pixels_key])
                landmarks = _as_batch(kwargs[landmarks_key])
                given = _as_batch(kwargs[given_key(landmarks_key)])
                return list(_encode_mixed(encode, pixels, landmarks, given).flatten(1, -2))
        return []

    def forward(
        self,
        input_ids: torch.Tensor | None,
        positions: torch.Tensor,
        intermediate_tensors: IntermediateTensors | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs: object,
    ) -> torch.Tensor | IntermediateTensors:
        if intermediate_tensors is not None:
            inputs_embeds = None
        return self.language_model.model(
            input_ids, positions, intermediate_tensors, inputs_embeds=inputs_embeds
        )

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        return self.language_model.compute_logits(hidden_states)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        # With landmark conditioning off the landmark modules are not built: their tensors, if present, are
        # skipped.
        skip = [] if self.vision_settings.landmarks_on else [f"{name}." for name in LANDMARK_MODULE_NAMES]
        loader = AutoWeightsLoader(self, ignore_unexpected_prefixes=skip)
        return loader.load_weights(weights, mapper=self.hf_to_vllm_mapper)
