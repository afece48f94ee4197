"""What a converted serving folder contains, in one place, so the converter (writer) and the vLLM plugin
(reader) cannot drift apart: file names, the two placeholder tokens, and the chat template.

The chat template gives exactly the official llava_v1 prompt ids (facellava/conversation.py, `conv_vicuna_v1`:
system prompt, " USER: ", the user turn, " ASSISTANT:"; finished assistant turns end with "</s>"). It reads
message content as a plain string, so vLLM's chat front-end puts its own placeholder ("<image>" or "<video>",
from the model's `get_placeholder_str`) in front of the text joined by "\\n": "<image>\\nWhat emotion is
shown?", the official user turn. A video request carries one "<video>"; the model-side processor expands it
into the official eight "<image>" chunks joined by single spaces. A system message replaces the default one.

Ids, not text, are what must match. vLLM tokenizes the rendered chat prompt in one piece without adding
special tokens, while the official code adds BOS and tokenizes the text between placeholders chunk by chunk,
each chunk starting with SentencePiece's dummy prefix "\u2581"; text after a special token gets none. So
the template writes BOS itself and a space after BOS and after each placeholder, which tokenizes to exactly
that "\u2581": "<s> A chat ... USER: <image> \\nWhat ..." gives the official ids.
"""

from __future__ import annotations

from common.engine_protocol import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER

CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"
CONVERSION_REPORT_FILE = "conversion_report.json"

SAFETENSORS_SINGLE_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"

# Slow LLaMA SentencePiece tokenizer, as in the released folder.
TOKENIZER_MODEL_FILE = "tokenizer.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
TOKENIZER_FILES = (TOKENIZER_MODEL_FILE, TOKENIZER_CONFIG_FILE, SPECIAL_TOKENS_MAP_FILE)

# Added after the original vocabulary, in this order: ids vocab_size and vocab_size + 1. The same strings the
# gateway's protocol and the model's get_placeholder_str use.
IMAGE_TOKEN = IMAGE_PLACEHOLDER
VIDEO_TOKEN = VIDEO_PLACEHOLDER
PLACEHOLDER_TOKENS = (IMAGE_TOKEN, VIDEO_TOKEN)

# The official video prompt: one "<image>" per frame, joined by single spaces.
VIDEO_FRAME_SEPARATOR = " "

SYSTEM_PROMPT = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
USER_ROLE = "USER"
ASSISTANT_ROLE = "ASSISTANT"

# Rendered right after BOS and after each placeholder: stands for the official per-chunk dummy prefix.
DUMMY_PREFIX = " "

# llava_v1 (SeparatorStyle.TWO): sep " " after the system prompt and user turns, sep2 "</s>" after answers.
CHAT_TEMPLATE = (
    "{{ bos_token + '" + DUMMY_PREFIX + "' }}"
    "{% if messages and messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}"
    "{% set system = '" + SYSTEM_PROMPT.replace("'", "\\'") + "' %}{% set turns = messages %}"
    "{% endif %}"
    "{{ system }} "
    "{% for message in turns %}"
    "{% if message['role'] == 'user' %}"
    "{{ '"
    + USER_ROLE
    + ": ' + message['content']"
    + "".join(f" | replace('{token}', '{token}{DUMMY_PREFIX}')" for token in PLACEHOLDER_TOKENS)
    + " + ' ' }}"
    "{% elif message['role'] == 'assistant' %}"
    "{{ '" + ASSISTANT_ROLE + ": ' + message['content'] + eos_token }}"
    "{% else %}"
    "{{ raise_exception('llava_v1 has only user and assistant turns after an optional system message') }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '" + ASSISTANT_ROLE + ":' }}{% endif %}"
)
