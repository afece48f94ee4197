"""Exact LLaMA attention for head sizes the CPU attention kernel lacks (tiny test checkpoints only).

vLLM's CPU build has one attention backend (CPU_ATTN) and it supports head sizes 32, 64, 80, ... only; the
parity fixture's decoder has head_dim 16 and real Face-LLaVA (Vicuna-7B) has 128. So that the tiny checkpoints
run through vLLM's own LLaMA unchanged everywhere else, this attention keeps the checkpoint's q/k/v/o
projections and RoPE at the real head size and hands the kernel heads zero-padded to the next supported size,
with the softmax scale of the real size. It is exact: the padded q and k dimensions add 0 to every dot
product, the padded v dimensions produce output columns that are dropped before o_proj. It activates only on
the CPU platform and only for an unsupported head size (`needs_padded_heads`), so GPUs and real checkpoints
never see it.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import LlamaConfig
from vllm.config import CacheConfig, VllmConfig
from vllm.distributed import get_tensor_model_parallel_world_size
from vllm.model_executor.layers.attention import Attention
from vllm.model_executor.layers.linear import QKVParallelLinear, RowParallelLinear
from vllm.model_executor.layers.quantization import QuantizationConfig
from vllm.model_executor.models.llama import LlamaAttention, LlamaDecoderLayer, LlamaForCausalLM
from vllm.platforms import current_platform
from vllm.v1.attention.backend import AttentionType


def head_size(config: LlamaConfig) -> int:
    """The decoder's real head size: an explicit head_dim wins, as in vLLM's LlamaAttention."""
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _cpu_head_sizes() -> list[int]:
    # Imported here: the CPU backend module is only meaningful (and only needed) on the CPU platform.
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    return CPUAttentionBackend.get_supported_head_sizes()


def needs_padded_heads(config: LlamaConfig) -> bool:
    """Only the CPU platform with a head size its kernel lacks: everywhere else vLLM's own attention runs."""
    return current_platform.is_cpu() and head_size(config) not in _cpu_head_sizes()


def padded_head_size(real: int) -> int:
    """The smallest head size the CPU kernel supports that holds `real`."""
    return min(size for size in _cpu_head_sizes() if size >= real)


class PaddedHeadLlamaAttention(LlamaAttention):
    """LlamaAttention whose kernel sees zero-padded heads (module docstring). No sliding window (LLaMA-2)."""

    def __init__(
        self,
        config: LlamaConfig,
        hidden_size: int,
        num_heads: int,
        num_kv_heads: int,
        max_position_embeddings: int = 8192,
        quant_config: QuantizationConfig | None = None,
        bias: bool = False,
        bias_o_proj: bool = False,
        cache_config: CacheConfig | None = None,
        prefix: str = "",
        attn_type: str = AttentionType.DECODER,
    ) -> None:
        # LlamaAttention.__init__ would register a kernel for the unsupported size under this prefix; build
        # the same projections and RoPE here, and the kernel at the padded size.
        nn.Module.__init__(self)
        tp_size = get_tensor_model_parallel_world_size()
        self.hidden_size = hidden_size
        self.total_num_heads = num_heads
        self.total_num_kv_heads = num_kv_heads
        self.num_heads = num_heads // tp_size
        self.num_kv_heads = max(1, num_kv_heads // tp_size)
        self.head_dim = head_size(config)
        self.padded_head_dim = padded_head_size(self.head_dim)
        self.q_size = self.num_heads * self.head_dim
        self.kv_size = self.num_kv_heads * self.head_dim
        self.scaling = self.head_dim**-0.5
        self.max_position_embeddings = max_position_embeddings
        self.qkv_proj = QKVParallelLinear(
            hidden_size=hidden_size,
            head_size=self.head_dim,
            total_num_heads=num_heads,
            total_num_kv_heads=num_kv_heads,
            bias=bias,
            quant_config=quant_config,
            prefix=f"{prefix}.qkv_proj",
        )
        self.o_proj = RowParallelLinear(
            input_size=num_heads * self.head_dim,
            output_size=hidden_size,
            bias=bias_o_proj,
            quant_config=quant_config,
            prefix=f"{prefix}.o_proj",
        )
        self._init_rotary_emb(config, quant_config=quant_config)
        self.attn = Attention(
            self.num_heads,
            self.padded_head_dim,
            self.scaling,
            num_kv_heads=self.num_kv_heads,
            cache_config=cache_config,
            quant_config=quant_config,
            attn_type=attn_type,
            prefix=f"{prefix}.attn",
        )

    def _pad(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        x = x.view(-1, heads, self.head_dim)
        x = nn.functional.pad(x, (0, self.padded_head_dim - self.head_dim))
        return x.reshape(-1, heads * self.padded_head_dim)

    def forward(self, positions: torch.Tensor, hidden_states: torch.Tensor) -> torch.Tensor:
        qkv, _ = self.qkv_proj(hidden_states)
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q, k = self.rotary_emb(positions, q, k)
        out = self.attn(
            self._pad(q, self.num_heads), self._pad(k, self.num_kv_heads), self._pad(v, self.num_kv_heads)
        )
        out = out.view(-1, self.num_heads, self.padded_head_dim)[..., : self.head_dim]
        output, _ = self.o_proj(out.reshape(-1, self.q_size))
        return output


class PaddedHeadLlamaDecoderLayer(LlamaDecoderLayer):
    def __init__(self, vllm_config: VllmConfig, prefix: str = "", config: LlamaConfig | None = None) -> None:
        super().__init__(vllm_config, prefix, config, attn_layer_type=PaddedHeadLlamaAttention)


class PaddedHeadLlamaForCausalLM(LlamaForCausalLM):
    """vLLM's LlamaForCausalLM (weights, loading, logits unchanged) with PaddedHeadLlamaAttention."""

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = "") -> None:
        super().__init__(vllm_config=vllm_config, prefix=prefix, layer_type=PaddedHeadLlamaDecoderLayer)
