"""Helpers for the engine-side tests: reading the official oracle, the official ids as the engine must see
them, and starting/stopping a real vLLM OpenAI server with the project's engine command.

The oracle (FACELLAVA_ORACLE, default ../shared/fixtures/official-tiny-A) is read only; everything written
goes to pytest's tmp dirs. Nothing about a particular fixture is assumed here: dimensions, token ids and
prompts come from its configs, manifest and arrays.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from common.child_server import ChildServer, engine_server
from common.engine_protocol import LANDMARKS_IMAGES_KEY, LANDMARKS_VIDEOS_KEY
from model.config import FaceLlavaConfig

ORACLE = Path(
    os.environ.get("FACELLAVA_ORACLE", Path(__file__).resolve().parents[3] / "shared/fixtures/official-tiny-A")
)
EXPECTED = ORACLE / "expected"
OFFICIAL_PLACEHOLDER = -200  # IMAGE_TOKEN_INDEX in the official input ids
SERVER_START_TIMEOUT_S = 300
# The tiny engines' KV cache: many times the longest case's sequence at the fixtures' sizes, small beside the
# other work on a 2-core CI machine.
ENGINE_KV_CACHE_BYTES = 128 << 20
CASES = [(kind, landmarks) for kind in ("image", "video") for landmarks in (False, True)]


def case_tag(kind: str, landmarks: bool) -> str:
    """The oracle's name for one case ("image_lm", "video_nolm", ...), the prefix of its arrays."""
    return f"{kind}_{'lm' if landmarks else 'nolm'}"


def landmarks_key(kind: str) -> str:
    """The mm_processor_kwargs key that carries the landmarks of a `kind` item."""
    return LANDMARKS_IMAGES_KEY if kind == "image" else LANDMARKS_VIDEOS_KEY


@dataclass(frozen=True)
class Oracle:
    """Reads the official fixture: raw inputs, official ids and outputs."""

    root: Path

    @property
    def expected(self) -> Path:
        return self.root / "expected"

    def folder(self, prefix: str) -> Path:
        """The downloaded folder whose name is `prefix-<revision>` (e.g. "FaceLLaVA", "LanguageBind_Image")."""
        (match,) = [p for p in self.root.iterdir() if p.is_dir() and p.name.startswith(prefix + "-")]
        return match

    def png(self, name: str) -> np.ndarray:
        """One of the oracle's raw input PNGs as uint8 RGB [H, W, 3]."""
        return np.asarray(Image.open(self.expected / name).convert("RGB"))

    def array(self, name: str) -> np.ndarray:
        return np.load(self.expected / f"{name}.npy")

    def manifest(self) -> dict:
        return json.loads((self.expected / "manifest.json").read_text())

    def image_crop(self) -> Image.Image:
        return Image.open(self.expected / "image_crop_256.png").convert("RGB")

    def video_frames(self) -> np.ndarray:
        """The decoded frames of the official clip, in order (uint8 [T, H, W, 3])."""
        paths = sorted(self.expected.glob("video_frame_*_256.png"), key=lambda p: int(p.name.split("_")[2]))
        return np.stack([self.png(path.name) for path in paths])

    def media(self, kind: str) -> Image.Image | np.ndarray:
        """The raw input of a `kind` case: the crop PNG or the clip's frames."""
        return self.image_crop() if kind == "image" else self.video_frames()

    def landmarks_px(self, kind: str) -> list:
        return self.array(f"{kind}_landmarks_px").tolist()

    def official_ids(self, kind: str, landmarks: bool) -> list[int]:
        return self.array(f"{case_tag(kind, landmarks)}_input_ids")[0].tolist()

    def question(self, kind: str) -> str:
        """The question of the official prompt: the text after the last placeholder, before " ASSISTANT:"."""
        prompt = self.manifest()["prompts"][kind]
        user_turn = prompt.split(" USER: ", 1)[1].rsplit(" ASSISTANT:", 1)[0]
        return user_turn.rsplit("<image>", 1)[1].lstrip("\n")


def served_ids(official: list[int], kind: str, config: FaceLlavaConfig) -> list[int]:
    """The official ids as the engine must see them after placeholder expansion: every -200 becomes the item's
    visual positions (image: image_token_id per visual token; video: video_token_id per token of that
    frame)."""
    if kind == "image":
        tower = config.image_tower_config
        block = [config.image_token_id] * ((tower.image_size // tower.patch_size) ** 2)
    else:
        tower = config.video_tower_config
        block = [config.video_token_id] * ((tower.image_size // tower.patch_size) ** 2 + 1)
    out: list[int] = []
    for token in official:
        out += block if token == OFFICIAL_PLACEHOLDER else [token]
    return out


def case_lengths(oracle: Oracle, config: FaceLlavaConfig) -> list[int]:
    """Each case's whole sequence in the engine (served prompt + official answer), read from the fixture so
    that the engine's context is sized for whatever oracle FACELLAVA_ORACLE names."""
    return [
        len(served_ids(oracle.official_ids(kind, lm), kind, config))
        + oracle.array(f"{case_tag(kind, lm)}_generated_ids").shape[1]
        for kind, lm in CASES
    ]


def engine_prompt_ids(official: list[int], kind: str, config: FaceLlavaConfig) -> list[int]:
    """The official ids, the placeholder span collapsed to the one token a request carries."""
    positions = [i for i, token in enumerate(official) if token == OFFICIAL_PLACEHOLDER]
    token = config.image_token_id if kind == "image" else config.video_token_id
    return [*official[: positions[0]], token, *official[positions[-1] + 1 :]]


def start_engine_server(
    serving_dir: Path, log: Path, max_model_len: int, extra: list[str] | None = None
) -> ChildServer:
    """vLLM's OpenAI server on the CPU build with the project's engine command and environment, started."""
    server = engine_server(
        sys.executable,
        serving_dir,
        log,
        start_timeout_s=SERVER_START_TIMEOUT_S,
        device="cpu",
        max_model_len=max_model_len,
        kv_cache_bytes=ENGINE_KV_CACHE_BYTES,
        extra=extra,
    )
    server.start_and_wait()
    return server


def is_healthy(server: ChildServer) -> bool:
    return httpx.get(f"{server.url}/health", timeout=10).status_code == 200
