"""A pool of preprocessing worker processes behind a bounded queue, for the gateway's event loop.

Why processes: MediaPipe and the decoders hold the GIL and can crash or hang on hostile input; in a separate
process neither blocks the event loop nor takes the gateway down. Each worker serves one job at a time over
its own pipe. Every failure comes back as a PreprocessError: refusals from the pipeline as their own codes, a
worker that crashes on its job (a fatal signal such as SIGSEGV or SIGABRT, or an exit) as `worker_crashed` (the
input is to blame: 422), a worker stopped from outside mid-job (SIGKILL from the OOM killer or an operator,
SIGTERM) as `worker_killed` (not the input's fault: 503, retry), one that stops answering (killed after the
decode timeout plus a grace) as `decode_timeout`; in each case the worker is replaced before it serves again.
A supervisor thread replaces workers that die while idle, so the pool (and the gateway's /readyz) heals without
traffic; when replacements keep failing the pool reports itself unrepairable (the gateway's /healthz fails, and
the orchestrator restarts the process). A full queue is refused at
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
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from service.preprocess.decode_limits import PreprocessLimits
from service.preprocess.error_codes import fail
from service.preprocess.types import ImageResult, PreprocessError, PreprocessOptions, VideoResult

_START_TIMEOUT_S = 120.0  # importing MediaPipe on a busy 2-core machine can take several seconds
_Reply = tuple  # ("ok", result) | ("error", code, message)
_TRACEBACK_FRAMES = 8  # the innermost frames: enough to locate a bug, short enough for one log line
_SUPERVISE_EVERY_S = 1.0
_REPAIR_ATTEMPTS = 3  # consecutive failed replacements after which the pool is unrepairable
# Signals a process gets from its own fault (the input made a decoder crash); SIGKILL and SIGTERM come from outside.
_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT})


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
    """One worker slot; replacing its process keeps the slot object, so the idle queue never holds a stale one.
    `lock` is held while the slot serves a job or is repaired."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    ready: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _lost_reply(exitcode: int | None) -> _Reply:
    """Why a worker went away mid-job, and whether the input is to blame."""
    if exitcode is not None and (exitcode > 0 or -exitcode in _CRASH_SIGNALS):
        return "error", "worker_crashed", "the preprocessing worker died on this input"
    how = f"signal {signal.Signals(-exitcode).name}" if exitcode is not None and exitcode < 0 else "it did not run"
    return "error", "worker_killed", f"the preprocessing worker was stopped from outside ({how}); retry"


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
        self._failed_repairs = 0
        self._workers = [_Worker(*self._spawn()) for _ in range(processes)]
        # One thread per worker waits on its pipe, so pool jobs never starve the loop's default executor.
        self._threads = ThreadPoolExecutor(max_workers=processes, thread_name_prefix="facellava-preprocess")
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        for worker in self._workers:
            self._idle.put_nowait(worker)
        self._stopping = threading.Event()
        self._supervisor = threading.Thread(target=self._supervise, name="facellava-preprocess-supervisor",
                                            daemon=True)
        self._supervisor.start()

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
            await asyncio.gather(*(loop.run_in_executor(self._threads, self._await_ready_locked, worker)
                                   for worker in workers))
        finally:
            for worker in workers:
                self._idle.put_nowait(worker)

    def alive(self) -> bool:
        return not self._closed and all(w.process.is_alive() for w in self._workers)

    def repairable(self) -> bool:
        """False once replacing dead workers has failed _REPAIR_ATTEMPTS times in a row (liveness)."""
        return not self._closed and self._failed_repairs < _REPAIR_ATTEMPTS

    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self) -> None:
        self._closed = True
        self._stopping.set()
        for worker in self._workers:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=2)
            self._stop(worker)
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _spawn(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve_forever, args=(child, self._limits), daemon=True,
                                        name="facellava-preprocess")
        process.start()
        child.close()  # so the parent sees EOF the moment the worker dies
        return process, parent

    def _supervise(self) -> None:
        """In its own thread: replace every idle worker that died (OOM killer, an operator) and wait until the
        replacement is ready, so readiness comes back without a request."""
        while not self._stopping.wait(_SUPERVISE_EVERY_S):
            for worker in list(self._workers):
                if worker.process.is_alive() or not worker.lock.acquire(blocking=False):
                    continue
                try:
                    if not self._closed and not worker.process.is_alive():
                        self._repair(worker)
                finally:
                    worker.lock.release()

    def _repair(self, worker: _Worker) -> None:
        try:
            self._replace(worker)
            self._await_ready(worker)
        except (EOFError, OSError, TimeoutError):
            self._failed_repairs += 1
        else:
            self._failed_repairs = 0

    def _serve(self, worker: _Worker, job: tuple) -> tuple[_Reply, _Worker]:
        """In an executor thread: one job on one worker; never raises; replaces the worker if it failed."""
        with worker.lock:
            return self._serve_locked(worker, job), worker

    def _serve_locked(self, worker: _Worker, job: tuple) -> _Reply:
        if not worker.process.is_alive():  # died while idle, before the supervisor noticed: not this job's fault
            self._replace(worker)
        sent = False
        try:
            self._await_ready(worker)
            worker.conn.send(job)
            sent = True
            if worker.conn.poll(self._kill_after_s):
                return worker.conn.recv()
            self._replace(worker)
            return "error", "decode_timeout", f"the worker did not answer within {self._kill_after_s:g} s"
        except (EOFError, OSError, TimeoutError):
            worker.process.join(timeout=5)
            # A worker that never got the job (it failed to start) cannot have died of it.
            lost = _lost_reply(worker.process.exitcode if sent else None)
            self._replace(worker)
            return lost
        except Exception as exc:  # e.g. an unpicklable reply: the pipe's state is unknown, so start afresh
            self._replace(worker)
            return "error", "internal_error", f"the worker's reply failed: {type(exc).__name__}: {exc}"

    @classmethod
    def _await_ready_locked(cls, worker: _Worker) -> None:
        with worker.lock:  # the supervisor may be repairing this slot
            cls._await_ready(worker)

    @staticmethod
    def _await_ready(worker: _Worker) -> None:
        if worker.ready:
            return
        if not worker.conn.poll(_START_TIMEOUT_S):
            raise TimeoutError("the worker did not start")
        worker.conn.recv()
        worker.ready = True

    def _replace(self, worker: _Worker) -> None:
        """Stop the slot's process and start a fresh one in the same slot (none once the pool is closed)."""
        self._stop(worker)
        if not self._closed:
            worker.process, worker.conn = self._spawn()
            worker.ready = False

    @staticmethod
    def _stop(worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(timeout=5)
        worker.conn.close()
