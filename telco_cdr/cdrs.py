"""The five CDR types: their fields (a public contract, see schemas/) and their builders.

A chunk of records is drawn at once as numpy arrays from an explicit generator, then
formatted with one template per type and output format.  Strings in the templates come
from tables here or from per-user fragments escaped once (traffic._user_strings), so no
record needs a JSON encoder.
"""

from __future__ import annotations

import json
from itertools import repeat
from dataclasses import dataclass

import numpy as np

from .constants import CDR_TYPES, SeedDomain
from .traffic import CONTACT_SLOTS, CONTACT_ZIPF, Population

VOICE, DATA, SMS, VOIP, IMS = range(5)

# Each type's own fields after the common ones: (name, JSON kind); "s" is a JSON string, "n" a
# number (or a value the builder writes as JSON itself, such as null).
FIELDS: dict[str, list[tuple[str, str]]] = {
    "voice": [
        ("call_direction", "s"), ("calling_number", "s"), ("called_number", "s"),
        ("answer_time", "n"), ("duration_seconds", "n"), ("call_result", "s"),
        ("cause_for_termination", "s"), ("release_cause_code", "n"), ("release_cause", "s"),
        ("msc_id", "s"),
    ],
    "data": [
        ("apn", "s"), ("rat_type", "s"), ("uplink_bytes", "n"), ("downlink_bytes", "n"),
        ("duration_seconds", "n"), ("charging_id", "n"), ("pgw_address", "s"),
        ("cause_for_record_closing", "s"),
    ],
    "sms": [
        ("direction", "s"), ("sender_number", "s"), ("receiver_number", "s"),
        ("message_length", "n"), ("encoding", "s"), ("delivery_status", "s"),
        ("smsc_address", "s"),
    ],
    "voip": [
        ("call_direction", "s"), ("sip_call_id", "s"),
        ("caller_uri", "s"), ("callee_uri", "s"),
        ("codec", "s"), ("duration_seconds", "n"), ("latency_ms", "n"),
        ("jitter_ms", "n"), ("packet_loss_pct", "n"), ("mos", "n"),
    ],
    "ims": [
        ("icid", "s"), ("sip_method", "s"), ("role_of_node", "s"),
        ("ims_service", "s"), ("sip_status_code", "n"), ("duration_seconds", "n"),
        ("node_address", "s"), ("access_network", "s"), ("calling_party_uri", "s"),
        ("called_party_uri", "s"),
    ],
}
COMMON_FIELDS = ("cdr_id", "cdr_type", "record_type", "start_time", "end_time", "user_id", "msisdn", "imsi", "imei",
                 "cell_mcc", "cell_mnc", "cell_id", "tracking_area_code")
CSV_COLUMNS = COMMON_FIELDS + tuple(dict.fromkeys(f for t in CDR_TYPES for f, _ in FIELDS[t]))

# Voice outcomes (telco-reference.md: answer-seizure ratio higher for mobile-to-mobile, drop rate
# 0.1-2 %); causeForTerm values and Q.850 causes from 3GPP TS 32.298 and ITU-T Q.850.
# (call_result, weight, cause_for_termination, Q.850 code, Q.850 text, ringing seconds lo, hi)
VOICE_OUTCOMES = (
    ("answered", 0.785, "normalRelease", 16, "normal call clearing", 3, 15),
    ("dropped", 0.010, "abnormalRelease", 41, "temporary failure", 3, 15),
    ("no_answer", 0.090, "unsuccessfulCallAttempt", 19, "no answer from user", 20, 45),
    ("busy", 0.050, "unsuccessfulCallAttempt", 17, "user busy", 2, 6),
    ("unreachable", 0.045, "unsuccessfulCallAttempt", 18, "no user responding", 5, 15),
    ("failed", 0.020, "unsuccessfulCallAttempt", 34, "no circuit/channel available", 1, 4),
)
# Call duration: log-normal, mu 4.0 and sigma 1.2 give a median near 55 s and a mean near
# 110 s (telco-reference.md, after de Melo et al. ECML-PKDD 2010 and CTIA averages).
VOICE_MU, VOICE_SIGMA, VOICE_MAX_S = 4.0, 1.2, 4 * 3600
TWIN_SHARE = 0.8  # on-net MO calls whose MT twin is in the same output
HOME_CELL_SHARE = 0.6  # events in the user's home cell; the rest in neighbouring cells

