"""A CDR file's worth of records, cut into chunks that can be built in any order.

The file's data records are the partial records of whole bearer chains (telco_cdr.bearers),
exactly round(count * the data weight) of them, sorted by start: the chains are chosen before any
chunk is built, the same in every process, and each process simulates them forward in time as
its chunks need them (a few numbers per chain, no table of records), from the chains' states
kept at marks when it builds a later chunk than the one it is at; a file of few data records
keeps them from the choice instead (telco_cdr.bearers.KEEP_PARTIALS).  The other records are drawn
chunk by chunk: chunk ``i`` holds a fixed slice of the non-data records (a slice of the quantiles
of their event-time curve, drawn from generators seeded by ``(seed, i)``) and the data partials
that start between that slice's time bounds.  So the bytes do not depend on how many workers
build the chunks, and chunks follow each other in time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from multiprocessing.connection import Connection

import numpy as np

from .anomalies import AnomalyPlan
from .bearers import INTERNET, BearerPlan, BearerRun, Partials, choose_chains
from .cdrs import DATA, VOICE, CdrFactory, outcome_rings
from .constants import CDR_TYPES, CHUNK_RECORDS, SeedDomain
from .delivery import ArrivalQueue, DeliveryDelay, delay_rng
from .errors import RunError
from .faults import KINDS as FAULT_KINDS
from .faults import Seen, Spoiler, ledger_lines
from .output import BackgroundWriter, RecordFramer, writing
from .traffic import Population, TrafficCurve

MARKS_PER_CHUNK = 4  # times per chunk at which the bearer chains' states are kept (BearerPlan.marks)


@dataclass
class CdrFileJob:
    pop: Population
    weights: dict
    seed: int
    start_ms: int
    end_ms: int
    count: int
    fmt: str  # json | jsonl | csv | parquet (built as CSV rows; telco_cdr.parquet makes them row groups)
    split: bool = False  # one output per CDR type
    faults: dict | None = None  # --faults: fraction of records per kind (telco_cdr.faults); None: none
    anomalies: dict | None = None  # --anomalies: incidents per kind (telco_cdr.anomalies); None: none
    labelled: bool = False  # --label-anomalies: every record says its anomaly (or null)
    order: str = "event"  # --order: event (start-time) order, or arrival (end + delivery delay) order
    delay: DeliveryDelay = field(default_factory=DeliveryDelay)  # --delivery-delay, for arrival order
    workers: int = 1  # processes that build the chunks: with more, the bearer chains' states are kept at marks
    factory: CdrFactory = field(init=False)
    curve: TrafficCurve = field(init=False)  # of the non-data records
    bearers: BearerPlan = field(init=False)  # the chains of the data records

    def __post_init__(self):
        kind = "json" if self.fmt in ("json", "jsonl") else ("csv_type" if self.split else "csv")
        mix = TrafficCurve(self.pop, self.weights, self.start_ms, self.end_ms).weights  # types users can make
        self.n_data = round(self.count * float(mix[DATA]))
        self.n_other = self.count - self.n_data
        other = {t: (0.0 if k == DATA else float(w)) for k, (t, w) in enumerate(zip(CDR_TYPES, mix))}
        self.curve = TrafficCurve(self.pop, other if sum(other.values()) > 0 else self.weights, self.start_ms,
                                  self.end_ms)
        self.factory = CdrFactory(self.pop, self.weights, self.seed, kind, curve=self.curve, labelled=self.labelled)
        self.n_chunks = max(1, -(-self.count // CHUNK_RECORDS))
        marks = MARKS_PER_CHUNK * self.n_chunks if min(self.workers, self.n_chunks) > 1 else 0
        self.bearers = choose_chains(self.pop, self.seed, self.start_ms, self.end_ms, self.n_data,
                                     self.factory.charging_base, self.curve.edges if self.n_other else None, marks)
        self._cut()
        self._run: BearerRun | None = None  # this process's way through the chains
        self._run_chunk = 0  # the chunk whose data partials it gives next
        self.plan = None
        self.anomaly_ids: list[list[str]] = []  # per incident, the cdr_ids of its records (after write_cdr_file)
        if self.anomalies:
            voice_records = self.count * float(mix[VOICE])
            hours = max(self.end_ms - self.start_ms, 1) / 3_600_000
            self.plan = AnomalyPlan(self.pop, self.anomalies, self.seed, self.start_ms, self.end_ms,
                                    voice_records / hours, self.bearers.user[self.bearers.kind == INTERNET],
                                    outcome_rings())
            self.anomaly_ids = [[] for _ in self.plan.incidents]
        self.spoiler = None
        self.fault_counts = [0] * len(FAULT_KINDS)  # the faults written, per kind (after write_cdr_file)
        if self.faults:
            from .contract import csv_header

            headers = ([csv_header(t, self.labelled).split(",") for t in CDR_TYPES] if self.split
                       else [csv_header(labelled=self.labelled).split(",")])
            self.spoiler = Spoiler(self.faults, self.seed, self.fmt, headers, self.pop)

    def _cut(self) -> None:
        """Chunk i's non-data slice [other[i], other[i+1]) and its data partials: those that
        start from the slice's first quantile's time on, before the next slice's (``data_end[i]``,
        a time), or without other records the partials [i * d / n, (i + 1) * d / n) (``data_end[i]``,
        a count).  The slices are chosen so that chunks hold about the same number of records."""
        n, m, d = self.n_chunks, self.n_other, self.n_data
        if not m:
            self.other = np.zeros(n + 1, dtype=np.int64)
            self.data_by_count = True
            self.data_end = np.arange(1, n + 1, dtype=np.int64) * d // n
            return
        edges, cum = self.curve.edges, self.curve.cum
        records = m * cum + self.bearers.before  # records before each edge, about
        targets = np.arange(1, n) * self.count / n
        at = np.interp(targets, records, edges)  # the times that cut the run evenly, about
        other = np.rint(m * np.interp(at, edges, cum)).astype(np.int64)
        self.other = np.concatenate(([0], np.clip(np.maximum.accumulate(other), 0, m), [m]))
        self.data_by_count = False
        self.data_end = np.append(self.curve.times(self.other[1:-1] / m), self.end_ms)

    def data(self, i: int) -> tuple[Partials, int]:
        """Chunk i's data partials, and how many come before them in the run."""
        if not self.n_data:
            return Partials.empty(), 0
        run = self.bearer_run(i)
        first = run.taken
        part = run.first(int(self.data_end[i]) - first) if self.data_by_count else run.until(int(self.data_end[i]))
        self._run_chunk = i + 1
        return part, first

    def bearer_run(self, i: int) -> BearerRun:
        """This process's BearerRun brought to chunk i's first data partial.  A process takes its
        chunks in order (so its run only moves forward); a chunk before the last one taken starts
        the run again.  The run goes to the last of the plan's marks before the chunk where that is
        ahead of it (the chains' states there, kept when they were chosen), then simulates the rest
        of the way with the partials only counted (other processes' chunks)."""
        if self._run is None or self._run_chunk > i:
            self._run, self._run_chunk = BearerRun(self.pop, self.bearers), 0
        run, plan = self._run, self.bearers
        begin = int(self.data_end[i - 1]) if i else (0 if self.data_by_count else self.start_ms)
        if self.data_by_count:
            j = int(np.searchsorted(plan.mark_taken, begin, side="right")) - 1
            if j >= 0 and plan.mark_taken[j] > run.taken:
                run.to_mark(j)
            if begin > run.taken:
                run.first(begin - run.taken)
        else:
            j = int(np.searchsorted(plan.marks, begin, side="right")) - 1
            if j >= 0 and plan.marks[j] > run.horizon:
                run.to_mark(j)
            run.until(begin, skip=True)
        return run

    def chunk(self, i: int) -> tuple[list[int], list[bytes], list, dict]:
        """Per-type counts (of lines: a resend counts again), the chunk's records joined and
        encoded (one blob, or one per type), with --faults the spoiled lines: (output, Mark) in
        the order of the outputs and their lines, and with --anomalies the cdr_ids of each
        incident's records in the chunk ({incident: [cdr_id, ...]})."""
        lo, hi = int(self.other[i]), int(self.other[i + 1])
        data, d0 = self.data(i)
        if hi == lo and not len(data):
            return [0] * len(CDR_TYPES), [b""] * (len(CDR_TYPES) if self.split else 1), [], {}
        times = (self.curve.chunk_times(self.seed, i, lo, hi, self.n_other) if hi > lo
                 else np.zeros(0, dtype=np.int64))
        bounds = None
        if self.plan is not None:  # the times whose planned records this chunk holds
            bounds = ((self.start_ms, self.start_ms) if self.data_by_count
                      else (self.start_ms if i == 0 else int(self.data_end[i - 1]), int(self.data_end[i])))
        chunk = self.factory.build(i, lo + d0, times, data=data, anomalies=self.plan, bounds=bounds)
        found = self._incident_ids(i, chunk.incident) if chunk.incident is not None else {}
        if self.order == "arrival":  # clean, unjoined: the writer orders, spoils and frames them
            return self._arrivals(i, chunk, found)
        counts = np.bincount(chunk.types, minlength=len(CDR_TYPES)).tolist()
        sep = RecordFramer.separator(self.fmt).encode()
        if not self.split:
            if self.spoiler is None:
                return counts, [sep.join(chunk.lines)], [], found
            lines, marks = self.spoiler.spoil(i, 0, chunk.lines)
            for mark in marks:
                if mark.kind == "duplicate":
                    counts[int(chunk.types[mark.source])] += 1
            return counts, [sep.join(lines)], [(0, mark) for mark in marks], found
        per_type = [[] for _ in CDR_TYPES]
        for t, _, lines in chunk.parts:
            per_type[t] = lines
        spoiled = []
        if self.spoiler is not None:
            for t in range(len(CDR_TYPES)):
                per_type[t], marks = self.spoiler.spoil(i, t, per_type[t])
                counts[t] = len(per_type[t])
                spoiled += [(t, mark) for mark in marks]
        return counts, [sep.join(lines) for lines in per_type], spoiled, found

    def _incident_ids(self, i: int, incident: np.ndarray) -> dict[int, list[str]]:
        """The cdr_ids of chunk ``i``'s records of each incident."""
        return self.plan.ids_in_chunk(self.factory.run_tag, i, incident)

    def add_found(self, found: dict[int, list[str]]) -> None:
        for k, ids in found.items():
            self.anomaly_ids[k].extend(ids)

    def anomaly_ledger(self) -> bytes:
        return self.plan.ledger_lines(self.anomaly_ids) if self.plan is not None else b""

    def _arrivals(self, i: int, chunk, found: dict) -> Arrivals:
        """Chunk i's records for the writer in arrival order: each one arrives its delivery delay
        (drawn per chunk, in event order) after its end; ``found`` as chunk() gives it."""
        arrival = chunk.ends + self.delay.draw(delay_rng(SeedDomain.FILE_CDRS, self.seed, i), len(chunk.types))
        if not self.split:
            return Arrivals([(chunk.lines, arrival, chunk.starts, chunk.types)], int(chunk.starts.min()), found)
        outputs = [([], arrival[:0], chunk.starts[:0], chunk.types[:0]) for _ in CDR_TYPES]
        for t, idx, lines in chunk.parts:
            outputs[t] = (lines, arrival[idx], chunk.starts[idx], chunk.types[idx])
        return Arrivals(outputs, int(chunk.starts.min()), found)


