"""Where the users are: a home and a work anchor per user, and each event's serving cell by the
user's local time (nights at home, weekday working hours near work, the commute on cells between).

Cells are (eNB, sector) pairs of the user's network; eNB ids one apart are neighbouring sites (ours:
a city's sites are numbered along a line, so the distance between two sites is the difference of
their ids times SITE_KM).  A user's home cell is the users file's ``home_cell_id``; the work anchor
is drawn here from the run's seed (so it is not in the users file: the records show it, as a real
network's would, as the cell of most weekday working-hour events).

Pure and vectorised: the anchors from a generator of their own (SeedDomain.MOBILITY), each chunk's
draws from its own too, so that the rest of a record is drawn as before this module existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import SeedDomain

# Distance from home to the work anchor (and, for users without one, how far they wander by day),
# km: the radius-of-gyration law of Gonzalez, Hidalgo and Barabasi, "Understanding individual human
# mobility patterns", Nature 453 (2008), 779-782: P(r_g) ~ (r_g + r_g0)^-beta_r exp(-r_g/kappa) with
# r_g0 = 5.8 km, beta_r = 1.65, kappa = 350 km.  Drawn as its power law (inverse CDF) and capped at
# MAX_KM: small for most users, large for a few.
RG0_KM, RG_BETA, MAX_KM = 5.8, 1.65, 350.0
SITE_KM = 1.5  # between neighbouring sites (eNB ids one apart): urban LTE inter-site distance, 0.5-2 km
# Users with a weekday anchor away from home (work or school): OECD employment rate of ages 15-64
# about 70 % (Employment Outlook 2024), plus students, less those who work at home.
WORK_SHARE = 0.65
# Local hours (0-23): nights at home; weekday work hours at the work anchor; the commute between.
NIGHT = (0, 7)
MORNING_COMMUTE = (7, 9)
WORK_HOURS = (9, 17)
EVENING_COMMUTE = (17, 19)
# Share of events in the anchor's own cell (the rest in neighbouring cells), by where the user is.
AT_HOME_NIGHT = 0.85  # asleep or at home: the home cell (the phone on the bedside table)
AT_WORK = 0.7  # the work cell: meetings and lunch are nearby
AT_HOME_EVENING = 0.6  # evenings, and a commuter's morning before leaving: home, out now and then
DAYTIME_AROUND_HOME = 0.45  # weekends and users without a work anchor: errands, visits
PATH_SHARE = 0.6  # a commuter's events in commute hours that are on the way (the rest before leaving)
NEAR = 6  # neighbouring cells: up to this many sites either way (as the home cell's neighbours always were)

DAY_MS, HOUR_MS = 86_400_000, 3_600_000
MAX_ENB = (1 << 20) - 1  # eNB ids are 20 bits (TS 36.413)


BLOCK = 1 << 18  # users drawn at a time (a 10,000,000-user base draws no float arrays of every user)


@dataclass(frozen=True)
class Anchors:
    """Per user, four bytes: the work anchor as sites from home (0: none, the user stays around home
    by day) and its sector, and how far (sites) the user wanders by day."""

    work_off: np.ndarray  # int16: work eNB - home eNB; 0 for users without a work anchor
    work_sector: np.ndarray  # uint8
    reach: np.ndarray  # uint8, NEAR..MAX_KM / SITE_KM


def draw_anchors(seed: int, home_enb: np.ndarray, home_sector: np.ndarray) -> Anchors:
    """Every user's anchors, from the run's seed (the same for every chunk, process and stream)."""
    rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.MOBILITY, seed]))
    n = len(home_enb)
    work_off = np.zeros(n, dtype=np.int16)
    work_sector = np.asarray(home_sector, dtype=np.uint8).copy()
    reach = np.empty(n, dtype=np.uint8)
    for lo in range(0, n, BLOCK):
        hi = min(n, lo + BLOCK)
        km = np.minimum(RG0_KM * ((1.0 - rng.random(hi - lo)) ** (-1.0 / (RG_BETA - 1.0)) - 1.0), MAX_KM)
        sites = np.maximum(1, np.rint(km / SITE_KM)).astype(np.int64)
        works = rng.random(hi - lo) < WORK_SHARE
        away = np.where(rng.random(hi - lo) < 0.5, -sites, sites)
        home = home_enb[lo:hi].astype(np.int64)
        away = np.where((home + away < 1) | (home + away > MAX_ENB), -away, away)  # the other way at the edges
        work_off[lo:hi] = np.where(works, away, 0)
        drawn = rng.integers(1, 4, hi - lo)
        work_sector[lo:hi] = np.where(works, drawn, work_sector[lo:hi])
        reach[lo:hi] = np.maximum(sites, NEAR)
    return Anchors(work_off, work_sector, reach)


# Where a user is, by (commuter on a weekday, local hour): a state each, and per state the share of
# events in the anchor's own cell, whether the anchor is work, whether a neighbour may be anywhere in
# the user's reach (by day around home), and whether the user may be on the way.
NIGHT_S, WORK_S, MORNING_S, EVENING_S, DAYTIME_S, HOME_EVENING_S = range(6)
_SHARE = np.array([AT_HOME_NIGHT, AT_WORK, AT_HOME_EVENING, AT_WORK, DAYTIME_AROUND_HOME, AT_HOME_EVENING])
_TO_WORK = np.array([False, True, False, True, False, False])  # the evening commute leaves from work
_WANDER = np.array([False, False, False, False, True, False])
_ON_WAY = np.array([False, False, True, True, False, False])


def _states() -> np.ndarray:
    state = np.full((2, 24), HOME_EVENING_S, dtype=np.int8)
    for commuter in (0, 1):
        for h in range(24):
            if NIGHT[0] <= h < NIGHT[1]:
                state[commuter, h] = NIGHT_S
            elif h < EVENING_COMMUTE[1]:
                state[commuter, h] = DAYTIME_S
                if commuter:
                    for span, st in ((WORK_HOURS, WORK_S), (MORNING_COMMUTE, MORNING_S), (EVENING_COMMUTE, EVENING_S)):
                        if span[0] <= h < span[1]:
                            state[commuter, h] = st
    return state


_STATE = _states().reshape(-1)  # [commuter * 24 + hour]


def serving_cells(rng: np.random.Generator, anchors: Anchors, home_enb: np.ndarray, home_sector: np.ndarray,
                  u: np.ndarray, local_ms: np.ndarray, stay: np.ndarray, off: np.ndarray,
                  sector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The serving cell (eNB, sector) of events of users ``u`` at local times ``local_ms`` (epoch ms
    as if UTC): ``stay`` (uniform [0, 1)) decides the anchor's own cell against a neighbour,
    ``off`` (-NEAR..NEAR) the neighbour, ``sector`` (1-3) a neighbour's sector; ``rng`` draws the
    rest (where on the way a commuter is)."""
    hour = local_ms // HOUR_MS % 24
    weekday = (local_ms // DAY_MS + 3) % 7 < 5  # 1970-01-01 was a Thursday
    work_off = anchors.work_off[u]
    state = _STATE[((work_off != 0) & weekday) * 24 + hour]
    home_e = home_enb[u].astype(np.int64)
    to_work = _TO_WORK[state]
    anchor_e = home_e + np.where(to_work, work_off, 0)
    anchor_s = np.where(to_work, anchors.work_sector[u], home_sector[u])
    # a neighbour: near the anchor, or by day around home anywhere within the user's reach
    step = np.where(_WANDER[state], np.rint(off * (anchors.reach[u] / NEAR)).astype(np.int64), off)
    there = stay < _SHARE[state]
    enb = np.where(there, anchor_e, anchor_e + step)
    sec = np.where(there, anchor_s, sector)
    # on the way: a site between home and work (a commuter's commute hours)
    way = rng.random(len(u))
    on_path = _ON_WAY[state] & (rng.random(len(u)) < PATH_SHARE)
    enb = np.where(on_path, home_e + np.rint(way * work_off).astype(np.int64), enb)
    sec = np.where(on_path, sector, sec)
    return np.clip(enb, 1, MAX_ENB), sec
