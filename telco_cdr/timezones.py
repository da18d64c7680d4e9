"""Local time of many IANA time zones at once, daylight saving included, vectorised.

A zone's UTC offset is a step function of time; ``ZoneClock`` finds its steps (the transitions)
once for the span it is asked about, with the tz database of ``zoneinfo`` (tzdata), then answers
for whole arrays of instants with a binary search.  Nothing here draws random numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

DAY_MS = 86_400_000
MINUTE_MS = 60_000


def load_zone(name: str) -> ZoneInfo:
    """The zone from the pinned tzdata package (so every machine has the same daylight-saving
    rules), else from the system's tz database; ZoneInfoNotFoundError if neither has it."""
    from importlib import resources

    parts = name.split("/")
    if name and all(p and p not in (".", "..") for p in parts):
        try:
            with resources.files("tzdata.zoneinfo").joinpath(*parts).open("rb") as fh:
                return ZoneInfo.from_file(fh, key=name)
        except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError, NotADirectoryError, ValueError):
            pass
    try:
        return ZoneInfo(name)
    except ValueError:
        raise ZoneInfoNotFoundError(name) from None


def zone_exists(name: str) -> bool:
    try:
        load_zone(name)
    except ZoneInfoNotFoundError:
        return False
    return True


def _offset_ms(zone: ZoneInfo, t_ms: int) -> int:
    at = datetime.fromtimestamp(t_ms / 1000, UTC).astimezone(zone)
    return int(at.utcoffset().total_seconds() * 1000)


class ZoneClock:
    """UTC offsets of ``zones`` (IANA names) at any instants, in milliseconds."""

    def __init__(self, zones: list[str]):
        self.names = list(zones)
        self._zones = [load_zone(z) for z in self.names]
        self._lo = self._hi = None
        self._steps: list[tuple[np.ndarray, np.ndarray]] = []  # per zone: step instants, offsets from them

    def _cover(self, lo: int, hi: int) -> None:
        """Find every zone's steps in [lo, hi): the offset at each day, then each change bisected
        to the minute (zones change at whole minutes)."""
        if self._lo is not None and self._lo <= lo and hi <= self._hi:
            return
        lo = (lo // DAY_MS - 2) * DAY_MS if self._lo is None else min(lo // DAY_MS * DAY_MS - 2 * DAY_MS, self._lo)
        hi = (hi // DAY_MS + 3) * DAY_MS if self._hi is None else max(hi // DAY_MS * DAY_MS + 3 * DAY_MS, self._hi)
        days = range(lo, hi + 1, DAY_MS)
        self._steps = []
        for zone in self._zones:
            instants, offsets = [lo], [_offset_ms(zone, lo)]
            previous = offsets[0]
            for day in days[1:]:
                now = _offset_ms(zone, day)
                if now != previous:
                    a, b = day - DAY_MS, day  # the change lies in (a, b]
                    while b - a > MINUTE_MS:
                        mid = (a + b) // 2 // MINUTE_MS * MINUTE_MS
                        if mid <= a:
                            mid = a + MINUTE_MS
                        if _offset_ms(zone, mid) == previous:
                            a = mid
                        else:
                            b = mid
                    instants.append(b)
                    offsets.append(now)
                    previous = now
            self._steps.append((np.array(instants, dtype=np.int64), np.array(offsets, dtype=np.int64)))
        self._lo, self._hi = lo, hi
        # Every zone's steps in one sorted table, keyed by zone * span + (instant - lo): one
        # binary search answers for instants of any zones.
        self._span = hi - lo + 1
        self._keys = np.concatenate([z * self._span + (instants - lo) for z, (instants, _) in enumerate(self._steps)])
        self._offsets = np.concatenate([offsets for _, offsets in self._steps])
        self._distinct = np.array(sorted(set(self._offsets.tolist())), dtype=np.int64)  # (np.unique: numpy.ma's import)

    def distinct_offsets(self) -> np.ndarray:
        """The UTC offsets (ms, sorted) that any zone has over the span found so far."""
        return self._distinct

    def offsets(self, zone: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        """The UTC offset (ms) of zone index ``zone[i]`` at ``t_ms[i]``."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        zone = np.broadcast_to(np.asarray(zone, dtype=np.int64), t_ms.shape)
        if not t_ms.size:
            return np.zeros(t_ms.shape, dtype=np.int64)
        self._cover(int(t_ms.min()), int(t_ms.max()) + 1)
        at = np.searchsorted(self._keys, zone * self._span + (t_ms - self._lo), side="right") - 1
        return self._offsets[at]

    def zone_offsets(self, zone: int, t_ms: np.ndarray) -> np.ndarray:
        """The UTC offsets (ms) of one zone at instants ``t_ms``."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        if not t_ms.size:
            return np.zeros(t_ms.shape, dtype=np.int64)
        self._cover(int(t_ms.min()), int(t_ms.max()) + 1)
        instants, offsets = self._steps[zone]
        return offsets[np.searchsorted(instants, t_ms, side="right") - 1]

    def local_ms(self, zone: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        """Local wall-clock time of ``t_ms`` in the zones, as if it were UTC epoch ms."""
        return np.asarray(t_ms, dtype=np.int64) + self.offsets(zone, t_ms)


def offset_text(offset_ms: np.ndarray) -> list[str]:
    """``+01:00``, ``-07:00``, ``+05:30``: UTC offsets as ISO 8601 / TS 29.274 mSTimeZone text."""
    minutes = np.asarray(offset_ms, dtype=np.int64) // MINUTE_MS
    sign = np.where(minutes < 0, "-", "+")
    a = np.abs(minutes)
    return [f"{s}{h:02d}:{m:02d}" for s, h, m in zip(sign.tolist(), (a // 60).tolist(), (a % 60).tolist())]
