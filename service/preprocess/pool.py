"""A pool of preprocessing worker processes behind a bounded queue, for the gateway's event loop.

Why processes: MediaPipe and the decoders hold the GIL and can crash or hang on hostile input; in a separate
process neither blocks the event loop nor takes the gateway down. Each worker serves one job at a time over
its own pipe. Every failure comes back as a PreprocessError: refusals from the pipeline as their own codes, a
worker that dies as `worker_crashed`, one that stops answering (killed after the decode timeout plus a grace)
as `decode_timeout`; in both cases the worker is replaced before it serves again. A full queue is refused at
once with PoolBusy (HTTP 429) instead of letting latency grow without bound. An unexpected exception (a bug)
comes back as `internal_error` whose message is the diagnosis (the worker's traceback) for the caller's log,
written under the request id; the gateway never shows it to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection

from service.preprocess.errors import fail
from service.preprocess.limits import PreprocessLimits
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

_START_TIMEOUT_S = 120.0  # importing MediaPipe on a busy 2-core machine can take several seconds
_Reply = tuple  # ("ok", result) | ("error", code, message)
_TRACEBACK_FRAMES = 8  # the innermost frames: enough to locate a bug, short enough for one log line


class PoolBusy(PreprocessError):  # noqa: N818 (the gateway's name for it)
    def __init__(self, message: str = "all preprocessing workers are busy and the queue is full") -> None:
        super().__init__("busy", message)


def _serve_forever(conn: Connection, limits: PreprocessLimits) -> None:
    """The worker process: build the models once, then answer jobs until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    from service.preprocess.pipeline import _models, preprocess

    _models()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        data, options, filename = job
        try:
            reply: _Reply = ("ok", preprocess(data, options, filename, limits))
        except PreprocessError as exc:
            reply = ("error", exc.code, exc.message)
        except Exception:  # a bug must cost one request, not the worker
            reply = ("error", "internal_error", traceback.format_exc(limit=-_TRACEBACK_FRAMES))
        conn.send(reply)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False


class PreprocessPool:
    def __init__(self, processes: int, max_queue: int, limits: PreprocessLimits | None = None,
                 kill_after_s: float | None = None) -> None:
        if processes < 1 or max_queue < 0:
            raise ValueError("need processes >= 1 and max_queue >= 0")
        self._limits = limits or PreprocessLimits()
        self._kill_after_s = kill_after_s or self._limits.decode_timeout_s + 10.0
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or event-loop state
        self._capacity = processes + max_queue
        self._pending = 0
        self._closed = False
        self._workers = [self._spawn() for _ in range(processes)]
        # One thread per worker waits on its pipe, so pool jobs never starve the loop's default executor.
        self._threads = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="facellava-preprocess")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        for worker in self._workers:
            self._idle.put_nowait(worker)

    async def submit(self, data: bytes, options: PreprocessOptions, filename: str | None = None
                     ) -> ImageResult | VideoResult:
        """The result, with timings["queue"] added (seconds spent waiting for a free worker)."""
        if self._closed:
            raise fail("busy", "the preprocessing pool is shut down")
        if self._pending >= self._capacity:
            raise PoolBusy()
        self._pending += 1
        try:
            queued = time.perf_counter()
            worker = await self._idle.get()
            waited = time.perf_counter() - queued
            loop = asyncio.get_running_loop()
            job = loop.run_in_executor(self._threads, self._serve, worker, (data, options, filename))
            # The worker goes back to the idle queue when its job really ends, even if the caller gives up.
            job.add_done_callback(lambda done: self._idle.put_nowait(done.result()[1]))
            reply, _ = await asyncio.shield(job)
        finally:
            self._pending -= 1
        if reply[0] == "ok":
            result = reply[1]
            result.timings["queue"] = waited
            return result
        raise PreprocessError(reply[1], reply[2])

    async def warm_up(self) -> None:
        """Wait until every worker has loaded its models (for a readiness probe)."""
        workers = [await self._idle.get() for _ in range(len(self._workers))]
        loop = asyncio.get_running_loop()
        try:
            await asyncio.gather(*(loop.run_in_executor(self._threads, self._await_ready, worker)
                                   for worker in workers))
        finally:
            for worker in workers:
                self._idle.put_nowait(worker)

    def alive(self) -> bool:
        return not self._closed and all(w.process.is_alive() for w in self._workers)

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self) -> None:
        self._closed = True
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=2)
            self._stop(worker)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve_forever, args=(child, self._limits), daemon=True,
                                        name="facellava-preprocess")
        process.start()
        child.close()  # so the parent sees EOF the moment the worker dies
        return _Worker(process, parent)

    def _serve(self, worker: _Worker, job: tuple) -> tuple[_Reply, _Worker]:
        """In an executor thread: one job on one worker; never raises; replaces the worker if it failed."""
        if not worker.process.is_alive():  # died while idle (OOM killer, an operator): not this job's fault
            worker = self._replace(worker)
        try:
            self._await_ready(worker)
            worker.conn.send(job)
            if worker.conn.poll(self._kill_after_s):
                return worker.conn.recv(), worker
            return (("error", "decode_timeout", f"the worker did not answer within {self._kill_after_s:g} s"),
                    self._replace(worker))
        except (EOFError, OSError, TimeoutError):
            lost = ("error", "worker_crashed", "the preprocessing worker died on this input")
            return lost, self._replace(worker)
        except Exception as exc:  # e.g. an unpicklable reply: the pipe's state is unknown, so start afresh
            diagnosis = f"the worker's reply failed: {type(exc).__name__}: {exc}"
            return ("error", "internal_error", diagnosis), self._replace(worker)

    @staticmethod
    def _await_ready(worker: _Worker) -> None:
        if worker.ready:
            return
        if not worker.conn.poll(_START_TIMEOUT_S):
            raise TimeoutError("the worker did not start")
        worker.conn.recv()
        worker.ready = True

    def _replace(self, worker: _Worker) -> _Worker:
        self._stop(worker)
        fresh = worker if self._closed else self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
