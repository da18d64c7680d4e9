"""Roaming: a few per cent of users travel abroad for days at a time; while away their records name
the visited network (``cell_mcc``/``cell_mnc`` and the cell), say ``roaming: true``, and carry the
visited country's UTC offset in ``ms_time_zone``.

Trips are a pure function of (seed, user, week): in each week (Monday 00:00 UTC to the next) a user
starts a trip with TRIP_SHARE's chance, on a day and hour of that week, for TRIP_DAYS days, to a
destination drawn by the user's country; so every chunk, process and stream sees the same trips
without state (a counter-based hash, SplitMix64, not a generator).  A record's user is abroad when a
trip begun in its week or the week before covers its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .identifiers import OPERATORS


@dataclass(frozen=True)
class Visited:
    mcc: str
    mnc: str
    name: str
    country: str
    zone: str  # IANA time zone of the visited network's cells here (its capital or main city)

    @property
    def plmn(self) -> str:
        return self.mcc + self.mnc


# Visited networks: each country's largest operator by subscribers, MCC-MNC from the ITU-T E.212 list of
# mobile network codes (ITU Operational Bulletin; as listed in Wikipedia's "Mobile Network Codes" pages);
# the time zone of its capital (or main city).
VISITED = (
    Visited("310", "410", "AT&T Mobility", "US", "America/New_York"),
    Visited("234", "15", "Vodafone UK", "GB", "Europe/London"),
    Visited("262", "01", "Telekom Deutschland", "DE", "Europe/Berlin"),
    Visited("208", "01", "Orange France", "FR", "Europe/Paris"),
    Visited("404", "10", "Airtel Delhi", "IN", "Asia/Kolkata"),
    Visited("214", "07", "Movistar", "ES", "Europe/Madrid"),
    Visited("222", "01", "TIM", "IT", "Europe/Rome"),
    Visited("232", "01", "A1 Telekom Austria", "AT", "Europe/Vienna"),
    Visited("334", "020", "Telcel", "MX", "America/Mexico_City"),
    Visited("302", "720", "Rogers", "CA", "America/Toronto"),
    Visited("424", "02", "Etisalat", "AE", "Asia/Dubai"),
    Visited("525", "01", "Singtel", "SG", "Asia/Singapore"),
)
# Where each country's travellers go (weights): the main outbound destinations of each country's
# residents (UNWTO / national travel statistics, rounded: Americans to Mexico, Canada and Europe;
# Britons to Spain, France, Italy, the US; Germans to Austria, Italy, Spain, France; the French to
# Spain, Italy, the UK; Indians to the UAE, Singapore, the US, the UK).
DESTINATIONS = {
    "US": {"MX": 40, "CA": 25, "GB": 10, "IT": 8, "FR": 7, "DE": 5, "ES": 5},
    "GB": {"ES": 35, "FR": 20, "IT": 12, "US": 12, "DE": 8, "AT": 5, "AE": 8},
    "DE": {"AT": 25, "IT": 22, "ES": 20, "FR": 13, "GB": 5, "US": 10, "AE": 5},
    "FR": {"ES": 35, "IT": 25, "GB": 12, "DE": 10, "US": 10, "AE": 8},
    "IN": {"AE": 40, "SG": 20, "US": 15, "GB": 15, "DE": 5, "FR": 5},
}
# Roam like at home (Regulation (EU) 2022/612, before it 2015/2120 from June 2017): a subscriber of an
# EU/EEA network pays domestic prices in another EU/EEA country's network; the UK left in 2020 and
# its operators charge for roaming again.  The countries of our tables in the EU:
EU = ("DE", "FR", "ES", "IT", "AT")
TRIP_SHARE = 0.02  # users starting a trip abroad in a week: with last week's trips, about 3 % away in a week
TRIP_DAYS = (2, 7)  # a trip's length, days (uniform)
WEEK_MS, DAY_MS, HOUR_MS = 7 * 86_400_000, 86_400_000, 3_600_000
MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday of the epoch
HOTEL_SITES = (1000, 60000)  # the eNB ids of a traveller's base abroad (drawn per trip)
AT_BASE = 0.5  # a traveller's events in the base's own cell; the rest in neighbouring ones (sightseeing)

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_TRIP_BELOW = np.uint64(int(TRIP_SHARE * 2**64))  # a (user, week) hash below this: a trip begins that week


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-mixed uint64 of each uint64 (also bearers' and counterparties')."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _unit(h: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) from the top 53 bits of a hash."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


class Trips:
    """The trips of a run's users: ``where(u, t_ms)`` tells, per record, the visited network (an
    index into VISITED) or -1 at home, and the trip's base site abroad."""

    def __init__(self, seed: int, plmn_countries: list[str]):
        """``plmn_countries``: the home country of each of the users' PLMNs (Population.plmns)."""
        from .timezones import ZoneClock

        self.seed = np.uint64(seed & 0xFFFFFFFF)
        index = {v.country: k for k, v in enumerate(VISITED)}
        # per home PLMN: cumulative weights over VISITED (never the home country)
        self.cum = np.zeros((max(1, len(plmn_countries)), len(VISITED)))
        for c, name in enumerate(plmn_countries):
            w = np.zeros(len(VISITED))
            for dest, weight in DESTINATIONS.get(name, {}).items():
                w[index[dest]] = weight
            self.cum[c] = np.cumsum(w) / w.sum() if w.sum() else np.zeros(len(VISITED))
        self.travels = self.cum[:, -1] > 0  # PLMNs whose users travel (their country has destinations)
        self.clock = ZoneClock([v.zone for v in VISITED])
        self.eu_home = np.array([c in EU for c in plmn_countries] or [False])
        self.eu_visited = np.array([v.country in EU for v in VISITED])
        self.mcc = [v.mcc for v in VISITED]
        self.mnc = [v.mnc for v in VISITED]

    def _hash(self, u: np.ndarray, week: np.ndarray, salt: int) -> np.ndarray:
        with np.errstate(over="ignore"):
            x = (self.seed * np.uint64(0x9E3779B97F4A7C15) + u.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03)
                 + week.astype(np.uint64) * np.uint64(0x8CB92BA72F3D8DD7) + np.uint64(salt))
        return mix64(x)

    def where(self, plmn: np.ndarray, u: np.ndarray, t_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per record of user ``u`` (of home PLMN ``plmn``, its index in Population.plmns) at ``t_ms``:
        the visited network's index in VISITED (-1: at home) and the trip's base eNB abroad (0 at home)."""
        u = np.asarray(u, dtype=np.int64)
        t = np.asarray(t_ms, dtype=np.int64)
        dest = np.full(len(u), -1, dtype=np.int64)
        base = np.zeros(len(u), dtype=np.int64)
        if not len(u):
            return dest, base
        week = (t - MONDAY_MS) // WEEK_MS
        country = np.asarray(plmn, dtype=np.int64)
        travels = self.travels[country]
        with np.errstate(over="ignore"):
            user_key = u.astype(np.uint64) * np.uint64(0xD1B54A32D192ED03) + self.seed * np.uint64(0x9E3779B97F4A7C15)
        for back in (1, 0):  # a trip of the week before, then one of this week (which wins)
            w = week - back
            # whether the user starts a trip in week w: one mixing round of (user, week) against the share
            with np.errstate(over="ignore"):
                x = user_key + w.astype(np.uint64) * np.uint64(0x8CB92BA72F3D8DD7)
                x ^= x >> np.uint64(31)
                x *= np.uint64(0xBF58476D1CE4E5B9)
                x ^= x >> np.uint64(29)
            goes = np.flatnonzero((x < _TRIP_BELOW) & travels)
            if not len(goes):
                continue
            ug, wg = u[goes], w[goes]
            hours = (_unit(self._hash(ug, wg, 2)) * (WEEK_MS // HOUR_MS)).astype(np.int64)
            begin = MONDAY_MS + wg * WEEK_MS + hours * HOUR_MS
            days = TRIP_DAYS[0] + (_unit(self._hash(ug, wg, 3)) * (TRIP_DAYS[1] - TRIP_DAYS[0] + 1)).astype(np.int64)
            rows = goes[(t[goes] >= begin) & (t[goes] < begin + days * DAY_MS)]
            if not len(rows):
                continue
            r = _unit(self._hash(u[rows], w[rows], 4))
            dest[rows] = (r[:, None] >= self.cum[country[rows]]).sum(axis=1)
            site = _unit(self._hash(u[rows], w[rows], 5))
            base[rows] = HOTEL_SITES[0] + (site * (HOTEL_SITES[1] - HOTEL_SITES[0])).astype(np.int64)
        return dest, base

    def like_home(self, plmn: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Per record: abroad, but priced as at home (roam like at home: an EU network's subscriber in
        another EU network)."""
        return (dest >= 0) & self.eu_home[plmn] & self.eu_visited[np.maximum(dest, 0)]

    def offsets(self, dest: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        """The UTC offsets (ms) of the visited networks ``dest`` at ``t_ms``."""
        return self.clock.offsets(dest, t_ms)

    def distinct_offsets(self, lo_ms: int, hi_ms: int) -> np.ndarray:
        """Every visited zone's offsets over [lo_ms, hi_ms] (and what was covered before)."""
        self.clock.offsets(np.zeros(2, dtype=np.int64), np.array([lo_ms, hi_ms], dtype=np.int64))
        return self.clock.distinct_offsets()


def home_countries(plmns: list[tuple[str, str]]) -> list[str]:
    """The country of each of ``plmns`` (MCC, MNC) by the operator table (an unknown PLMN: its MCC)."""
    by_plmn = {op.plmn: op.country for op in OPERATORS}
    return [by_plmn.get(m + n, m) for m, n in plmns]