@dataclass
class Arrivals:
    """A chunk's clean records for --order arrival: per output (lines, arrival, start, CDR type),
    each in event order, the chunk's first start time (epoch ms), and with --anomalies the cdr_ids of
    each incident's records in the chunk."""

    outputs: list[tuple]
    first_start: int
    found: dict = field(default_factory=dict)


def _first_lines(framers: list, totals: list[int], split: bool) -> list[int]:
    """The line of each output (1-based) where the next chunk's first record goes, when ``totals``
    records came before it: after the JSON array's ``[`` or the CSV header, if any."""
    return [_n(totals, k, split) + (0 if framer.fmt == "jsonl" else 1) + 1 for k, framer in enumerate(framers)]


def _ledger(job: CdrFileJob, spoiled: list, framers: list, totals: list[int], names: list[str],
            wanted: bool = True) -> bytes:
    """A chunk's ledger lines, when ``totals`` records came before it (if ``wanted``); counts them
    in ``job``."""
    for _, mark in spoiled:
        job.fault_counts[FAULT_KINDS.index(mark.kind)] += 1
    if not wanted:
        return b""
    files = [os.path.basename(n) for n in names] if job.split else None
    return ledger_lines(spoiled, _first_lines(framers, totals, job.split), files)


def write_cdr_file(job: CdrFileJob, outs: list, framers: list, workers: int = 1, progress=None,
                   ledger=None) -> list[int]:
    """Build every chunk of ``job`` and write it, framed, to ``outs`` (one AtomicFile, or one per
    CDR type with ``job.split``); return the records written per CDR type (lines: a resend of
    --faults counts again).  With ``job.faults``, ``ledger`` (an AtomicFile, or None) gets a line
    per spoiled record, chunk after chunk, and ``job.fault_counts`` the faults per kind.

    One process builds the chunks in order while a thread writes the previous one.  With
    ``workers`` > 1, forked processes take the chunks in turn (chunk i goes to process i % workers,
    this one included) and each writes its own chunks into the shared file descriptors, in chunk
    order: a small token (the per-type totals so far) goes round the ring of processes, and a
    process writes a chunk only once it holds the token of the chunk before.  So no chunk is copied
    between processes, the write cost is shared, and the bytes are those of one process.

    A compressed output (``out.codec``) gets each chunk as its own gzip member / zstd frame,
    compressed by the process that built it before it waits for the token (only the tiny head
    of a chunk, which depends on the records before it, is compressed after), so the bytes are
    again the same for any number of workers.
    """
    if job.order == "arrival":
        return _write_in_arrival_order(job, outs, framers, workers, progress, ledger)
    if workers <= 1 or job.n_chunks == 1 or job.fmt == "parquet":  # a Parquet file has one writer: its footer
        return _write_in_order(job, outs, framers, progress, ledger, workers)
    job.factory.warm()  # per-user text tables made once, before the processes fork
    if job.spoiler is not None:
        _ = job.spoiler.taken  # the users' identifiers, once, before the processes fork
    return _write_in_ring(job, outs, framers, min(workers, job.n_chunks), progress, ledger)


