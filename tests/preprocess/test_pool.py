"""The worker pool with real worker processes: results, refusals, a full queue, workers that die or hang."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable

import pytest

from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.pool import PoolBusy, PreprocessPool
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

OPTIONS = PreprocessOptions()


async def _submit(pool: PreprocessPool, data: bytes) -> ImageResult | VideoResult:
    return await pool.submit(data, OPTIONS, "upload")


def run_with_pool(scenario: Callable[[PreprocessPool], Awaitable[None]], **pool_args: object) -> PreprocessPool:
    """Start a pool, wait until its workers have loaded their models, run the scenario, always close the pool."""

    async def main() -> PreprocessPool:
        pool = PreprocessPool(**pool_args)
        try:
            await pool.warm_up()
            await scenario(pool)
        finally:
            pool.close()
        return pool

    return asyncio.run(main())


def test_results_refusals_and_a_replaced_worker(astronaut_jpeg: bytes, moving_clip: bytes) -> None:
    async def scenario(pool: PreprocessPool) -> None:
        assert pool.alive()
        (pid,) = pool.worker_pids()

        image = await _submit(pool, astronaut_jpeg)
        assert isinstance(image, ImageResult) and len(image.faces) == 1
        assert {"decode", "detect", "landmarks", "crop", "queue"} <= set(image.timings)
        video = await _submit(pool, moving_clip)
        assert isinstance(video, VideoResult) and len(video.tracks) == 1

        for bad, code in ((b"", "empty_media"), (os.urandom(2048), "unsupported_media"),
                          (astronaut_jpeg[:500], "corrupt_media")):
            with pytest.raises(PreprocessError) as refusal:
                await _submit(pool, bad)
            assert refusal.value.code == code
        assert pool.worker_pids() == [pid]  # refusals never cost the worker

        os.kill(pid, signal.SIGKILL)  # dies while idle: the next job gets a fresh worker
        await asyncio.sleep(0.2)
        assert len((await _submit(pool, astronaut_jpeg)).faces) == 1
        (second,) = pool.worker_pids()
        assert second != pid

        os.kill(second, signal.SIGSTOP)  # hangs: killed after kill_after_s, replaced, job refused
        with pytest.raises(PreprocessError) as refusal:
            await _submit(pool, astronaut_jpeg)
        assert refusal.value.code == "decode_timeout"
        assert second not in pool.worker_pids()
        assert len((await _submit(pool, astronaut_jpeg)).faces) == 1
        assert pool.alive()

    limits = PreprocessLimits(decode_timeout_s=5)
    pool = run_with_pool(scenario, processes=1, max_queue=4, limits=limits, kill_after_s=3)
    assert not pool.alive()


def test_full_queue_is_refused_and_the_rest_complete(astronaut_jpeg: bytes) -> None:
    async def scenario(pool: PreprocessPool) -> None:
        outcomes = await asyncio.gather(*(_submit(pool, astronaut_jpeg) for _ in range(4)),
                                        return_exceptions=True)
        busy = [o for o in outcomes if isinstance(o, PoolBusy)]
        done = [o for o in outcomes if isinstance(o, ImageResult)]
        assert len(busy) == 2 and len(done) == 2
        assert all(b.code == "busy" for b in busy)
        assert max(d.timings["queue"] for d in done) > 0
        assert len((await _submit(pool, astronaut_jpeg)).faces) == 1  # capacity comes back

    run_with_pool(scenario, processes=1, max_queue=1)


def test_a_worker_killed_mid_job_is_reported_and_replaced(moving_clip: bytes, astronaut_jpeg: bytes) -> None:
    async def scenario(pool: PreprocessPool) -> None:
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGSTOP)  # holds the job in flight, however loaded the machine is
        job = asyncio.ensure_future(_submit(pool, moving_clip))
        await asyncio.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(PreprocessError) as refusal:
            await job
        assert refusal.value.code == "worker_killed"  # killed from outside: not the input's fault
        assert len((await _submit(pool, astronaut_jpeg)).faces) == 1

    run_with_pool(scenario, processes=1, max_queue=0)


def test_cancelled_caller_does_not_leak_the_worker(moving_clip: bytes, astronaut_jpeg: bytes) -> None:
    async def scenario(pool: PreprocessPool) -> None:
        job = asyncio.ensure_future(_submit(pool, moving_clip))
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        result = await asyncio.wait_for(_submit(pool, astronaut_jpeg), timeout=30)
        assert len(result.faces) == 1  # the worker finished the abandoned job and came back

    run_with_pool(scenario, processes=1, max_queue=0)


def test_bad_pool_sizes_are_rejected() -> None:
    with pytest.raises(ValueError):
        PreprocessPool(processes=0, max_queue=1)
