"""A user's first day at real size, minus the GPU: one command, not CI.

1. Writes a random-weight checkpoint in the released layout and dimensions: FaceLLaVA as Vicuna-7B LLaMA (32
   layers, hidden 4096, 32 heads, MLP 11008, vocab 32000) + projector + landmark modules + embedded towers, in bf16,
   as sharded `pytorch_model-*.bin` + `pytorch_model.bin.index.json` (transformers 4.31's 10 GB default shards, as
   the official trainer saves); LanguageBind ViT-L/14 image and video towers (24 layers, 1024 wide, 16 heads, MLP
   4096, 224 px, patch 14; the video tower with 8-frame temporal attention) each in its own folder as one fp32
   `pytorch_model.bin` with the position_ids buffers transformers 4.30 persisted.
2. Converts it with the README's command (`facellava convert`, no extra options): time and peak RSS.
3. Starts the CPU engine on it (bf16, 2 GiB KV cache) and the gateway: load time, peak RSS of the engine's
   processes.
4. Sends one image and one video `/analyze` (expression, reasoning off, a few tokens) through the gateway; reads
   time to first token and time per output token from the engine's own Prometheus histograms.

Run it with the gateway environment's Python (the checkpoint writer and the converter run in the engine
environment), holding both locks at full size:

    flock /work/locks/engine.lock flock /work/locks/heavy.lock \\
        .venv/gateway/bin/python -m bench.real_size_rehearsal --workdir /scratch/rehearsal

`--small` runs the same steps on a small model (development). `--stage prepare` (steps 1-2, no engine: only the
heavy lock) then `--stage serve` (steps 3-4) split the run where the engine lock is contended. The multi-GB
folders are deleted at the end unless `--keep`. Results: printed and written to WORKDIR/results.json.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from common.child_server import engine_python, engine_server

GIB = 1024**3
KV_CACHE_BYTES = 2 * GIB
MAX_MODEL_LEN = 3072
SHARD_BYTES = 10 * 10**9  # transformers 4.31 save_pretrained's default max_shard_size ("10GB")
REQUEST_TIMEOUT_S = 1800
ANSWER_TOKENS = 8

# (LLM hidden, MLP, layers, heads, vocab), (tower hidden, MLP, layers, heads)
SIZES = {
    "real": ((4096, 11008, 32, 32, 32000), (1024, 4096, 24, 16)),
    "small": ((256, 688, 2, 4, 32000), (64, 128, 2, 4)),
}


# --------------------------------------------------------------------------------- engine-environment steps


def write_checkpoint(out: Path, size: str) -> None:
    """Step 1 (engine environment: torch)."""
    from conversion.tiny_checkpoint import TinySpec, TransformerSize, write_tiny_checkpoint

    (hidden, mlp, layers, heads, vocab), tower = SIZES[size]
    spec = TinySpec(
        llm=TransformerSize(hidden=hidden, intermediate=mlp, layers=layers, heads=heads),
        tower=TransformerSize(*tower),
        vocab_size=vocab,
        exact_vocab=True,
        weight_format="bin",
        max_shard_bytes=SHARD_BYTES if size == "real" else 64 * 10**6,
        weight_dtype="bfloat16",
        legacy_buffers=True,
    )
    write_tiny_checkpoint(out, seed=0, spec=spec)


def _peak_rss_of_child(argv: list[str]) -> tuple[float, float]:
    """Runs argv to completion; (seconds, peak RSS in GiB) of that child alone (GNU time's %M)."""
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *argv], check=True, capture_output=True, text=True
    )
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return time.perf_counter() - started, peak_kib * 1024 / GIB


# -------------------------------------------------------------------------------------------- measurements


class GroupRssSampler:
    """Peak resident memory of a process group (vLLM's API server + engine core), sampled once a second."""

    def __init__(self, pgid: int) -> None:
        self.pgid, self.peak_bytes, self._stop = pgid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _group_rss(self) -> int:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pgid:  # field 5 of stat: the process group
                total += int(fields[21]) * 4096  # field 24: resident pages
        return total

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.peak_bytes = max(self.peak_bytes, self._group_rss())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_bytes / GIB


def histogram_totals(metrics_text: str, name: str) -> tuple[float, float]:
    """(sum, count) of one Prometheus histogram across its label sets."""
    total = count = 0.0
    for line in metrics_text.splitlines():
        match = re.match(rf"^{re.escape(name)}_(sum|count)(?:{{[^}}]*}})? ([0-9.e+-]+)$", line)
        if match:
            if match[1] == "sum":
                total += float(match[2])
            else:
                count += float(match[2])
    return total, count


def engine_latencies(engine_url: str) -> dict[str, tuple[float, float]]:
    text = httpx.get(f"{engine_url}/metrics", timeout=30).text
    return {
        "ttft": histogram_totals(text, "vllm:time_to_first_token_seconds"),
        "tpot": histogram_totals(text, "vllm:inter_token_latency_seconds"),
        "prompt_tokens": histogram_totals(text, "vllm:request_prompt_tokens"),
    }


