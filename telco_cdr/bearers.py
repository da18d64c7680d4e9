"""Always-on data: the PGW's partial records of long-lived bearers.

A device holds default bearers for hours or days (the operator's internet APN; ``ims`` for VoLTE
devices) and now and then opens a short one to send or fetch an MMS (``mms``).  The PGW cuts each
bearer into partial records (TS 32.251 §5.2.3): on the operator's time limit, on a volume limit,
on a RAT change (5G devices between NR and LTE) or a serving-node change, and at the release.
All partials of a bearer share its charging id and count 1, 2, 3 ... in their sequence number;
a bearer released and set up again is a new charging id whose sequence starts at 1.

A CDR file's data records are the partials of whole bearer chains, chosen before any chunk is
built (:func:`choose_bearers`, the same in every process): (user, bearer kind) pairs drawn without
replacement by the user's data activity, each pair's chain over the window simulated from
(seed, pair) alone (counter-based random numbers, so a chain does not depend on which others are
simulated beside it), pairs taken until their partials reach the file's data count exactly.  The
usage rate of a bearer follows the user's data activity and the data daily curve in the user's
local time, calibrated so that a device's monthly volume matches its country's figure.

A stream (kafka_producer.py, records of now) has no window: there each data record is the next
partial of the user's internet bearer (:class:`StreamBearers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .identifiers import OPERATORS
from .radio import EUTRAN, GERAN, NR, UTRAN, ByCode
from .roaming import mix64 as _mix  # SplitMix64's finaliser
from .timezones import DAY_MS
from .traffic import DATA_HOURLY, WEEKDAY, Population, _daily

# ---------------------------------------------------------------- the operators' PGW settings


@dataclass(frozen=True)
class PgwSettings:
    """An operator's internet APN and its PGW's partial-record triggers."""

    apn: str  # the internet APN's network identifier (accessPointNameNI)
    time_limit_s: int  # a partial record closes this long after it opened (timeLimit)
    volume_limit_bytes: int  # ... or once this many bytes went up and down (volumeLimit)


_MB = 1_000_000
# APN names: the operators' published APN settings (their help pages; telco-reference.md "The
# network of 2026" names fast.t-mobile.com, broadband for AT&T and vzwinternet).  Time and volume
# limits: TS 32.251 leaves them to the operator, and the reference gives 15-60 min as typical; the
# value per operator is ours (not published), within that range.
PGW_SETTINGS: dict[str, PgwSettings] = {
    "310260": PgwSettings("fast.t-mobile.com", 3600, 200 * _MB),  # T-Mobile US
    "310410": PgwSettings("broadband", 1800, 100 * _MB),  # AT&T Mobility
    "311480": PgwSettings("vzwinternet", 3600, 200 * _MB),  # Verizon Wireless
    "23415": PgwSettings("wap.vodafone.co.uk", 1800, 100 * _MB),  # Vodafone UK
    "23410": PgwSettings("mobile.o2.co.uk", 1800, 100 * _MB),  # O2 UK
    "23430": PgwSettings("everywhere", 3600, 200 * _MB),  # EE
    "26201": PgwSettings("internet.telekom", 3600, 200 * _MB),  # Telekom Deutschland
    "26202": PgwSettings("web.vodafone.de", 1800, 100 * _MB),  # Vodafone DE
    "26203": PgwSettings("internet", 1800, 100 * _MB),  # O2 Telefonica DE
    "20801": PgwSettings("orange", 3600, 200 * _MB),  # Orange France
    "20810": PgwSettings("sl2sfr", 1800, 100 * _MB),  # SFR
    "20820": PgwSettings("mmsbouygtel.com", 900, 50 * _MB),  # Bouygues Telecom
    "40410": PgwSettings("airtelgprs.com", 900, 50 * _MB),  # Airtel Delhi
    "40420": PgwSettings("www", 900, 50 * _MB),  # Vodafone Idea Mumbai
}
UNKNOWN_PGW = PgwSettings("internet", 3600, 200 * _MB)  # an operator not listed
IMS_APN, MMS_APN = "ims", "mms"
APNS: tuple[str, ...] = tuple(dict.fromkeys([s.apn for s in PGW_SETTINGS.values()] + [UNKNOWN_PGW.apn,
                                                                                        IMS_APN, MMS_APN]))
TIME_LIMITS_S: tuple[int, ...] = tuple(sorted({s.time_limit_s for s in (*PGW_SETTINGS.values(), UNKNOWN_PGW)}))

# Monthly mobile data per smartphone (Ericsson Mobility Report 2024, telco-reference.md): about
# 15-20 GB in North America and Western Europe, about 30 GB in India.
MONTHLY_GB = {"US": 19.0, "GB": 16.0, "DE": 16.0, "FR": 17.0, "IN": 30.0}
MONTHLY_GB_OTHER = 17.5
MONTH_S = 30 * 86_400  # a month of 720 hours
ACTIVITY_EXPONENT = 0.15  # a device's volume grows with its data activity, much less than in proportion

# causeForRecClosing (TS 32.298) and its code.
RECORD_CLOSING = ("normalRelease", "abnormalRelease", "volumeLimit", "timeLimit", "servingNodeChange",
                  "rATChange")
CLOSING_CODES = (0, 4, 16, 17, 18, 22)
NORMAL, ABNORMAL, VOLUME, TIME, NODE, RAT = range(len(RECORD_CLOSING))

KINDS = ("internet", "ims", "mms")  # the bearers of a device
INTERNET, IMS, MMS = range(len(KINDS))
KIND_WEIGHT = (1.0, 0.8, 0.5)  # how much each kind weighs when pairs are drawn (times data activity)
_KIND_WEIGHT = np.array(KIND_WEIGHT)

# Bearer lifetimes (hours to days: a release on power-off, coverage loss, a detach) and the gap
# before the device sets the bearer up again; ours.
LIFETIME_H = {INTERNET: (20.0, 1.0, 7 * 24), IMS: (48.0, 1.0, 14 * 24)}  # median, log sigma, cap
REATTACH_S = (20.0, 1.5, 4 * 3600)  # median, log sigma, cap
ABNORMAL_SHARE = 0.03  # of releases: abnormalRelease (radio link failure, a PGW restart)
RAT_SWITCH_PER_H = 0.5  # a 5G device's NR/LTE changes an hour (at its network's NR share)
NODE_CHANGE_PER_H = 1 / 12  # serving-node (SGW) changes an hour, as the device moves
NOISE_SIGMA = 0.8  # per-partial spread of the usage rate around the curve (log-normal)
UPLINK_SHARE = (0.12, 0.5)  # uplink share of a partial's bytes: log-normal median, sigma (capped at 0.9)
IMS_BYTES_PER_H = 40_000  # SIP signalling of the ims bearer (REGISTER, SUBSCRIBE, OPTIONS)
MMS_PER_DAY = 0.4  # MMS bearers a device opens a day
MMS_BYTES = (300_000, 0.4, 1_000_000)  # an MMS message: median, log sigma, cap (telco-reference.md: ~300 kB)
MMS_SECONDS = (4.0, 0.6)  # an MMS bearer's life: median, log sigma

_CURVE = np.array(DATA_HOURLY) / np.mean(DATA_HOURLY)
_WEEK = np.array(WEEKDAY) / np.mean(WEEKDAY)


# ---------------------------------------------------------------- counter-based random numbers

_GOLDEN = 0x9E3779B97F4A7C15


def _pair_keys(seed: int, users: np.ndarray, kinds: np.ndarray, rnd: int = 0) -> np.ndarray:
    x = np.asarray(users, dtype=np.uint64) * np.uint64(8) + np.asarray(kinds, dtype=np.uint64)
    x = _mix(x + np.uint64((seed * _GOLDEN + rnd * 0xD1B54A32D192ED03) % 2**64))
    return _mix(x ^ np.uint64((seed + 0x632BE59BD9B4E019) % 2**64))


def _uniforms(keys: np.ndarray, step, draws: tuple[int, ...]) -> np.ndarray:
    """Uniform (0, 1) numbers, one row per draw number of ``draws`` and one column per key, of step
    ``step`` (a number, or one per key): the rows are mixed together, as one array."""
    d = np.array(draws, dtype=np.uint64)[:, None] + np.uint64(1)
    if isinstance(step, np.ndarray):  # uint64 arithmetic wraps mod 2**64, as the numbers below do
        salt = (step.astype(np.uint64)[None, :] * np.uint64(64) + d) * np.uint64(_GOLDEN)
    else:
        salt = np.array([((step * 64 + k + 1) * _GOLDEN) % 2**64 for k in draws], dtype=np.uint64)[:, None]
    x = _mix(keys[None, :] ^ salt)
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 2**53)


def _uniform(keys: np.ndarray, step, draw: int) -> np.ndarray:
    """Uniform (0, 1) numbers, one per key, for draw number ``draw`` of step ``step`` (a number, or
    one per key)."""
    return _uniforms(keys, step, (draw,))[0]


class _Draws:
    """The uniform numbers of one step of chains, made when first asked for: draw ``d`` of every
    chain (``r[d]``; ``r.make(ds)`` makes several at once), or of some (``r.at(d, idx)``, the
    same numbers)."""

    def __init__(self, keys: np.ndarray, step):
        self.keys, self.step, self._all = keys, step, {}

    def make(self, draws: tuple[int, ...]) -> None:
        for d, row in zip(draws, _uniforms(self.keys, self.step, draws)):
            self._all[d] = row

    def __getitem__(self, d: int) -> np.ndarray:
        if d not in self._all:
            self._all[d] = _uniform(self.keys, self.step, d)
        return self._all[d]

    def at(self, d: int, idx: np.ndarray) -> np.ndarray:
        if d in self._all:
            return self._all[d][idx]
        step = self.step[idx] if isinstance(self.step, np.ndarray) else self.step
        return _uniform(self.keys[idx], step, d)


def _lognormal(u: np.ndarray, median: float, sigma: float) -> np.ndarray:
    """Log-normal numbers from uniform ones: Box-Muller on the high bits of ``u`` and its low 27
    bits (independent of them)."""
    low = (u * 2.0**26) % 1.0
    z = np.sqrt(-2.0 * np.log(u)) * np.cos(2 * np.pi * low)
    return median * np.exp(sigma * z)


# ---------------------------------------------------------------- the chosen partials

@dataclass
class Partials:
    """Partial records, one per row, sorted by start: compact columns."""

    origin: int  # epoch ms of the window's start; every partial starts a whole number of seconds after it
    offset: np.ndarray  # uint32 (int64 for windows over 136 years): seconds from origin to the start
    dur: np.ndarray  # uint16 seconds
    user: np.ndarray  # int32
    kind: np.ndarray  # int8, KINDS
    charging: np.ndarray  # uint32
    seq: np.ndarray  # uint32
    cause: np.ndarray  # int8, RECORD_CLOSING
    rat: np.ndarray  # int8, radio.RATS
    up: np.ndarray  # uint32
    down: np.ndarray  # uint32

    def __len__(self) -> int:
        return len(self.start)

    @property
    def start(self) -> np.ndarray:
        """Epoch ms (int64) of each start."""
        return self.origin + self.offset.astype(np.int64) * 1000

    def __getitem__(self, idx) -> Partials:
        return Partials(self.origin, **{f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "origin"})

    @classmethod
    def empty(cls) -> Partials:
        return cls(0, **{name: np.zeros(0, dtype=dt) for name, dt in _DTYPES.items()})

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, f.name).nbytes for f in fields(self) if f.name != "origin")


_DTYPES = {"offset": np.uint32, "dur": np.uint16, "user": np.int32, "kind": np.int8, "charging": np.uint32,
           "seq": np.uint32, "cause": np.int8, "rat": np.int8, "up": np.uint32, "down": np.uint32}


def _settings(pop: Population) -> list[PgwSettings]:
    """The PGW settings of each of the population's PLMNs (pop.plmns)."""
    return [PGW_SETTINGS.get("".join(p), UNKNOWN_PGW) for p in pop.plmns]


