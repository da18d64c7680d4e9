"""Anomalies on purpose: the behaviour fraud and outage detectors are built to find, planted in a
CDR file's records, each incident written to the ledger with the cdr_ids of its records.

A run with ``--anomalies KIND=INCIDENTS,...`` plans its incidents before any chunk is built, from
the seed alone (telco-reference.md, "Fraud and faults", after the CFCA fraud loss survey):

- ``sim_box``: a few SIMs of one operator, in one cell, make many short calls to many distinct
  numbers for hours and receive almost none (international calls terminated as local ones);
- ``wangiri``: one-ring calls from a few international premium numbers to many users within an
  hour, and a share of them calling back;
- ``irsf``: international revenue share fraud: one to three lines make long calls, one after the
  other, to international premium ranges for hours;
- ``sim_swap``: a line's SIM and device change (new IMSI and IMEI on the same MSISDN), then
  one-time passwords arrive by SMS and calls go abroad, until the subscriber gets the line back;
- ``cell_outage``: for 20-60 minutes the calls in one cell fail or drop at many times the usual
  rate and its data records close abnormally;
- ``data_spike``: one line moves 20-100 times its usual data volume for a few hours.

The records of an incident are made from the run's own: a planned call or SMS takes the place of
a record of the same type that stands alone (no other leg, no INVITE of its call) in the chunk
whose times it falls in; an outage, a spike, a SIM box's place and a swapped SIM change the
records of their cell, user and window.  Every other record is byte for byte the one a run
without ``--anomalies`` writes, and the same seed gives the same incidents whatever the number of
worker processes: chunk ``i`` draws from a generator seeded by (seed, ``i``) alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from .bearers import ABNORMAL, INTERNET
from .constants import SeedDomain
from .errors import UserError
from .identifiers import luhn_digit
from .radio import bearer_rats, legacy_cell, nr_cell, voice_technologies

KINDS = ("sim_box", "wangiri", "irsf", "sim_swap", "cell_outage", "data_spike")
MAX_INCIDENTS = 100  # per kind

VOICE, DATA, SMS = 0, 1, 2  # CDR type indexes (constants.CDR_TYPES)
# Rows of cdrs.VOICE_OUTCOMES (tests/test_anomalies.py holds them equal): answered, dropped (Q.850
# #41), no answer (#19), and the set-up failure of an outage: network out of order (#38).
ANSWERED, DROPPED, NO_ANSWER, FAILED = 0, 1, 2, 9
HOUR_MS, MINUTE_MS = 3_600_000, 60_000

# SIM box: 3-8 SIMs of one operator in one cell for 6-24 hours, each calling at 20 times the rate of
# a typical caller of the run (at least 2 calls an hour), short calls (median 40 s) to numbers of
# the country, each number once.
SIM_BOX_SIMS = (3, 8)
SIM_BOX_HOURS = (6, 24)
SIM_BOX_RATE = (20.0, 2.0)  # times the typical caller's calls an hour, and at least this many
SIM_BOX_TALK = (40.0, 0.7)  # log-normal: median seconds, sigma
# Wangiri: a burst of 30-90 minutes of one-ring calls (1-3 s of ringing, no answer) from 1-3
# numbers to 2 % of the callers (20 at least, 500 at most); 15 % of them call back, a median 10
# minutes later (at most 6 hours), and listen for a median 90 s.
WANGIRI_MINUTES = (30, 90)
WANGIRI_VICTIMS = (0.02, 20, 500)
WANGIRI_RING_S = (1.0, 3.0)
WANGIRI_CALLBACK_SHARE = 0.15
WANGIRI_CALLBACK_DELAY = (600.0, 1.0, 6 * 3600)  # log-normal median s, sigma, at most
WANGIRI_CALLBACK_TALK = (90.0, 0.6)
WANGIRI_NUMBERS = (1, 3)
# IRSF: 1-3 lines, 2-10 hours of calls one after the other (median 20 minutes each, at most 2
# hours, 10-120 s apart) to 3-10 numbers of one or two premium ranges, all answered.
IRSF_LINES = (1, 3)
IRSF_HOURS = (2, 10)
IRSF_TALK = (1200.0, 0.5, 7200)
IRSF_GAP_S = (10, 120)
IRSF_NUMBERS = (3, 10)
# SIM swap: the new SIM and device hold the line for 2-12 hours; in its first hour 3-10 one-time
# passwords arrive by SMS from a bank's number of the country and 2-6 calls go to premium ranges.
SIM_SWAP_HOURS = (2, 12)
SIM_SWAP_OTP = (3, 10)
SIM_SWAP_CALLS = (2, 6)
SIM_SWAP_TALK = (300.0, 0.6)
# Cell outage: 20-60 minutes of the local evening (19:00-22:00, where the run has one: the cell's
# users are home then, telco_cdr.mobility) in the busiest home cell not out yet (by the calls of its
# users who can call); each call there fails to be set up (Q.850 #38, network out of order) with this
# chance, else an answered one drops with that one; a call that reached its callee (an MT record, or
# an MO one with its MT leg) cannot fail to be set up: answered, it drops instead.  Every data record
# that opens there closes abnormally (causeForRecClosing 4).
OUTAGE_MINUTES = (20, 60)
OUTAGE_FAIL, OUTAGE_DROP = 0.6, 0.5
OUTAGE_LOCAL_HOURS, OUTAGE_TRIES = (19, 22), 50
# Data spike: 1-6 hours of 20-100 times the volumes of the line's internet records.
SPIKE_HOURS = (1, 6)
SPIKE_FACTOR = (20, 100)

# International premium ranges: country codes that operators' and the CFCA's advisories name
# for Wangiri and IRSF (high termination rates, satellite and "international networks" codes),
# with the digits after the code.
WANGIRI_RANGES = (("222", 8), ("225", 10), ("232", 8), ("243", 9), ("252", 8), ("675", 8), ("677", 7),
                  ("686", 8))
IRSF_RANGES = (("881", 9), ("882", 10), ("53", 8), ("371", 8), ("252", 8), ("678", 7), ("960", 7), ("7840", 7))


def parse_anomalies(text: str, flag: str = "--anomalies") -> dict[str, int]:
    """``KIND=INCIDENTS,...`` as a dict in KINDS order; UserError (one line) if it is not that."""
    counts: dict[str, int] = {}
    for part in text.split(","):
        kind, eq, value = part.strip().partition("=")
        kind = kind.strip()
        if not eq or not kind:
            raise UserError(f"{flag}: {part.strip()!r} is not KIND=INCIDENTS (kinds: {', '.join(KINDS)})")
        if kind not in KINDS:
            raise UserError(f"{flag}: unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
        if kind in counts:
            raise UserError(f"{flag}: {kind} is given twice")
        try:
            n = int(value)
        except ValueError:
            raise UserError(f"{flag}: {kind}={value.strip()!r}: the number of incidents is not a whole number") \
                from None
        if not 0 <= n <= MAX_INCIDENTS:
            raise UserError(f"{flag}: {kind}={n}: give 0 to {MAX_INCIDENTS} incidents")
        counts[kind] = n
    return {k: counts[k] for k in KINDS if k in counts}


# A planned record's columns: time, CDR type, user, mobile-originated, the other number, voice
# outcome, ringing seconds, talk seconds, and its incident.
_EVENT_DTYPES = (np.int64, np.int64, np.int64, bool, np.int64, np.int64, float, np.int64, np.int64)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class Incident:
    kind: str
    start_ms: int
    end_ms: int
    users: np.ndarray  # user indexes
    cell: tuple[int, int, int, int] | None = None  # (plmn code, eNodeB, sector, TAC) of a fixed cell
    numbers: tuple[int, ...] = ()  # the premium numbers called, or calling
    factor: int = 1  # a data spike's
    swap: dict = field(default_factory=dict)  # a SIM swap's new imsi and imei


@dataclass
class Rows:
    """A chunk's rows as cdrs.CdrFactory.build holds them (arrays changed in place)."""

    types: np.ndarray
    u: np.ndarray
    cp_user: np.ndarray
    cp_num: np.ndarray
    mo: np.ndarray
    start: np.ndarray
    outcome: np.ndarray
    ring: np.ndarray
    talk: np.ndarray
    call: np.ndarray
    caller: np.ndarray
    tech: np.ndarray
    rat: np.ndarray


