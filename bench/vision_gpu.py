"""Vision-side throughput at the released model's size: batched against one item per call, in the same run.

What runs is the serving code (model/vision_encoder.py): two LanguageBind ViT-L/14 towers (24 layers, width
1024, the video one with temporal attention over 8 frames), mlp2x_gelu projector to 4096, FRLP and FRGCA,
with random weights (bf16 on CUDA, float32 on CPU) and random pixels and landmarks. Printed: images/s and
8-frame clips/s for a batch per call and for one item per call (the baseline), and their ratio. The video
baseline is one clip per call, not one frame: temporal attention couples a clip's 8 frames, so a clip is the
smallest unit.

Run from the repository root, in the engine environment:

    .venv/engine/bin/python -m bench.vision_gpu            # on a GPU machine (needs only torch)
    .venv/engine/bin/python -m bench.vision_gpu --tiny     # on CPU: tiny towers, float32
    .venv/engine/bin/python -m bench.vision_gpu --smoke    # CI: tiny towers, batches of 2, short rounds
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch

from model.landmark_modules import NUM_LANDMARKS
from model.vision_encoder import LANDMARK_CROP_PIXELS, FaceLlavaVision

# Released sizes: LanguageBind ViT-L/14 towers (224 px images, 14 px patches), Vicuna-7B width, 8-frame clips.
# vision: (hidden, intermediate, layers, heads); pixels: (image_size, patch_size).
REAL = {"vision": (1024, 4096, 24, 16), "pixels": (224, 14), "text_hidden": 4096, "frames": 8}
TINY = {"vision": (48, 96, 2, 4), "pixels": (224, 14), "text_hidden": 64, "frames": 8}


def vision_config(sizes: dict, landmarks: bool) -> SimpleNamespace:
    """The FaceLlavaConfig fields the vision side reads (a namespace: this script needs no transformers)."""
    hidden, intermediate, layers, heads = sizes["vision"]
    image_size, patch_size = sizes["pixels"]

    def tower(add_time_attn: bool) -> SimpleNamespace:
        return SimpleNamespace(
            hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
            num_attention_heads=heads, num_channels=3, image_size=image_size, patch_size=patch_size, hidden_act="gelu",
            layer_norm_eps=1e-5, add_time_attn=add_time_attn,
            num_frames=sizes["frames"] if add_time_attn else 1,
        )  # fmt: skip

    return SimpleNamespace(
        text_config=SimpleNamespace(hidden_size=sizes["text_hidden"]),
        image_tower_config=tower(False), video_tower_config=tower(True), mm_hidden_size=hidden,
        mm_projector_type="mlp2x_gelu", mm_vision_select_layer=-2, mm_vision_select_feature="patch",
        landmarks_projector_type="landmarks_region_projector", global_landmarks_projector_type="linear",
        cross_attn_type="simple", landmark_conditioning="on" if landmarks else "off",
    )  # fmt: skip


def items_per_second(
    runs: dict[str, Callable[[], torch.Tensor]], items: int, seconds: float, rounds: int, device: torch.device
) -> dict[str, list[float]]:
    """Items/s of each run (each processes `items` items) in every round: after a warm-up, the runs take turns for
    `rounds` rounds of about `seconds` each, so a noisy neighbour's load lands on both sides."""

    def timed(run: Callable[[], torch.Tensor], calls: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(calls):
            out = run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        if not torch.isfinite(out).all():
            raise RuntimeError("non-finite vision output: the benchmark would time garbage")
        return elapsed

    rates: dict[str, list[float]] = {name: [] for name in runs}
    calls = {}
    for name, run in runs.items():
        timed(run, 2)  # warm-up: kernels chosen, caches filled
        calls[name] = max(3, round(seconds / max(timed(run, 1), 1e-6)))
    for _ in range(rounds):
        for name, run in runs.items():
            rates[name].append(items * calls[name] / timed(run, calls[name]))
    return rates


def report(kind: str, unit: str, batched: list[float], single: list[float], batch: int) -> None:
    """Median rate (spread min-max over rounds) of each side, and the ratio of the medians."""

    def rate(side: list[float]) -> str:
        return f"{statistics.median(side):.1f} {unit}/s (spread {min(side):.1f}-{max(side):.1f})"

    print(
        f"{kind}: batched ({batch}/call) {rate(batched)} | one per call {rate(single)} | "
        f"ratio of medians batched / one-at-a-time = {statistics.median(batched) / statistics.median(single):.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiny", action="store_true", help="tiny towers (CPU smoke test)")
    parser.add_argument("--image-batch", type=int, default=32)
    parser.add_argument("--clip-batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (median and spread reported)")
    parser.add_argument("--smoke", action="store_true", help="tiny towers, batches of 2, short rounds (CI)")
    parser.add_argument(
        "--no-landmarks", action="store_true", help="skip FRLP/FRGCA (official inference path)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.tiny, args.image_batch, args.clip_batch, args.seconds, args.rounds = True, 2, 2, 0.05, 2

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    sizes = TINY if args.tiny else REAL
    torch.manual_seed(0)
    with device:  # initialise on the device: random init of 0.8 B parameters on a CPU takes a while
        model = FaceLlavaVision(vision_config(sizes, not args.no_landmarks)).to(dtype).eval()
    for name in ("image_tower", "video_tower"):  # zero-initialised parameters would make the towers trivial
        tower = getattr(model, name)
        torch.nn.init.normal_(tower.embeddings.class_embedding, std=0.02)
        for layer in tower.encoder.layers:
            if hasattr(layer, "temporal_embedding"):
                torch.nn.init.normal_(layer.temporal_embedding, std=0.02)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"device: {name} ({device.type}, {dtype}), torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")  # fmt: skip
    print(f"vision side: {params:.1f} M parameters, {'tiny' if args.tiny else 'released'} sizes, "
          f"landmarks {'off' if args.no_landmarks else 'on (FRLP + FRGCA)'}")  # fmt: skip

    frames, size = sizes["frames"], model.vision_settings.image_size
    images = torch.randn(args.image_batch, 3, size, size, device=device, dtype=dtype)
    clips = torch.randn(args.clip_batch, frames, 3, size, size, device=device, dtype=dtype)
    def random_landmarks(*lead: int) -> torch.Tensor | None:
        """Crop-pixel landmarks anywhere in the crop: timing does not depend on where they fall."""
        if args.no_landmarks:
            return None
        return torch.rand(*lead, NUM_LANDMARKS, 2, device=device) * LANDMARK_CROP_PIXELS

    image_lm = random_landmarks(args.image_batch)
    clip_lm = random_landmarks(args.clip_batch, frames)

    def batched(encode, pixels, landmarks):
        return lambda: encode(pixels, landmarks)

    def one_by_one(encode, pixels, landmarks):
        def run():
            outs = [encode(pixels[i : i + 1], None if landmarks is None else landmarks[i : i + 1])
                    for i in range(pixels.shape[0])]  # fmt: skip
            return torch.cat(outs)

        return run

    with torch.inference_mode():
        for kind, unit, encode, pixels, landmarks in (
            ("images", "images", model.encode_images, images, image_lm),
            (f"{frames}-frame clips", "clips", model.encode_videos, clips, clip_lm),
        ):
            count = pixels.shape[0]
            runs = {
                "batched": batched(encode, pixels, landmarks),
                "single": one_by_one(encode, pixels, landmarks),
            }
            speed = items_per_second(runs, count, args.seconds, args.rounds, device)
            report(kind, unit, speed["batched"], speed["single"], count)
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