def _n(values: list[int], k: int, split: bool) -> int:
    """Output ``k``'s share of per-type ``values``: its type's, or all of them for one file."""
    return values[k] if split else sum(values)


def _heads(framers: list, totals: list[int], counts: list[int], split: bool) -> list[bytes]:
    """What goes before a chunk in each output, when ``totals`` records came before it."""
    heads = []
    for k, framer in enumerate(framers):
        framer.count = _n(totals, k, split)
        heads.append(framer.head(_n(counts, k, split)))
    return heads


def _write_in_order(job: CdrFileJob, outs: list, framers: list, progress, ledger=None, workers: int = 1) -> list[int]:
    """The chunks written in order by this process (on a thread), built here or, with ``workers``
    > 1 (Parquet), by that many processes (_built_in_order).  A Parquet file's rows are parsed
    and encoded by the writer thread: shipping the text to it took less CPU than shipping the
    parsed columns (pickled), and on two busy cores gave 175,000 CDRs/s against 139,000 (median of 3)."""
    totals = [0] * len(CDR_TYPES)
    writer = BackgroundWriter()
    names = [out.path for out in outs]
    try:
        with _built_in_order(job, workers) as chunks:
            for got in chunks:
                _write_chunk(job, outs, framers, writer, names, totals, got, ledger)
                totals = [a + b for a, b in zip(totals, got[0])]
                if progress:
                    progress.update(sum(totals), sum(out.size for out in outs))
        _finish(job, outs, framers, totals, writer, ledger)
    finally:
        writer.close()
    return totals


