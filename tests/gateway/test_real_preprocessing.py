"""Every preprocessing refusal sent as a real bad upload through POST /analyze, with the REAL worker pool
(MediaPipe, PyAV in worker processes) behind the gateway and the fake engine after it: the typed code and its
HTTP status come from the real pipeline, not from a stand-in."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import time
from collections.abc import Callable, Iterator

import cv2
import httpx
import pytest
from PIL import Image

from devkit.media import (
    astronaut,
    audio_only,
    coffee,
    encode_clip,
    encode_image,
    face_on_screen,
    mjpeg_clip,
    moving_face,
    png_claiming,
)
from devkit.waiting import wait_for
from service.api.app import create_app
from service.api.settings import Settings
from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.pool import PreprocessPool
from service.preprocess.types import PreprocessError, PreprocessOptions
from tests.gateway.fake_preprocessor import upload
from tests.gateway.servers import ThreadedServer

ASTRONAUT_JPEG = encode_image(astronaut(), "JPEG", quality=95)


def _giant_frame_mjpeg() -> bytes:
    """A Motion JPEG AVI announcing 64 x 64 whose fourth frame is 4200 x 4200 (over the 4K frame limit)."""
    small = Image.fromarray(cv2.resize(astronaut(), (64, 64)))
    return mjpeg_clip("avi", [small] * 3 + [Image.new("RGB", (4200, 4200), (90, 90, 90))] + [small] * 3)


@pytest.fixture(scope="module")
def start_real_gateway(
    gateway_settings: Callable[..., Settings],
) -> Iterator[Callable[..., tuple[httpx.Client, PreprocessPool]]]:
    """A gateway around a real one-worker pool with the given pool arguments; all are stopped at the end."""
    started: list[tuple[PreprocessPool, ThreadedServer, httpx.Client]] = []

    def start(**pool_args: object) -> tuple[httpx.Client, PreprocessPool]:
        pool = PreprocessPool(processes=1, **pool_args)
        server = ThreadedServer(create_app(gateway_settings(), preprocessor=pool)).start()
        client = httpx.Client(base_url=server.url, timeout=60)
        started.append((pool, server, client))
        return client, pool

    yield start
    for pool, server, client in started:
        client.close()
        server.stop()
        pool.close()


@pytest.fixture(scope="module")
def real_gateway(start_real_gateway: Callable[..., tuple[httpx.Client, PreprocessPool]]) -> httpx.Client:
    client, _ = start_real_gateway(max_queue=4, limits=PreprocessLimits(max_video_seconds=1.0))
    return client


def test_a_real_face_is_analysed(real_gateway, engine_state):
    """The control: the same gateway and pool answer a good upload, so the refusals below are the input's."""
    response = upload(real_gateway, ASTRONAUT_JPEG, tasks="age")
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) == 1


@pytest.mark.parametrize(
    ("make_media", "status", "code"),
    [
        (lambda: os.urandom(4096), 415, "unsupported_media"),
        (audio_only, 415, "unsupported_media"),
        (lambda: ASTRONAUT_JPEG[: len(ASTRONAUT_JPEG) // 2], 422, "corrupt_media"),
        (lambda: png_claiming(50_000, 50_000), 413, "too_large"),  # refused from the header
        (lambda: encode_clip(moving_face(), 45), 413, "video_too_long"),  # 1.5 s over the 1 s limit
        (lambda: encode_image(coffee(), "PNG"), 422, "no_face"),
        (lambda: encode_image(cv2.resize(astronaut(), (32, 32)), "PNG"), 422, "face_too_small"),
        (_giant_frame_mjpeg, 413, "too_large"),  # issue 10 point 2: was 2.3 GB of decoding, then a 500
    ],
    ids=["random-bytes", "audio-only", "truncated", "pixel-bomb", "too-long", "face-free", "tiny-face",
         "giant-frame-behind-a-small-header"],
)
def test_bad_uploads_get_their_typed_error(real_gateway, engine_state, make_media, status, code):
    response = upload(real_gateway, make_media())
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert engine_state.received == []  # refused before any engine work


def test_error_messages_carry_no_internals(real_gateway, engine_state):
    """A PNG signature before junk makes the image library name its buffer object and address; clients never
    see such internals."""
    response = upload(real_gateway, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    error = response.json()["error"]
    assert response.status_code == 422 and error["code"] == "corrupt_media"
    assert "0x" not in error["message"] and "object at" not in error["message"], error["message"]


def test_timeout_busy_and_killed_worker(start_real_gateway, engine_state):
    """A real deadline (decode_timeout), then a worker that hangs: a second upload finds the bounded queue
    full (429 busy), and the hung worker, killed from outside (SIGKILL, as the OOM killer or an operator does),
    fails its own upload as retryable (503 worker_killed, not the input's fault) and is replaced."""
    limits = PreprocessLimits(decode_timeout_s=1e-9)  # every job ends at its first deadline check
    client, pool = start_real_gateway(max_queue=0, limits=limits, kill_after_s=30)
    refused = upload(client, ASTRONAUT_JPEG)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "decode_timeout"

    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGSTOP)
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        pending = [threads.submit(upload, client, ASTRONAUT_JPEG) for _ in range(2)]
        first = next(concurrent.futures.as_completed(pending, timeout=20)).result()
        assert first.status_code == 429 and first.json()["error"]["code"] == "busy"
        assert int(first.headers["retry-after"]) > 0
        time.sleep(0.5)  # the other upload's job is in the stopped worker's pipe by now
        os.kill(pid, signal.SIGKILL)
        killed = next(f for f in pending if f.result(timeout=20) is not first).result()
    assert killed.status_code == 503 and killed.json()["error"]["code"] == "worker_killed"
    assert "SIGKILL" in killed.json()["error"]["message"] and int(killed.headers["retry-after"]) > 0
    again = upload(client, ASTRONAUT_JPEG)  # a fresh worker serves (and applies the same deadline)
    assert again.json()["error"]["code"] == "decode_timeout"
    assert pool.worker_pids() != [pid]


def test_a_worker_that_crashes_on_its_input_blames_the_input(start_real_gateway, engine_state):
    """A fatal signal of the worker's own (SIGSEGV, as a decoder bug raises) is the input's fault: 422."""
    client, pool = start_real_gateway(max_queue=0)
    assert upload(client, ASTRONAUT_JPEG).status_code == 200  # the worker is up: the next job reaches it
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGSTOP)  # holds the job in the worker however loaded the machine is
    with concurrent.futures.ThreadPoolExecutor(1) as threads:
        pending = threads.submit(upload, client, ASTRONAUT_JPEG)
        time.sleep(0.5)
        os.kill(pid, signal.SIGSEGV)
        os.kill(pid, signal.SIGCONT)
        crashed = pending.result(timeout=30)
    assert crashed.status_code == 422 and crashed.json()["error"]["code"] == "worker_crashed"
    assert upload(client, ASTRONAUT_JPEG).status_code == 200



def test_a_worker_dead_while_idle_is_replaced_without_traffic(start_real_gateway, engine_state):
    """Kubernetes stops sending traffic to an unready pod, so readiness must come back on its own."""
    client, pool = start_real_gateway(max_queue=0)
    (pid,) = pool.worker_pids()
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: client.get("/readyz").status_code == 503, 10)
    assert wait_for(lambda: client.get("/readyz").status_code == 200, 60), "the pool did not heal by itself"
    assert pool.worker_pids() != [pid] and engine_state.received == []
    assert client.get("/healthz").status_code == 200


