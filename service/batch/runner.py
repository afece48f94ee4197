"""N requests in flight over a list of files, results appended to JSONL as they finish, a progress bar (tqdm:
rate and ETA) on stderr. Files already answered in the output are skipped, so a stopped run resumes."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from service.batch.client import AnalyzeClient
from service.batch.records import RecordWriter, is_final, read_records


@dataclass
class BatchSummary:
    total: int
    skipped: int = 0
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0  # failures a second run tries again (server trouble, lost connections, unreadable files)

    def describe(self) -> str:
        failed = ", ".join(f"{code} {n}" for code, n in self.failures.most_common()) or "none"
        retry = f"; {self.unfinished} will be tried again by the next run" if self.unfinished else ""
        return f"{self.total} files: {self.skipped} already done, {self.ok} answered now, failed: {failed}{retry}"


async def run_batch(
    paths: list[Path],
    client: AnalyzeClient,
    out: Path,
    concurrency: int,
    progress: bool = True,
    label: str = "analyze",
) -> BatchSummary:
    done = {key for key, record in read_records(out).items() if is_final(record)}
    unique = list(dict.fromkeys(paths))  # a file listed twice is sent once
    pending = [path for path in unique if str(path) not in done]
    summary = BatchSummary(total=len(unique), skipped=len(unique) - len(pending))
    queue: asyncio.Queue[Path] = asyncio.Queue()
    for path in pending:
        queue.put_nowait(path)
    writer = RecordWriter(out)
    bar = tqdm(total=len(unique), initial=summary.skipped, unit="file", desc=label, disable=not progress)

    async def worker() -> None:
        while not queue.empty():
            path = queue.get_nowait()
            record = {"path": str(path), **await client.analyze(path)}
            writer.write(record)
            if record["ok"]:
                summary.ok += 1
            else:
                summary.failures[record["error"]["code"]] += 1
                summary.unfinished += not is_final(record)
                bar.set_postfix(failed=sum(summary.failures.values()))
            bar.update(1)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(pending) or 1)))))
    finally:
        bar.close()
        writer.close()
    return summary