def internet_apns(pop: Population) -> ByCode:
    """Each user's internet APN, as an index into APNS (by the user's network: ``[users]``)."""
    return ByCode(np.array([APNS.index(s.apn) for s in _settings(pop)], dtype=np.int64), pop.plmn_code)


class _Users:
    """What the chain simulation needs of each user."""

    def __init__(self, pop: Population):
        n = pop.n
        w = np.zeros(n)
        w[pop.zone_order] = np.diff(pop.user_cum[1][0])  # data activity (weekdays): traffic.build_population
        self.weight = w
        plmn = ["".join(p) for p in pop.plmns]
        settings = _settings(pop)
        code = pop.plmn_code
        self.time_limit = ByCode(np.array([s.time_limit_s for s in settings], dtype=np.int64), code)
        self.volume_limit = ByCode(np.array([s.volume_limit_bytes for s in settings], dtype=np.float64), code)
        country = {op.plmn: op.country for op in OPERATORS}
        monthly = np.array([MONTHLY_GB.get(country.get(p, ""), MONTHLY_GB_OTHER) for p in plmn])
        # Volume factor: data activity to a small power, scaled so that the mean over devices
        # drawn by activity (as pairs are) is 1 in each country.
        rate = np.zeros(n)
        for c in np.flatnonzero(np.bincount(code)).tolist():  # the codes in use (np.unique would import numpy.ma)
            sel = (code == c) & (w > 0)
            if sel.any():
                f = (w[sel] / w[sel].mean()) ** ACTIVITY_EXPONENT
                rate[sel] = f / (np.sum(w[sel] * f) / np.sum(w[sel]))
        rate *= (monthly * 1e9 / MONTH_S)[code]  # (in place: a base of millions; x * y is y * x)
        self.rate = rate  # bytes a second at the curve's mean
        radio = pop.radio
        self.nr = radio.nr
        self.nr_share = radio.nr_share
        self.volte = radio.volte
        self.home_rat = np.where(radio.lte, EUTRAN, np.where(radio.utran, UTRAN, GERAN)).astype(np.int8)
        self.zone = pop.zone_of
        self.clock = pop.clock