def _finish(job: CdrFileJob, outs: list, framers: list, totals: list[int], writer, ledger) -> None:
    """After the last chunk: the ledger's incident lines (once all their records are known) and
    each output's end."""
    if ledger is not None and job.plan is not None:
        writer.write(ledger, [job.anomaly_ledger()])
    _close(outs, framers, totals, job.split, writer.write)


def _write_chunk(job: CdrFileJob, outs: list, framers: list, writer, names: list, totals: list[int], got: tuple,
                 ledger) -> None:
    """Chunk ``got`` (CdrFileJob.chunk) to the writer, when ``totals`` records came before it."""
    counts, blobs, spoiled, found = got
    job.add_found(found)
    if spoiled:
        text = _ledger(job, spoiled, framers, totals, names, ledger is not None)
        if ledger is not None:
            writer.write(ledger, [text])
    for k, (out, head) in enumerate(zip(outs, _heads(framers, totals, counts, job.split))):
        writer.write(out, [head])  # units as the ring writes them: the same bytes
        writer.write(out, framers[k].body(blobs[k], _n(counts, k, job.split)))


def _write_in_arrival_order(job: CdrFileJob, outs: list, framers: list, workers: int, progress,
                            ledger=None) -> list[int]:
    """--order arrival: the chunks are built in order (by ``workers`` processes) and their records
    written here, in one process, by arrival.  Chunks come in start-time order and a record arrives
    after it starts, so the records that arrive by the next chunk's first start go out then (a
    unit, spoiled with --faults as a chunk is); the others wait in an ArrivalQueue."""
    queues = [ArrivalQueue() for _ in outs]
    seen = [Seen(np.zeros(0, dtype=np.int64)) for _ in outs]  # --faults: the latest start above, per output
    names = [out.path for out in outs]
    sep = RecordFramer.separator(job.fmt).encode()
    totals = [0] * len(CDR_TYPES)
    writer = BackgroundWriter()

    def flush(unit: int, bound: int | None) -> None:
        nonlocal totals
        counts, blobs, spoiled = [0] * len(CDR_TYPES), [], []
        for k, queue in enumerate(queues):
            lines, starts, types = queue.take(bound)
            if job.spoiler is not None and lines:
                seen[k].starts = starts
                lines, marks = job.spoiler.spoil(unit, k, lines, seen=seen[k])
                spoiled += [(k, mark) for mark in marks]
                types = np.concatenate((types, [types[m.source] for m in marks if m.kind == "duplicate"]))
            for t, c in enumerate(np.bincount(types, minlength=len(CDR_TYPES)).tolist()):
                counts[t] += c
            blobs.append(sep.join(lines))
        if spoiled:
            text = _ledger(job, spoiled, framers, totals, names, ledger is not None)
            if ledger is not None:
                writer.write(ledger, [text])
        for k, (out, head) in enumerate(zip(outs, _heads(framers, totals, counts, job.split))):
            writer.write(out, [head])
            writer.write(out, framers[k].body(blobs[k], _n(counts, k, job.split)))
        totals = [a + b for a, b in zip(totals, counts)]
        if progress:
            progress.update(sum(totals), sum(out.size for out in outs))

    bound = None  # the arrival time up to which records are written
    try:
        with _built_in_order(job, workers) as chunks:
            for i, got in enumerate(chunks):
                if not isinstance(got, Arrivals):  # a chunk without records
                    continue
                job.add_found(got.found)
                if i:
                    flush(i - 1, got.first_start)
                    bound = got.first_start
                for queue, (lines, arrival, starts, types) in zip(queues, got.outputs):
                    if len(arrival) and bound is not None and int(arrival.min()) < bound:
                        raise RuntimeError(f"chunk {i} has a record that arrives before a record written already")
                    queue.add(lines, arrival, starts, types)
        flush(job.n_chunks - 1, None)
        _finish(job, outs, framers, totals, writer, ledger)
    finally:
        writer.close()
    return totals


