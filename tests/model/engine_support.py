"""Helpers for the engine-side tests: reading the official oracle, the official ids as the engine must see
them, and starting/stopping a real vLLM OpenAI server with the project's engine command.

The oracle (FACELLAVA_ORACLE, default ../shared/fixtures/official-tiny-A) is read only; everything written
goes to pytest's tmp dirs. Nothing about a particular fixture is assumed here: dimensions, token ids and
prompts come from its configs, manifest and arrays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from common.engine_command import engine_command
from common.engine_protocol import ENGINE_ENV
from model.config import FaceLlavaConfig

ORACLE = Path(
    os.environ.get("FACELLAVA_ORACLE", Path(__file__).resolve().parents[3] / "shared/fixtures/official-tiny-A")
)
EXPECTED = ORACLE / "expected"
OFFICIAL_PLACEHOLDER = -200  # IMAGE_TOKEN_INDEX in the official input ids
SERVER_START_TIMEOUT_S = 300


@dataclass(frozen=True)
class Oracle:
    """Reads the official fixture: raw inputs, official ids and outputs."""

    root: Path

    @property
    def expected(self) -> Path:
        return self.root / "expected"

    def array(self, name: str) -> np.ndarray:
        return np.load(self.expected / f"{name}.npy")

    def manifest(self) -> dict:
        return json.loads((self.expected / "manifest.json").read_text())

    def image_crop(self) -> Image.Image:
        return Image.open(self.expected / "image_crop_256.png").convert("RGB")

    def video_frames(self) -> np.ndarray:
        """The decoded frames of the official clip, in order (uint8 [T, H, W, 3])."""
        paths = sorted(self.expected.glob("video_frame_*_256.png"), key=lambda p: int(p.name.split("_")[2]))
        return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])

    def landmarks_px(self, kind: str) -> list:
        return self.array(f"{kind}_landmarks_px").tolist()

    def official_ids(self, kind: str, landmarks: bool) -> list[int]:
        return self.array(f"{kind}_{'lm' if landmarks else 'nolm'}_input_ids")[0].tolist()

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


def engine_prompt_ids(official: list[int], kind: str, config: FaceLlavaConfig) -> list[int]:
    """The official ids, the placeholder span collapsed to the one token a request carries."""
    positions = [i for i, token in enumerate(official) if token == OFFICIAL_PLACEHOLDER]
    token = config.image_token_id if kind == "image" else config.video_token_id
    return [*official[: positions[0]], token, *official[positions[-1] + 1 :]]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class EngineServer:
    base_url: str
    log: Path

    def alive(self) -> bool:
        return httpx.get(f"{self.base_url}/health", timeout=10).status_code == 200


def start_engine_server(
    serving_dir: Path, log: Path, extra: list[str] | None = None
) -> tuple[subprocess.Popen, EngineServer]:
    """vLLM's OpenAI server on the CPU build with the project's engine command and environment."""
    port = _free_port()
    argv = engine_command(
        sys.executable,
        serving_dir,
        port=port,
        device="cpu",
        max_model_len=2600,
        kv_cache_bytes=128 << 20,
        extra=extra,
    )
    env = {**os.environ, **ENGINE_ENV}
    handle = log.open("w")
    proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = EngineServer(f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"engine exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if server.alive():
                return proc, server
        except httpx.HTTPError:
            pass
        time.sleep(1)
    stop_engine_server(proc)
    raise RuntimeError(f"engine not ready after {SERVER_START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def stop_engine_server(proc: subprocess.Popen) -> None:
    """Stop the server and its engine-core children (own process group, started above)."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