def analyze(gateway_url: str, engine_url: str, name: str, data: bytes, mime: str) -> dict[str, object]:
    """One /analyze through the gateway; its TTFT and time per output token from the engine's histograms."""
    before = engine_latencies(engine_url)
    started = time.perf_counter()
    response = httpx.post(
        f"{gateway_url}/analyze",
        files={"file": (name, data, mime)},
        data={"tasks": "expression", "reasoning": "false", "max_tokens": str(ANSWER_TOKENS), "max_faces": "1"},
        timeout=REQUEST_TIMEOUT_S,
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    after = engine_latencies(engine_url)
    delta = {key: (after[key][0] - before[key][0], after[key][1] - before[key][1]) for key in after}
    faces = response.json()["faces"]
    return {
        "status": response.status_code,
        "faces": len(faces),
        "request_s": round(elapsed, 1),
        "ttft_s": round(delta["ttft"][0] / max(delta["ttft"][1], 1), 2),
        "per_token_s": round(delta["tpot"][0] / max(delta["tpot"][1], 1), 3),
        "tokens_after_first": int(delta["tpot"][1]),
        "tower": faces[0]["tasks"]["expression"]["tower"] if faces else None,
        "prompt_tokens": int(delta["prompt_tokens"][0]),
        "raw_text": faces[0]["tasks"]["expression"]["raw_text"] if faces else None,
    }


# ------------------------------------------------------------------------------------------------ the run


def prepare(workdir: Path, size: str) -> dict[str, object]:
    """Steps 1-2: the download written, then converted (the download is deleted once converted)."""
    source, serving = workdir / "download", workdir / "serving"
    for folder in (source, serving):
        shutil.rmtree(folder, ignore_errors=True)
    python = str(engine_python())
    results: dict[str, object] = {"size": size}
    try:
        seconds, _ = _peak_rss_of_child(
            [python, "-m", "bench.real_size_rehearsal", "--write-checkpoint", str(source), "--size", size]
        )
        results["write_checkpoint_s"] = round(seconds, 1)
        results["download_gb"] = round(sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 1e9, 2)
        results["facellava_files"] = sorted(p.name for p in (source / "FaceLLaVA").iterdir())
        seconds, peak = _peak_rss_of_child(
            [python, "-m", "service.cli", "convert",
             "--facellava", str(source / "FaceLLaVA"),
             "--image-tower", str(source / "LanguageBind_Image"),
             "--video-tower", str(source / "LanguageBind_Video_merge"),
             "--out", str(serving)]
        )
        results["convert_s"], results["convert_peak_rss_gib"] = round(seconds, 1), round(peak, 2)
        results["serving_gb"] = round(sum(p.stat().st_size for p in serving.rglob("*") if p.is_file()) / 1e9, 2)
    finally:
        shutil.rmtree(source, ignore_errors=True)
    return results


def serve(workdir: Path) -> dict[str, object]:
    """Steps 3-4 on the converted folder: engine and gateway started, one image and one video answered."""
    from devkit.media import astronaut, encode_clip, encode_image, moving_face
    from devkit.processes import Gateway

    serving, logs = workdir / "serving", workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {}
    engine = engine_server(
        engine_python(), serving, logs / "engine.log", start_timeout_s=1800, device="cpu",
        max_model_len=MAX_MODEL_LEN, kv_cache_bytes=KV_CACHE_BYTES, extra=["--dtype", "bfloat16"],
    )
    started = time.perf_counter()
    engine.start_and_wait()
    results["engine_load_s"] = round(time.perf_counter() - started, 1)
    sampler = GroupRssSampler(engine.process.pid)
    budget = str(REQUEST_TIMEOUT_S)  # a real-size video prefill takes minutes on CPU
    gateway = Gateway(
        engine.url, logs / "gateway.log", preprocess_workers="1", engine_timeout_s=budget, request_timeout_s=budget
    )
    try:
        gateway.start_and_wait()
        image = encode_image(astronaut(), "png")
        results["image"] = analyze(gateway.url, engine.url, "astronaut.png", image, "image/png")
        clip = encode_clip(moving_face(), 48)
        results["video"] = analyze(gateway.url, engine.url, "astronaut.mp4", clip, "video/mp4")
    finally:
        gateway.stop()
        results["engine_peak_rss_gib"] = round(sampler.stop(), 2)
        engine.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/facellava-rehearsal"))
    parser.add_argument("--small", action="store_true", help="a small model, same steps (development)")
    parser.add_argument(
        "--stage",
        choices=("all", "prepare", "serve"),
        default="all",
        help="prepare: write + convert only (no engine); serve: engine + gateway on a prepared folder",
    )
    parser.add_argument("--keep", action="store_true", help="keep the converted folder")
    parser.add_argument("--write-checkpoint", type=Path, help=argparse.SUPPRESS)  # step 1, engine environment
    parser.add_argument("--size", choices=sorted(SIZES), default="real", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_checkpoint:
        write_checkpoint(args.write_checkpoint, args.size)
        return 0
    results_file = args.workdir / "results.json"
    results = json.loads(results_file.read_text()) if args.stage == "serve" else {}
    try:
        if args.stage in ("all", "prepare"):
            results |= prepare(args.workdir, "small" if args.small else "real")
        if args.stage in ("all", "serve"):
            results |= serve(args.workdir)
    finally:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        if args.stage != "prepare" and not args.keep:
            shutil.rmtree(args.workdir / "serving", ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