@contextmanager
def _built_in_order(job: CdrFileJob, workers: int):
    """``job.chunk(i)`` for every chunk in order, built here or, with ``workers`` > 1, by that many
    forked processes (chunk i by process i % workers), each sending its chunks through a pipe of
    its own; a pipe holds little, so a process is at most a chunk ahead."""
    workers = min(workers, job.n_chunks)
    if workers <= 1:
        yield (job.chunk(i) for i in range(job.n_chunks))
        return
    job.factory.warm()
    if job.spoiler is not None:
        _ = job.spoiler.taken
    ctx = multiprocessing.get_context("fork")
    pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
    procs = []
    try:
        for w in range(workers):
            p = ctx.Process(target=_builder, args=(job, w, workers, pipes), daemon=True, name=f"cdr-builder-{w}")
            p.start()
            procs.append(p)
        for _, sender in pipes:
            sender.close()

        def chunks():
            for i in range(job.n_chunks):
                try:
                    got = pipes[i % workers][0].recv()
                except (EOFError, OSError):
                    got = ErrorToken(ErrorKind.DIED)
                if isinstance(got, ErrorToken):
                    _raise(got, procs)
                yield got
        yield chunks()
    finally:
        _end(procs, pipes)


def _end(procs: list, pipes: list) -> None:
    """Stop the processes still running, wait for all, and close both ends of every pipe."""
    for p in procs:
        if p.is_alive():
            p.terminate()
        p.join()
    for reader, writer in pipes:
        reader.close()
        writer.close()


