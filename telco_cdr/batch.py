"""A CDR file's worth of records, cut into chunks that can be built in any order.

Chunk ``i`` holds records ``bounds[i]`` to ``bounds[i+1]`` of the run: a fixed slice of the
event-time curve's quantiles, drawn from generators seeded by ``(seed, i)``.  So the bytes do
not depend on how many workers build the chunks, and chunks follow each other in time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .cdrs import CdrFactory
from .output import RecordFramer, SpoolFile
from .traffic import CDR_TYPES, Population, TimeCurve

CHUNK_RECORDS = 16384


@dataclass
class CdrFileJob:
    pop: Population
    weights: dict
    seed: int
    start_ms: int
    end_ms: int
    count: int
    fmt: str  # json | jsonl | csv
    split: bool = False  # one output per CDR type
    factory: CdrFactory = field(init=False)
    curve: TimeCurve = field(init=False)

    def __post_init__(self):
        kind = "json" if self.fmt in ("json", "jsonl") else ("csv_type" if self.split else "csv")
        self.factory = CdrFactory(self.pop, self.weights, self.seed, kind)
        self.curve = TimeCurve(self.start_ms, self.end_ms, self.pop.utc_offset_hours)
        self.n_chunks = max(1, -(-self.count // CHUNK_RECORDS))

    def bounds(self, i: int) -> tuple[int, int]:
        return i * self.count // self.n_chunks, (i + 1) * self.count // self.n_chunks

    def chunk(self, i: int) -> tuple[list[int], list[bytes]]:
        """Per-type counts, and the chunk's records joined and encoded: one blob, or one per type."""
        lo, hi = self.bounds(i)
        if hi == lo:
            return [0] * len(CDR_TYPES), [b""] * (len(CDR_TYPES) if self.split else 1)
        times = self.curve.chunk_times(self.seed, i, lo, hi, self.count)
        chunk = self.factory.build(i, lo, times)
        counts = np.bincount(chunk.types, minlength=len(CDR_TYPES)).tolist()
        sep = RecordFramer.separator(self.fmt)
        if not self.split:
            return counts, [sep.join(chunk.lines).encode("utf-8")]
        per_type = [[] for _ in CDR_TYPES]
        for t, _, lines in chunk.parts:
            per_type[t] = lines
        return counts, [sep.join(lines).encode("utf-8") for lines in per_type]


_job: CdrFileJob | None = None  # the job a forked worker inherited (set in its initializer)
_spool: str | None = None  # where a worker leaves its chunks for the parent


def _init_worker(job: CdrFileJob, spool: str) -> None:
    global _job, _spool
    _job, _spool = job, spool
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl+C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops us with SIGTERM when it ends early


def _build(i: int):
    """Build chunk ``i`` and leave its blobs in spool files: a pipe carries a few hundred MB/s,
    a tmpfs file several GB/s."""
    counts, blobs = _job.chunk(i)
    paths = []
    for k, blob in enumerate(blobs):
        path = os.path.join(_spool, f"{i}.{k}")
        with open(path, "wb") as fh:
            fh.write(blob)
        paths.append(path)
    return counts, paths


def _spool_base() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


@contextmanager
def spool_dir(workers: int):
    """A folder for worker processes to leave chunks in (None for one process); it must outlive
    the writing of those chunks, and goes with everything left in it."""
    if workers <= 1:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="telco-cdr-", dir=_spool_base()) as path:
        yield path


def iter_chunks(job: CdrFileJob, workers: int = 1, spool: str | None = None):
    """Yield ``job.chunk(i)`` for every chunk in order, built by ``workers`` processes: this one
    builds every ``workers``-th chunk itself, ``workers - 1`` forked helpers build the rest and
    leave them in the ``spool`` folder (from spool_dir); theirs come as SpoolFiles.

    Only a few chunks per worker are in flight, so memory stays flat however long the run.
    """
    if workers <= 1 or job.n_chunks == 1 or spool is None:
        for i in range(job.n_chunks):
            yield job.chunk(i)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers - 1, initializer=_init_worker, initargs=(job, spool)) as pool:
        pending: dict = {}
        submitted = 0
        for i in range(job.n_chunks):
            while submitted < min(job.n_chunks, i + 2 * workers):
                if submitted % workers:
                    pending[submitted] = pool.apply_async(_build, (submitted,))
                submitted += 1
            if i % workers == 0:
                yield job.chunk(i)
            else:
                counts, paths = pending.pop(i).get()
                yield counts, [SpoolFile(p) for p in paths]