def _lognormal(rng, median: float, sigma: float, n: int, most: float | None = None) -> np.ndarray:
    x = rng.lognormal(np.log(median), sigma, n)
    return np.minimum(x, most) if most is not None else x


class AnomalyPlan:
    """The incidents of a CDR file's run and the calls and messages planned for them, and how a
    chunk's rows are changed to carry them."""

    def __init__(self, pop, counts: dict[str, int], seed: int, start_ms: int, end_ms: int, voice_per_hour: float,
                 data_users: np.ndarray, voice_outcome_ring: np.ndarray, stream: bool = False):
        """``voice_per_hour``: the run's calls an hour; ``data_users``: users with internet bearers
        in the run; ``voice_outcome_ring``: (lo, hi) seconds from an MO call's start to its answer or
        release per voice outcome (cdrs.outcome_rings).  ``stream``: the chunks are a stream's, whose
        records end a delivery delay before they are sent: a planned record is made of the nearest row
        whatever its time."""
        self.strict = not stream
        self.pop, self.seed = pop, seed
        self.start_ms, self.end_ms = start_ms, end_ms
        self.ring_range = voice_outcome_ring
        rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.ANOMALIES, seed]))
        voice_w = np.zeros(pop.n)
        voice_w[pop.zone_order] = np.diff(pop.user_cum[VOICE][0])
        self.callers = np.flatnonzero((voice_w > 0) & pop.radio.can_call)
        self.voice_w = voice_w
        self.rate = voice_per_hour / max(len(self.callers), 1)  # a typical caller's calls an hour
        self.data_users = np.asarray(data_users, dtype=np.int64)
        self.taken: set[int] = set()
        self.incidents: list[Incident] = []
        events: list[list[np.ndarray]] = []
        for kind in KINDS:
            for _ in range(counts.get(kind, 0)):
                incident, planned = getattr(self, "_" + kind)(rng)
                for cols in planned:  # (time, type, user, mo, number, outcome, ring, talk): arrays or scalars
                    t = np.atleast_1d(np.asarray(cols[0], dtype=np.int64))
                    cols = [np.broadcast_to(np.asarray(c, dtype=d), t.shape)
                            for c, d in zip((*cols, len(self.incidents)), _EVENT_DTYPES)]
                    keep = (t >= start_ms) & (t < end_ms)
                    events.append([c[keep] for c in cols])
                self.incidents.append(incident)
        cols = [np.concatenate([e[k] for e in events]) if events else np.zeros(0, dtype=d)
                for k, d in enumerate(_EVENT_DTYPES)]
        order = np.argsort(cols[0], kind="stable")
        (self.ev_time, self.ev_type, self.ev_user, self.ev_mo, self.ev_num, self.ev_outcome, self.ev_ring,
         self.ev_talk, self.ev_incident) = (c[order] for c in cols)
        self.kind_of = np.array([KINDS.index(i.kind) for i in self.incidents], dtype=np.int64)
        swaps = [i for i in self.incidents if i.kind == "sim_swap"]
        self.swap_imsi = [i.swap["new_imsi"] for i in swaps]
        self.swap_imei = [i.swap["new_imei"] for i in swaps]

    # ------------------------------------------------------------ planning, one kind at a time

    def _window(self, rng, lo_h: float, hi_h: float, unit_ms: int = HOUR_MS) -> tuple[int, int]:
        """A window of lo to hi units inside the run's (clipped to it when the run is shorter)."""
        span = self.end_ms - self.start_ms
        length = min(int(rng.uniform(lo_h, hi_h) * unit_ms), span)
        start = self.start_ms + int(rng.random() * (span - length + 1))
        return start, start + length

    def _users(self, rng, candidates: np.ndarray, k: int, weights: np.ndarray | None = None) -> np.ndarray:
        """Up to ``k`` distinct users of ``candidates`` in no incident yet, by ``weights``."""
        free = np.asarray(candidates, dtype=np.int64)
        free = free[~np.isin(free, np.fromiter(self.taken, dtype=np.int64, count=len(self.taken)))]
        if not len(free):
            return free
        p = None
        if weights is not None:
            w = weights[free]
            p = w / w.sum() if w.sum() > 0 else None
        chosen = rng.choice(free, size=min(k, len(free)), replace=False, p=p)
        self.taken.update(chosen.tolist())
        return np.sort(chosen)

    def _premium(self, rng, ranges, k: int) -> tuple[int, ...]:
        code, digits = ranges[int(rng.integers(len(ranges)))]
        first = 10 ** (digits - 1)
        return tuple(int(code + str(int(rng.integers(first, 10 * first)))) for _ in range(k))

    def _national(self, rng, user: int, k: int) -> np.ndarray:
        """``k`` distinct mobile numbers of user ``user``'s country, none a user's: numbers outside the
        file as its calls reach them (telco_cdr.counterparties: the country's operators by share), by
        member numbers far past any circle's."""
        from .counterparties import MOBILE

        nums = np.zeros(0, dtype=np.int64)
        for _ in range(50):
            m = 2 * (k - len(nums)) + 8
            members = rng.integers(1 << 20, 1 << 40, m)
            kind, more, _ = self.pop.counterparties.of(np.full(m, user), members, np.ones(m, dtype=bool))
            nums = np.concatenate((nums, more[kind == MOBILE]))
            _, first = np.unique(nums, return_index=True)
            nums = nums[np.sort(first)]
            if len(nums) >= k:
                break
        return nums[:k]

    def _ring(self, rng, outcome: int, n: int | None = None):
        lo, hi = self.ring_range[outcome]
        return lo + rng.random(n) * (hi - lo)

    def _sim_box(self, rng):
        start, end = self._window(rng, *SIM_BOX_HOURS)
        first = self._users(rng, self.callers, 1)
        if not len(first):
            return Incident("sim_box", start, end, first), []
        plmn = self.pop.plmn_code[first[0]]
        same = self.callers[self.pop.plmn_code[self.callers] == plmn]
        sims = np.sort(np.concatenate((first, self._users(rng, same, int(rng.integers(*SIM_BOX_SIMS)) - 1))))
        home = int(first[0])
        cell = (int(plmn), int(self.pop.home_enb[home]), int(self.pop.home_sector[home]), int(self.pop.home_tac[home]))
        rate = max(SIM_BOX_RATE[0] * self.rate, SIM_BOX_RATE[1]) / HOUR_MS
        planned = []
        for sim in sims.tolist():
            n = int(rng.poisson(rate * (end - start)))
            times = start + (rng.random(n) * (end - start)).astype(np.int64)
            talk = np.maximum(_lognormal(rng, *SIM_BOX_TALK, n), 1).astype(np.int64)
            planned.append((times, VOICE, sim, True, self._national(rng, sim, n), ANSWERED,
                            self._ring(rng, ANSWERED, n), talk))
        return Incident("sim_box", start, end, sims, cell=cell), planned

    def _wangiri(self, rng):
        start, end = self._window(rng, *WANGIRI_MINUTES, unit_ms=MINUTE_MS)
        share, least, most = WANGIRI_VICTIMS
        k = int(min(max(share * len(self.callers), least), most))
        victims = self._users(rng, self.callers, k)
        numbers = self._premium(rng, WANGIRI_RANGES, int(rng.integers(WANGIRI_NUMBERS[0], WANGIRI_NUMBERS[1] + 1)))
        planned = []
        last = end
        for v in victims.tolist():
            t = start + int(rng.random() * (end - start))
            num = numbers[int(rng.integers(len(numbers)))]
            planned.append((t, VOICE, v, False, num, NO_ANSWER, float(rng.uniform(*WANGIRI_RING_S)), 0))
            if rng.random() < WANGIRI_CALLBACK_SHARE:
                back = t + int(_lognormal(rng, *WANGIRI_CALLBACK_DELAY[:2], 1, WANGIRI_CALLBACK_DELAY[2])[0] * 1000)
                talk = max(1, int(_lognormal(rng, *WANGIRI_CALLBACK_TALK, 1)[0]))
                planned.append((back, VOICE, v, True, num, ANSWERED, self._ring(rng, ANSWERED), talk))
                last = max(last, back + 60_000 + talk * 1000)
        return Incident("wangiri", start, min(last, self.end_ms), victims, numbers=numbers), planned

    def _irsf(self, rng):
        start, end = self._window(rng, *IRSF_HOURS)
        lines = self._users(rng, self.callers, int(rng.integers(IRSF_LINES[0], IRSF_LINES[1] + 1)))
        numbers = self._premium(rng, IRSF_RANGES, int(rng.integers(IRSF_NUMBERS[0], IRSF_NUMBERS[1] + 1)))
        planned = []
        for line in lines.tolist():
            t = start + int(rng.integers(0, max(1, min(600_000, (end - start) // 10))))  # in the first 10 minutes
            while t < end:
                talk = max(1, int(_lognormal(rng, *IRSF_TALK[:2], 1, IRSF_TALK[2])[0]))
                ring = self._ring(rng, ANSWERED)
                planned.append((t, VOICE, line, True, numbers[int(rng.integers(len(numbers)))], ANSWERED, ring, talk))
                t += int((ring + talk) * 1000) + int(rng.integers(*IRSF_GAP_S)) * 1000
        return Incident("irsf", start, end, lines, numbers=numbers), planned

    def _sim_swap(self, rng):
        start, end = self._window(rng, *SIM_SWAP_HOURS)
        user = self._users(rng, self.callers, 1, self.voice_w)
        if not len(user):
            return Incident("sim_swap", start, end, user, swap={"new_imsi": "", "new_imei": ""}), []
        u = int(user[0])
        pop = self.pop
        old_imsi, old_imei = pop.imsi[u], pop.imei[u]
        new_imsi = old_imsi[:5] + "".join(str(d) for d in rng.integers(0, 10, 10))
        while new_imsi == old_imsi:
            new_imsi = old_imsi[:5] + "".join(str(d) for d in rng.integers(0, 10, 10))
        donor = pop.imei[int(rng.integers(pop.n))]  # another device model's TAC
        body = donor[:8] + "".join(str(d) for d in rng.integers(0, 10, 6))
        new_imei = body + luhn_digit(body)
        swap = {"old_imsi": old_imsi, "new_imsi": new_imsi, "old_imei": old_imei, "new_imei": new_imei}
        planned = []
        hour = min(end, start + HOUR_MS)
        bank = int(self._national(rng, u, 1)[0])
        for _ in range(int(rng.integers(SIM_SWAP_OTP[0], SIM_SWAP_OTP[1] + 1))):
            planned.append((start + int(rng.random() * (hour - start)), SMS, u, False, bank, 0, 0.0, 0))
        numbers = self._premium(rng, IRSF_RANGES, 2)
        for _ in range(int(rng.integers(SIM_SWAP_CALLS[0], SIM_SWAP_CALLS[1] + 1))):
            talk = max(1, int(_lognormal(rng, *SIM_SWAP_TALK, 1)[0]))
            planned.append((start + int(rng.random() * (hour - start)), VOICE, u, True,
                            numbers[int(rng.integers(len(numbers)))], ANSWERED, self._ring(rng, ANSWERED), talk))
        return Incident("sim_swap", start, end, user, numbers=numbers, swap=swap), planned

    def _cell_outage(self, rng):
        pop = self.pop
        key = (pop.plmn_code.astype(np.int64) << 32) | (pop.home_enb << 8) | pop.home_sector
        data_w = np.zeros(pop.n)
        data_w[pop.zone_order] = np.diff(pop.user_cum[DATA][0])
        cells, inverse = np.unique(key, return_inverse=True)
        # the calls of users who can call (a device without VoLTE makes none where 2G and 3G are gone):
        # the busiest cell is the one with the most calls to fail, its data the tie-break
        voice = np.where(pop.radio.can_call, self.voice_w, 0.0)
        calls = np.bincount(inverse, weights=voice, minlength=len(cells))
        data = np.bincount(inverse, weights=data_w, minlength=len(cells))
        used = {(i.cell[0] << 32) | (i.cell[1] << 8) | i.cell[2] for i in self.incidents if i.kind == "cell_outage"}
        busiest = [c for c in np.lexsort((-data, -calls)).tolist() if int(cells[c]) not in used][:1]
        if not busiest:
            start, end = self._window(rng, *OUTAGE_MINUTES, unit_ms=MINUTE_MS)
            return Incident("cell_outage", start, end, np.zeros(0, dtype=np.int64)), []
        home = np.flatnonzero(key == cells[busiest[0]])
        u = int(home[0])
        for _ in range(OUTAGE_TRIES):  # in the cell's local evening, where the window has one
            start, end = self._window(rng, *OUTAGE_MINUTES, unit_ms=MINUTE_MS)
            local_h = (start + int(pop.clock.offsets(pop.zone_of[u], np.array([start]))[0])) // HOUR_MS % 24
            if OUTAGE_LOCAL_HOURS[0] <= local_h < OUTAGE_LOCAL_HOURS[1]:
                break
        cell = (int(pop.plmn_code[u]), int(pop.home_enb[u]), int(pop.home_sector[u]), int(pop.home_tac[u]))
        return Incident("cell_outage", start, end, home, cell=cell), []

    def _data_spike(self, rng):
        start, end = self._window(rng, *SPIKE_HOURS)
        user = self._users(rng, np.unique(self.data_users), 1)
        return Incident("data_spike", start, end, user, factor=int(rng.integers(SPIKE_FACTOR[0],
                                                                                 SPIKE_FACTOR[1] + 1))), []

    # ------------------------------------------------------------ a chunk's rows

    def rng(self, chunk: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([SeedDomain.ANOMALIES, self.seed, chunk]))

    def plant(self, rng, lo_ms: int, hi_ms: int, rows: Rows, radio) -> np.ndarray:
        """Make the calls and messages planned in [lo_ms, hi_ms) out of rows of the same type that
        stand alone, each the one nearest its planned time within its incident's window (a row
        keeps its time and place, so no other record of the chunk moves); return each row's
        incident (-1 for none)."""
        n = len(rows.types)
        incident = np.full(n, -1, dtype=np.int64)
        a, b = np.searchsorted(self.ev_time, [lo_ms, hi_ms])
        if a == b:
            return incident
        alone = np.bincount(rows.call, minlength=n)[rows.call] == 1
        for typ in (VOICE, SMS):
            ev = a + np.flatnonzero(self.ev_type[a:b] == typ)
            free = np.flatnonzero((rows.types == typ) & alone)
            if not len(ev) or not len(free):
                continue
            free = free[np.argsort(rows.start[free], kind="stable")]
            at, ev = self._nearest(rows.start[free].tolist(), ev)
            at = free[at]
            u = self.ev_user[ev]
            rows.u[at], rows.caller[at], rows.cp_user[at] = u, u, -1
            rows.cp_num[at], rows.mo[at] = self.ev_num[ev], self.ev_mo[ev]
            if typ == VOICE:
                rows.outcome[at], rows.ring[at], rows.talk[at] = self.ev_outcome[ev], self.ev_ring[ev], self.ev_talk[ev]
                rows.tech[at], rows.rat[at] = voice_technologies(rng, radio, u)
            else:
                rows.rat[at] = bearer_rats(rng, radio, u)
            incident[at] = self.ev_incident[ev]
        return incident

    def _nearest(self, times: list[int], ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For events ``ev`` (in time order), the place in sorted ``times`` of the nearest one not
        taken yet that lies in the event's incident window; events without one are left out."""
        used = bytearray(len(times))
        at, kept = [], []
        for e in ev.tolist():
            t = int(self.ev_time[e])
            inc = self.incidents[int(self.ev_incident[e])]
            j = int(np.searchsorted(times, t))
            left, right = j - 1, j
            while left >= 0 and used[left]:
                left -= 1
            while right < len(times) and used[right]:
                right += 1
            options = [k for k in (left, right) if 0 <= k < len(times)
                       and (not self.strict or inc.start_ms <= times[k] < inc.end_ms)]
            if not options:
                continue
            k = min(options, key=lambda k: abs(times[k] - t))
            used[k] = 1
            at.append(k)
            kept.append(e)
        return np.array(at, dtype=np.int64), np.array(kept, dtype=np.int64)

    def shape(self, rng, rows: Rows, incident: np.ndarray, enb: np.ndarray, sector: np.ndarray, tac: np.ndarray,
              data_row: np.ndarray, partials: dict, is_twin: np.ndarray,
              abroad: np.ndarray | None = None) -> tuple[dict, np.ndarray | None]:
        """Change the sorted rows of a chunk for the incidents with a place, a line or a window:
        the SIM box's cell, the outage, the spike, the swapped SIM.  Marks their rows in
        ``incident``; returns the partial records' columns (changed copies where changed) and,
        where a swapped SIM's rows are in the chunk, each row's index into the identity tables
        (users, then the swapped SIMs: see ``identity_tables``), else None.  ``abroad`` (per row: its
        user is roaming, telco_cdr.roaming): no outage's cell; a SIM box's rows are brought home (cleared)."""
        pop = self.pop
        n = len(rows.types)
        ident = None
        if not n:
            return partials, ident
        t0, t1 = int(rows.start[0]), int(rows.start[-1])
        swap_no = 0
        for k, inc in enumerate(self.incidents):
            if inc.kind == "sim_swap":
                swap_no += 1
            if (inc.end_ms <= t0 or inc.start_ms > t1 or not len(inc.users)) and not (incident == k).any():
                continue
            inside = (rows.start >= inc.start_ms) & (rows.start < inc.end_ms)
            if inc.kind == "sim_box":  # its planted calls, and whatever else the SIMs do then
                sel = np.flatnonzero((inside & np.isin(rows.u, inc.users)) | (incident == k))
                _, e, s, tc = inc.cell
                enb[sel], sector[sel], tac[sel] = e, s, tc
                incident[sel] = k
                if abroad is not None:
                    abroad[sel] = False
            elif inc.kind == "sim_swap":
                sel = np.flatnonzero(inside & (rows.u == inc.users[0]))
                if len(sel):
                    if ident is None:
                        ident = rows.u.copy()
                    ident[sel] = pop.n + swap_no - 1
                    incident[sel] = k
            elif inc.kind == "data_spike":
                sel = np.flatnonzero(inside & (rows.types == DATA) & (rows.u == inc.users[0]))
                sel = sel[partials["kind"][data_row[sel]] == INTERNET]
                if len(sel):
                    j = data_row[sel]
                    partials = dict(partials, up=partials["up"].astype(np.int64),
                                    down=partials["down"].astype(np.int64))
                    partials["up"][j] *= inc.factor
                    partials["down"][j] *= inc.factor
                    incident[sel] = k
            elif inc.kind == "cell_outage":
                plmn, e, s, _ = inc.cell
                here = inside & (enb == e) & (sector == s) & (pop.plmn_code[rows.u] == plmn)
                if abroad is not None:
                    here &= ~abroad
                calls = np.flatnonzero(here & (rows.types == VOICE) & (incident < 0))
                r = rng.random(len(calls))
                voice_legs = np.bincount(rows.call[rows.types == VOICE], minlength=n)
                reached = ~rows.mo[calls] | (voice_legs[rows.call[calls]] > 1)  # its MT record is written
                fail = calls[(r < OUTAGE_FAIL) & ~reached]
                answered = rows.outcome[calls] == ANSWERED
                drop = calls[answered & ((r < OUTAGE_FAIL) & reached
                                         | (r >= OUTAGE_FAIL) & (rng.random(len(calls)) < OUTAGE_DROP))]
                rows.outcome[fail], rows.talk[fail] = FAILED, 0
                lo, hi = self.ring_range[FAILED]
                rows.ring[fail] = lo + rng.random(len(fail)) * (hi - lo)
                rows.outcome[drop] = DROPPED
                rows.talk[drop] = np.maximum((rows.talk[drop] * rng.uniform(0.05, 0.5, len(drop))).astype(np.int64), 1)
                changed = np.concatenate((fail, drop))
                if len(changed):  # the call's other legs and INVITE records end the same way
                    by_call = np.full(n, -1, dtype=np.int64)
                    by_call[rows.call[changed]] = changed
                    mate = by_call[rows.call]
                    legs = np.flatnonzero((mate >= 0) & ((rows.types == VOICE) | is_twin))
                    src = mate[legs]
                    rows.outcome[legs], rows.talk[legs] = rows.outcome[src], rows.talk[src]
                    same_leg = rows.mo[legs] == rows.mo[src]  # its INVITE record: the same ringing (a failure's)
                    rows.ring[legs] = np.where(same_leg, rows.ring[src], rows.ring[legs])
                    incident[legs] = k
                bearers = np.flatnonzero(here & (rows.types == DATA))
                if len(bearers):
                    partials = dict(partials, cause=partials["cause"].copy())
                    partials["cause"][data_row[bearers]] = ABNORMAL
                    incident[bearers] = k
        return partials, ident

    def identity_tables(self, imsi: np.ndarray, imei: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The users' IMSI and IMEI text tables with the swapped SIMs' after them."""
        from .layout import text_array

        return (np.concatenate((imsi, text_array(self.swap_imsi))),
                np.concatenate((imei, text_array(self.swap_imei))))

    def ids_in_chunk(self, run_tag: str, chunk: int, incident: np.ndarray) -> dict[int, list[str]]:
        """The cdr_ids of a chunk's records of each incident (cdrs.CdrFactory.build's: run tag,
        chunk, place in the chunk)."""
        tag = f"{run_tag}{chunk:08x}-"
        rows = np.flatnonzero(incident >= 0)
        found: dict[int, list[str]] = {}
        for row, k in zip(rows.tolist(), incident[rows].tolist()):
            found.setdefault(k, []).append(f"{tag}{row:06x}")
        return found

    # ------------------------------------------------------------ the ledger

    def cell_ids(self, inc: Incident) -> list[str]:
        """The ids a cell of ``inc`` shows by RAT: its ECGI (LTE, and Wi-Fi's last LTE cell), NCGI
        (NR) and CGI (2G/3G): cdrs.CdrFactory._cell's."""
        plmn_code, e, s, tc = inc.cell
        mcc, mnc = self.pop.plmns[plmn_code]
        plmn = mcc + mnc
        enb, sector, tac = np.array([e]), np.array([s]), np.array([tc])
        nci = int(nr_cell(enb, sector)[0])
        lac, ci = (int(x[0]) for x in legacy_cell(enb, sector, tac))
        return [f"{plmn}{e * 256 + s:07X}", f"{plmn}{nci:09X}", f"{plmn}{lac:04X}{ci:04X}"]

    def ledger_lines(self, cdr_ids: list[list[str]]) -> bytes:
        """One JSON object a line per incident, in KINDS order then the order planned."""
        out = []
        for inc, ids in zip(self.incidents, cdr_ids):
            entry = {"kind": inc.kind, "start_time": _iso(inc.start_ms), "end_time": _iso(inc.end_ms),
                     "user_ids": [self.pop.user_ids[u] for u in inc.users.tolist()]}
            if inc.cell is not None:
                ids_by_rat = self.cell_ids(inc)
                entry["cell_id"], entry["cell_ids"] = ids_by_rat[0], ids_by_rat
            if inc.numbers:
                entry["numbers"] = [str(x) for x in inc.numbers]
            if inc.kind == "data_spike":
                entry["factor"] = inc.factor
            entry.update(inc.swap)
            entry["records"] = len(ids)
            entry["cdr_ids"] = ids
            out.append(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")
        return "".join(out).encode()

    def summary(self, cdr_ids: list[list[str]]) -> str:
        """``sim_box 1 (1,204 records), ...``: the incidents per kind and their records."""
        parts = []
        for kind in KINDS:
            ks = [k for k, inc in enumerate(self.incidents) if inc.kind == kind]
            if ks:
                records = sum(len(cdr_ids[k]) for k in ks)
                parts.append(f"{kind} {len(ks)} ({records:,} record{'s' if records != 1 else ''})")
        return ", ".join(parts)