def _builder(job: CdrFileJob, w: int, workers: int, pipes: list) -> None:
    """A forked process of _built_in_order: chunks w, w + workers, ... into its pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl+C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops us with SIGTERM when it ends early
    out = pipes[w][1]
    for k, (reader, sender) in enumerate(pipes):
        reader.close()
        if k != w:
            sender.close()
    for i in range(w, job.n_chunks, workers):
        try:
            got = job.chunk(i)
        except Exception as e:  # noqa: BLE001 - sent to the parent, which raises it
            got = ErrorToken.of(e)
        try:
            out.send(got)
        except OSError:  # the parent is gone
            return
        if isinstance(got, ErrorToken):
            return


def _close(outs: list, framers: list, totals: list[int], split: bool, write) -> None:
    """The end of each output: one unit even when empty, so an empty compressed file is valid."""
    for k, (out, framer) in enumerate(zip(outs, framers)):
        framer.count = _n(totals, k, split)
        write(out, [framer.close()], True)


# ---------------------------------------------------------------- the ring of worker processes
# A token goes round the ring through pipes: a Token while all is well, an ErrorToken once
# something went wrong (passed on round the ring to process 0, which raises it).

@dataclass(frozen=True)
class Token:
    """All is well: the records written per CDR type before the next chunk, and the bytes written
    so far to each output."""

    totals: tuple[int, ...]
    sizes: tuple[int, ...] = ()
    faults: tuple[int, ...] = ()  # the --faults written so far, per kind
    found: tuple[dict, ...] = ()  # --anomalies: each chunk's incident records since process 0 last took them

    def after(self, counts: list[int], sizes: tuple[int, ...] | None = None,
              faults: tuple[int, ...] | None = None, found: dict | None = None) -> Token:
        """The token once a chunk of ``counts`` records per type is written (``sizes``: the
        outputs' byte counts then; ``faults``: the faults written then, per kind; ``found``: the
        chunk's incident records)."""
        return Token(tuple(a + b for a, b in zip(self.totals, counts)), self.sizes if sizes is None else sizes,
                     self.faults if faults is None else faults, self.found + ((found,) if found else ()))

    def taken_by(self, job: CdrFileJob) -> Token:
        """Process 0's: the incident records the token carries, added to ``job``, the token without them."""
        for found in self.found:
            job.add_found(found)
        return Token(self.totals, self.sizes, self.faults) if self.found else self


class ErrorKind(Enum):
    PIPE = "pipe"  # the reader of stdout went away (BrokenPipeError)
    RUN = "run"  # a RunError, such as a failed write: its one-line message
    DIED = "died"  # the process before this one ended without passing the token on
    BUG = "bug"  # any other exception: its traceback


@dataclass(frozen=True)
class ErrorToken:
    """Something went wrong in a process of the ring."""

    kind: ErrorKind
    message: str = ""

    @classmethod
    def of(cls, e: BaseException) -> ErrorToken:
        if isinstance(e, BrokenPipeError):
            return cls(ErrorKind.PIPE)
        if isinstance(e, RunError):
            return cls(ErrorKind.RUN, str(e))
        import traceback

        return cls(ErrorKind.BUG, "".join(traceback.format_exception(e)))


@dataclass(frozen=True)
class RingSeat:
    """What process ``index`` of the ring works with."""

    job: CdrFileJob
    framers: list[RecordFramer]
    fds: list[int]  # the outputs' open files, shared by all the processes
    names: list[str]  # their paths, for error messages
    codecs: list  # how each output compresses a unit (output.Codec)
    index: int  # builds and writes chunks index, index + workers, ...
    workers: int
    inbound: Connection  # the token comes in from process index - 1
    outbound: Connection  # and goes on to process index + 1
    ledger_fd: int | None = None  # --ledger's open file, shared too


def _write_in_ring(job: CdrFileJob, outs: list, framers: list, workers: int, progress, ledger=None) -> list[int]:
    ctx = multiprocessing.get_context("fork")
    for out in [*outs, *([ledger] if ledger is not None else [])]:  # the processes write through the same
        out.fh.flush()                                                # open files, unbuffered
    fds = [out.fh.fileno() for out in outs]
    names = [out.path for out in outs]
    codecs = [out.codec for out in outs]
    # pipes[w]: the token's way into process w (from process w - 1)
    pipes = [ctx.Pipe(duplex=False) for _ in range(workers)]
    seats = [RingSeat(job=job, framers=framers, fds=fds, names=names, codecs=codecs, index=w, workers=workers,
                      inbound=pipes[w][0], outbound=pipes[(w + 1) % workers][1],
                      ledger_fd=ledger.fh.fileno() if ledger is not None else None) for w in range(workers)]
    procs = []
    try:
        for seat in seats[1:]:
            p = ctx.Process(target=_helper, args=(seat, pipes), daemon=True, name=f"cdr-worker-{seat.index}")
            p.start()
            procs.append(p)
        _keep_own_ends(seats[0], pipes)
        token = _ring(seats[0], progress)
        if isinstance(token, ErrorToken):
            _raise(token, procs)
        token = token.taken_by(job)
        if ledger is not None and job.plan is not None:  # the incidents, once all their records are known
            _write_all(ledger.fh.fileno(), "--ledger", [job.anomaly_ledger()])
        for out, size in zip(outs, token.sizes):
            out.size += size
        if token.faults:
            job.fault_counts = list(token.faults)
        for p in procs:
            p.join()
        _close(outs, framers, list(token.totals), job.split,
               lambda out, pieces, always: out.write_unit(pieces, always))
        return list(token.totals)
    finally:
        _end(procs, pipes)


def _keep_own_ends(seat: RingSeat, pipes: list) -> None:
    """Close the pipe ends ``seat`` does not use (so a reader sees EOF when its writer dies)."""
    for reader, writer in pipes:
        if reader is not seat.inbound:
            reader.close()
        if writer is not seat.outbound:
            writer.close()


def _helper(seat: RingSeat, pipes: list) -> None:
    """A forked worker process: its share of the ring, then exit (errors go round the ring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl+C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # and stops us with SIGTERM when it ends early
    _keep_own_ends(seat, pipes)
    _ring(seat, None)


def _ring(seat: RingSeat, progress) -> Token | ErrorToken:
    """Process ``seat.index``'s turns: build chunk i (i = index, index + workers, ...) and compress
    it where the output is compressed, wait for the token of chunk i - 1, write chunk i, pass the
    token on.  Turns past the last chunk only pass the token, so that it comes back to process 0
    after the last chunk.  Returns the last token seen."""
    job, workers, framers = seat.job, seat.workers, seat.framers
    n = job.n_chunks
    turns = -(-n // workers) * workers
    token: Token | ErrorToken = Token((0,) * len(CDR_TYPES), (0,) * len(seat.fds), (0,) * len(FAULT_KINDS))
    for i in range(seat.index, turns, workers):
        built = None
        if isinstance(token, Token) and i < n:
            try:
                counts, blobs, spoiled, found = job.chunk(i)
                bodies = [codec.encode(framer.body(blob, _n(counts, k, job.split)))
                          for k, (codec, framer, blob) in enumerate(zip(seat.codecs, framers, blobs))]
                built = counts, bodies, spoiled, found
            except Exception as e:  # noqa: BLE001 - goes round the ring to the parent
                token = ErrorToken.of(e)
        if i > 0:
            received = _receive(seat.inbound)
            if isinstance(token, Token):
                token = received
                if seat.index == 0 and isinstance(token, Token):
                    token = token.taken_by(job)
        if isinstance(token, Token) and built is not None:
            counts, bodies, spoiled, found = built
            try:
                faults = None
                if spoiled:
                    job.fault_counts = list(token.faults)
                    marked = _ledger(job, spoiled, framers, list(token.totals), seat.names,
                                     seat.ledger_fd is not None)
                    if seat.ledger_fd is not None:
                        _write_all(seat.ledger_fd, "--ledger", [marked])
                    faults = tuple(job.fault_counts)
                heads = _heads(framers, list(token.totals), counts, job.split)
                sizes = tuple(size + _write_all(fd, name, codec.encode([head]) + body)
                              for fd, name, codec, head, body, size
                              in zip(seat.fds, seat.names, seat.codecs, heads, bodies, token.sizes))
            except Exception as e:  # noqa: BLE001
                token = ErrorToken.of(e)
            else:
                if seat.index == 0:
                    job.add_found(found)
                    found = None
                token = token.after(counts, sizes, faults, found)
                if progress:
                    progress.update(sum(token.totals), sum(sizes))
        try:
            seat.outbound.send(token)
        except OSError:  # the next process is gone; the parent learns it from its own pipe
            pass
        if isinstance(token, ErrorToken):
            return token  # passed on: the parent raises it and stops the helpers
    if seat.index == 0:
        return _receive(seat.inbound) if isinstance(token, Token) else token
    return token


def _receive(inbound: Connection) -> Token | ErrorToken:
    try:
        return inbound.recv()
    except (EOFError, OSError):  # the process before this one died without a word
        return ErrorToken(ErrorKind.DIED)


def _write_all(fd: int, name: str, pieces: list) -> int:
    """Write every piece to ``fd``; return the bytes written."""
    written = 0
    with writing(name):
        for piece in pieces:
            view = memoryview(piece)
            written += len(view)
            while view:
                view = view[os.write(fd, view):]
    return written


def _raise(token: ErrorToken, procs: list):
    if token.kind is ErrorKind.PIPE:
        raise BrokenPipeError()
    if token.kind is ErrorKind.RUN:
        raise RunError(token.message)
    if token.kind is ErrorKind.DIED:
        for p in procs:
            p.join(1)
        codes = [p.exitcode for p in procs if p.exitcode]
        raise RunError(f"a worker process ended unexpectedly (exit code {codes[0] if codes else '?'})")
    raise RuntimeError(f"a worker process failed:\n{token.message}")
