"""The traffic model: when events happen, who makes them, whom they talk to, and where.

All of it is built once from the users and a seed; drawing from it takes an explicit
``numpy.random.Generator``.  Nothing here does I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np

from .charging import (
    DATA_S,
    SMS_S,
    VOICE_S,
    Tariffs,
    billing_day,
    country_of_plmns,
    exhaust_column,
)
from .circles import Circles, draw_circles
from .constants import CDR_TYPES, DEFAULT_WEIGHTS, SeedDomain
from .counterparties import USER, Counterparties
from .errors import UserError
from .identifiers import DEVICES, OPERATORS, ims_domain
from .mobility import Anchors, draw_anchors
from .radio import Radio, radio_of
from .roaming import Trips, home_countries
from .timezones import DAY_MS, ZoneClock
from .user_table import UserTable, as_table

# Daily curves of each service in the subscriber's local time, one weight per hour (the value at
# the middle of the hour), after the separate call, SMS and internet series of the Telecom Italia
# Milan data set (Barlacchi et al., Sci. Data 2015; telco-reference.md "The network of 2026"):
# calls and texts are quiet from 01:00 to 06:00 and peak by day; data keeps about 30 % of its peak
# overnight (background traffic) and peaks in the evening.
VOICE_HOURLY = (0.12, 0.06, 0.04, 0.03, 0.03, 0.05, 0.14, 0.38, 0.70, 0.90, 1.00, 1.00,
                0.92, 0.90, 0.93, 0.96, 0.98, 1.00, 0.95, 0.85, 0.70, 0.55, 0.38, 0.22)
SMS_HOURLY = (0.15, 0.07, 0.04, 0.03, 0.03, 0.05, 0.14, 0.40, 0.70, 0.85, 0.92, 0.95,
              0.95, 0.92, 0.90, 0.92, 0.95, 0.98, 1.00, 1.00, 0.95, 0.85, 0.60, 0.32)
DATA_HOURLY = (0.55, 0.42, 0.34, 0.30, 0.30, 0.32, 0.40, 0.52, 0.62, 0.66, 0.70, 0.72,
               0.75, 0.74, 0.73, 0.74, 0.76, 0.80, 0.86, 0.93, 0.98, 1.00, 0.92, 0.75)
# IMS records by SIP method (shares of S-CSCF records), each with its daily curve: INVITEs (calls)
# and MESSAGEs (texts) follow the people; REGISTER, SUBSCRIBE and OPTIONS follow device timers,
# the same at any hour.
FLAT_HOURLY = (1.0,) * 24
IMS_METHODS = (("INVITE", 0.45, VOICE_HOURLY), ("REGISTER", 0.30, FLAT_HOURLY), ("MESSAGE", 0.15, SMS_HOURLY),
               ("SUBSCRIBE", 0.07, FLAT_HOURLY), ("OPTIONS", 0.03, FLAT_HOURLY))
_METHOD_HOURLY = np.array([np.array(c) / np.mean(c) * share for _, share, c in IMS_METHODS])  # (method, hour)
IMS_HOURLY = tuple(_METHOD_HOURLY.sum(axis=0).round(4))
SERVICE_HOURLY = {"voice": VOICE_HOURLY, "data": DATA_HOURLY, "sms": SMS_HOURLY, "voip": VOICE_HOURLY,
                  "ims": IMS_HOURLY}
# Day of week, Monday first, local time: weekend traffic is lower (ibid.).
WEEKDAY = (1.0, 1.0, 1.0, 1.0, 1.03, 0.86, 0.76)

# Heavy-tailed activity across subscribers: Pareto with this shape (telco-reference.md: "a few
# heavy users, many light ones"), capped so one user cannot dominate a small file.
ACTIVITY_PARETO_SHAPE = 1.2
ACTIVITY_CAP = 150.0
# How much each segment uses each CDR type (voice, data, sms, voip, ims), relative to the mix.
TYPE_AFFINITY = {
    ("consumer", "prepaid"): (0.9, 0.7, 1.4, 0.6, 0.8),
    ("consumer", "postpaid"): (1.0, 1.2, 0.9, 1.0, 1.0),
    ("business", "postpaid"): (1.7, 1.0, 0.6, 1.6, 1.4),
    ("business", "prepaid"): (1.5, 0.8, 0.8, 1.2, 1.2),
}
UNLIMITED_DATA = 1.8  # plans with "UNL" in their id use this much more data
BUSINESS_WEEKEND = 0.35  # business lines on weekends

# IMS re-registration: a device refreshes its registration this often, whatever it does (GSMA
# IR.92 leaves the timer to the operator; 3600 s is a common setting).
REGISTER_PERIOD_S = 3600


def parse_weights(text: str | None) -> dict[str, float]:
    """``voice=0.4,data=0.3,...`` to a dict; types left out weigh 0."""
    if text is None:
        return dict(DEFAULT_WEIGHTS)
    weights = {t: 0.0 for t in CDR_TYPES}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise UserError(f"--weights: {part.strip()!r} is not TYPE=WEIGHT (e.g. voice=0.4,data=0.3)")
        if name not in weights:
            raise UserError(f"--weights: unknown CDR type {name!r}; types are {', '.join(CDR_TYPES)}")
        try:
            w = float(value)
        except ValueError:
            raise UserError(f"--weights: {name}={value.strip()!r} is not a number") from None
        if not math.isfinite(w) or w < 0:
            raise UserError(f"--weights: {name} must be a finite number >= 0, got {value.strip()}")
        weights[name] = w
    total = sum(weights.values())
    if total <= 0:
        raise UserError("--weights: the weights sum to zero; give at least one type a positive weight")
    if not math.isfinite(total):  # each is finite but they add up past a float: scale them down
        top = max(weights.values())
        weights = {k: w / top for k, w in weights.items()}
    return weights


def _daily(hourly: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """The daily curve at local hours (fractions too), interpolated between hour midpoints so
    that it has no steps."""
    h0 = np.floor(hours - 0.5).astype(np.int64) % 24
    frac = (hours - 0.5) - np.floor(hours - 0.5)
    return hourly[h0] * (1 - frac) + hourly[(h0 + 1) % 24] * frac


_MINUTES = (np.arange(1440) + 0.5) / 60.0  # the middle of each minute of the day, in hours
# The daily curves at each minute of the day, made once: a lookup instead of an interpolation.
_SERVICE_MINUTE = np.array([_daily(np.array(SERVICE_HOURLY[t]), _MINUTES) for t in CDR_TYPES])  # (type, minute)
_METHOD_MINUTE = np.array([_daily(row, _MINUTES) for row in _METHOD_HOURLY])  # (IMS method, minute)
_WEEKDAY = np.array(WEEKDAY)


class TrafficCurve:
    """When events happen and whose they are.

    Each (time zone, CDR type) pair has its own density over time: the activity of its users for
    that type (lower at their weekend for business lines), times the type's daily curve and the
    weekly curve, in the zone's local time with daylight saving.  With a window, event times
    follow the weighted sum of the types' densities (each type scaled to its weight), and an
    event's type is drawn given its time; without one (a stream of events of now), types follow
    the weights.  Then the zone is drawn given the type and time, and the user given the zone.

    ``times(q)`` maps quantiles in [0, 1) to epoch milliseconds (inverse CDF), monotonically,
    so sorted quantiles give sorted times.
    """

    BIN_MS = 15 * 60 * 1000
    MAX_BINS = 50_000

    def __init__(self, pop: Population, weights: dict[str, float], start_ms: int | None = None,
                 end_ms: int | None = None):
        self.pop = pop
        w = np.array([weights.get(t, 0.0) for t in CDR_TYPES], dtype=float)
        w = np.where(pop.zone_activity[:, :, 0].sum(axis=0) > 0, w, 0.0)  # types no user can make
        if not w.sum():
            raise UserError("none of the users can make the CDR types of --weights (no active user, or no "
                            "device or network for them)")
        self.weights = w / w.sum()
        self.start_ms, self.end_ms = start_ms, end_ms
        self.scale = self.weights  # per type: density scale so that each type gets its weight
        if start_ms is None:
            return
        span = end_ms - start_ms
        bin_ms = max(self.BIN_MS, -(-span // self.MAX_BINS))
        edges = np.append(np.arange(start_ms, end_ms, bin_ms, dtype=np.int64), end_ms)
        mids = (edges[:-1] + edges[1:]) // 2
        local = self.local(mids)
        dens = self.density(mids, local)  # (bin, zone, type)
        per_type = dens.sum(axis=1) * np.diff(edges)[:, None]  # (bin, type)
        mass = per_type.sum(axis=0)
        self.scale = np.divide(self.weights, mass, out=np.zeros_like(mass), where=mass > 0)
        weight = per_type @ self.scale
        cum = np.concatenate(([0.0], np.cumsum(weight)))
        self.cum = cum / cum[-1] if cum[-1] > 0 else np.linspace(0, 1, len(edges))
        self.edges = edges.astype(np.float64)
        # Per bin, made once: the chances of each type, of each zone given the type, and whether it
        # is the weekend in each zone (at the bin's middle; bins are 15 minutes).
        self._bin_edges = edges
        self._type_cum = _row_cum(dens.sum(axis=1) * self.scale)  # (bin, type)
        self._zone_cum = _row_cum(dens.transpose(0, 2, 1))  # (bin, type, zone)
        self._weekend = ((local // DAY_MS + 3) % 7) >= 5  # (bin, zone)

    def local(self, t_ms: np.ndarray) -> np.ndarray:
        """Local times (ms, as if UTC) of instants ``t_ms`` in every zone: (time, zone)."""
        t_ms = np.asarray(t_ms, dtype=np.int64)
        clock = self.pop.clock
        return np.stack([t_ms + clock.zone_offsets(z, t_ms) for z in range(len(self.pop.zones))], axis=1)

    def local_of(self, users: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
        """Local times (ms, as if UTC) of instants ``t_ms`` in the zones of ``users``."""
        return self.pop.clock.local_ms(self.pop.zone_of[users], t_ms)

    def density(self, t_ms: np.ndarray, local: np.ndarray | None = None) -> np.ndarray:
        """Events per unit of time at ``t_ms`` (before the types' scales), (time, zone, type)."""
        local = self.local(t_ms) if local is None else local
        day, ms = np.divmod(local, DAY_MS)
        dow = (day + 3) % 7  # 1970-01-01 was a Thursday
        act = self.pop.zone_activity
        activity = np.where((dow >= 5)[:, :, None], act[None, :, :, 1], act[None, :, :, 0])
        daily = _SERVICE_MINUTE[:, ms // 60_000].transpose(1, 2, 0)  # (time, zone, type)
        return activity * daily * _WEEKDAY[dow][:, :, None]

    def times(self, q: np.ndarray) -> np.ndarray:
        t = np.interp(q, self.cum, self.edges)
        return np.minimum(t.astype(np.int64), self.end_ms - 1) if self.end_ms > self.start_ms else t.astype(np.int64)

    def chunk_times(self, seed: int, chunk_index: int, lo: int, hi: int, count: int) -> np.ndarray:
        """Sorted event times of records ``lo`` to ``hi`` of ``count``: the slice of the curve's
        quantiles [lo/count, hi/count), so chunks are independent and follow each other in time."""
        rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.EVENT_TIMES, seed, chunk_index]))
        q = (lo + np.sort(rng.random(hi - lo)) * (hi - lo)) / count
        return self.times(q)

    def assign(self, rng: np.random.Generator, t_ms: np.ndarray, types: np.ndarray | None = None):
        """Type (unless given), user and weekend flag (in the user's zone) of events at ``t_ms``."""
        n = len(t_ms)
        if self.start_ms is not None:  # a window: the bins' tables
            b = np.clip(np.searchsorted(self._bin_edges, t_ms, side="right") - 1, 0, len(self._type_cum) - 1)
            if types is None:
                types = _pick_cum(rng, self._type_cum[b])
            zone = _pick_cum(rng, self._zone_cum[b, types])
            weekend = self._weekend[b, zone]
        else:  # events of now: the density at each one
            local = self.local(t_ms)
            dens = self.density(t_ms, local)  # (n, zone, type)
            if types is None:
                types = _pick_rows(rng, np.tile(self.weights, (n, 1)))
            zone = _pick_rows(rng, dens[np.arange(n), :, types])
            weekend = ((local[np.arange(n), zone] // DAY_MS + 3) % 7) >= 5
        pop = self.pop
        users = np.zeros(n, dtype=np.int64)
        r = rng.random(n)
        for t in range(len(CDR_TYPES)):
            for we in (0, 1):
                sel = np.flatnonzero((types == t) & (weekend == bool(we)))
                if not len(sel):
                    continue
                cum = pop.user_cum[t][we]
                a, b = pop.zone_bounds[zone[sel]], pop.zone_bounds[zone[sel] + 1]
                lo, hi = cum[a], cum[b]
                at = _search_right(cum, lo + r[sel] * (hi - lo)) - 1
                users[sel] = pop.zone_order[np.clip(at, a, b - 1)]
        return types, users, weekend


def ims_methods(rng: np.random.Generator, local_ms: np.ndarray) -> np.ndarray:
    """SIP methods (indexes into IMS_METHODS) of IMS events at these local times (ms, as if UTC):
    INVITEs by day, REGISTERs at any hour."""
    return _pick_rows(rng, _METHOD_MINUTE[:, (np.asarray(local_ms) % DAY_MS) // 60_000].T)


def _search_right(table: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.searchsorted(table, keys, side="right")``, the keys searched in sorted order: a long
    table (a cumulative weight per user) is then walked in order, about twice as fast for the
    thousands of random keys of a chunk."""
    order = np.argsort(keys)
    out = np.empty(len(keys), dtype=np.intp)
    out[order] = np.searchsorted(table, keys[order], side="right")
    return out


def _row_cum(weights: np.ndarray) -> np.ndarray:
    """Cumulative weights along the last axis, each row scaled to end at 1 (rows of zeros stay 0)."""
    cum = np.cumsum(weights, axis=-1)
    total = cum[..., -1:]
    return np.divide(cum, total, out=np.zeros_like(cum), where=total > 0)


def _pick_cum(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One column per row of cumulative chances (rows of _row_cum)."""
    return np.minimum((cum <= rng.random(len(cum))[:, None]).sum(axis=1), cum.shape[1] - 1)


def _pick_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column per row, with probability in proportion to the row's weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


@dataclass
class Population:
    """The users as arrays, with what the CDR builders need of each, built once per run."""

    n: int
    user_ids: np.ndarray  # text (user_table.TEXT)
    msisdn: np.ndarray  # int64
    imsi: np.ndarray  # text
    imei: np.ndarray  # text
    plmns: list  # the distinct (mcc, mnc) of the users
    plmn_code: np.ndarray  # per user: its (mcc, mnc) in plmns
    home_enb: np.ndarray  # int32
    home_sector: np.ndarray  # uint8
    home_tac: np.ndarray  # int32
    anchors: Anchors  # the work anchors (telco_cdr.mobility)
    trips: Trips  # who is abroad when (telco_cdr.roaming)
    nr: np.ndarray  # 5G-capable device
    radio: Radio  # what each user's device and network offer on the day of the events
    circles: Circles  # whom each user calls and texts (telco_cdr.circles)
    counterparties: Counterparties  # their numbers outside the file (telco_cdr.counterparties)
    nodes: dict  # the network nodes of each place (domain, msc, pgw, node, smsc): key -> list[str], by place
    node_place: np.ndarray  # int32 per user: its place (PLMN and home city) in nodes
    zones: list  # the distinct IANA time zones of the users
    zone_of: np.ndarray  # per user: its zone in zones
    clock: ZoneClock  # UTC offsets of zones
    zone_order: np.ndarray  # user indexes, zone by zone (stable)
    zone_bounds: np.ndarray  # zone z's users are zone_order[zone_bounds[z]:zone_bounds[z + 1]]
    user_cum: list  # [type][weekend] -> cumulative activity over zone_order, with a leading 0
    zone_activity: np.ndarray  # (zone, type, weekend): the summed activity of the zone's users
    register_order: np.ndarray  # the active IMS users, by the second of the hour they re-register at
    register_phase: np.ndarray  # that second, in the same order
    tariffs: Tariffs | None = None  # what rating needs of each user (telco_cdr.charging)


    def contact(self, u: np.ndarray, x: np.ndarray, sms: np.ndarray) -> tuple[np.ndarray, ...]:
        """The contact each of users ``u`` reaches (rank drawn by uniforms ``x``; ``sms``: by a text, so a
        fixed line's owner on a mobile instead): the user it is (-1 for one outside the file), its number,
        its kind (counterparties.KINDS) and its serving network (an index into counterparties.networks,
        or -1)."""
        cp_user, member = self.circles.pick(u, x)
        cps = self.counterparties
        num = self.msisdn[np.maximum(cp_user, 0)]
        kind = np.full(len(u), USER, dtype=np.int8)
        net = cps.plmn_net[self.plmn_code[np.maximum(cp_user, 0)]]
        out = np.flatnonzero(cp_user < 0)
        if len(out):
            k, nm, nt = cps.of(u[out], member[out], texts=sms[out])
            kind[out], num[out], net[out] = k, nm, nt
        return cp_user, num, kind, net


ROWS_A_BLOCK = 1 << 18  # users (or numbers) worked on at a time where a whole base would take too much memory


def smsc_of(pop: Population, users: np.ndarray) -> list[str]:
    """The SMSC address of ``users``: their place's, else (an operator not known here) one of their
    own number range."""
    table = pop.nodes["smsc"]
    return ["+" + (s or str(m // 10_000_000) + "0000000")
            for s, m in zip((table[p] for p in pop.node_place[users].tolist()), pop.msisdn[users].tolist())]


def _capability(table: UserTable, given: np.ndarray, tac_flag: str) -> np.ndarray:
    """A device capability: the user's own flag (``given``: 1, 0, or -1 for none), else the flag of
    the IMEI's TAC in DEVICES, else True."""
    out = given == 1
    unknown = np.flatnonzero(given < 0)
    if len(unknown):
        known = {t: getattr(d, tac_flag) for d in DEVICES for t in d.tacs}
        tacs = table.imei[unknown].astype("S8")  # the first 8 digits
        distinct, which = np.unique(tacs, return_inverse=True)
        out[unknown] = np.array([known.get(t.decode(), True) for t in distinct.tolist()], dtype=bool)[which]
    return out


def build_population(users: UserTable | Sequence[dict], seed: int, on: date | None = None) -> Population:
    """Turn validated users (a UserTable, or records) into a Population; deterministic for (users,
    seed, on).  ``on`` is the day of the events (the window's first day; today by default): which
    2G/3G networks run."""
    table = as_table(users)
    rng = np.random.default_rng(np.random.SeedSequence([SeedDomain.POPULATION, seed]))
    n = table.n
    msisdn, eci, home_tac = table.msisdn, table.eci, table.home_tac
    active, prepaid, business, unlimited = table.active, table.prepaid, table.business, table.unlimited
    nr = table.device_5g
    lte = _capability(table, table.device_4g, "lte")
    volte = _capability(table, table.device_volte, "volte")
    plmns = [tuple(k.split("-")) for k in table.plmn_keys]
    radio = radio_of([m + c for m, c in plmns], table.plmn_code, lte, nr, volte, on or datetime.now(UTC).date())

    # Activity: heavy-tailed across users, zero for suspended lines.
    activity = np.minimum((1.0 - rng.random(n)) ** (-1.0 / ACTIVITY_PARETO_SHAPE), ACTIVITY_CAP)
    activity = np.where(active & radio.served, activity, 0.0)  # no network, no records
    circles = draw_circles(activity, active, table.city_code)

    # IMS re-registration: each active IMS device at its own second of the period (cdrs.REGISTER_PERIOD_S).
    register_order = np.flatnonzero(active & radio.volte & radio.served)
    # Evenly spread over the period in a random order, so that every device is as likely to be due.
    m = len(register_order)
    phase = ((rng.permutation(m) + rng.random(m)) * (REGISTER_PERIOD_S / max(m, 1))).astype(np.int64)
    by_phase = np.argsort(phase, kind="stable")
    register_order, phase = register_order[by_phase].astype(np.int32), phase[by_phase].astype(np.int32)

    # Who makes each type's events, zone by zone (no draw from ``rng`` below).
    zones, zone_of = table.zones, table.zone_code
    zone_order = np.argsort(zone_of, kind="stable").astype(np.int32)
    zone_bounds = np.searchsorted(zone_of[zone_order], np.arange(len(zones) + 1))
    user_cum, zone_activity = [], np.zeros((len(zones), len(CDR_TYPES), 2))
    country = country_of_plmns(table.plmn_keys)[table.plmn_code]
    exhaust = np.empty((n, 3), dtype=np.uint16)  # (charging: when each allowance runs out in a cycle)
    for t in range(len(CDR_TYPES)):  # (in place: a base of millions)
        w = np.empty(n)
        for (segment, plan_type), values in TYPE_AFFINITY.items():
            mask = (business == (segment == "business")) & (prepaid == (plan_type == "prepaid"))
            w[mask] = values[t]
        np.multiply(activity, w, out=w)
        if CDR_TYPES[t] == "data":
            w[unlimited] *= UNLIMITED_DATA
        if CDR_TYPES[t] == "voice":
            w[~radio.can_call] = 0.0  # a non-VoLTE phone where 2G and 3G are gone
        elif CDR_TYPES[t] == "ims":
            w[~radio.volte] = 0.0  # only IMS devices have IMS records
        service = {"voice": VOICE_S, "sms": SMS_S, "data": DATA_S}.get(CDR_TYPES[t])
        if service is not None:  # a weekday's weight: the user's usage of the service against the others'
            exhaust_column(country, _allowance(service), table.plan_code, service, w, exhaust[:, service])
        cums = []
        for we in range(2):
            if we:
                w[business] *= BUSINESS_WEEKEND
            cum = np.empty(n + 1)
            cum[0] = 0.0
            np.cumsum(w[zone_order], out=cum[1:])
            cums.append(cum)
            zone_activity[:, t, we] = np.diff(cum[zone_bounds])
        user_cum.append(cums)
        del w
    nodes, node_place = _network_nodes(table)
    home_enb, home_sector = eci >> 8, (eci & 0xFF).astype(np.uint8)
    return Population(
        n=n, user_ids=table.user_id, msisdn=msisdn, imsi=table.imsi, imei=table.imei, plmns=plmns,
        plmn_code=table.plmn_code, home_enb=home_enb, home_sector=home_sector,
        anchors=draw_anchors(seed, home_enb, home_sector), trips=Trips(seed, home_countries(plmns)),
        home_tac=home_tac, nr=nr, radio=radio, circles=circles,
        counterparties=Counterparties(seed, plmns, table.plmn_code, table.cities, table.city_code, msisdn),
        nodes=nodes, node_place=node_place, zones=list(zones), zone_of=zone_of,
        clock=ZoneClock(list(zones)), zone_order=zone_order, zone_bounds=zone_bounds,
        user_cum=user_cum, zone_activity=zone_activity, register_order=register_order, register_phase=phase,
        tariffs=Tariffs(country=country, prepaid=prepaid, billing_day=billing_day(msisdn), exhaust=exhaust),
    )


def _allowance(service: int) -> np.ndarray:
    """Each user's allowance of ``service`` (charging: voice minutes, SMS, data MB; inf for unlimited)
    by its plan (users.PLANS); a plan not in PLANS has none (0: every unit rated)."""
    from .users import PLANS

    get = {VOICE_S: lambda p: p.voice_minutes, SMS_S: lambda p: p.sms, DATA_S: lambda p: p.data_gb}[service]
    scale = 1000 if service == DATA_S else 1
    values = [np.inf if get(p) is None else get(p) * scale for p in PLANS]
    return np.array(values + [0.0], dtype=np.float32)  # by plan code; -1: the appended 0


def _network_nodes(table: UserTable) -> tuple[dict, np.ndarray]:
    """The network nodes that serve the users (IMS domain, MSC, P-GW, S-CSCF, SMSC), by the
    user's PLMN and home city: made once per (PLMN, city) pair, its place; and each user's place.
    A place without a known operator has no SMSC (None): its users' SMSC number comes from their
    own number range (smsc_of)."""
    # Cities numbered in the order they first appear in the file.
    n_cities = len(table.cities)
    first = np.full(n_cities, len(table.city_code), dtype=np.int64)
    for r0 in range(0, len(table.city_code), ROWS_A_BLOCK):  # (a block at a time: a base of millions)
        block = table.city_code[r0:r0 + ROWS_A_BLOCK]
        np.minimum.at(first, block, np.arange(r0, r0 + len(block)))
    city_rank = np.empty(n_cities, dtype=np.int64)
    city_rank[np.argsort(first, kind="stable")] = np.arange(n_cities)
    plmns = ["".join(k.split("-")) for k in table.plmn_keys]
    # The (PLMN, city) pairs that occur, in order, and each user's among them (by counting: no sort).
    key = table.plmn_code * np.int32(n_cities) + table.city_code
    pairs = np.flatnonzero(np.bincount(key, minlength=len(plmns) * n_cities))
    number = np.zeros(len(plmns) * n_cities, dtype=np.int32)
    number[pairs] = np.arange(len(pairs))
    place = number[key]
    del key
    plmn_op = {op.plmn: op for op in OPERATORS}
    per_place = []  # domain, MSC, P-GW, S-CSCF, SMSC (None: no known operator)
    for pair in pairs.tolist():
        pl, city = plmns[pair // n_cities], int(city_rank[pair % n_cities])
        domain, op = ims_domain(pl[:3], pl[3:]), plmn_op.get(pl)
        per_place.append((domain, f"MSC-{pl}-{city % 40 + 1:02d}", f"10.{int(pl[3:]) % 250}.{city % 8}.{16 + city % 4}",
                          f"scscf{city % 4 + 1}.{domain}", op.smsc if op else None))
    return {name: [p[k] for p in per_place] for k, name in enumerate(("domain", "msc", "pgw", "node", "smsc"))}, place