# Data sessions: duration log-normal; volume Weibull with shape 0.6 (Oliveira et al., PerCom 2014,
# shapes 0.5-0.9), downlink several times uplink (ibid.; Ericsson Mobility Report).
DATA_MU, DATA_SIGMA, DATA_TIME_LIMIT_S = 5.5, 1.4, 3600
DATA_WEIBULL_SHAPE, DATA_SCALE_BYTES = 0.6, 6_000_000
APNS = (("internet", 0.91), ("mms", 0.03), ("tethering", 0.04), ("iot", 0.02))
# TS 29.274 RAT types: 1 UTRAN, 2 GERAN, 6 EUTRAN, 10 NR.
RAT_5G = (("NR", 0.45), ("EUTRAN", 0.53), ("UTRAN", 0.02))
RAT_4G = (("EUTRAN", 0.93), ("UTRAN", 0.05), ("GERAN", 0.02))

SMS_RESULTS = (("delivered", 0.975), ("failed", 0.01), ("expired", 0.01), ("rejected", 0.005))

# VoIP codecs with their E-model equipment impairment (ITU-T G.113 Appendix I, rounded).
CODECS = (("OPUS", 0.45, 0), ("AMR-WB", 0.20, 2), ("G.711", 0.20, 4), ("G.722", 0.10, 2), ("G.729", 0.05, 11))

# IMS: SIP methods of S-CSCF records and their outcomes (RFC 3261 status codes).
IMS_METHODS = (("INVITE", 0.45), ("REGISTER", 0.30), ("MESSAGE", 0.15), ("SUBSCRIBE", 0.07), ("OPTIONS", 0.03))
IMS_STATUS = {
    "INVITE": ((200, 0.86), (486, 0.05), (480, 0.04), (487, 0.03), (408, 0.01), (503, 0.01)),
    "REGISTER": ((200, 0.95), (401, 0.04), (403, 0.01)),
    "MESSAGE": ((200, 0.55), (202, 0.43), (404, 0.02)),
    "SUBSCRIBE": ((200, 0.97), (489, 0.03)),
    "OPTIONS": ((200, 0.98), (404, 0.02)),
}
IMS_SERVICES = {
    "INVITE": (("VoLTE", 0.8), ("VoWiFi", 0.15), ("ViLTE", 0.05)),
    "REGISTER": (("VoLTE", 0.85), ("VoWiFi", 0.15)),
    "MESSAGE": (("SMSoIP", 0.5), ("RCS", 0.5)),
    "SUBSCRIBE": (("RCS", 1.0),),
    "OPTIONS": (("RCS", 1.0),),
}

# 3GPP TS 32.298 record names per type, for (mobile-terminated, mobile-originated).
RECORD_TYPES = (("mtCallRecord", "moCallRecord"), ("pgwRecord", "pgwRecord"), ("mtSMSRecord", "moSMSRecord"),
                ("voipRecord", "voipRecord"), ("sCSCFRecord", "sCSCFRecord"))

_SLOT_CUM = np.cumsum(np.arange(1, CONTACT_SLOTS + 1) ** -CONTACT_ZIPF)
_SLOT_CUM /= _SLOT_CUM[-1]


def _table(rows, weight_at=1):
    w = np.array([r[weight_at] for r in rows], dtype=float)
    return np.cumsum(w / w.sum())


def _draw(rng, cum, n):
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


_OUTCOME_CUM = _table(VOICE_OUTCOMES)
_APN_CUM, _RAT5_CUM, _RAT4_CUM = _table(APNS), _table(RAT_5G), _table(RAT_4G)
_SMS_CUM, _CODEC_CUM, _METHOD_CUM = _table(SMS_RESULTS), _table(CODECS), _table(IMS_METHODS)


# Fields whose values come together from one table row, rendered once per row of the table
# and filled into a record as one piece (a record then needs fewer format arguments).
# ---------------------------------------------------------------- how records are written
# A record is written as one str.join of literal pieces and column values: every value is
# already text (table lookups for small numbers, per-user pieces escaped once), which is
# about twice as fast as printf-style formatting of the same record.

# Consecutive fields whose values come from one table row, written as one piece.
GROUPS = {"voice": ("call_result", "cause_for_termination", "release_cause_code", "release_cause")}


