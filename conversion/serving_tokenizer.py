"""The serving folder's tokenizer: the released slow-LLaMA SentencePiece files, with <image>/<video> added
as special tokens right after the original vocabulary and the llava_v1 chat template (serving_format)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import sentencepiece

from conversion.errors import ConversionError
from conversion.released_config import read_json
from model import serving_format as fmt


def added_token(content: str) -> dict[str, Any]:
    """An added-token entry as transformers writes it (no stripping, not normalised)."""
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def write_serving_tokenizer(facellava_dir: Path, out: Path, vocab_size: int) -> None:
    """Copies the released tokenizer into `out`, adds the placeholders and the chat template; refuses a
    tokenizer whose vocabulary is not the config's (the placeholder ids would land on real tokens)."""
    for name in fmt.TOKENIZER_FILES:
        if not (facellava_dir / name).is_file():
            raise ConversionError(f"{facellava_dir / name} is missing (the slow LLaMA tokenizer is required)")
    if (facellava_dir / "added_tokens.json").is_file() and read_json(facellava_dir / "added_tokens.json"):
        raise ConversionError(
            f"{facellava_dir / 'added_tokens.json'} adds tokens; their ids would collide with <image>/<video>"
        )
    pieces = sentencepiece.SentencePieceProcessor(model_file=str(facellava_dir / fmt.TOKENIZER_MODEL_FILE))
    if pieces.get_piece_size() != vocab_size:
        raise ConversionError(
            f"field 'vocab_size' is {vocab_size} but {fmt.TOKENIZER_MODEL_FILE} has "
            f"{pieces.get_piece_size()} pieces"
        )
    shutil.copyfile(facellava_dir / fmt.TOKENIZER_MODEL_FILE, out / fmt.TOKENIZER_MODEL_FILE)

    tokenizer_config = read_json(facellava_dir / fmt.TOKENIZER_CONFIG_FILE)
    specials = [(pieces.piece_to_id(p), p) for p in ("<unk>", "<s>", "</s>")]
    specials += [(vocab_size + i, token) for i, token in enumerate(fmt.PLACEHOLDER_TOKENS)]
    decoder = {str(token_id): added_token(token) | {"special": True} for token_id, token in specials}
    tokenizer_config["added_tokens_decoder"] = decoder
    tokenizer_config["additional_special_tokens"] = list(fmt.PLACEHOLDER_TOKENS)
    tokenizer_config["chat_template"] = fmt.CHAT_TEMPLATE
    tokenizer_config["tokenizer_class"] = "LlamaTokenizer"
    (out / fmt.TOKENIZER_CONFIG_FILE).write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    special_map = read_json(facellava_dir / fmt.SPECIAL_TOKENS_MAP_FILE)
    special_map["additional_special_tokens"] = [added_token(token) for token in fmt.PLACEHOLDER_TOKENS]
    (out / fmt.SPECIAL_TOKENS_MAP_FILE).write_text(json.dumps(special_map, indent=2) + "\n")
