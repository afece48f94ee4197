"""Runs one conversion and reports its memory, as JSON on stdout: `python -m tests.checkpoint.memory_probe
FACELLAVA IMAGE VIDEO OUT MAX_SHARD_BYTES`.

Anonymous memory (RssAnon: heap, tensors) is what a streaming converter must keep small, and what an
out-of-memory kill counts; memory-mapped input pages (RssFile) are page cache the kernel can drop, so they are
reported separately. Both are sampled every few milliseconds from /proc/self/status; the baseline is taken
after all imports, just before converting.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class PeakSampler(threading.Thread):
    """Background sampler of RssAnon and VmRSS peaks (KiB)."""

    def __init__(self, period_s: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.period_s = period_s
        self.peak_anon = self.peak_rss = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_anon = max(self.peak_anon, _status_kib("RssAnon"))
            self.peak_rss = max(self.peak_rss, _status_kib("VmRSS"))
            time.sleep(self.period_s)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main(argv: list[str]) -> None:
    from conversion.convert import convert

    facellava, image, video, out, shard = argv
    baseline_anon, baseline_rss = _status_kib("RssAnon"), _status_kib("VmRSS")
    sampler = PeakSampler()
    sampler.start()
    started = time.perf_counter()
    report = convert(facellava, image, video, out, max_shard_bytes=int(shard))
    seconds = time.perf_counter() - started
    sampler.stop()
    inputs = sum(p.stat().st_size for folder in (facellava, image, video) for p in Path(folder).iterdir())
    print(
        json.dumps(
            {
                "input_bytes": inputs,
                "output_files": len(report.output_files),
                "seconds": round(seconds, 2),
                "baseline_anon_kib": baseline_anon,
                "peak_anon_growth_kib": sampler.peak_anon - baseline_anon,
                "peak_rss_growth_kib": sampler.peak_rss - baseline_rss,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