class _CurveTable:
    """The data daily and weekly curve (mean 1) in each zone's local time, at the middles of short
    bins over a window (and a little around it), looked up by bin: the simulation asks for it at
    every step."""

    def __init__(self, us: _Users, s_ms: int, e_ms: int):
        lo, hi = s_ms - 2 * 3_600_000, e_ms + 8 * 3_600_000
        self.bin = max(300_000, -(-(hi - lo) // 200_000))
        self.lo = lo
        n_bins = -(-(hi - lo) // self.bin) + 1
        mids = lo + np.arange(n_bins, dtype=np.int64) * self.bin + self.bin // 2
        zones = len(us.clock.names)
        local = us.clock.local_ms(np.repeat(np.arange(zones), n_bins), np.tile(mids, zones))
        hours = (local % DAY_MS) / 3_600_000.0
        dow = (local // DAY_MS + 3) % 7
        self.table = (_daily(_CURVE, hours) * _WEEK[dow]).reshape(zones, n_bins)
        self.zone = us.zone

    def __call__(self, u: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        return self.at(self.zone[u], t_ms)

    def at(self, zone: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        at = np.clip((t_ms - self.lo) // self.bin, 0, self.table.shape[1] - 1)
        return self.table[zone, at]


def _begin(us: _Users, keys: np.ndarray, u: np.ndarray, kind: np.ndarray, s_ms: int, e_ms: int) -> dict:
    """The state of the chains of pairs (keys, u, kind) before their first partial in [s_ms, e_ms):
    the partial in progress at the window's start closes somewhere in its first time limit (so
    every chain has a partial in the window), its bearer set up some time before."""
    T = us.time_limit[u]
    mms = kind == MMS
    window_s = max((e_ms - s_ms) // 1000, 1)
    u0, u1, u2, u3 = (_uniform(keys, 0, d) for d in range(4))
    t = s_ms + (np.floor(u0 * np.minimum(T, window_s)) * 1000).astype(np.int64)
    life = _lifetime(kind, u1)
    age = life * u2
    seq = np.where(mms, 1, 2 + np.floor(age / (0.8 * T))).astype(np.int64)
    inst_end = t + (np.maximum(life - age, 1.0) * 1000).astype(np.int64)
    first_mms = s_ms + (np.floor(u0 * min(window_s, 86_400 / MMS_PER_DAY)) * 1000).astype(np.int64)
    t = np.where(mms, first_mms, t)
    five_g = us.nr[u] & ~mms
    rat = np.where(five_g & (u3 < us.nr_share[u]), NR, us.home_rat[u]).astype(np.int8)
    return {"t": t, "seq": seq, "inst_end": inst_end, "rat": rat, "inst": np.zeros(len(keys), dtype=np.int64)}


def _chains(us: _Users, keys: np.ndarray, u: np.ndarray, kind: np.ndarray) -> dict:
    """What a chain's steps need of its pair, made once per chain."""
    mms = kind == MMS
    return {"keys": keys, "kind": kind, "mms": mms, "internet": kind == INTERNET, "zone": us.zone[u],
            "d_time": np.where(mms, 1e12, us.time_limit[u].astype(np.float64)),
            "five_g": us.nr[u] & ~mms, "share": us.nr_share[u], "rate": us.rate[u],
            "volume_limit": us.volume_limit[u], "home_rat": us.home_rat[u]}


def _open(curve: _CurveTable, c: dict, state: dict, step, volumes: bool = True) -> tuple[dict, dict]:
    """The next partial of each chain (``c``, see _chains) in ``state``, its ``step``-th (a number,
    or one per chain): its columns (start and inst, and with ``volumes`` dur, seq, cause, rat, up
    and down), and the chains' state after it.  Every number comes from (key, step), so a chain's
    partials do not depend on which other chains are simulated beside it."""
    t, seq, inst_end, rat, inst = (state[k] for k in ("t", "seq", "inst_end", "rat", "inst"))
    keys, kind, mms, internet, five_g, share = c["keys"], c["kind"], c["mms"], c["internet"], c["five_g"], c["share"]
    r = _Draws(keys, step)
    r.make((0, 1, 2, 4) if volumes else (0, 1, 2))
    # Closing candidates (seconds), in the order of priority: release, time, volume, node, RAT.
    big = np.float64(1e12)
    d_rel = np.maximum((inst_end - t) // 1000, 1).astype(np.float64)
    noise = _lognormal(r[0], np.exp(-NOISE_SIGMA**2 / 2), NOISE_SIGMA)
    rate = c["rate"] * noise
    rate_open = rate * curve.at(c["zone"], t)
    d_vol = np.where(internet & (rate_open > 0), np.ceil(c["volume_limit"] / np.maximum(rate_open, 1e-9)), big)
    d_node = np.where(mms, big, np.ceil(-np.log(r[1]) * 3600 / NODE_CHANGE_PER_H))
    switch = np.where(rat == NR, 1 - share, share) * RAT_SWITCH_PER_H / 3600
    d_rat = np.where(five_g & (switch > 0), np.ceil(-np.log(r[2]) / np.maximum(switch, 1e-12)), big)
    cands = np.stack([d_rel, c["d_time"], d_vol, d_node, d_rat])
    which = np.argmin(cands, axis=0)
    dur = np.maximum(cands.min(axis=0), 1).astype(np.int64)
    released = which == 0
    ri = np.flatnonzero(released)
    part = {"start": t, "inst": inst}
    if volumes:  # what the record says beyond when it opens (not needed to count partials)
        cause = np.array([NORMAL, TIME, VOLUME, NODE, RAT], dtype=np.int8)[which]
        cause[ri] = np.where(r.at(3, ri) < ABNORMAL_SHARE, ABNORMAL, cause[ri])
        part.update(dur=dur, seq=seq, cause=cause, rat=rat)
        mid = t + dur * 500
        total = np.where(internet, np.minimum(rate * curve.at(c["zone"], mid) * dur, c["volume_limit"] - 1024),
                         IMS_BYTES_PER_H / 3600 * dur * noise)
        total = np.where(which == 2, c["volume_limit"] - 512 * r[4], total)
        up_share = np.minimum(_lognormal(r[4], UPLINK_SHARE[0], UPLINK_SHARE[1]), 0.9)
        up = total * up_share
        down = total - up
        mi = np.flatnonzero(mms)
        if len(mi):  # an MMS bearer carries one message, sent (uplink) or received (downlink)
            size = np.minimum(_lognormal(r.at(5, mi), MMS_BYTES[0], MMS_BYTES[1]), MMS_BYTES[2])
            sent = r.at(3, mi) < 0.5
            up[mi] = np.where(sent, size, size * 0.02)
            down[mi] = np.where(sent, size * 0.02, size)
        part["up"] = np.maximum(up, 256).astype(np.uint32)
        part["down"] = np.maximum(down, 512).astype(np.uint32)
    # The next partial: of the same bearer, or of the next one after a release.
    close = t + dur * 1000
    t = close
    if len(ri):
        m_r = mms[ri]
        gap = np.where(m_r, -np.log(r.at(1, ri)) * 86_400 / MMS_PER_DAY,
                       np.minimum(_lognormal(r.at(5, ri), REATTACH_S[0], REATTACH_S[1]), REATTACH_S[2]))
        t = close.copy()
        t[ri] = close[ri] + (np.ceil(np.maximum(gap, 1)) * 1000).astype(np.int64)  # whole seconds
        inst_end = inst_end.copy()
        inst_end[ri] = t[ri] + (_lifetime(kind[ri], r.at(2, ri)) * 1000).astype(np.int64)
    rat = np.where(released, np.where(five_g & (r[0] < share), NR, c["home_rat"]),
                   np.where(which == 4, np.where(rat == NR, EUTRAN, NR), rat)).astype(np.int8)
    return part, {"t": t, "seq": np.where(released, 1, seq + 1), "inst_end": inst_end, "rat": rat,
                  "inst": inst + released}


class _Marks:
    """The states of chains at some times (``times``, sorted, inside the window), kept while the
    chains are simulated: a chain's state at time g is the one after every partial opening before
    g (its next partial opens at g or later), with ``step`` the partials opened so far.  A process
    that builds a later chunk starts from the state at the last mark before it (BearerRun.to_mark)
    instead of simulating every chain from the window's start."""

    def __init__(self, times: np.ndarray, n: int):
        self.times = times
        self.state = {k: np.zeros((len(times), n), dtype=dt) for k, dt in _MARK_DTYPES.items()}
        self.filled = np.zeros(n, dtype=np.int64)  # per chain: its marks with a state so far
        self.due = np.full(n, times[0] if len(times) else _NEVER)  # per chain: the time of the next

    def record(self, chain: np.ndarray, step: int, state: dict) -> None:
        """Chains ``chain`` (places in the arrays) are in ``state`` after ``step`` partials: it is
        their state at their marks due up to the state's time (that of their next partial)."""
        t = state["t"]
        hit = np.flatnonzero(t >= self.due[chain])
        if not len(hit):
            return
        c, lo = chain[hit], self.filled[chain[hit]]
        hi = np.searchsorted(self.times, t[hit], side="right")
        n = hi - lo  # marks given this state, per chain (more than one when steps are longer than marks apart)
        rows = np.repeat(np.arange(len(hit)), n)
        at, cols = lo[rows] + np.arange(len(rows)) - np.repeat(np.cumsum(n) - n, n), c[rows]
        for k, arr in self.state.items():
            arr[at, cols] = step if k == "step" else state[k][hit[rows]]
        self.filled[c] = hi
        self.due[c] = np.where(hi < len(self.times), self.times[np.minimum(hi, len(self.times) - 1)], _NEVER)


# A mark's state, compact (the run's state is int64 but for the RAT); ``step`` the partials opened.
_MARK_DTYPES = {"t": np.int64, "seq": np.uint32, "inst_end": np.int64, "rat": np.int8, "inst": np.uint32,
                "step": np.uint32}
_NEVER = np.iinfo(np.int64).max
MARK_ENTRIES = 1 << 19  # (mark, chain) states kept at most, about (15 MB): fewer marks for many chains


def _simulate(us: _Users, keys: np.ndarray, u: np.ndarray, kind: np.ndarray, s_ms: int, e_ms: int,
              curve: _CurveTable, marks: _Marks | None = None, volumes: bool = False,
              size: int = 0) -> tuple[dict, np.ndarray]:
    """When the chains of pairs (keys, u, kind) open their partials in [s_ms, e_ms), in step order
    (so each pair's in time order): ``pair`` (the pair's place in the arguments), ``step`` (the
    partial's place in its chain, from 1) and ``start``, and with ``volumes`` the rest of each
    partial (see _open); and each pair's bearer instances.  With ``marks``, each chain's state at
    the marks' times is kept in it.  ``size``: about how many partials (room made for them)."""
    state = _begin(us, keys, u, kind, s_ms, e_ms)
    chains = _chains(us, keys, u, kind)
    pair = np.arange(len(keys), dtype=np.int32)
    if marks is not None:
        marks.record(pair, 0, state)
    last_inst = np.full(len(keys), -1, dtype=np.int64)  # of each pair's last partial so far
    out = _Growing({**_SIM_DTYPES, **(_PARTIAL_DTYPES if volumes else {})}, size)
    step = 0
    while True:
        alive = state["t"] < e_ms
        if not alive.all():
            keep = np.flatnonzero(alive)
            if not len(keep):
                break
            pair = pair[keep]
            state = {name: col[keep] for name, col in state.items()}
            chains = {name: col[keep] for name, col in chains.items()}
        step += 1
        part, state = _open(curve, chains, state, step, volumes)
        if marks is not None:
            marks.record(pair, step, state)
        last_inst[pair] = part["inst"]
        out.add(len(pair), pair=pair, step=step, **part)
    return out.columns(), last_inst + 1


class _Growing:
    """Columns written a piece at a time into arrays that grow by doubling: a few big allocations
    (given back when freed), not a list of small ones per step (which stay in the heap)."""

    def __init__(self, dtypes: dict, size: int):
        self.cols = {k: np.empty(max(size, 16), dtype=dt) for k, dt in dtypes.items()}
        self.n = 0

    def add(self, m: int, **pieces) -> None:
        """``m`` more rows: each column's piece (an array, or one value for all of them)."""
        have = len(self.cols["start"])
        if self.n + m > have:
            size = max(2 * have, self.n + m)
            for k, v in self.cols.items():
                grown = np.empty(size, dtype=v.dtype)
                grown[:self.n] = v[:self.n]
                self.cols[k] = grown
        for k, v in self.cols.items():
            v[self.n:self.n + m] = pieces[k]
        self.n += m

    def columns(self) -> dict:
        return {k: v[:self.n] for k, v in self.cols.items()}


def _lifetime(kind: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Seconds a bearer of ``kind`` lives (MMS bearers: see MMS_SECONDS)."""
    out = np.empty(len(kind))
    for k, (median, sigma, cap) in LIFETIME_H.items():
        sel = kind == k
        out[sel] = np.clip(_lognormal(u[sel], median * 3600, sigma), 60, cap * 3600)
    sel = kind == MMS
    out[sel] = np.maximum(_lognormal(u[sel], *MMS_SECONDS), 1)
    return out


def _expected(us: _Users, u: np.ndarray, kind: np.ndarray, window_s: float) -> np.ndarray:
    """About how many partials a pair's chain has in a window (to size the blocks simulated)."""
    per_s = 1 / us.time_limit[u] + (RAT_SWITCH_PER_H * 0.5 + NODE_CHANGE_PER_H) / 3600
    return np.where(kind == MMS, window_s * MMS_PER_DAY / 86_400, window_s * per_s) + 1


class _FirstPairs:
    """The (user, kind) pairs in the order of their keys (smallest first, ties in the order of the
    pairs), with the running sum of their chains' expected partials: at first only the pairs a file of
    ``count`` records is likely to reach (those with keys up to a threshold: the same first pairs, in
    the same order, as sorting all of them gives), all of them once it needs more (``all``).  For a base
    of millions, no sort of tens of millions of keys, and no arrays of them but the keys."""

    def __init__(self, us, key: np.ndarray, pairs, window_s: float, count: int):
        self.us, self.key, self.pairs, self.window_s = us, key, pairs, window_s
        mean = sum(float(np.sum(_expected(us, *pairs(np.arange(b, min(b + PAIRS_A_BLOCK, len(key)))), window_s)))
                   for b in range(0, len(key), PAIRS_A_BLOCK)) / len(key)
        want = int(FIRST_PAIRS_MARGIN * (2 * count + 2 * BLOCK_PARTIALS + 4) / mean) + FIRST_PAIRS_MIN
        if not FIRST_PAIRS or want >= len(key) // 2:
            self._make(np.argsort(key, kind="stable"), complete=True)
            return
        step = max(1, len(key) // (1 << 20))  # a sample of the keys gives the threshold
        sample = np.sort(key[::step])
        at = min(len(sample) - 1, 2 * -(-want // step))
        while True:
            chosen = np.flatnonzero(key <= sample[at])
            if len(chosen) >= want or at == len(sample) - 1:
                break
            at = min(len(sample) - 1, 2 * at)
        self._make(chosen[np.argsort(key[chosen], kind="stable")], complete=len(chosen) == len(key))

    def _make(self, order: np.ndarray, complete: bool) -> None:
        self.complete = complete
        if complete:
            self.key = None
        self.pu, self.pk = np.empty(len(order), dtype=np.int32), np.empty(len(order), dtype=np.int8)
        self.expected_cum = np.empty(len(order))
        for b in range(0, len(order), PAIRS_A_BLOCK):
            u, k = self.pairs(order[b:b + PAIRS_A_BLOCK])
            self.pu[b:b + PAIRS_A_BLOCK], self.pk[b:b + PAIRS_A_BLOCK] = u, k
            self.expected_cum[b:b + PAIRS_A_BLOCK] = _expected(self.us, u, k, self.window_s)
        np.cumsum(self.expected_cum, out=self.expected_cum)

    def all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.complete:
            self._make(np.argsort(self.key, kind="stable"), complete=True)
        return self.pu, self.pk, self.expected_cum


FIRST_PAIRS = True  # False: sort every pair at once (the same order; tests compare the two)
FIRST_PAIRS_MIN = 1 << 16
FIRST_PAIRS_MARGIN = 4.0  # times the pairs a file is expected to reach
PAIRS_A_BLOCK = 1 << 18  # (user, kind) pairs worked on at a time while chains are chosen
BLOCK_PARTIALS = 400_000  # chains simulated at once while they are chosen: about this many partials (memory)
KEEP_PARTIALS = 400_000  # a file of at most this many data records keeps them from the choice (12 MB)
# The columns of simulated partials: when they open, and the rest of them (_open; as Partials has them).
_SIM_DTYPES = {"pair": np.int32, "step": np.int32, "start": np.int64}
_PARTIAL_DTYPES = {"inst": np.int64, "dur": np.uint16, "seq": np.uint32, "cause": np.int8, "rat": np.int8,
                   "up": np.uint32, "down": np.uint32}


@dataclass
class BearerPlan:
    """The chains of a CDR file's data records: a few numbers per chain, none per record.  The
    chains are simulated again, in time order, by :class:`BearerRun`."""

    start_ms: int
    end_ms: int
    count: int  # partial records of all the chains
    charging_base: int
    keys: np.ndarray  # uint64: each chain's random numbers come from it
    user: np.ndarray  # int32
    kind: np.ndarray  # int8, KINDS
    first_charging: np.ndarray  # int64: the chain's first bearer's number among the run's bearers
    last_partials: int  # the last chain gives only its first partials: this many
    before: np.ndarray  # the partials that open before each of the times asked for (``edges``)
    marks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # times (see _Marks)
    mark_taken: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # partials before each
    mark_state: dict = field(default_factory=dict)  # each chain's state at each mark: (mark, chain) arrays
    partials: Partials | None = None  # all of them, sorted by start, when there are few (KEEP_PARTIALS)


def choose_chains(pop: Population, seed: int, start_ms: int, end_ms: int, count: int, charging_base: int = 0,
                  edges: np.ndarray | None = None, marks: int = 0) -> BearerPlan:
    """The bearer chains whose partial records in [start_ms, end_ms) are the file's ``count``
    data records: (user, bearer kind) pairs drawn without replacement by the user's data activity,
    taken until their partials reach ``count`` exactly (the last chain cut short).  ``edges``:
    sorted times at which to count the partials that open before (``BearerPlan.before``).
    ``marks``: at most this many times, evenly spread over the window, at which the chains' states
    are kept (fewer when the chains are many: MARK_ENTRIES), so that a BearerRun can start there.
    A file of at most KEEP_PARTIALS data records keeps them all instead (``BearerPlan.partials``:
    the chains simulated once, with their volumes; no marks)."""
    edges = np.zeros(0) if edges is None else np.asarray(edges)
    empty = np.zeros(0, dtype=np.int64)
    if count <= 0:
        return BearerPlan(start_ms, end_ms, 0, charging_base, empty.astype(np.uint64), empty.astype(np.int32),
                          empty.astype(np.int8), empty, 0, np.zeros(len(edges), dtype=np.int64))
    us = _Users(pop)
    w = us.weight
    some = np.flatnonzero(w > 0).astype(np.int32)  # (small types and a block at a time: a base of millions)
    users = [some, some[us.volte[some]], some]  # the pairs: each kind's users, kind after kind
    if not len(some):
        raise ValueError("no user has data activity")
    starts = np.cumsum([0] + [len(x) for x in users])

    def pairs(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (user, kind) of pairs ``at``
        kind = (np.searchsorted(starts, at, side="right") - 1).astype(np.int8)
        user = np.empty(len(at), dtype=np.int32)
        for k, x in enumerate(users):
            sel = kind == k
            user[sel] = x[at[sel] - starts[k]]
        return user, kind

    # Weighted sampling without replacement (Efraimidis and Spirakis 2006): the largest log(u)/w first.
    key = np.empty(starts[-1])
    for b in range(0, starts[-1], PAIRS_A_BLOCK):
        u, k = pairs(np.arange(b, min(b + PAIRS_A_BLOCK, starts[-1])))
        key[b:b + PAIRS_A_BLOCK] = -(np.log(_uniform(_pair_keys(seed, u, k), 0, 0)) / (w[u] * _KIND_WEIGHT[k]))
    window_s = (end_ms - start_ms) / 1000
    curve = _CurveTable(us, start_ms, end_ms)
    first = _FirstPairs(us, key, pairs, window_s, count)
    del key
    pu, pk, expected_cum = first.pu, first.pk, first.expected_cum
    chains: dict[str, list] = {"keys": [], "user": [], "kind": [], "first_charging": []}
    hist = np.zeros(len(edges) + 1, dtype=np.int64)
    # About how many chains the file takes: no more marks than MARK_ENTRIES states of them.
    if count > expected_cum[-1]:
        pu, pk, expected_cum = first.all()
    n_chains = (int(np.searchsorted(expected_cum, count)) + 1 if count <= expected_cum[-1]
                else len(pu) * -(-count // int(expected_cum[-1])))
    keep = count <= KEEP_PARTIALS
    n_marks = min(marks, MARK_ENTRIES // n_chains) if end_ms - start_ms > 1 and not keep else 0
    times = start_ms + (np.arange(1, n_marks + 1) * (end_ms - start_ms)) // (n_marks + 1)
    mark_blocks: list[dict] = []
    kept: list[dict] = []  # with ``keep``: each block's partials
    mark_hist = np.zeros(n_marks + 1, dtype=np.int64)
    have, at, rnd, instances, last = 0, 0, 0, 0, 0
    while have < count:
        if at == len(pu):  # every pair taken: another round of chains (only when the window is short)
            at, rnd = 0, rnd + 1
        base = expected_cum[at - 1] if at else 0.0
        target = base + min(1.2 * (count - have) + 4, BLOCK_PARTIALS)
        if target > expected_cum[-1]:  # past the first pairs: all of them from here on
            pu, pk, expected_cum = first.all()
        stop = int(np.searchsorted(expected_cum, target)) + 1
        stop = min(max(stop, at + 1), len(pu))
        u, kind = pu[at:stop].astype(np.int64), pk[at:stop].astype(np.int64)
        keys = _pair_keys(seed, u, kind, rnd) ^ np.uint64(_GOLDEN)
        block_marks = _Marks(times, len(u)) if n_marks else None
        size = int(1.1 * (expected_cum[stop - 1] - base))
        sim, n_inst = _simulate(us, keys, u, kind, start_ms, end_ms, curve, block_marks, keep, size)
        per_pair = np.cumsum(np.bincount(sim["pair"], minlength=len(u)))
        n = len(u)
        if per_pair[-1] >= count - have:  # the block completes the file: its last chain cut short
            n = int(np.searchsorted(per_pair, count - have)) + 1
            last = count - have - (int(per_pair[n - 2]) if n > 1 else 0)
            taken = (sim["pair"] < n - 1) | ((sim["pair"] == n - 1) & (sim["step"] <= last))
            sim = {k: v[taken] for k, v in sim.items()}
        # Charging ids: the bearer instances numbered in the order of the chains (each chain's
        # instances 0, 1, 2 ...; the last chain's count no more, nothing comes after it).
        n_inst = n_inst[:n]
        if keep:
            sim["chain"] = sum(len(k) for k in chains["keys"]) + sim.pop("pair").astype(np.int64)
            kept.append(sim)
        chains["first_charging"].append(instances + np.cumsum(n_inst) - n_inst)
        instances += int(n_inst.sum())
        chains["keys"].append(keys[:n])
        chains["user"].append(u[:n].astype(np.int32))
        chains["kind"].append(kind[:n].astype(np.int8))
        if len(edges):
            hist += np.bincount(np.searchsorted(edges, sim["start"], side="right"), minlength=len(edges) + 1)
        if block_marks is not None:
            mark_blocks.append({k: v[:, :n] for k, v in block_marks.state.items()})
            mark_hist += np.bincount(np.searchsorted(times, sim["start"], side="right"), minlength=n_marks + 1)
        have += len(sim["start"])
        at = stop
        del sim
    cols = {k: np.concatenate(v) for k, v in chains.items()}
    mark_state = ({k: np.concatenate([b[k] for b in mark_blocks], axis=1) for k in _MARK_DTYPES}
                  if mark_blocks else {})
    plan = BearerPlan(start_ms, end_ms, count, charging_base, last_partials=last,
                      before=np.cumsum(hist)[:len(edges)], marks=times.astype(np.int64),
                      mark_taken=np.cumsum(mark_hist)[:n_marks], mark_state=mark_state, **cols)
    if keep:
        plan.partials = _partials(plan, {k: np.concatenate([b[k] for b in kept]) for k in kept[0]})
    return plan


def _partials(plan: BearerPlan, cols: dict) -> Partials:
    """Partials (columns of _open and their chain), sorted by start and, at the same second, by
    chain (the order in which the chains were chosen)."""
    offset = (cols.pop("start") - plan.start_ms) // 1000
    order = np.lexsort((cols["chain"], offset))
    offset = offset[order]
    cols = {k: v[order] for k, v in cols.items()}
    chain = cols.pop("chain")
    offset_dtype = np.int64 if (plan.end_ms - plan.start_ms) // 1000 >= 2**32 else np.uint32
    return Partials(
        plan.start_ms, offset=offset.astype(offset_dtype), dur=cols["dur"],
        user=plan.user[chain], kind=plan.kind[chain],
        charging=((plan.first_charging[chain] + cols["inst"] + plan.charging_base) % 2**32).astype(np.uint32),
        seq=cols["seq"], cause=cols["cause"], rat=cols["rat"], up=cols["up"], down=cols["down"])


class BearerRun:
    """The partials of a plan's chains in time order, taken a piece at a time: the chains are
    simulated forward as far as asked, so memory holds a few numbers per chain and the partials
    of one piece, never all of them (or, when the plan keeps its partials, a slice of them).
    Pieces are taken in order (each process of a run keeps its own BearerRun; ``to_mark`` jumps
    ahead); ``taken`` counts the partials taken or skipped so far."""

    def __init__(self, pop: Population, plan: BearerPlan):
        self.plan = plan
        self.kept = plan.partials  # all of them already (a small file): taken a slice at a time
        if self.kept is not None:
            self.taken, self.horizon, self.pending = 0, plan.start_ms, []
            return
        self.us = _Users(pop)
        self.curve = _CurveTable(self.us, plan.start_ms, plan.end_ms)
        self.state = _begin(self.us, plan.keys, plan.user, plan.kind, plan.start_ms, plan.end_ms)
        self.chains = _chains(self.us, plan.keys, plan.user, plan.kind)
        self.step = np.zeros(len(plan.keys), dtype=np.int64)  # partials opened so far, per chain
        self.limit = np.full(len(plan.keys), np.iinfo(np.int64).max)
        if len(self.limit):
            self.limit[-1] = plan.last_partials
        self.alive = (self.state["t"] < plan.end_ms) & (self.limit > 0)
        self.horizon = plan.start_ms  # every partial opening before it is simulated
        self.pending: list[dict] = []  # simulated, not taken yet
        self.taken = 0
        self.offset_dtype = np.int64 if (plan.end_ms - plan.start_ms) // 1000 >= 2**32 else np.uint32

    def to_mark(self, j: int) -> None:
        """Go to the plan's mark ``j``: the chains' states there, kept when they were chosen (no
        simulation; whatever was pending is dropped)."""
        plan = self.plan
        self.state = {k: v[j].astype(np.int8 if k == "rat" else np.int64)
                      for k, v in plan.mark_state.items() if k != "step"}
        self.step = plan.mark_state["step"][j].astype(np.int64)
        self.alive = (self.state["t"] < plan.end_ms) & (self.step < self.limit)
        self.horizon = int(plan.marks[j])
        self.pending = []
        self.taken = int(plan.mark_taken[j])

    def until(self, end_ms: int, skip: bool = False) -> Partials:
        """The partials opening before ``end_ms`` not taken yet, sorted by start; with ``skip``
        only counted (their volumes are not worked out) and an empty Partials returned."""
        if self.kept is not None:
            s = self.plan.start_ms
            return self._slice(int(np.searchsorted(self.kept.offset, -(-(end_ms - s) // 1000))), skip, end_ms)
        self._simulate_to(end_ms, volumes=not skip)
        return self._take(end_ms=end_ms, skip=skip)

    def first(self, n: int) -> Partials:
        """The next ``n`` partials by start."""
        if self.kept is not None:
            return self._slice(self.taken + n)
        span = self.plan.end_ms - self.plan.start_ms
        step = max(1000, span * n // max(self.plan.count, 1))
        while self._pending() < n and self.horizon < self.plan.end_ms:
            self._simulate_to(self.horizon + step)
            step *= 2
        return self._take(n=n)

    def _slice(self, k: int, skip: bool = False, end_ms: int | None = None) -> Partials:
        """The kept partials from the next one to the ``k``-th (none with ``skip``)."""
        k = max(min(k, len(self.kept)), self.taken)
        part = Partials.empty() if skip else self.kept[self.taken:k]
        self.taken = k
        if end_ms is not None:
            self.horizon = max(self.horizon, min(end_ms, self.plan.end_ms))
        return part

    def _pending(self) -> int:
        return sum(len(p["chain"]) for p in self.pending)

    def _simulate_to(self, end_ms: int, volumes: bool = True) -> None:
        """Open every partial that starts before ``end_ms`` (into ``pending``).  The chains that
        have one are stepped together, their columns gathered once and written back as each
        chain gets there (a long window of few chains takes many steps a chunk)."""
        plan, state = self.plan, self.state
        end_ms = min(end_ms, plan.end_ms)
        sel = np.flatnonzero(self.alive & (state["t"] < end_ms))
        chains, now = {k: v[sel] for k, v in self.chains.items()}, {k: v[sel] for k, v in state.items()}
        step, limit = self.step[sel], self.limit[sel]
        while len(sel):
            step = step + 1
            part, now = _open(self.curve, chains, now, step, volumes)
            part["chain"] = sel
            self.pending.append(part)
            going = (now["t"] < plan.end_ms) & (step < limit)
            more = going & (now["t"] < end_ms)
            if more.all():
                continue
            done = np.flatnonzero(~more)  # these are there (or at their end): their state written back
            at = sel[done]
            for k, v in now.items():
                state[k][at] = v[done]
            self.step[at], self.alive[at] = step[done], going[done]
            keep = np.flatnonzero(more)
            sel, step, limit = sel[keep], step[keep], limit[keep]
            chains, now = {k: v[keep] for k, v in chains.items()}, {k: v[keep] for k, v in now.items()}
        self.horizon = max(self.horizon, end_ms)

    def _take(self, end_ms: int | None = None, n: int | None = None, skip: bool = False) -> Partials:
        if skip or not self.pending:  # skip: everything pending opens before end_ms
            self.taken += self._pending()
            self.pending = []
            return Partials.empty()
        cols = {k: np.concatenate([p[k] for p in self.pending]) for k in self.pending[0]}
        self.pending = []
        plan = self.plan
        offset = (cols.pop("start") - plan.start_ms) // 1000
        order = np.lexsort((cols["chain"], offset))  # by start; chains in the order they were chosen
        offset = offset[order]
        cols = {k: v[order] for k, v in cols.items()}
        k = n if n is not None else int(np.searchsorted(offset, -(-(end_ms - plan.start_ms) // 1000)))
        k = min(k, len(offset))
        if k < len(offset):  # the rest stays pending
            rest = {name: v[k:] for name, v in cols.items()}
            rest["start"] = plan.start_ms + offset[k:].astype(np.int64) * 1000
            self.pending = [rest]
        chain = cols.pop("chain")[:k]
        self.taken += k
        return Partials(
            plan.start_ms, offset=offset[:k].astype(self.offset_dtype), dur=cols["dur"][:k].astype(np.uint16),
            user=plan.user[chain], kind=plan.kind[chain],
            charging=((plan.first_charging[chain] + cols["inst"][:k] + plan.charging_base) % 2**32).astype(np.uint32),
            seq=cols["seq"][:k].astype(np.uint32), cause=cols["cause"][:k], rat=cols["rat"][:k],
            up=cols["up"][:k], down=cols["down"][:k])


def choose_bearers(pop: Population, seed: int, start_ms: int, end_ms: int, count: int,
                   charging_base: int = 0) -> Partials:
    """``count`` partial records of whole bearer chains in [start_ms, end_ms), sorted by start,
    all at once (a CDR file takes them a chunk at a time through a BearerRun)."""
    plan = choose_chains(pop, seed, start_ms, end_ms, count, charging_base)
    if not count > 0:
        return Partials.empty()
    return BearerRun(pop, plan).until(end_ms)


# ---------------------------------------------------------------- a stream's partials

STREAM_CAUSES = ((TIME, 0.90), (VOLUME, 0.03), (NODE, 0.03), (RAT, 0.02), (NORMAL, 0.015), (ABNORMAL, 0.005))


class StreamBearers:
    """A stream's data records, each the next partial of its user's internet bearer: per user the
    bearer instance and the next sequence number; mostly time-limit closings."""

    def __init__(self, pop: Population, seed: int):
        self.us = _Users(pop)
        self.seed = seed
        self.inst = np.zeros(pop.n, dtype=np.int32)  # (int32: a base of millions)
        self.next_seq = np.ones(pop.n, dtype=np.int32)
        self._cum = np.cumsum([w for _, w in STREAM_CAUSES])
        self._cum /= self._cum[-1]

    def next(self, rng: np.random.Generator, u: np.ndarray, now_ms: np.ndarray, rat: np.ndarray) -> dict:
        """The next partials of users ``u``, with event times of now as every streamed record has
        (opening at ``now_ms``; in order, a user twice gets two in a row)."""
        us, k = self.us, len(u)
        which = np.minimum(np.searchsorted(self._cum, rng.random(k), side="right"), len(self._cum) - 1)
        cause = np.array([c for c, _ in STREAM_CAUSES], dtype=np.int64)[which]
        cause = np.where((cause == RAT) & ~us.nr[u], TIME, cause)
        T = us.time_limit[u]
        dur = np.where(cause == TIME, T, np.maximum((rng.random(k) * T).astype(np.int64), 1))
        seq = np.empty(k, dtype=np.int64)
        inst = np.empty(k, dtype=np.int64)
        for i, (user, c) in enumerate(zip(u.tolist(), cause.tolist())):
            seq[i], inst[i] = self.next_seq[user], self.inst[user]
            if c in (NORMAL, ABNORMAL):
                self.inst[user] += 1
                self.next_seq[user] = 1
            else:
                self.next_seq[user] += 1
        keys = _pair_keys(self.seed, u, np.zeros(k, dtype=np.int64)) ^ (inst.astype(np.uint64) * np.uint64(_GOLDEN))
        charging = (_mix(keys) >> np.uint64(32)).astype(np.int64)
        noise = rng.lognormal(-NOISE_SIGMA**2 / 2, NOISE_SIGMA, k)
        # at the curve's mean: a stream's values do not depend on the hour it runs at (only its times do)
        total = np.minimum(us.rate[u] * noise * dur, us.volume_limit[u] - 1024)
        total = np.where(cause == VOLUME, us.volume_limit[u] - 512, total)
        up = total * np.minimum(rng.lognormal(np.log(UPLINK_SHARE[0]), UPLINK_SHARE[1], k), 0.9)
        return {"start": now_ms, "dur": dur, "charging": charging, "seq": seq, "cause": cause,
                "kind": np.full(k, INTERNET), "up": np.maximum(up, 256).astype(np.int64),
                "down": np.maximum(total - up, 512).astype(np.int64), "rat": rat}
