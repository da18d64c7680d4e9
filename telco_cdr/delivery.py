"""Arrival as from a network (issue 12, item 1): when a record reaches a pipeline.

A network element writes a CDR when the call, message or partial record closes, and mediation ships
the records in files or batches a little later (3GPP TS 32.297: a CDR file is closed on a time
limit, a volume limit or a number of records that the operator configures), so a record arrives
after its end time, not in start-time order.  Its delay after the end is drawn here:

- ``DeliveryDelay``: log-normal by its median and 99th percentile, cut at twice the 99th percentile
  (``--delivery-delay MEDIAN[,P99]``; ``0`` for none).  The default, a median of 60 s and a 99th
  percentile of 15 min (at most 30 min), is an assumption after the collection intervals of 1 to 15
  minutes that mediation commonly uses (a file closed every few minutes, then moved on), not a
  measurement of any network.  Its cut stays under the hour from which --faults' ``late`` records
  are late, so a reader can tell them apart.
- Delays are drawn per (seed, chunk) from a generator of their own (SeedDomain.DELIVERY), after the
  records, so the records themselves stay as they are.
- ``ArrivalQueue``: a CDR file's records in arrival order (``cdr_generator.py --order arrival``).
  Chunks come in start-time order and a record arrives after it starts, so every record that
  arrives by the next chunk's first start can go out; the rest wait.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .constants import DELIVERY_MEDIAN_S as DEFAULT_MEDIAN_S
from .constants import DELIVERY_P99_S as DEFAULT_P99_S
from .constants import SeedDomain
from .errors import UserError

CUT_TIMES_P99 = 2  # a delay is at most this many times the 99th percentile (the log-normal's tail cut)
MAX_DELAY_S = 30 * 86400  # the longest median or 99th percentile taken: 30 days
Z99 = 2.3263478740408408  # the standard normal's 99th percentile
UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True)
class DeliveryDelay:
    """A record's delay after its end: log-normal by ``median_s`` and ``p99_s``, at most
    CUT_TIMES_P99 times ``p99_s``; a median of 0 is no delay at all."""

    median_s: float = DEFAULT_MEDIAN_S
    p99_s: float = DEFAULT_P99_S

    @property
    def sigma(self) -> float:
        return math.log(self.p99_s / self.median_s) / Z99 if self.median_s else 0.0

    @property
    def max_ms(self) -> int:
        return round(CUT_TIMES_P99 * self.p99_s * 1000)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` delays in whole ms."""
        if not self.median_s:
            return np.zeros(n, dtype=np.int64)
        d = rng.lognormal(math.log(self.median_s * 1000), self.sigma, n)
        return np.minimum(d, self.max_ms).astype(np.int64)

    def describe(self) -> str:
        if not self.median_s:
            return "none"
        return f"median {_text(self.median_s)}, 99th percentile {_text(self.p99_s)}, at most " \
               f"{_text(self.max_ms / 1000)}"


NO_DELAY = DeliveryDelay(0.0, 0.0)


def delay_rng(domain: SeedDomain, seed: int, chunk: int) -> np.random.Generator:
    """The generator of chunk ``chunk``'s delays, for a file's records (SeedDomain.FILE_CDRS) or a
    stream's (STREAM_CDRS)."""
    return np.random.default_rng(np.random.SeedSequence([SeedDomain.DELIVERY, domain, seed, chunk]))


def _text(seconds: float) -> str:
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size and abs(seconds / size - round(seconds / size, 2)) < 1e-9:
            return f"{seconds / size:g} {unit}"
    return f"{seconds * 1000:g} ms"


def _seconds(text: str, flag: str) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*", text)
    if not m or m[2] not in ("", *UNITS):
        raise UserError(f"{flag}: {text.strip()!r} is not a duration such as 90, 90s, 1.5m, 500ms or 2h")
    value = float(m[1]) * UNITS.get(m[2], 1.0)
    if value > MAX_DELAY_S:
        raise UserError(f"{flag}: {text.strip()!r} is more than 30 days")
    return value


def parse_delay(text: str, flag: str = "--delivery-delay") -> DeliveryDelay:
    """``MEDIAN[,P99]`` (plain seconds, or with a unit: ms, s, m/min, h, d), or ``0`` for none; a
    median alone keeps the default's spread (P99 = 15 x MEDIAN).  UserError (one line) if not."""
    parts = text.split(",")
    if len(parts) > 2:
        raise UserError(f"{flag}: {text!r} is not MEDIAN[,P99] (such as 60s,15m), nor 0 for no delay")
    median = _seconds(parts[0], flag)
    if len(parts) == 1 and median == 0:
        return NO_DELAY
    if median < 0.001:
        raise UserError(f"{flag}: the median must be at least 1 ms; 0 alone means no delay")
    p99 = _seconds(parts[1], flag) if len(parts) == 2 else min(median * DEFAULT_P99_S / DEFAULT_MEDIAN_S, MAX_DELAY_S)
    if p99 < median:
        raise UserError(f"{flag}: the 99th percentile ({parts[1].strip()}) must not be less than the median "
                        f"({parts[0].strip()})")
    return DeliveryDelay(median, p99)


# ---------------------------------------------------------------- a file's records in arrival order

class ArrivalQueue:
    """One output's records waiting to go out in arrival order: each record's line, arrival time,
    start time and CDR type.  Records are added a chunk at a time, in event order; ``take(bound)``
    gives those that arrive by ``bound`` (epoch ms; None: all) sorted by arrival, ties in the order
    they were added (the event order), and keeps the rest.

    Each chunk stays a block of its own, sorted by arrival when it comes, so a take reads only the
    front of each block (a few blocks wait at once: those of the longest wait), never the records
    that keep waiting."""

    def __init__(self):
        self.blocks: list[tuple[np.ndarray, ...]] = []  # (arrival, lines, start, types), each sorted by arrival

    def __len__(self) -> int:
        return sum(len(b[0]) for b in self.blocks)

    def add(self, lines: list, arrival: np.ndarray, start: np.ndarray, types: np.ndarray) -> None:
        if not len(arrival):
            return
        order = np.argsort(arrival, kind="stable")
        text = np.empty(len(lines), dtype=object)
        text[:] = lines
        self.blocks.append((arrival[order], text[order], start[order], types[order]))

    def take(self, bound: int | None) -> tuple[list, np.ndarray, np.ndarray]:
        """The lines that arrive by ``bound``, in arrival order, with their start times and types."""
        due, kept = [], []
        for block in self.blocks:
            k = len(block[0]) if bound is None else int(np.searchsorted(block[0], bound, side="right"))
            if k:
                due.append(tuple(a[:k] for a in block))
            if k < len(block[0]):  # a copy once some went: the lines gone are freed, not kept by a view
                kept.append(tuple(a[k:].copy() for a in block) if k else block)
        self.blocks = kept
        if not due:
            return [], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        arrival, lines, start, types = (np.concatenate(parts) for parts in zip(*due))
        order = np.argsort(arrival, kind="stable")  # blocks in event order: ties stay so
        return lines[order].tolist(), start[order], types[order]