def layout(kind: str, t: str) -> list[tuple[bool, str]]:
    """The pieces of a type-``t`` record in ``kind`` (json, csv, csv_type): (is_field, text),
    where a field's text is its name and literal pieces are merged."""
    pieces: list[tuple[bool, str]] = []

    def lit(text):
        if pieces and not pieces[-1][0]:
            pieces[-1] = (False, pieces[-1][1] + text)
        elif text:
            pieces.append((False, text))

    def field(name):
        pieces.append((True, name))

    own = dict(FIELDS[t])
    group = GROUPS.get(t, ())
    if kind == "json":
        lit('{"cdr_id":"'), field("cdr_id"), lit('",'), field("type_part"), lit(',"start_time":"')
        field("start_time"), lit('Z","end_time":"'), field("end_time"), lit('Z",'), field("user_part")
        field("cell_id"), lit('","tracking_area_code":'), field("tracking_area_code")
        for name, js in FIELDS[t]:
            if name in group:
                if name == group[0]:
                    lit(","), field("group")  # the piece has the keys
                continue
            lit(f',"{name}":"' if js == "s" else f',"{name}":'), field(name), lit('"' if js == "s" else "")
        lit("}")
        return pieces
    field("cdr_id"), lit(","), field("type_part"), lit(","), field("start_time"), lit("Z,"), field("end_time")
    lit("Z,"), field("user_part"), field("cell_id"), lit(","), field("tracking_area_code")
    for name in (CSV_COLUMNS[len(COMMON_FIELDS):] if kind == "csv" else own):
        if name in group and name != group[0]:
            continue
        lit(",")
        if name in own:
            field("group" if name in group else name)
    return pieces


def csv_header(kind: str, cdr_type: str | None = None) -> str:
    if kind == "csv":
        return ",".join(CSV_COLUMNS)
    return ",".join(COMMON_FIELDS + tuple(n for n, _ in FIELDS[cdr_type]))


@dataclass
class Chunk:
    types: np.ndarray  # CDR type index per record
    users: np.ndarray  # user index per record
    parts: list  # per type present: (type index, positions in the chunk, formatted records)

    @property
    def lines(self) -> list:
        """All formatted records, in event-time order."""
        rows = np.empty(len(self.types), dtype=object)
        for _, idx, lines in self.parts:
            rows[idx] = lines
        return rows.tolist()


class _Pick:
    """A column that is ``table[at]``: a record's text taken from a table of pieces.  Literal
    text beside it in the record is joined onto the table's entries once (``_Columns``), so a
    record is joined from fewer pieces."""

    __slots__ = ("table", "at")

    def __init__(self, table: np.ndarray, at: np.ndarray):
        self.table, self.at = table, at

    def __getitem__(self, idx) -> "_Pick":
        return _Pick(self.table, self.at[idx])

    def values(self) -> np.ndarray:
        return self.table[self.at]


MERGE_MAX = 20_000  # tables up to this size take their neighbouring literal text into their entries


class _Columns:
    """Turns a record layout and its values into the columns that ``b"".join`` zips together,
    merging literal text into neighbouring small tables (cached per table and literal)."""

    def __init__(self):
        self._merged: dict = {}

    def __call__(self, layout: list, values: dict) -> list:
        flat: list = []  # bytes literals, _Picks with [prefix, suffix], arrays
        for is_field, text in layout:
            value = values[text] if is_field else text
            for piece in (value if isinstance(value, tuple) else (value,)):
                if isinstance(piece, bytes):
                    last = flat[-1] if flat else None
                    if isinstance(last, list) and not last[2]:
                        last[2] = piece  # the suffix of the table before
                    elif isinstance(last, bytes):
                        flat[-1] = last + piece
                    else:
                        flat.append(piece)
                elif isinstance(piece, _Pick) and len(piece.table) <= MERGE_MAX:
                    prefix = flat.pop() if flat and isinstance(flat[-1], bytes) else b""
                    flat.append([piece, prefix, b""])
                else:
                    flat.append(piece)
        columns = []
        for piece in flat:
            if isinstance(piece, bytes):
                columns.append(repeat(piece))
            elif isinstance(piece, list):
                pick, prefix, suffix = piece
                columns.append(self._table(pick.table, prefix, suffix)[pick.at].tolist())
            elif isinstance(piece, _Pick):
                columns.append(piece.values().tolist())
            else:
                columns.append(piece.tolist())
        return columns

    def _table(self, table: np.ndarray, prefix: bytes, suffix: bytes) -> np.ndarray:
        if not prefix and not suffix:
            return table
        if len(table) <= 64:  # cheaper to make again than to keep
            return prefix + table + suffix
        key = (id(table), prefix, suffix)
        hit = self._merged.get(key)
        if hit is None or hit[0] is not table:  # the table is kept with it, so its id stays its own
            hit = self._merged[key] = (table, prefix + table + suffix)
        return hit[1]


