"""The builders of the five CDR types, and the tables they draw from.

A chunk of records is drawn at once as numpy arrays from an explicit generator.  Each builder
returns a column of text per field of its record (telco_cdr.contract describes the fields);
telco_cdr.layout joins the columns into records of the output format, so no builder writes a
key, a quote or a comma, and no record needs a JSON encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constants import CDR_TYPES, SeedDomain
from .layout import DEC, HEX3, HEX4, POS, Columns, Nullable, Pick, dec, fixed, text_array, timestamp, timestamp_text
from .timezones import offset_text
from .traffic import CONTACT_SLOTS, CONTACT_ZIPF, Population, TrafficCurve

VOICE, DATA, SMS, VOIP, IMS = range(5)

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
DIRECTIONS = ("MT", "MO")  # by mobile-originated
# causeForRecClosing (TS 32.298): by (time limit, abnormal)
RECORD_CLOSING = ("normalRelease", "timeLimit", "abnormalRelease")
SMS_ENCODINGS = ("GSM-7", "UCS-2")  # TS 23.038, by UCS-2
ROLES_OF_NODE = ("terminating", "originating")  # role-of-Node, by originating
# accessNetworkInformation (TS 24.229 P-Access-Network-Info): VoWiFi, 5G device, else
ACCESS_NETWORKS = ("IEEE-802.11", "3GPP-NR", "3GPP-E-UTRAN-FDD")
MOS_RANGE = (1.0, 4.5)  # the E-model's scale of mean opinion scores (ITU-T G.107)

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


class CdrFactory:
    """Builds chunks of CDRs for a population, a type mix and an output format (a layout kind:
    json, csv or csv_type)."""

    def __init__(self, pop: Population, weights: dict[str, float], seed: int, kind: str = "json",
                 stream: SeedDomain = SeedDomain.FILE_CDRS, curve: TrafficCurve | None = None):
        """``curve`` gives who makes which event when (a file's window); without one, types
        follow ``weights`` and users are drawn for events of any time (a stream)."""
        from .contract import layouts  # the contract takes its allowed values from the tables above

        self.pop = pop
        self.curve = curve or TrafficCurve(pop, weights)
        self.seed = seed
        self.stream = stream
        self.columns = Columns(kind)
        self.layouts = [layouts(kind)[t] for t in CDR_TYPES]
        # The user's own fields, one text per user (free text is escaped by the layout, once).
        self.user_id = text_array(pop.user_ids)
        self.msisdn = text_array([str(m) for m in pop.msisdn.tolist()])
        self.imsi, self.imei = text_array(pop.imsi), text_array(pop.imei)
        plmns = pop.plmns
        self.mcc = text_array([m for m, _ in plmns])[pop.plmn_code]
        self.mnc = text_array([n for _, n in plmns])[pop.plmn_code]
        self.plmn = text_array([m + n for m, n in plmns])[pop.plmn_code]
        nodes = pop.nodes
        self.msc, self.pgw, self.smsc = text_array(nodes["msc"]), text_array(nodes["pgw"]), text_array(nodes["smsc"])
        self.domain, self.node = text_array(nodes["domain"]), text_array(nodes["node"])
        self.record_type = [text_array(list(pair)) for pair in RECORD_TYPES]
        base = np.random.default_rng(np.random.SeedSequence([SeedDomain.RUN_IDS, stream, seed])).integers(0, 2**62, 3)
        self.run_tag = f"{int(base[0]) & 0xFFFFFFFF:08x}-"
        self.charging_base = int(base[1]) % 2**32
        self.icid_base = int(base[2]) % 2**40

    def rng(self, chunk_index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.stream, self.seed, chunk_index]))

    def warm(self) -> None:
        """Build a record of each type and throw it away, so that the text tables joined from
        per-user columns are made here once (before worker processes fork), not in every worker."""
        present = np.flatnonzero(self.curve.weights > 0)
        start = self.curve.start_ms if self.curve.start_ms is not None else 0
        self.build(0, 0, np.full(len(present), start, dtype=np.int64), types=present)

    def build(self, chunk_index: int, first_index: int, times_ms: np.ndarray, types: np.ndarray | None = None) -> Chunk:
        """Records for sorted event times ``times_ms``; ``first_index`` numbers them in the run.
        ``types`` (one CDR type index per record) is drawn from the mix unless given."""
        pop, rng = self.pop, self.rng(chunk_index)
        n = len(times_ms)
        start = np.array(times_ms, dtype=np.int64)
        types, u, _ = self.curve.assign(rng, start, None if types is None else np.asarray(types, dtype=np.int64))
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

        offsets = pop.clock.offsets(pop.zone_of[u], start)
        distinct, offset_at = np.unique(offsets, return_inverse=True)
        ms_time_zone = Pick(text_array(offset_text(distinct)), offset_at)
        start_s = timestamp(start)
        eci_hi, eci_lo, tac_s = Pick(HEX3, eci >> 16), Pick(HEX4, eci & 0xFFFF), Pick(DEC, tac)
        pos = Pick(POS, np.arange(n)) if n <= len(POS) else text_array([f"{i:06x}" for i in range(n)])
        tag = f"{self.run_tag}{chunk_index:08x}-".encode()
        parts = []
        builders = (self._voice, self._data, self._sms, self._voip, self._ims)
        for t in range(len(CDR_TYPES)):
            idx = np.flatnonzero(types == t)
            if not len(idx):
                continue
            ui = u[idx]  # one array for every per-user column, so that neighbouring ones are joined
            ctx = _Ctx(rng, idx, ui, cp_num[idx], mo[idx], start[idx], first_index)
            if t == VOICE:
                ctx.outcome, ctx.ring, ctx.talk = outcome[idx], ring[idx], talk[idx]
            dur_ms, values = builders[t](ctx)
            values.update(
                cdr_id=(tag, pos[idx]), record_type=Pick(self.record_type[t], ctx.mo.view(np.int8)),
                start_time=tuple(p[idx] if isinstance(p, Pick) else p for p in start_s),
                end_time=timestamp(start[idx] + dur_ms), user_id=Pick(self.user_id, ui),
                msisdn=Pick(self.msisdn, ui), imsi=Pick(self.imsi, ui), imei=Pick(self.imei, ui),
                cell_mcc=Pick(self.mcc, ui), cell_mnc=Pick(self.mnc, ui),
                cell_id=(Pick(self.plmn, ui), eci_hi[idx], eci_lo[idx]), tracking_area_code=tac_s[idx],
                ms_time_zone=ms_time_zone[idx],
            )
            parts.append((t, idx, list(map(b"".join, zip(*self.columns(self.layouts[t], values))))))
        return Chunk(types=types, users=u, parts=parts)

    # ------------------------------------------------------------ one builder per type
    # Each returns (the record's duration in ms, {field: text column, or a tuple of pieces}) for
    # the type's own fields (telco_cdr.contract); build() adds the common ones.

    def _parties(self, c: _Ctx):
        own = self.msisdn[c.u]
        other = text_array([b"%d" % v for v in c.cp_num.tolist()])
        return np.where(c.mo, own, other), np.where(c.mo, other, own)

    def _voice(self, c: _Ctx):
        calling, called = self._parties(c)
        ring_ms = (c.ring * 1000).astype(np.int64)
        return ring_ms + c.talk * 1000, {
            "call_direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)), "calling_number": calling,
            "called_number": called, "answer_time": Nullable(timestamp_text(c.start + ring_ms), c.talk > 0),
            "duration_seconds": Pick(DEC, c.talk),
            # one table row each: neighbouring picks by one index are joined into one piece
            "call_result": Pick(_OUTCOME_TEXT[0], c.outcome),
            "cause_for_termination": Pick(_OUTCOME_TEXT[2], c.outcome),
            "release_cause_code": Pick(_OUTCOME_TEXT[3], c.outcome),
            "release_cause": Pick(_OUTCOME_TEXT[4], c.outcome),
            "msc_id": Pick(self.msc, c.u),
        }

    def _data(self, c: _Ctx):
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
            "apn": Pick(_APN_TEXT, _draw(rng, _APN_CUM, k)), "rat_type": Pick(_RAT_TEXT, rat),
            "uplink_bytes": dec(up), "downlink_bytes": dec(down), "duration_seconds": Pick(DEC, dur),
            "charging_id": dec((self.charging_base + c.first_index + c.idx) % 2**32),
            "pgw_address": Pick(self.pgw, c.u), "cause_for_record_closing": Pick(_CLOSING_TEXT, cause),
        }

    def _sms(self, c: _Ctx):
        rng, k = c.rng, len(c.idx)
        ucs2 = rng.random(k) < 0.08
        length = np.clip(rng.lognormal(3.6, 0.8, k), 1, 160).astype(np.int64)
        length = np.where(ucs2, np.minimum(length, 70), length)
        result = _draw(rng, _SMS_CUM, k)
        delay = np.where(result == 2, rng.integers(86_400_000, 259_200_000, k),
                         (rng.lognormal(0.5, 1.0, k) * 1000).astype(np.int64))
        sender, receiver = self._parties(c)
        return delay, {
            "direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)), "sender_number": sender,
            "receiver_number": receiver,
            "message_length": Pick(DEC, length), "encoding": Pick(_ENCODING_TEXT, ucs2.view(np.int8)),
            "delivery_status": Pick(_SMS_TEXT, result), "smsc_address": Pick(self.smsc, c.u),
        }

    def _voip(self, c: _Ctx):
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
        call_id = text_array([b"%016x%016x@%s" % abd for abd in zip(ids[0], ids[1], dom.tolist())])
        return dur * 1000, {
            "call_direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)), "sip_call_id": call_id,
            "caller_uri": (b"sip:+", caller, b"@", dom, b";user=phone"),
            "callee_uri": (b"sip:+", callee, b"@", dom, b";user=phone"),
            "codec": Pick(_CODEC_TEXT, codec), "duration_seconds": Pick(DEC, dur), "latency_ms": dec(latency),
            "jitter_ms": fixed(jitter, 1), "packet_loss_pct": fixed(loss, 2), "mos": fixed(mos, 2),
        }

    def _ims(self, c: _Ctx):
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
        other = text_array([b"%d" % v for v in c.cp_num.tolist()])
        a, b = np.where(originating, own, other), np.where(originating, other, own)
        dom = self.domain[c.u]
        phone = text_array([b";user=phone", b""])[register.view(np.int8)]
        calling = b"sip:+" + a + b"@" + dom + phone
        called = np.where(register, b"sip:" + dom, b"sip:+" + b + b"@" + dom + phone)
        access = Pick(_ACCESS_TEXT, np.where(service == _VOWIFI, 0, np.where(pop.nr[c.u], 1, 2)))
        counter = (self.icid_base + c.first_index + c.idx).tolist()
        return dur * 1000, {
            "icid": (Pick(self.node, c.u), text_array([b"-%012x" % x for x in counter])),
            "sip_method": Pick(_METHOD_TEXT, method), "role_of_node": Pick(_ROLE_TEXT, originating.view(np.int8)),
            "ims_service": Pick(_SERVICE_TEXT, service), "sip_status_code": Pick(DEC, status),
            "duration_seconds": Pick(DEC, dur), "node_address": Pick(self.node, c.u), "access_network": access,
            "calling_party_uri": calling, "called_party_uri": called,
        }


_METHOD_TEXT = text_array([m for m, _ in IMS_METHODS])
_REGISTER, _INVITE = [m for m, _ in IMS_METHODS].index("REGISTER"), [m for m, _ in IMS_METHODS].index("INVITE")
_SERVICES = sorted({name for rows in IMS_SERVICES.values() for name, _ in rows})
_SERVICE_TEXT = text_array(_SERVICES)
_VOWIFI = _SERVICES.index("VoWiFi")
_IMS_STATUS_TABLE = {m: (np.array([x for x, _ in rows]), _table(rows)) for m, rows in IMS_STATUS.items()}
_IMS_SERVICE_TABLE = {m: (np.array([_SERVICES.index(x) for x, _ in rows]), _table(rows))
                      for m, rows in IMS_SERVICES.items()}
_APN_TEXT = text_array([a[0] for a in APNS])
_RAT_TEXT = text_array([r[0] for r in RAT_5G + RAT_4G])
_RAT_SPEED = np.array([{"NR": 1.6, "EUTRAN": 1.0, "UTRAN": 0.2, "GERAN": 0.1}[r[0]] for r in RAT_5G + RAT_4G])
_CLOSING_TEXT = text_array(RECORD_CLOSING)
_ENCODING_TEXT = text_array(SMS_ENCODINGS)
_ACCESS_TEXT = text_array(ACCESS_NETWORKS)
_ROLE_TEXT = text_array(ROLES_OF_NODE)
_DIRECTION_TEXT = text_array(DIRECTIONS)
# VOICE_OUTCOMES' text columns: call_result, causeForTerm, Q.850 code and name
_OUTCOME_TEXT = {k: text_array([str(o[k]) for o in VOICE_OUTCOMES]) for k in (0, 2, 3, 4)}
_SMS_TEXT = text_array([r[0] for r in SMS_RESULTS])
_CODEC_TEXT = text_array([x[0] for x in CODECS])
_CODEC_IMPAIRMENT = np.array([x[2] for x in CODECS])


def mos_from(latency_ms, jitter_ms, loss_pct, impairment):
    """Mean opinion score from the E-model's R factor (ITU-T G.107, simplified as in Cole and
    Rosenbluth, 2001): more delay, jitter or loss gives a lower score, 1.0 to 4.5."""
    effective = latency_ms + 2 * jitter_ms + 10
    r = np.where(effective < 160, 93.2 - effective / 40, 93.2 - (effective - 120) / 10)
    r = np.clip(r - impairment - 2.5 * loss_pct, 0, 100)
    return np.clip(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), *MOS_RANGE)


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
