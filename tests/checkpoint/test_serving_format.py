"""The converted folder as vLLM reads it: vLLM's own tokenizer loader finds the placeholder tokens, vLLM's
chat front-end treats the template as string-content (so it inserts its placeholder before the text), and the
template follows llava_v1 for system prompts and multi-turn conversations.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer
from vllm.renderers.hf import _detect_content_format
from vllm.tokenizers.registry import get_tokenizer

from conversion.convert import convert
from conversion.tiny_checkpoint import TinyCheckpoint
from model import serving_format as fmt
from model.config import FaceLlavaConfig


@pytest.fixture(scope="module")
def serving(tiny_source: TinyCheckpoint, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serving") / "tiny"
    convert(tiny_source.facellava, tiny_source.image_tower, tiny_source.video_tower, out)
    return out


def test_vllm_tokenizer_loader_knows_the_placeholders(serving: Path) -> None:
    config = FaceLlavaConfig.from_pretrained(serving)
    tokenizer = get_tokenizer(str(serving))
    assert tokenizer.convert_tokens_to_ids([fmt.IMAGE_TOKEN, fmt.VIDEO_TOKEN]) == [
        config.image_token_id,
        config.video_token_id,
    ]
    ids = tokenizer.encode(f"x {fmt.IMAGE_TOKEN} y {fmt.VIDEO_TOKEN}", add_special_tokens=False)
    assert ids.count(config.image_token_id) == 1
    assert ids.count(config.video_token_id) == 1
    assert (
        max(i for i in ids if i not in (config.image_token_id, config.video_token_id)) < config.image_token_id
    )


def test_vllm_sees_a_string_content_template() -> None:
    assert _detect_content_format(fmt.CHAT_TEMPLATE, default="openai") == "string"


def test_template_follows_llava_v1_for_system_and_multi_turn(serving: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(serving)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": f"{fmt.IMAGE_TOKEN}\nHow old?"},
        {"role": "assistant", "content": "30."},
        {"role": "user", "content": "Why?"},
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # llava_v1: system + " ", then "ROLE: message" + sep, sep alternating " " (user) and "</s>" (assistant);
    # plus the dummy-prefix spaces after BOS and after each placeholder.
    image = fmt.IMAGE_TOKEN
    assert rendered == f"<s> Be brief. USER: {image} \nHow old? ASSISTANT: 30.</s>USER: Why? ASSISTANT:"
    without_prompt = tokenizer.apply_chat_template(messages[1:2], tokenize=False, add_generation_prompt=False)
    assert without_prompt == f"<s> {fmt.SYSTEM_PROMPT} USER: {image} \nHow old? "


def test_template_refuses_other_roles(serving: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(serving)
    with pytest.raises(Exception, match="only user and assistant turns"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)