def test_liveness_fails_while_the_pool_cannot_be_repaired(start_real_gateway, engine_state):
    """Replacement workers that cannot start (here: an interpreter that exits at once) make /healthz 503, so the
    orchestrator restarts the process; once a start succeeds again, the pool heals and liveness returns."""
    import multiprocessing.spawn

    client, pool = start_real_gateway(max_queue=0)
    (pid,) = pool.worker_pids()
    interpreter = multiprocessing.spawn.get_executable()
    multiprocessing.spawn.set_executable("/bin/false")
    try:
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: client.get("/healthz").status_code == 503, 30)
        body = client.get("/healthz").json()
        assert body["status"] == "unavailable" and body["checks"] == {"preprocess_pool_repairable": False}
    finally:
        multiprocessing.spawn.set_executable(interpreter)
    assert wait_for(lambda: client.get("/healthz").status_code == 200, 60)
    assert wait_for(lambda: client.get("/readyz").status_code == 200, 60)


def test_a_bug_in_a_worker_comes_back_as_internal_error_with_its_diagnosis():
    """An unexpected exception in the real worker (here: no options object) costs one job, not the worker; the
    traceback comes back for the gateway's log (which the client never sees: test_analyze_api)."""
    pool = PreprocessPool(processes=1, max_queue=0)

    async def submit_twice() -> tuple[PreprocessError, int]:
        with pytest.raises(PreprocessError) as failure:
            await pool.submit(ASTRONAUT_JPEG, None)  # type: ignore[arg-type]
        result = await pool.submit(ASTRONAUT_JPEG, PreprocessOptions())
        return failure.value, len(result.subjects)

    try:
        error, faces = asyncio.run(submit_twice())
    finally:
        pool.close()
    assert error.code == "internal_error"
    assert "Traceback" in error.message and "AttributeError" in error.message
    assert faces == 1


@pytest.fixture(scope="module")
def clip_gateway(start_real_gateway: Callable[..., tuple[httpx.Client, PreprocessPool]]) -> httpx.Client:
    return start_real_gateway(max_queue=4)[0]


def _content_types(engine_state) -> list[str]:
    return [part["type"] for body in engine_state.received for message in body["messages"]
            if isinstance(message["content"], list) for part in message["content"]]


@pytest.mark.parametrize(
    ("on_screen", "tower", "media_part"),
    [(range(0, 48), "video", "video_url"), (range(48, 52), "image", "image_url")],  # frame 50 is sampled
    ids=["leaves-after-1.6s", "seen-in-one-sampled-frame"],
)
def test_a_face_on_screen_part_of_a_clip_is_answered_over_its_span(
    clip_gateway, engine_state, on_screen, tower, media_part
):
    """Issue 9: the expression (video tower) answer covers only where the face is; a face seen in one
    sampled frame is answered by the image tower from that frame. The response says which and when."""
    clip = encode_clip(face_on_screen(on_screen), 120)
    engine_state.received.clear()
    response = upload(clip_gateway, clip, tasks="expression")
    assert response.status_code == 200, response.text
    (answer,) = response.json()["faces"]
    assert answer["tower"] == tower
    start, end = answer["span"]
    assert on_screen[0] / 30 - 1e-6 <= start <= end <= on_screen[-1] / 30 + 1e-6  # times have 6 decimals
    times = [frame["time"] for frame in answer["frames"]]
    assert (times[0], times[-1]) == (start, end) and len(times) == (8 if tower == "video" else 1)
    assert all(not frame["interpolated"] for frame in answer["frames"])
    assert media_part in _content_types(engine_state)