def _obj(values) -> np.ndarray:
    """An object array of the values; text becomes UTF-8 bytes (records are built as bytes, so
    a chunk goes to the file or to Kafka without being encoded again)."""
    if len(values) and isinstance(values[0], str):
        values = [v.encode("utf-8") for v in values]
    return np.array(values, dtype=object)


# Text of small numbers, made once (from smaller tables, by array concatenation):
# decimal 0-65535, hex pieces of a 28-bit ECI, fixed-point, seconds and milliseconds.
_DEC = _obj([b"%d" % i for i in range(65536)])
_HEX2 = _obj([f"{i:02X}" for i in range(256)])
_HEX3 = _obj([f"{i:03X}" for i in range(4096)])
_HEX4 = _HEX2[np.arange(65536) >> 8] + _HEX2[np.arange(65536) & 255]
_POS = _obj([f"{i:06x}" for i in range(1 << 15)])  # file chunks and stream batches are smaller
_FIXED = {1: _DEC[np.arange(16384) // 10] + b"." + _DEC[np.arange(16384) % 10],
          2: _DEC[np.arange(16384) // 100] + b"." + _obj([f"{i:02d}" for i in range(100)])[np.arange(16384) % 100]}
_SECONDS = (_obj([f"{i:02d}." for i in range(60)])[np.arange(60_000) // 1000]
            + _obj([f"{i:03d}" for i in range(1000)])[np.arange(60_000) % 1000])
_HHMM = _obj([f"{i // 60:02d}:{i % 60:02d}:" for i in range(1440)])


def _dec(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64)
    if not len(values) or (values.min() >= 0 and values.max() < 65536):
        return _DEC[values]
    return _obj([b"%d" % v for v in values.tolist()])


def _fixed(values: np.ndarray, decimals: int) -> np.ndarray:
    scaled = np.rint(np.asarray(values) * 10**decimals).astype(np.int64)
    if not len(scaled) or (scaled.min() >= 0 and scaled.max() < len(_FIXED[decimals])):
        return _FIXED[decimals][scaled]
    return _obj([f"{x / 10**decimals:.{decimals}f}" for x in scaled.tolist()])


def _iso_parts(ms: np.ndarray) -> tuple[_Pick, _Pick, _Pick]:
    """ISO 8601 UTC with milliseconds (without the Z) for epoch ms, as three pieces from tables:
    the day's text (made once per distinct day), hours and minutes, seconds and milliseconds.
    A record takes them as three pieces, which saves joining them first."""
    ms = np.asarray(ms, dtype=np.int64)
    if not len(ms):
        empty = np.zeros(0, dtype=np.int64)
        return _Pick(_obj([]), empty), _Pick(_HHMM, empty), _Pick(_SECONDS, empty)
    days = ms // 86_400_000
    first, last = int(days.min()), int(days.max())
    if last - first < 4096:
        day = _Pick(_obj(np.datetime_as_string(np.arange(first, last + 1).astype("datetime64[D]"))) + b"T",
                    days - first)
    else:  # a sparse spread over many years: only the days that occur
        uniq, inverse = np.unique(days, return_inverse=True)
        day = _Pick(_obj(np.datetime_as_string(uniq.astype("datetime64[D]"))) + b"T", inverse)
    return day, _Pick(_HHMM, (ms // 60_000) % 1440), _Pick(_SECONDS, ms % 60_000)


def _iso(ms: np.ndarray) -> np.ndarray:
    day, hhmm, seconds = (p.values() for p in _iso_parts(ms))
    return day + hhmm + seconds


class CdrFactory:
    """Builds chunks of CDRs for a population, a type mix and an output format."""

    def __init__(self, pop: Population, weights: dict[str, float], seed: int, kind: str = "json",
                 stream: SeedDomain = SeedDomain.FILE_CDRS):
        w = np.array([weights.get(t, 0.0) for t in CDR_TYPES], dtype=float)
        self.pop = pop
        self.type_cum = np.cumsum(w / w.sum())
        self.type_cum[-1] = 1.0
        self.seed = seed
        self.stream = stream
        self.json = kind == "json"
        self.columns = _Columns()
        self.layouts = [[(is_field, text if is_field else text.encode()) for is_field, text in layout(kind, t)]
                        for t in CDR_TYPES]
        s = pop.strings
        self.user_part = _obj(s["json_user"] if self.json else s["csv_user"])
        self.msisdn = _obj([str(m) for m in pop.msisdn.tolist()])
        self.msc, self.pgw, self.smsc, self.domain = _obj(s["msc"]), _obj(s["pgw"]), _obj(s["smsc"]), _obj(s["domain"])
        self.node = _obj(s["node"])
        # cdr_type and record_type by (CDR type, mobile-originated), in one piece
        self.type_part = _obj([f'"cdr_type":"{t}","record_type":"{r}"' if self.json else f"{t},{r}"
                               for t, pair in zip(CDR_TYPES, RECORD_TYPES) for r in pair])
        self.direction = _obj([b"MT", b"MO"])
        self.outcome_part = _obj([
            ",".join(f'"{k}":{json.dumps(v)}' for k, v in zip(GROUPS["voice"], o[:1] + o[2:5])) if self.json
            else ",".join(str(v) for v in o[:1] + o[2:5]) for o in VOICE_OUTCOMES])
        base = np.random.default_rng(np.random.SeedSequence([SeedDomain.RUN_IDS, stream, seed])).integers(0, 2**62, 3)
        self.run_tag = f"{int(base[0]) & 0xFFFFFFFF:08x}-"
        self.charging_base = int(base[1]) % 2**32
        self.icid_base = int(base[2]) % 2**40

    def rng(self, chunk_index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.stream, self.seed, chunk_index]))

    def build(self, chunk_index: int, first_index: int, times_ms: np.ndarray) -> Chunk:
        """Records for sorted event times ``times_ms``; ``first_index`` numbers them in the run."""
        pop, rng = self.pop, self.rng(chunk_index)
        n = len(times_ms)
        start = np.array(times_ms, dtype=np.int64)
        types = _draw(rng, self.type_cum, n)
        weekend = ((start + int(pop.utc_offset_hours * 3600_000)) // 86_400_000 + 3) % 7 >= 5
        u = np.zeros(n, dtype=np.int64)
        for t in range(len(CDR_TYPES)):
            for we in (False, True):
                sel = np.flatnonzero((types == t) & (weekend == we))
                if len(sel):
                    cum = pop.type_cum[t][int(we)]
                    if cum is None:
                        cum = pop.type_cum[t][0]
                    u[sel] = np.searchsorted(cum, rng.random(len(sel)), side="right")
        slot = _draw(rng, _SLOT_CUM, n)
        cp_user = pop.contact_user[u, slot].astype(np.int64)
        cp_num = pop.contact_num[u, slot]
        mo = rng.random(n) < 0.5

        # Voice outcome and durations for every row (only voice rows use them).
        outcome = _draw(rng, _OUTCOME_CUM, n)
        ring_lo = np.array([o[5] for o in VOICE_OUTCOMES])[outcome]
        ring_hi = np.array([o[6] for o in VOICE_OUTCOMES])[outcome]
        ring = ring_lo + rng.random(n) * (ring_hi - ring_lo)
        talk = np.minimum(rng.lognormal(VOICE_MU, VOICE_SIGMA, n), VOICE_MAX_S)
        talk = np.where(outcome == 1, talk * 0.5, talk)
        talk = np.where(outcome <= 1, np.maximum(talk, 1.0), 0.0).astype(np.int64)

        # MT twins: an on-net MO call appears a second time, as the callee's MT record, in place
        # of another voice row (so the type mix stays as weighted).
        is_voice = types == VOICE
        src = np.flatnonzero(is_voice & mo & (cp_user >= 0) & (rng.random(n) < TWIN_SHARE))
        others = np.flatnonzero(is_voice & ~np.isin(np.arange(n), src))
        k = min(len(src), len(others))
        if k:
            src = src[:k]
            tgt = rng.permutation(others)[:k]
            u[tgt], cp_user[tgt], cp_num[tgt] = cp_user[src], u[src], pop.msisdn[u[src]]
            start[tgt], mo[tgt] = start[src], False
            outcome[tgt], ring[tgt], talk[tgt] = outcome[src], ring[src], talk[src]
            order = np.argsort(start, kind="stable")
            types, u, cp_user, cp_num, mo = types[order], u[order], cp_user[order], cp_num[order], mo[order]
            start, outcome, ring, talk = start[order], outcome[order], ring[order], talk[order]

        # Serving cell: the home cell, or a neighbouring one in the same area.
        home = rng.random(n) < HOME_CELL_SHARE
        off = rng.integers(-6, 7, n)
        enb = np.clip(pop.home_enb[u] + np.where(home, 0, off), 1, (1 << 20) - 1)
        sector = np.where(home, pop.home_sector[u], rng.integers(1, 4, n))
        eci = enb * 256 + sector
        tac = np.clip(pop.home_tac[u] + (enb >> 5) - (pop.home_enb[u] >> 5), 0, 0xFFFF)

        type_part = _Pick(self.type_part, types * 2 + mo)
        start_s = _iso_parts(start)
        eci_hi, eci_lo, tac_s = _Pick(_HEX3, eci >> 16), _Pick(_HEX4, eci & 0xFFFF), _Pick(_DEC, tac)
        pos = _Pick(_POS, np.arange(n)) if n <= len(_POS) else _obj([f"{i:06x}" for i in range(n)])
        tag = f"{self.run_tag}{chunk_index:08x}-".encode()
        parts = []
        builders = (self._voice, self._data, self._sms, self._voip, self._ims)
        for t in range(len(CDR_TYPES)):
            idx = np.flatnonzero(types == t)
            if not len(idx):
                continue
            ctx = _Ctx(rng, idx, u[idx], cp_num[idx], mo[idx], start[idx], first_index)
            if t == VOICE:
                ctx.outcome, ctx.ring, ctx.talk = outcome[idx], ring[idx], talk[idx]
            dur_ms, values = builders[t](ctx)
            values.update(
                cdr_id=(tag, pos[idx]), type_part=type_part[idx], start_time=tuple(p[idx] for p in start_s),
                end_time=_iso_parts(start[idx] + dur_ms), user_part=_Pick(self.user_part, u[idx]),
                cell_id=(eci_hi[idx], eci_lo[idx]), tracking_area_code=tac_s[idx],
            )
            parts.append((t, idx, list(map(b"".join, zip(*self.columns(self.layouts[t], values))))))
        return Chunk(types=types, users=u, parts=parts)

    # ------------------------------------------------------------ one builder per type
    # Each returns (the record's duration in ms, {field: text column, or a tuple of pieces}).

    def _parties(self, c: "_Ctx"):
        own = self.msisdn[c.u]
        other = _obj([b"%d" % v for v in c.cp_num.tolist()])
        return np.where(c.mo, own, other), np.where(c.mo, other, own)

    def _voice(self, c: "_Ctx"):
        calling, called = self._parties(c)
        ring_ms = (c.ring * 1000).astype(np.int64)
        answered = c.talk > 0
        answer = _iso(c.start + ring_ms)
        if self.json:  # a JSON string, or null when the call was not answered
            answer = np.where(answered, b'"' + answer + b'Z"', b"null")
        else:
            answer = np.where(answered, answer + b"Z", b"")
        return ring_ms + c.talk * 1000, {
            "call_direction": _Pick(self.direction, c.mo.view(np.int8)), "calling_number": calling,
            "called_number": called, "answer_time": answer, "duration_seconds": _Pick(_DEC, c.talk),
            "group": _Pick(self.outcome_part, c.outcome),
            "msc_id": _Pick(self.msc, c.u),
        }

    def _data(self, c: "_Ctx"):
        rng, pop, k = c.rng, self.pop, len(c.idx)
        dur = np.maximum(rng.lognormal(DATA_MU, DATA_SIGMA, k), 1.0)
        limited = dur > DATA_TIME_LIMIT_S
        dur = np.minimum(dur, DATA_TIME_LIMIT_S).astype(np.int64)
        rat = np.where(pop.nr[c.u], _draw(rng, _RAT5_CUM, k), _draw(rng, _RAT4_CUM, k) + len(RAT_5G))
        speed = _RAT_SPEED[rat]
        down = (DATA_SCALE_BYTES * rng.weibull(DATA_WEIBULL_SHAPE, k) * (dur / 245.0) ** 0.6
                * pop.data_factor[c.u] * speed).astype(np.int64) + 512
        up = (down * np.minimum(rng.lognormal(np.log(0.12), 0.5, k), 0.9)).astype(np.int64) + 256
        abnormal = rng.random(k) < 0.005
        cause = np.where(limited, 1, np.where(abnormal, 2, 0))
        return dur * 1000, {
            "apn": _Pick(_APN_TEXT, _draw(rng, _APN_CUM, k)), "rat_type": _Pick(_RAT_TEXT, rat),
            "uplink_bytes": _dec(up), "downlink_bytes": _dec(down), "duration_seconds": _Pick(_DEC, dur),
            "charging_id": _dec((self.charging_base + c.first_index + c.idx) % 2**32),
            "pgw_address": _Pick(self.pgw, c.u), "cause_for_record_closing": _Pick(_CLOSING_TEXT, cause),
        }

    def _sms(self, c: "_Ctx"):
        rng, k = c.rng, len(c.idx)
        ucs2 = rng.random(k) < 0.08
        length = np.clip(rng.lognormal(3.6, 0.8, k), 1, 160).astype(np.int64)
        length = np.where(ucs2, np.minimum(length, 70), length)
        result = _draw(rng, _SMS_CUM, k)
        delay = np.where(result == 2, rng.integers(86_400_000, 259_200_000, k),
                         (rng.lognormal(0.5, 1.0, k) * 1000).astype(np.int64))
        sender, receiver = self._parties(c)
        return delay, {
            "direction": _Pick(self.direction, c.mo.view(np.int8)), "sender_number": sender, "receiver_number": receiver,
            "message_length": _Pick(_DEC, length), "encoding": _Pick(_ENCODING_TEXT, ucs2.view(np.int8)),
            "delivery_status": _Pick(_SMS_TEXT, result), "smsc_address": _Pick(self.smsc, c.u),
        }

    def _voip(self, c: "_Ctx"):
        rng, k = c.rng, len(c.idx)
        codec = _draw(rng, _CODEC_CUM, k)
        dur = np.maximum(np.minimum(rng.lognormal(VOICE_MU + 0.1, VOICE_SIGMA, k), VOICE_MAX_S), 1).astype(np.int64)
        bad = rng.random(k) < 0.06  # a congested Wi-Fi or cell: jitter and loss go up together
        latency = (rng.lognormal(np.log(45), 0.4, k) * np.where(bad, 2.5, 1.0)).astype(np.int64)
        jitter = np.round(rng.gamma(2.0, 3.0, k) * np.where(bad, 6.0, 1.0), 1)
        loss = np.round(np.clip(rng.lognormal(np.log(0.15), 1.0, k) * np.where(bad, 12.0, 1.0), 0, 40), 2)
        mos = mos_from(latency, jitter, loss, _CODEC_IMPAIRMENT[codec])
        caller, callee = self._parties(c)
        dom = self.domain[c.u]
        ids = rng.integers(0, 2**63, (2, k)).tolist()
        call_id = _obj([b"%016x%016x@%s" % abd for abd in zip(ids[0], ids[1], dom.tolist())])
        return dur * 1000, {
            "call_direction": _Pick(self.direction, c.mo.view(np.int8)), "sip_call_id": call_id,
            "caller_uri": (b"sip:+", caller, b"@", dom, b";user=phone"),
            "callee_uri": (b"sip:+", callee, b"@", dom, b";user=phone"),
            "codec": _Pick(_CODEC_TEXT, codec), "duration_seconds": _Pick(_DEC, dur), "latency_ms": _dec(latency),
            "jitter_ms": _fixed(jitter, 1), "packet_loss_pct": _fixed(loss, 2), "mos": _fixed(mos, 2),
        }

    def _ims(self, c: "_Ctx"):
        rng, pop, k = c.rng, self.pop, len(c.idx)
        method = _draw(rng, _METHOD_CUM, k)
        status = np.empty(k, dtype=np.int64)
        service = np.empty(k, dtype=np.int64)
        r1, r2 = rng.random(k), rng.random(k)
        for mi, (m, _) in enumerate(IMS_METHODS):
            sel = method == mi
            codes, cum = _IMS_STATUS_TABLE[m]
            status[sel] = codes[np.minimum(np.searchsorted(cum, r1[sel], side="right"), len(cum) - 1)]
            names, cum = _IMS_SERVICE_TABLE[m]
            service[sel] = names[np.minimum(np.searchsorted(cum, r2[sel], side="right"), len(cum) - 1)]
        register = method == _REGISTER
        originating = c.mo | register
        talk = np.clip(rng.lognormal(VOICE_MU, VOICE_SIGMA, k), 1, VOICE_MAX_S).astype(np.int64)
        dur = np.where((method == _INVITE) & (status == 200), talk, 0)
        own = self.msisdn[c.u]
        other = _obj([b"%d" % v for v in c.cp_num.tolist()])
        a, b = np.where(originating, own, other), np.where(originating, other, own)
        dom = self.domain[c.u]
        phone = _obj([b";user=phone", b""])[register.view(np.int8)]
        calling = b"sip:+" + a + b"@" + dom + phone
        called = np.where(register, b"sip:" + dom, b"sip:+" + b + b"@" + dom + phone)
        access = _Pick(_ACCESS_TEXT, np.where(service == _VOWIFI, 0, np.where(pop.nr[c.u], 1, 2)))
        counter = (self.icid_base + c.first_index + c.idx).tolist()
        return dur * 1000, {
            "icid": (_Pick(self.node, c.u), _obj([b"-%012x" % x for x in counter])),
            "sip_method": _Pick(_METHOD_TEXT, method), "role_of_node": _Pick(_ROLE_TEXT, originating.view(np.int8)),
            "ims_service": _Pick(_SERVICE_TEXT, service), "sip_status_code": _Pick(_DEC, status),
            "duration_seconds": _Pick(_DEC, dur), "node_address": _Pick(self.node, c.u), "access_network": access,
            "calling_party_uri": calling, "called_party_uri": called,
        }


_METHOD_TEXT = _obj([m for m, _ in IMS_METHODS])
_REGISTER, _INVITE = [m for m, _ in IMS_METHODS].index("REGISTER"), [m for m, _ in IMS_METHODS].index("INVITE")
_SERVICES = sorted({name for rows in IMS_SERVICES.values() for name, _ in rows})
_SERVICE_TEXT = _obj(_SERVICES)
_VOWIFI = _SERVICES.index("VoWiFi")
_IMS_STATUS_TABLE = {m: (np.array([x for x, _ in rows]), _table(rows)) for m, rows in IMS_STATUS.items()}
_IMS_SERVICE_TABLE = {m: (np.array([_SERVICES.index(x) for x, _ in rows]), _table(rows))
                      for m, rows in IMS_SERVICES.items()}
_APN_TEXT = _obj([a[0] for a in APNS])
_RAT_TEXT = _obj([r[0] for r in RAT_5G + RAT_4G])
_RAT_SPEED = np.array([{"NR": 1.6, "EUTRAN": 1.0, "UTRAN": 0.2, "GERAN": 0.1}[r[0]] for r in RAT_5G + RAT_4G])
_CLOSING_TEXT = _obj(["normalRelease", "timeLimit", "abnormalRelease"])
_ENCODING_TEXT = _obj(["GSM-7", "UCS-2"])
_ACCESS_TEXT = _obj(["IEEE-802.11", "3GPP-NR", "3GPP-E-UTRAN-FDD"])
_ROLE_TEXT = _obj(["terminating", "originating"])
_SMS_TEXT = _obj([r[0] for r in SMS_RESULTS])
_CODEC_TEXT = _obj([x[0] for x in CODECS])
_CODEC_IMPAIRMENT = np.array([x[2] for x in CODECS])


def mos_from(latency_ms, jitter_ms, loss_pct, impairment):
    """Mean opinion score from the E-model's R factor (ITU-T G.107, simplified as in Cole and
    Rosenbluth, 2001): more delay, jitter or loss gives a lower score, 1.0 to 4.5."""
    effective = latency_ms + 2 * jitter_ms + 10
    r = np.where(effective < 160, 93.2 - effective / 40, 93.2 - (effective - 120) / 10)
    r = np.clip(r - impairment - 2.5 * loss_pct, 0, 100)
    return np.clip(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 1.0, 4.5)


@dataclass
class _Ctx:
    rng: np.random.Generator
    idx: np.ndarray
    u: np.ndarray
    cp_num: np.ndarray
    mo: np.ndarray
    start: np.ndarray
    first_index: int
    outcome: np.ndarray | None = None
    ring: np.ndarray | None = None
    talk: np.ndarray | None = None
