"""The builders of the five CDR types, and the tables they draw from.

A chunk of records is drawn at once as numpy arrays from an explicit generator.  Each builder
returns a column of text per field of its record (telco_cdr.contract describes the fields);
telco_cdr.layout joins the columns into records of the output format, so no builder writes a
key, a quote or a comma, and no record needs a JSON encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anomalies import KINDS as ANOMALY_KINDS
from .anomalies import AnomalyPlan, Rows
from .bearers import APNS, IMS_APN, INTERNET, MMS, MMS_APN, RECORD_CLOSING, Partials, StreamBearers, internet_apns
from .charging import (
    CURRENCIES,
    CURRENCY_OF,
    DATA_S,
    MT_PAYS_OF,
    SCALE,
    SMS_S,
    VOICE_S,
    charge,
    cycle_position,
    international,
)
from .constants import CDR_TYPES, SeedDomain
from .counterparties import (
    INTERNATIONAL,
    KINDS,
    MOBILE,
    NO_NETWORK,
    SERVICE,
    SERVICE_SHARE,
    SERVICE_TEXT,
    SHORT_CODE,
    USER,
)
from .identifiers import COUNTRIES
from .layout import (
    DEC,
    HEX2,
    HEX3,
    HEX4,
    HEX4_LOWER,
    MERGE_MAX,
    POS,
    Columns,
    Literal,
    Nullable,
    Pick,
    dec,
    fixed,
    hex64,
    text_array,
    timestamp,
)
from .mobility import NEAR, serving_cells
from .radio import (
    CS,
    CS_RATS,
    EUTRAN,
    NR,
    RATS,
    VOICE_TECHNOLOGIES,
    VOIP_WLAN_SHARE,
    WLAN,
    bearer_rats,
    legacy_cell,
    nr_cell,
    voice_technologies,
)
from .roaming import AT_BASE
from .timezones import offset_text
from .traffic import (
    IMS_METHODS,
    REGISTER_PERIOD_S,
    Population,
    TrafficCurve,
    ims_methods,
    smsc_of,
)

VOICE, DATA, SMS, VOIP, IMS = range(5)
_BOOLEAN = text_array(["false", "true"])

# Call flow (telco-reference.md "The network of 2026").  An MT leg starts once the call is set up
# to the callee's phone, 1-5 s after its MO leg (the reference's "a few seconds" of call setup,
# issue 11's 1-5 s): CALL_SETUP_MS, drawn uniformly, whole milliseconds.
CALL_SETUP_MS = (1000, 5000)
# The no reply condition timer of call forwarding on no reply: 5 to 30 s in steps of 5 (3GPP TS
# 22.082 section 3.1; TS 24.082), 20 s unless the subscriber set another (3GPP TS 27.007 +CCFC
# <time>: default 20).  (seconds, share of the callees with voicemail): most keep the default;
# the shares of the others are ours.
NO_REPLY_TIMERS = ((15, 0.15), (20, 0.65), (25, 0.10), (30, 0.10))
NO_REPLY_MAX_S = 30
# Voice outcomes (telco-reference.md "The network of 2026": answer-seizure ratio higher for
# mobile-to-mobile, drop rate 0.1-2 %); causeForTerm values from 3GPP TS 32.298, causes and their
# names from ITU-T Q.850 (section 2.2.7; its "normal, unspecified" and "interworking, unspecified"
# without the comma, so that no CSV field of a fixed value needs quoting, telco_cdr.layout).  A
# call_result may have several causes; each row is one.
# (call_result, weight, cause_for_termination, Q.850 code, Q.850 text, alerting seconds lo, hi)
# The seconds are those after the call setup (CALL_SETUP_MS) until the answer or the release: an MO
# record's ringing is setup + alerting, an MT record's the alerting alone (its leg starts once set up).
VOICE_OUTCOMES = (
    ("answered", 0.790, "normalRelease", 16, "normal call clearing", 2, 12),
    # a radio link lost mid-call: Q.850 #41 (temporary failure, "not likely to last a long period")
    ("dropped", 0.010, "abnormalRelease", 41, "temporary failure", 2, 12),
    # the callee's phone rings until the caller gives up or the network's no-answer supervision ends
    # it: at most the longest no-reply timer, 30 s (TS 22.082/24.082 call forwarding on no reply)
    ("no_answer", 0.045, "unsuccessfulCallAttempt", 19, "no answer from user", 8, NO_REPLY_MAX_S),
    # forwarded on no reply to the callee's voicemail, which answers (the caller leaves a message):
    # the alerting is the no-reply timer (NO_REPLY_TIMERS); about half the calls that ring out reach
    # voicemail (telco-reference.md: "often forwarded"; no published share, this one is ours)
    ("voicemail", 0.045, "normalRelease", 16, "normal call clearing", 15, NO_REPLY_MAX_S),
    ("busy", 0.040, "unsuccessfulCallAttempt", 17, "user busy", 0.2, 2),
    # the callee declines a ringing call while not busy (Q.850 #21; in IMS the UE's 603 Decline, RFC
    # 3261 21.6.2): a busy outcome, as the handset's "user busy" (user determined user busy, 3GPP TS
    # 22.001 annex C.3; the MSC takes #17 and #21 from the handset alike, GSM 09.02 COMPLETE_CALL_IN)
    ("busy", 0.008, "unsuccessfulCallAttempt", 21, "call rejected", 2, 10),
    # a switched-off phone or one out of radio contact: Q.850 #20 (subscriber absent: "a mobile
    # station has logged off, radio contact is not obtained"), not #18 (which needs a phone that got
    # the call set-up and did not respond)
    ("unreachable", 0.035, "unsuccessfulCallAttempt", 20, "subscriber absent", 0.5, 6),
    # the callee's access fails during set-up (Q.850 #27: "the interface to the destination is not
    # functioning correctly")
    ("unreachable", 0.005, "unsuccessfulCallAttempt", 27, "destination out of order", 3, 8),
    # set-up failures, the call never reaches the callee (Q.850 section 2.2.7):
    ("failed", 0.008, "unsuccessfulCallAttempt", 34, "no circuit/channel available", 0, 2),  # congestion
    ("failed", 0.004, "unsuccessfulCallAttempt", 38, "network out of order", 0, 2),  # a node or link down
    ("failed", 0.003, "unsuccessfulCallAttempt", 31, "normal unspecified", 0, 3),  # no other cause applies
    ("failed", 0.002, "unsuccessfulCallAttempt", 102, "recovery on timer expiry", 4, 10),  # a set-up timer ran out
    # calls to numbers of other networks alone (OFF_NET_ONLY): a number not in service, or a transit
    # network that gives no cause
    ("failed", 0.002, "unsuccessfulCallAttempt", 1, "unallocated (unassigned) number", 0, 2),
    ("failed", 0.001, "unsuccessfulCallAttempt", 127, "interworking unspecified", 0, 3),
)
# The outcomes whose call reached the callee's phone (it rang, or answered busy or declined): only
# these have an MT record (the callee's MSC or terminating MMTel AS writes one once the call is
# delivered there, TS 32.298 MTCallRecord, TS 32.275); a call that never got there has none.
REACHES_CALLEE = ("answered", "dropped", "no_answer", "voicemail", "busy")
# The outcomes with talk time: answered by the callee, or by the callee's voicemail.
TALK_RESULTS = ("answered", "dropped", "voicemail")
# Causes only a number of another network gets: a user of the file has a number in service.
OFF_NET_ONLY = (1, 127)
# A message left on voicemail: the greeting and a short message, median 20 s, at most 3 minutes
# (voicemail systems cap a message at 2-3 minutes; the median is ours).
VOICEMAIL_MU, VOICEMAIL_SIGMA, VOICEMAIL_MAX_S = np.log(20.0), 0.6, 180
# Call duration: log-normal, mu 4.0 and sigma 1.2 give a median near 55 s and a mean near
# 110 s (telco-reference.md, after de Melo et al. ECML-PKDD 2010 and CTIA averages).
VOICE_MU, VOICE_SIGMA, VOICE_MAX_S = 4.0, 1.2, 4 * 3600
# Retries and call-backs (telco-reference.md: "failed calls are often retried within minutes, and missed
# calls called back"): shares and delays (lognormal mu and sigma of seconds after the call's start) are ours:
# a retry after about a minute and a half, a call back after about a quarter of an hour.
RETRY_SHARE, RETRY_DELAY_S = 0.5, (np.log(90.0), 0.7)
CALLBACK_SHARE, CALLBACK_DELAY_S = 0.45, (np.log(900.0), 1.0)
RETRIED = ("busy", "no_answer", "unreachable", "failed")  # an MO call that did not get through
MISSED = ("no_answer", "voicemail", "busy")  # a call its callee did not take
TWIN_SHARE = 0.8  # on-net MO calls that reached the callee whose MT twin is in the same output

# Data records are partial records of bearers (telco_cdr.bearers: APNs, closing causes, volumes).

SMS_RESULTS = (("delivered", 0.975), ("failed", 0.01), ("expired", 0.01), ("rejected", 0.005))

# Long texts (3GPP TS 23.040 section 9.2.3.24.1, concatenated short messages): a text that fits one
# SMS (160 GSM-7 or 70 UCS-2 characters, TS 23.038) is sent as it is; a longer one in segments of 153
# GSM-7 or 67 UCS-2 characters each (the 6-octet user data header with the reference, the count and
# the segment's number takes the rest), at most 255 segments (the count is one octet).  Each segment is
# a record of its own.  (single SMS, segment) characters by UCS-2:
SMS_SINGLE, SMS_SEGMENT, SMS_MAX_SEGMENTS = (160, 70), (153, 67), 255
# Texts' lengths in characters: log-normal, median about 37 (e^3.6), sigma 0.85, no longer clipped at
# one SMS: about 4 % of GSM-7 texts and about 22 % of UCS-2 texts (whose limit is 70) need several
# segments.  UCS-2 (texts with characters outside GSM-7: Devanagari, emoji) is 8 % of texts.  The
# shares are ours (no published distribution of SMS lengths by encoding was found).
SMS_LENGTH_MU, SMS_LENGTH_SIGMA, SMS_UCS2_SHARE = 3.6, 0.85, 0.08
# The segments of one message are submitted one after the other: this many ms apart (ours).
SMS_SEGMENT_GAP_MS = (100, 600)

# Application-to-person messages (telco-reference.md "The network of 2026": person-to-person SMS is a
# minority of SMS; A2P from short codes and alphanumeric senders, banks, one-time passwords).  Their
# share of SMS messages is ours: 60 %.  Each is MT (an application sends, the subscriber receives), from
# a sender of the subscriber's country (A2P_SENDERS), or (A2P_OPERATOR_SHARE of them) from the
# subscriber's own operator's sender (A2P_OPERATOR_SENDERS).
A2P_SHARE, A2P_OPERATOR_SHARE = 0.60, 0.08
# A2P senders by country, (sender, weight): names generic (no real brand), codes made up in the
# national formats:
# - US: common short codes of 5 or 6 digits (CTIA Short Code Monitoring Handbook; US networks take no
#   alphanumeric senders);
# - GB: alphanumeric senders of up to 11 characters (3GPP TS 23.040 section 9.1.2.5, TP-OA of type
#   alphanumeric: 11 GSM-7 characters in 10 octets) and 5-digit short codes (Ofcom: 6xxxx-8xxxx);
# - DE, FR: alphanumeric senders and 5-digit short codes (FR: the operators' SMS+ codes, 3xxxx-8xxxx);
# - IN: TRAI's DLT headers (Telecom Commercial Communications Customer Preference Regulations 2018):
#   ``XY-ABCDEF``, the 6-character header a business registered, after two letters naming the access
#   provider it sends through and that provider's licensed service area (TRAI's codes, direction of
#   10 December 2008: providers A Airtel, V Vodafone, J Jio, B BSNL; areas D Delhi, M Mumbai, K Kolkata,
#   T Tamil Nadu, X Karnataka, Z Maharashtra).  A business sends through its provider, so each header
#   comes with one prefix or two (which ones is ours).
_IN_HEADERS = (("VERIFY", 0.2, ("JM-", "AX-")), ("BNKALT", 0.2, ("VM-",)), ("PARCEL", 0.12, ("AD-",)),
               ("CLINIC", 0.06, ("JT-",)), ("OTPSMS", 0.15, ("AX-", "VK-")), ("DLVERY", 0.1, ("JZ-",)),
               ("MEDLAB", 0.05, ("BT-",)), ("INSURE", 0.04, ("VD-",)), ("PWRBIL", 0.04, ("AZ-",)),
               ("SHOPIN", 0.04, ("JD-",)))
A2P_SENDERS: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (("24273", 0.2), ("38619", 0.15), ("47312", 0.1), ("52976", 0.1), ("61847", 0.1), ("75120", 0.05),
           ("226754", 0.1), ("318492", 0.1), ("570831", 0.05), ("841207", 0.05)),
    "GB": (("VERIFY", 0.2), ("BANKALERT", 0.15), ("PARCEL", 0.12), ("CLINIC", 0.06), ("GPSURGERY", 0.06),
           ("PHARMACY", 0.05), ("RAILTICKET", 0.05), ("COUNCIL", 0.03), ("SECURECODE", 0.1), ("60123", 0.06),
           ("70040", 0.06), ("81025", 0.06)),
    "DE": (("VERIFY", 0.2), ("BANKINFO", 0.15), ("PAKET", 0.15), ("PRAXIS", 0.06), ("APOTHEKE", 0.05),
           ("TERMIN", 0.06), ("SICHERHEIT", 0.1), ("33020", 0.08), ("44844", 0.08), ("80080", 0.07)),
    "FR": (("VERIFY", 0.2), ("BANQUE", 0.15), ("COLIS", 0.15), ("CABINET", 0.06), ("PHARMACIE", 0.05),
           ("RDV", 0.06), ("CODESECU", 0.1), ("36123", 0.08), ("61234", 0.08), ("74455", 0.07)),
    "IN": tuple((p + h, w / len(prefixes)) for h, w, prefixes in _IN_HEADERS for p in prefixes),
}
# The operators' own senders (balance, bundles, roaming notices) by PLMN: their names as alphanumeric
# senders; in India a DLT header of the operator's access provider letter; US operators send from
# short codes (none listed: the country's table).
A2P_OPERATOR_SENDERS = {"23415": "Vodafone", "23410": "O2", "23430": "EE", "26201": "Telekom", "26202": "Vodafone",
                        "26203": "O2", "20801": "Orange", "20810": "SFR", "20820": "Bouygues",
                        "40410": "AD-AIRTEL", "40420": "VM-VICARE"}

# VoIP codecs with their E-model equipment impairment (ITU-T G.113 Appendix I, rounded).
CODECS = (("OPUS", 0.45, 0), ("AMR-WB", 0.20, 2), ("G.711", 0.20, 4), ("G.722", 0.10, 2), ("G.729", 0.05, 11))

# IMS: outcomes of the SIP methods of S-CSCF records (traffic.IMS_METHODS; RFC 3261 status codes).
IMS_STATUS = {
    "INVITE": ((200, 0.86), (486, 0.05), (480, 0.04), (487, 0.03), (408, 0.01), (503, 0.006), (603, 0.002),
               (404, 0.001), (502, 0.0005), (504, 0.0005), (500, 0.0005)),  # and INVITE_STATUS's
    "REGISTER": ((200, 0.95), (401, 0.04), (403, 0.01)),
    "MESSAGE": ((200, 0.55), (202, 0.43), (404, 0.02)),
    "SUBSCRIBE": ((200, 0.97), (489, 0.03)),
    "OPTIONS": ((200, 0.98), (404, 0.02)),
}
IMS_SERVICES = {
    "INVITE": (("VoLTE", 0.77), ("VoWiFi", 0.15), ("VoNR", 0.03), ("ViLTE", 0.05)),
    "REGISTER": (("VoLTE", 0.85), ("VoWiFi", 0.15)),
    "MESSAGE": (("SMSoIP", 0.5), ("RCS", 0.5)),
    "SUBSCRIBE": (("RCS", 1.0),),
    "OPTIONS": (("RCS", 1.0),),
}

# 3GPP TS 32.298 record names per type, for (mobile-terminated, mobile-originated) and, for voice, the
# same of a call carried by IMS (the MMTel AS's record, TS 32.275).
RECORD_TYPES = (("mtCallRecord", "moCallRecord", "mmtelRecord", "mmtelRecord"), ("pgwRecord", "pgwRecord"),
                ("mtSMSRecord", "moSMSRecord"), ("voipRecord", "voipRecord"), ("sCSCFRecord", "sCSCFRecord"))
# The final SIP response of a call's INVITE by its Q.850 cause (VOICE_OUTCOMES), as RFC 3398
# section 8.2.6.1 maps causes to SIP responses, except #21, the UE's own 603 Decline (RFC 3261
# 21.6.2).  A dropped call was answered; one forwarded to voicemail is answered by it (200).
INVITE_STATUS = {16: 200, 41: 200, 19: 480, 17: 486, 21: 603, 20: 480, 27: 502, 34: 503, 38: 503, 31: 480,
                 102: 504, 1: 404, 127: 500}

DIRECTIONS = ("MT", "MO")  # by mobile-originated
SMS_ENCODINGS = ("GSM-7", "UCS-2")  # TS 23.038, by UCS-2
ROLES_OF_NODE = ("terminating", "originating")  # role-of-Node, by originating
# accessNetworkInformation (TS 24.229 P-Access-Network-Info): VoWiFi, 5G device, else
ACCESS_NETWORKS = ("IEEE-802.11", "3GPP-NR", "3GPP-E-UTRAN-FDD")
MOS_RANGE = (1.0, 4.5)  # the E-model's scale of mean opinion scores (ITU-T G.107)



def _table(rows, weight_at=1):
    w = np.array([r[weight_at] for r in rows], dtype=float)
    return np.cumsum(w / w.sum())


def _draw(rng, cum, n):
    return np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(cum) - 1)


def _cum(weights) -> np.ndarray:
    """Cumulative shares that end at exactly 1.0 (a row of weight 0, last or not, is never drawn)."""
    cum = np.cumsum(np.asarray(weights, dtype=float))
    return cum / cum[-1]


def _pick(cum: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.searchsorted(cum, r, side="right")


_RESULT = np.array([o[0] for o in VOICE_OUTCOMES])
_OUTCOME_WEIGHT = np.array([o[1] for o in VOICE_OUTCOMES])
_REACHES = np.isin(_RESULT, REACHES_CALLEE)  # by outcome
_TALKS = np.isin(_RESULT, TALK_RESULTS)
_RETRIED, _MISSED = np.isin(_RESULT, RETRIED), np.isin(_RESULT, MISSED)
_ON_NET_OK = ~np.isin([o[3] for o in VOICE_OUTCOMES], OFF_NET_ONLY)
# An MO call's outcome (to a number of another network, or to a user of the file), and a lone MT
# record's (its call reached the callee): the table's shares among the outcomes that can be.
_OUTCOME_CUM, _OUTCOME_CUM_ON_NET = _cum(_OUTCOME_WEIGHT), _cum(_OUTCOME_WEIGHT * _ON_NET_OK)
_OUTCOME_CUM_MT = _cum(_OUTCOME_WEIGHT * _REACHES)
# A call to the operator's own service number (voicemail, customer care): answered, or dropped, or lost
# to the network at set-up (causes 34, 38), never busy, unanswered or absent.
_OUTCOME_CUM_SERVICE = _cum(_OUTCOME_WEIGHT * (np.isin(_RESULT, ("answered", "dropped"))
                                               | np.isin([o[3] for o in VOICE_OUTCOMES], (34, 38))))
_ALERT_LO = np.array([o[5] for o in VOICE_OUTCOMES], dtype=float)
_ALERT_HI = np.array([o[6] for o in VOICE_OUTCOMES], dtype=float)
DROPPED, VOICEMAIL = list(_RESULT).index("dropped"), list(_RESULT).index("voicemail")
ABSENT = [o[3] for o in VOICE_OUTCOMES].index(20)  # a callee whose phone has no network (subscriber absent)
_NO_REPLY_S = np.array([t for t, _ in NO_REPLY_TIMERS], dtype=float)
_NO_REPLY_CUM = _cum([w for _, w in NO_REPLY_TIMERS])


def outcome_rings() -> np.ndarray:
    """(lo, hi) seconds from an MO record's start to its answer or release, per outcome: the call
    setup and the alerting (telco_cdr.anomalies plants calls with them)."""
    lo, hi = CALL_SETUP_MS
    return np.column_stack((_ALERT_LO + lo / 1000, _ALERT_HI + hi / 1000))


_SMS_CUM, _CODEC_CUM = _table(SMS_RESULTS), _table(CODECS)


# A stream's follow-ups carried to later chunks, at most (41 bytes each).  A stream paced at R messages a
# second has about 25 R of them pending with the default mix (40 R with 60 % voice; measured over two
# hours at 10 and 100 messages/s), so this lasts to about 4,000 messages/s; faster streams keep the
# ones due first (the retries) and lose some call-backs.
CARRY_MAX = 100_000


class PendingFollowUps:
    """A stream's retries and call-backs that are not due yet, carried from block to block as
    StreamBearers carries bearers: a stream's blocks span milliseconds to seconds (50 ms of its
    pace), its follow-ups minutes, so nearly all of them land in a later block.  Each is when it
    is due and what the call is: who calls, whom (user, number, kind, network), as ``items``, six
    arrays in that order."""

    def __init__(self):
        self.items = tuple(np.zeros(0, dtype=dt) for dt in (np.int64, np.int64, np.int64, np.int64, np.int8,
                                                             np.int64))

    def __len__(self) -> int:
        return len(self.items[0])

    def keep(self, items: tuple, waiting: tuple | None) -> None:
        """Carry ``items`` and ``waiting`` on; above CARRY_MAX of them (a fast stream's: its event time
        runs with the clock, so its follow-ups pile up), only the 80 % of CARRY_MAX due first (so this
        is done now and then, not for every chunk)."""
        if waiting is not None:
            items = tuple(np.concatenate((a, b)) for a, b in zip(waiting, items))
        if len(items[0]) > CARRY_MAX:
            n = CARRY_MAX * 4 // 5
            first = np.sort(np.argpartition(items[0], n - 1)[:n])
            items = tuple(a[first] for a in items)
        self.items = items


def _follow_ups(rng, rows, outcome, start, u, cp_user, cp_num, cp_kind, cp_net, mo, pop,
                carry: PendingFollowUps | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Retries and call-backs among voice rows ``rows`` (in time order) with outcomes ``outcome``: an MO
    call that did not get through is tried again (RETRY_SHARE) RETRY_DELAY_S after it; a call the user
    missed (an MT record, or a user of the file who missed an MO call) is called back (CALLBACK_SHARE)
    CALLBACK_DELAY_S after it.  Each takes the place of the first voice row at or after that time that
    is neither a call followed up nor taken (one that is goes without); the arrays change in place;
    returns the rows taken and the rows of this chunk they follow (with ``carry``, also those whose
    follow-up is carried on, so that no later step rewrites a call that is followed up).  ``carry`` (a
    stream's): those due after the last row wait there for a later chunk, and those of earlier chunks
    come first here; without it (a file's chunks, each on its own) they go without."""
    none = np.zeros(0, dtype=np.int64)
    if carry is None and len(rows) < 2:
        return none, none
    m, peer = mo[rows], cp_user[rows]
    retry = m & _RETRIED[outcome] & (rng.random(len(rows)) < RETRY_SHARE)
    missed = _MISSED[outcome] & (~m | (peer >= 0)) & (rng.random(len(rows)) < CALLBACK_SHARE)
    missed &= ~retry
    delay = np.where(retry, rng.lognormal(*RETRY_DELAY_S, len(rows)), rng.lognormal(*CALLBACK_DELAY_S, len(rows)))
    src = np.flatnonzero(retry | missed)
    s = rows[src]
    back = missed[src] & m[src]  # a user of the file who missed an MO call calls its caller back
    # each follow-up: (due, caller, callee user, number, kind, network), the source's row in the chunk
    items = (start[s] + (delay[src] * 1000).astype(np.int64), np.where(back, cp_user[s], u[s]),
             np.where(back, u[s], cp_user[s]), np.where(back, pop.msisdn[u[s]], cp_num[s]),
             np.where(back, USER, cp_kind[s]).astype(np.int8),
             np.where(back, pop.counterparties.plmn_net[pop.plmn_code[u[s]]], cp_net[s]))
    source, waiting = src, None
    if carry is not None and len(carry):  # the earlier chunks' due by the last row, first; the others wait
        now = carry.items[0] <= (start[rows[-1]] if len(rows) else np.iinfo(np.int64).min)
        waiting = tuple(a[~now] for a in carry.items)
        items = tuple(np.concatenate((a[now], b)) for a, b in zip(carry.items, items))
        source = np.concatenate((np.full(int(now.sum()), -1, dtype=np.int64), src))
    busy = np.zeros(len(rows), dtype=bool)  # the sources stay as they are
    busy[src] = True
    if carry is None:
        at = np.searchsorted(start[rows], items[0])
        keep = at < len(rows)
        keep[keep] = ~busy[at[keep]]
        pick = np.flatnonzero(keep)
        at, first = np.unique(at[pick], return_index=True)  # one follow-up per row taken
        pick = pick[first]
        t = rows[at]
    else:  # in order of time due, each takes the first free row at or after it (a stream's rows may share
        # a time), and those that find none wait for the next chunk
        order = np.argsort(items[0], kind="stable")
        items, source = tuple(a[order] for a in items), source[order]
        free = rows[~busy]
        at = np.searchsorted(start[free], items[0])
        k = np.arange(len(at))
        slot = np.maximum.accumulate(at - k) + k if len(at) else at
        fits = slot < len(free)
        carry.keep(tuple(a[~fits] for a in items), waiting)
        pick = np.flatnonzero(fits)
        t = free[slot[fits]]
    _, caller, f_user, f_num, f_kind, f_net = (a[pick] for a in items)
    cp_user[t], cp_num[t], cp_kind[t], cp_net[t] = f_user, f_num, f_kind, f_net
    u[t], mo[t] = caller, True
    if carry is not None:  # every call of this chunk with a follow-up, made here or later: none is rewritten
        return t, s
    follows = source[pick]
    return t, rows[follows[follows >= 0]]


@dataclass
class Chunk:
    types: np.ndarray  # CDR type index per record
    users: np.ndarray  # user index per record
    parts: list  # per type present: (type index, positions in the chunk, formatted records)
    starts: np.ndarray | None = None  # each record's start and end time (epoch ms), in chunk order
    ends: np.ndarray | None = None
    incident: np.ndarray | None = None  # with --anomalies: each record's incident (AnomalyPlan.incidents), or -1

    @property
    def lines(self) -> list:
        """All formatted records, in event-time order."""
        rows = np.empty(len(self.types), dtype=object)
        for _, idx, lines in self.parts:
            rows[idx] = lines
        return rows.tolist()


# Users up to which a run makes the text of every user's own fields once (a pick is then a lookup
# in one table); above it, each chunk makes the text of its own users alone, so that a telco-size
# base (10,000,000 users) does not hold gigabytes of text (telco_cdr.user_table).
TEXT_TABLES_UP_TO = 2_000_000


class UserTexts:
    """The text of the users' own fields (user_id, msisdn, imsi, imei, their PLMN's, their network
    nodes'), as tables that picks take entries from by a user's place in them (``at``)."""

    FIELDS = ("user_id", "msisdn", "imsi", "imei", "mcc", "mnc", "plmn", "msc", "pgw", "smsc", "domain", "node",
              "node_dash")

    def __init__(self, pop: Population, users: np.ndarray | None = None):
        """The texts of ``users`` (sorted user indexes; every user for None: none made yet for a
        base of more than TEXT_TABLES_UP_TO users, whose chunks make their own, see ``of``)."""
        self.pop, self.users = pop, users
        every = users is None
        if every and pop.n > TEXT_TABLES_UP_TO:
            return
        users = slice(None) if every else users

        def text(values):
            return np.array([v.encode("utf-8") for v in values.tolist()], dtype=object)

        self.user_id, self.imsi, self.imei = text(pop.user_ids[users]), text(pop.imsi[users]), text(pop.imei[users])
        self.msisdn = text_array([b"%d" % m for m in pop.msisdn[users].tolist()])
        plmns, code = pop.plmns, pop.plmn_code[users]
        self.mcc = text_array([m for m, _ in plmns])[code]
        self.mnc = text_array([n for _, n in plmns])[code]
        self.plmn = text_array([m + n for m, n in plmns])[code]
        nodes, place = pop.nodes, pop.node_place[users]
        self.msc, self.pgw = text_array(nodes["msc"])[place], text_array(nodes["pgw"])[place]
        self.domain, self.node = text_array(nodes["domain"])[place], text_array(nodes["node"])[place]
        self.node_dash = (text_array(nodes["node"]) + b"-")[place]  # an ICID's first part
        if all(nodes["smsc"]):
            self.smsc = text_array(["+" + n for n in nodes["smsc"]])[place]
        else:
            self.smsc = text_array(smsc_of(pop, np.arange(pop.n)[users]))

    def of(self, *rows: np.ndarray) -> UserTexts:
        """The texts of the users of ``rows`` (arrays of user indexes, -1 for none): these for a base of
        up to TEXT_TABLES_UP_TO users, else the chunk's own."""
        if self.pop.n <= TEXT_TABLES_UP_TO:
            return self
        users = np.unique(np.concatenate([r[r >= 0] for r in rows]))
        return UserTexts(self.pop, users)

    def at(self, users: np.ndarray) -> np.ndarray:
        """Where users (by index) are in these tables."""
        return users if self.users is None else np.searchsorted(self.users, users)


class CdrFactory:
    """Builds chunks of CDRs for a population, a type mix and an output format (a layout kind:
    json, csv or csv_type)."""

    def __init__(self, pop: Population, weights: dict[str, float], seed: int, kind: str = "json",
                 stream: SeedDomain = SeedDomain.FILE_CDRS, curve: TrafficCurve | None = None,
                 labelled: bool = False):
        """``curve`` gives who makes which event when (a file's window); without one, types
        follow ``weights`` and users are drawn for events of any time (a stream).  ``labelled``
        (--label-anomalies): every record gets ``anomaly``, its incident's kind or null."""
        from .contract import layouts  # the contract takes its allowed values from the tables above

        self.pop = pop
        self.curve = curve or TrafficCurve(pop, weights)
        self.seed = seed
        self.stream = stream
        self.columns = Columns(kind)
        self.labelled = labelled
        self.layouts = [layouts(kind, labelled)[t] for t in CDR_TYPES]
        # The user's own fields, one text per user (free text is escaped by the layout, once).
        self.texts = UserTexts(pop)
        self.record_type = [text_array(list(pair)) for pair in RECORD_TYPES]
        # The serving networks: the users' PLMNs, then the visited ones (telco_cdr.roaming)
        networks = [*pop.plmns, *zip(pop.trips.mcc, pop.trips.mnc)]
        # by one index, network * 2 + roaming, so that the layout joins cell_mcc, cell_mnc, roaming and the
        # cell's PLMN digits (neighbours in a record) into one piece
        self.net_mcc = np.repeat(text_array([m for m, _ in networks]), 2)
        self.net_mnc = np.repeat(text_array([c for _, c in networks]), 2)
        self.net_plmn = np.repeat(text_array([m + c for m, c in networks]), 2)
        self.net_roaming = np.tile(_BOOLEAN, len(networks))
        # counterparty_type and counterparty_network by kind * (networks + 1) + network (the last: none)
        self.cp_networks = pop.counterparties.networks
        width = len(self.cp_networks) + 1
        self.cp_kind_text = np.repeat(text_array(list(KINDS)), width)
        self.cp_net_text = np.tile(np.array([*text_array(self.cp_networks), None], dtype=object), len(KINDS))
        base = np.random.default_rng(np.random.SeedSequence([SeedDomain.RUN_IDS, stream, seed])).integers(0, 2**62, 3)
        self.run_tag = f"{int(base[0]) & 0xFFFFFFFF:08x}-"
        self.charging_base = int(base[1]) % 2**32
        self.icid_base = int(base[2]) % 2**40
        self.apn_of_user = internet_apns(pop)  # each user's internet APN (bearers.APNS)
        # each PLMN's own A2P sender in _A2P_TEXT, or -1 (a US operator's: from the country's short codes)
        self.a2p_operator = np.array([_A2P_OPERATOR_AT.get(m + c, -1) for m, c in pop.plmns], dtype=np.int64)
        self._stream_bearers: StreamBearers | None = None
        self._pending: PendingFollowUps | None = None

    @property
    def pending_follow_ups(self) -> PendingFollowUps:
        """A stream's retries and call-backs due in a later chunk than their call's."""
        if self._pending is None:
            self._pending = PendingFollowUps()
        return self._pending

    @property
    def stream_bearers(self) -> StreamBearers:
        """Data records without a window (a stream, or warm()): each the next partial of the user's
        internet bearer."""
        if self._stream_bearers is None:
            self._stream_bearers = StreamBearers(self.pop, self.seed)
        return self._stream_bearers

    def rng(self, chunk_index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.stream, self.seed, chunk_index]))

    def mobility_rng(self, chunk_index: int) -> np.random.Generator:
        """Where chunk ``chunk_index``'s users are (telco_cdr.mobility): a generator of its own, so that
        the rest of each record is drawn from ``rng`` as before."""
        return np.random.default_rng(np.random.SeedSequence([SeedDomain.MOBILITY, self.stream, self.seed, chunk_index]))

    def bearer_rng(self, chunk_index: int) -> np.random.Generator:
        """A stream's data records of chunk ``chunk_index``: how their bearers move on (a generator of
        their own, so that a shard can move the bearers past another shard's chunk by drawing its
        users alone, see build's ``advance_only``)."""
        return np.random.default_rng(np.random.SeedSequence([SeedDomain.STREAM_BEARERS, self.seed, chunk_index]))

    def warm(self) -> None:
        """Build a record of each type and throw it away, so that the text tables joined from
        per-user columns are made here once (before worker processes fork), not in every worker."""
        present = self.curve.weights > 0
        present[DATA] |= self.pop.zone_activity[:, DATA, 0].sum() > 0  # a file's come from its bearers
        present = np.flatnonzero(present)
        start = self.curve.start_ms if self.curve.start_ms is not None else 0
        self.build(0, 0, np.full(len(present), start, dtype=np.int64), types=present)
        self._stream_bearers = self._pending = None

    def build(self, chunk_index: int, first_index: int, times_ms: np.ndarray, types: np.ndarray | None = None,
              data: Partials | None = None, anomalies: AnomalyPlan | None = None,
              bounds: tuple[int, int] | None = None, closing: bool = False, advance_only: bool = False) -> Chunk | None:
        """Records for sorted event times ``times_ms``; ``first_index`` numbers them in the run.
        ``types`` (one CDR type index per record) is drawn from the mix unless given.  ``data``:
        partial records (a CDR file's, telco_cdr.bearers) to add as the chunk's data records; data
        records drawn from the mix are instead the next partials of their users' internet bearers.
        ``anomalies`` (--anomalies) plants the incidents' records planned in ``bounds`` (the
        chunk's times, [from, to) in epoch ms) and changes those of their cells, lines and windows.
        ``closing``: the times are when the records close (a stream's, sent after they end), so each
        record's times move back by its duration once that is drawn; without it the bytes are as ever.
        ``advance_only`` (a stream shard skipping another shard's chunk): draw no more than the chunk's
        data records need to move their users' bearers on (StreamBearers) and its calls need to leave
        the retries and call-backs that are due later (PendingFollowUps), build nothing, return None."""
        pop, rng, radio = self.pop, self.rng(chunk_index), self.pop.radio
        start = np.array(times_ms, dtype=np.int64)
        types, u, _ = self.curve.assign(rng, start, None if types is None else np.asarray(types, dtype=np.int64))
        if advance_only:  # a stream's data rows are the users' draws of assign(), their bearers' own generator
            rows = np.flatnonzero(types == DATA)
            self.stream_bearers.next(self.bearer_rng(chunk_index), u[rows], start[rows], rat=None)  # no records: no RAT
        if data is not None and len(data):
            types = np.concatenate((types, np.full(len(data), DATA, dtype=types.dtype)))
            u = np.concatenate((u, data.user.astype(np.int64)))
            start = np.concatenate((start, data.start))
        n = len(start)
        drow = np.full(n, -1, dtype=np.int64)  # a data row's partial (in ``partials``)
        data_rows = np.flatnonzero(types == DATA)
        drow[data_rows] = np.arange(len(data_rows))
        cp_user, cp_num, cp_kind, cp_net = pop.contact(u, rng.random(n), types == SMS)
        mo = rng.random(n) < 0.5
        # A few calls go to the operator's own service numbers (voicemail, customer care), all dialled.
        service = np.flatnonzero((types == VOICE) & (rng.random(n) < SERVICE_SHARE))
        if len(service):
            code = pop.counterparties.services(u[service], rng.random(len(service)))
            service = service[code < 0]
            cp_user[service], cp_num[service], mo[service] = -1, code[code < 0], True
            cp_kind[service], cp_net[service] = SERVICE, NO_NETWORK

        # Voice outcome and times of the rows of calls (voice rows, and IMS rows, whose INVITEs are calls'
        # records; the other rows keep zeros): an MO call's outcome (causes of other networks' numbers
        # only to those; a user of the file whose phone has no network is absent), a lone MT record's
        # among those that reach the callee.  ``ring``: seconds from the record's start to the answer or
        # release, for an MO record the call setup and the alerting, for an MT record the alerting (its
        # leg starts when set up).
        calls = np.flatnonzero((types == VOICE) | (types == IMS))
        nc = len(calls)
        r = rng.random(nc)

        def outcomes():
            c_mo, c_peer = mo[calls], cp_user[calls]
            oc = np.where(c_mo, np.where(c_peer >= 0, _pick(_OUTCOME_CUM_ON_NET, r), _pick(_OUTCOME_CUM, r)),
                          _pick(_OUTCOME_CUM_MT, r))
            oc[c_mo & (c_peer >= 0) & ~radio.can_call[np.maximum(c_peer, 0)]] = ABSENT
            service = cp_kind[calls] == SERVICE  # a voicemail or care line answers, but for the network's failures
            oc[service] = _pick(_OUTCOME_CUM_SERVICE, r[service])
            return oc

        oc = outcomes()
        # Failed calls tried again and missed calls called back: later voice rows become those calls,
        # whose outcomes are then their own.
        followed, follows = _follow_ups(rng, calls[types[calls] == VOICE], oc[types[calls] == VOICE], start, u,
                                        cp_user, cp_num, cp_kind, cp_net, mo, pop,
                                        carry=self.pending_follow_ups if closing else None)
        if advance_only:  # (so far the draws of a full build: the follow-ups it carries on are the same)
            return None
        if len(followed):
            oc = outcomes()
        voicemail = oc == VOICEMAIL
        alert_c = _ALERT_LO[oc] + rng.random(nc) * (_ALERT_HI[oc] - _ALERT_LO[oc])
        alert_c = np.where(voicemail, _NO_REPLY_S[_pick(_NO_REPLY_CUM, rng.random(nc))], alert_c)
        alert_c = np.floor(alert_c * 1000) / 1000  # whole ms, so that both legs of a call end at the same ms
        setup_c = rng.integers(CALL_SETUP_MS[0], CALL_SETUP_MS[1] + 1, nc)
        talk_c = np.minimum(rng.lognormal(VOICE_MU, VOICE_SIGMA, nc), VOICE_MAX_S)
        talk_c = np.where(oc == DROPPED, talk_c * 0.5, talk_c)
        message = np.minimum(rng.lognormal(VOICEMAIL_MU, VOICEMAIL_SIGMA, nc), VOICEMAIL_MAX_S)
        talk_c = np.where(voicemail, message, talk_c)
        outcome = np.zeros(n, dtype=oc.dtype)
        outcome[calls] = oc
        alert, setup_ms, talk = np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        alert[calls], setup_ms[calls] = alert_c, setup_c
        talk[calls] = np.where(_TALKS[oc], np.maximum(talk_c, 1.0), 0.0)
        ring = np.where(mo, alert + setup_ms / 1000, alert)
        call = np.arange(n)  # the call a row belongs to (its ICID): its own, or its twin's
        caller = u.copy()  # whose S-CSCF names the call's ICID: the calling user's, where on-net
        method = np.full(n, -1)
        ims_rows = np.flatnonzero(types == IMS)
        method[ims_rows] = ims_methods(rng, self.curve.local_of(u[ims_rows], start[ims_rows]))

        # MT twins: an on-net MO call that reached the callee appears a second time, as the callee's
        # MT record, in place of another voice row (so the type mix stays as weighted).  Its leg
        # starts when the call is set up, ``setup_ms`` after the MO leg, and ends with it; in a file,
        # only calls whose MT leg starts before the chunk's last record (so chunks stay in time
        # order).  ``closing`` (a stream): the times given are the ends, the legs' common time.
        is_voice = types == VOICE
        reachable = (cp_user >= 0) & radio.can_call[np.maximum(cp_user, 0)]  # an on-net callee with a network
        twinned = is_voice & mo & reachable & _REACHES[outcome] & (rng.random(n) < TWIN_SHARE)
        if not closing and n:
            twinned &= start + setup_ms <= start.max()
        src = np.flatnonzero(twinned)
        not_src = is_voice.copy()
        not_src[src] = False
        not_src[followed] = False  # (a retry or a call back stays what it is, and the call it follows)
        not_src[follows] = False
        others = np.flatnonzero(not_src)
        k = min(len(src), len(others))
        if k:
            src = src[:k]
            tgt = rng.permutation(others)[:k]
            u[tgt], cp_user[tgt], cp_num[tgt] = cp_user[src], u[src], pop.msisdn[u[src]]
            cp_kind[tgt], cp_net[tgt] = USER, pop.counterparties.plmn_net[pop.plmn_code[u[src]]]
            start[tgt], mo[tgt] = start[src] + (0 if closing else setup_ms[src]), False
            outcome[tgt], ring[tgt], talk[tgt] = outcome[src], alert[src], talk[src]
            call[tgt], caller[tgt] = call[src], u[src]
        segment, segments, length, ucs2 = self._messages(rng, np.flatnonzero(types == SMS), start, u, cp_user, cp_num,
                                                         cp_kind, cp_net, mo, call)
        # how calls are carried (voice rows), the RAT of the others (a mobile bearer's)
        voice_rows, other_rows = np.flatnonzero(is_voice), np.flatnonzero(~is_voice)
        tech, rat = np.zeros(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        tech[voice_rows], rat[voice_rows] = voice_technologies(rng, radio, u[voice_rows])
        rat[other_rows] = bearer_rats(rng, radio, u[other_rows])
        if data is not None and len(data):
            partials = {"dur": data.dur, "kind": data.kind, "charging": data.charging, "seq": data.seq,
                        "cause": data.cause, "up": data.up, "down": data.down}
            rat[data_rows] = data.rat
        else:  # a stream's: they close now
            partials = self.stream_bearers.next(self.bearer_rng(chunk_index) if self.stream == SeedDomain.STREAM_CDRS
                                                else rng, u[data_rows], start[data_rows], rat[data_rows])
            start[data_rows] = partials["start"]

        # The S-CSCF records of calls carried by IMS: INVITE rows of ims become the originating
        # (MO leg) or terminating (MT leg) records of voice rows' calls, sharing their ICID.
        legs = rng.permutation(np.flatnonzero(is_voice & (tech != CS) & (cp_kind != SERVICE)))  # (not a dial string)
        invites = np.flatnonzero((types == IMS) & (method == _INVITE))
        k = min(len(legs), len(invites))
        if k:
            legs, invites = legs[:k], invites[:k]
            for arr in (u, cp_user, cp_num, cp_kind, cp_net, start, mo, outcome, ring, talk, call, caller, tech, rat):
                arr[invites] = arr[legs]
        twin_of_call = np.zeros(n, dtype=bool)
        twin_of_call[invites[:k]] = True

        # REGISTER rows belong to the device whose periodic re-registration is due at that time.
        registers = np.flatnonzero((types == IMS) & (method == _REGISTER))
        if len(registers) and len(pop.register_order):
            due = (start[registers] // 1000) % REGISTER_PERIOD_S
            at = np.searchsorted(pop.register_phase, due, side="right") - 1  # -1: the last, of the hour before
            u[registers] = pop.register_order[at]
            caller[registers] = u[registers]
            rat[registers] = bearer_rats(rng, radio, u[registers])

        incident = None
        if anomalies is not None:  # planted calls and messages take the place of rows that stand alone
            arng = anomalies.rng(chunk_index)
            incident = anomalies.plant(arng, *bounds, Rows(types, u, cp_user, cp_num, mo, start, outcome, ring, talk,
                                                          call, caller, tech, rat), radio)
            planted = np.flatnonzero(incident >= 0)  # their other parties: users, or numbers by their country
            cp_kind[planted] = np.where(cp_user[planted] >= 0, USER,
                                        np.where(international(pop.msisdn[u[planted]], cp_num[planted]),
                                                 INTERNATIONAL, MOBILE))
            cp_net[planted] = np.where(cp_user[planted] >= 0,
                                       pop.counterparties.plmn_net[pop.plmn_code[np.maximum(cp_user[planted], 0)]],
                                       np.where(cp_kind[planted] == MOBILE,
                                                pop.counterparties.network_of(u[planted], cp_num[planted]),
                                                NO_NETWORK))
        order = np.argsort(start, kind="stable")
        (types, u, cp_user, cp_num, cp_kind, cp_net, mo, start, outcome, ring, talk, call, caller, tech, rat, method,
         twin_of_call, drow, segment, segments, length, ucs2) = (
            a[order] for a in (types, u, cp_user, cp_num, cp_kind, cp_net, mo, start, outcome, ring, talk, call, caller,
                               tech, rat, method, twin_of_call, drow, segment, segments, length, ucs2))
        position = np.empty_like(order)  # where each row went: a call's number is its first row's place
        position[order] = np.arange(n)
        call = position[call]  # (an SMS row's: its message's first segment's place)

        # Serving cell: where the user is at the event's local time (telco_cdr.mobility: home by night,
        # near work in weekday working hours, on the way between), its own cell or a neighbour.
        stay, off, near_sector = rng.random(n), rng.integers(-NEAR, NEAR + 1, n), rng.integers(1, 4, n)
        offsets = pop.clock.offsets(pop.zone_of[u], start)  # the UTC offsets at the starts (ms_time_zone's too)
        home_local = start + offsets  # local times at home (mobility's hours, money's billing cycles)
        enb, sector = serving_cells(self.mobility_rng(chunk_index), pop.anchors, pop.home_enb, pop.home_sector, u,
                                    home_local, stay, off, near_sector)
        tac = np.clip(pop.home_tac[u] + (enb >> 5) - (pop.home_enb[u] >> 5), 0, 0xFFFF)
        # Abroad (telco_cdr.roaming): the visited network's cells around the trip's base, its time zone.
        net = pop.plmn_code[u].astype(np.int64)  # the serving network: the home PLMN, or len(plmns) + a visited one
        visited, base = pop.trips.where(net, u, start)
        like_home = pop.trips.like_home(net, visited)
        abroad = np.flatnonzero(visited >= 0)
        if len(abroad):
            net[abroad] = len(pop.plmns) + visited[abroad]
            enb[abroad] = base[abroad] + np.where(stay[abroad] < AT_BASE, 0, off[abroad])
            sector[abroad] = near_sector[abroad]
            tac[abroad] = enb[abroad] >> 5
            offsets[abroad] = pop.trips.offsets(visited[abroad], start[abroad])
        # The segments of a long text go out within a second: from the network, cell and RAT of its first.
        later = np.flatnonzero((segment > 1) & (types == SMS))
        if len(later):
            head = call[later]
            for a in (enb, sector, tac, rat, net, visited, like_home, offsets):
                a[later] = a[head]
        ident = None  # with a swapped SIM in the chunk: each row's in the identity tables
        if anomalies is not None:
            incident = incident[order]
            away = visited >= 0  # the incidents' cells are at home: a SIM box's SIMs are brought home
            partials, ident = anomalies.shape(arng, Rows(types, u, cp_user, cp_num, mo, start, outcome, ring, talk,
                                                         call, caller, tech, rat), incident, enb, sector, tac, drow,
                                              partials, twin_of_call, away)
            home = np.flatnonzero((visited >= 0) & ~away)
            if len(home):
                visited[home], net[home] = -1, pop.plmn_code[u[home]]
                offsets[home] = pop.clock.offsets(pop.zone_of[u[home]], start[home])

        # every zone's offsets, the visited ones' too, so the table is the same chunk after chunk
        seen = pop.trips.distinct_offsets(int(start.min()), int(start.max())) if n else ()
        distinct = np.array(sorted({*pop.clock.distinct_offsets().tolist(), *seen}), dtype=np.int64)
        zone_text = text_array(offset_text(distinct))

        def start_fields(rows, at, offsets=None):  # start_time and ms_time_zone of records ``rows`` starting ``at``
            if offsets is None:
                offsets = pop.clock.offsets(pop.zone_of[u[rows]], at)
                away = visited[rows] >= 0
                if away.any():
                    offsets[away] = pop.trips.offsets(visited[rows][away], at[away])
            return timestamp(at), Pick(zone_text, np.searchsorted(distinct, offsets))
        if not closing:  # the chunk's at once (with ``closing``, a type's once its durations are known)
            start_s, ms_time_zone = start_fields(slice(None), start, offsets)
        ends = np.empty(n, dtype=np.int64)
        pos = Pick(POS, np.arange(n)) if n <= len(POS) else text_array([f"{i:06x}" for i in range(n)])
        tag = Literal(f"{self.run_tag}{chunk_index:08x}-".encode())
        parts = []
        builders = (self._voice, self._data, self._sms, self._voip, self._ims)
        texts = self.texts.of(u, cp_user, caller)  # the chunk's users' text (for a large base, theirs alone)
        if ident is not None:  # a swapped SIM: its new IMSI and IMEI after the users'
            imsi_table, imei_table = anomalies.identity_tables(texts.imsi, texts.imei)
            ident = np.where(ident < pop.n, texts.at(np.minimum(ident, pop.n - 1)), len(texts.imsi) + ident - pop.n)
        for t in range(len(CDR_TYPES)):
            idx = np.flatnonzero(types == t)
            if not len(idx):
                continue
            ui = u[idx]
            ctx = _Ctx(rng, idx, ui, cp_num[idx], mo[idx], start[idx], first_index, rat=rat[idx].copy())
            ctx.texts, ctx.tu = texts, texts.at(ui)  # one index for every per-user column: neighbours are joined
            ctx.cp_user, ctx.cp_kind, ctx.cp_net = cp_user[idx], cp_kind[idx], cp_net[idx]
            ctx.outcome, ctx.ring, ctx.talk, ctx.tech = outcome[idx], ring[idx], talk[idx], tech[idx]
            ctx.method, ctx.twin, ctx.call, ctx.caller = method[idx], twin_of_call[idx], call[idx], caller[idx]
            ctx.partial, ctx.partials = drow[idx], partials
            ctx.segment, ctx.segments, ctx.length, ctx.ucs2 = segment[idx], segments[idx], length[idx], ucs2[idx]
            ctx.planted = None if incident is None else incident[idx] >= 0
            ctx.roaming = visited[idx] >= 0
            ctx.home_local = None if closing else home_local[idx]  # (a stream's starts move back: found again)
            ctx.surcharged = ctx.roaming & ~like_home[idx]  # abroad and priced so (not roam like at home)
            dur_ms, values = builders[t](ctx)
            values.setdefault("record_type", Pick(self.record_type[t], ctx.mo.view(np.int8)))
            if closing:  # started its duration before the time given; the times that follow the start with it
                start[idx] -= dur_ms
                start_time, zone = start_fields(idx, start[idx])
            else:
                start_time, zone = tuple(p[idx] if isinstance(p, Pick) else p for p in start_s), ms_time_zone[idx]
            ends[idx] = start[idx] + dur_ms
            serving = net[idx] * 2 + ctx.roaming  # the serving network and whether it is abroad, one index
            at = start[idx]
            values.update({k: v(at) for k, v in values.items() if callable(v)})  # times after the start
            values.update(start_time=start_time, ms_time_zone=zone)
            values.update(
                cdr_id=(tag, pos[idx]), end_time=timestamp(ends[idx]), user_id=Pick(texts.user_id, ctx.tu),
                msisdn=Pick(texts.msisdn, ctx.tu), imsi=Pick(texts.imsi, ctx.tu), imei=Pick(texts.imei, ctx.tu),
                cell_mcc=Pick(self.net_mcc, serving), cell_mnc=Pick(self.net_mnc, serving),
                roaming=Pick(self.net_roaming, serving),
                **self._cell(Pick(self.net_plmn, serving), ctx.rat, enb[idx], sector[idx], tac[idx]),
            )
            if self.labelled:
                kinds = (np.full(len(idx), -1) if incident is None
                         else np.where(incident[idx] >= 0, anomalies.kind_of[np.maximum(incident[idx], 0)], -1))
                values["anomaly"] = Nullable(Pick(_ANOMALY_TEXT, np.maximum(kinds, 0)), kinds >= 0)
            if ident is not None:  # a swapped SIM: its new IMSI and IMEI
                values.update(imsi=Pick(imsi_table, ident[idx]), imei=Pick(imei_table, ident[idx]))
            parts.append((t, idx, list(map(b"".join, zip(*self.columns(self.layouts[t], values))))))
        return Chunk(types=types, users=u, parts=parts, incident=incident, starts=start, ends=ends)

    def _cell(self, plmn: Pick, rat, enb, sector, tac) -> dict:
        """The serving cell's fields by RAT: an NCGI on NR, a CGI (LAC + CI) on 3G or 2G, else an
        ECGI (on Wi-Fi the last LTE cell); 2G/3G cells have a location area, no tracking area.
        Every piece is a table lookup (integer work per record, no text)."""
        nr, legacy = rat == NR, (rat == CS_RATS[0]) | (rat == CS_RATS[1])
        eci = enb * 256 + sector
        nci = nr_cell(enb, sector)
        lac, ci = legacy_cell(enb, sector, tac)
        first = np.where(nr, (nci >> 24) & 0xFFF, np.where(legacy, 4096 + lac, eci >> 16))  # _CELL_FIRST
        second = np.where(nr, (nci >> 8) & 0xFFFF, np.where(legacy, ci, eci & 0xFFFF))  # HEX4
        # The cell id's last piece and the RAT by one index (so the layout joins them into one
        # piece), and the tracking or location area by another (one of them is always null).
        third_rat = np.where(nr, nci & 0xFF, 256) * len(RATS) + rat  # _CELL_THIRD_BY_RAT, _RAT_BY_THIRD
        area = np.where(legacy, 65536 + lac, tac)  # _TAC_OR_NULL, _LAC_OR_NULL
        cell = (plmn, Pick(_CELL_FIRST, first), Pick(HEX4, second), Pick(_CELL_THIRD_BY_RAT, third_rat))
        return {"cell_id": cell, "rat_type": Pick(_RAT_BY_THIRD, third_rat),
                "tracking_area_code": Nullable(Pick(_TAC_OR_NULL, area)),
                "location_area_code": Nullable(Pick(_LAC_OR_NULL, area))}

    # ------------------------------------------------------------ one builder per type
    # Each returns (the record's duration in ms, {field: text column, or a tuple of pieces}) for
    # the type's own fields (telco_cdr.contract); build() adds the common ones.  A builder may set
    # the serving RAT (``c.rat``) and the record type.

    def _parties(self, c: _Ctx, skip: np.ndarray | None = None):
        own = c.texts.msisdn[c.tu]
        other = self._other_numbers(c, skip)
        return np.where(c.mo, own, other), np.where(c.mo, other, own)

    def _other_numbers(self, c: _Ctx, skip: np.ndarray | None = None) -> np.ndarray:
        """The other party's number of each row: an on-net user's from the per-user text, else
        written out; None for the rows ``skip`` (whose caller writes its own)."""
        onnet = c.cp_user >= 0
        other = np.empty(len(onnet), dtype=object)
        other[onnet] = c.texts.msisdn[c.texts.at(c.cp_user[onnet])]
        off = np.flatnonzero(~onnet if skip is None else ~onnet & ~skip)
        other[off] = [b"%d" % v if v > 0 else _SERVICE_BYTES[-1 - v] for v in c.cp_num[off].tolist()]
        return other

    def _counterparty(self, c: _Ctx) -> dict:
        """counterparty_type and counterparty_network by one index (the layout joins them into one piece)."""
        none = len(self.cp_networks)
        at = c.cp_kind.astype(np.int64) * (none + 1) + np.where(c.cp_net < 0, none, c.cp_net)
        return {"counterparty_type": Pick(self.cp_kind_text, at),
                "counterparty_network": Nullable(Pick(self.cp_net_text, at))}

    def _icid(self, c: _Ctx) -> tuple:
        """The IMS Charging Identifier of each row's call, as pieces: the caller's S-CSCF and the
        call's number in hex, 4 digits a piece (tables made once, so a chunk's plan of columns is
        the one of the chunk before)."""
        x = (self.icid_base + c.first_index + c.call) % 2**48
        return (Pick(c.texts.node_dash, c.texts.at(c.caller)), Pick(HEX4_LOWER, x >> 32),
                Pick(HEX4_LOWER, (x >> 16) & 0xFFFF),
                Pick(HEX4_LOWER, x & 0xFFFF))

    def _voice(self, c: _Ctx):
        calling, called = self._parties(c)
        ring_ms = np.rint(c.ring * 1000).astype(np.int64)
        ims = c.tech != CS
        return ring_ms + c.talk * 1000, {
            "record_type": Pick(self.record_type[VOICE], ims.view(np.int8) * 2 + c.mo.view(np.int8)),
            "call_direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)),
            "voice_technology": Pick(_TECH_TEXT, c.tech), "icid": Nullable(self._icid(c), ims),
            "calling_number": calling,
            "called_number": called,
            **self._counterparty(c),
            "answer_time": lambda start: Nullable(timestamp(start + ring_ms), c.talk > 0),  # of build()'s start
            "duration_seconds": dec(c.talk),
            # one table row each: neighbouring picks by one index are joined into one piece
            "call_result": Pick(_OUTCOME_TEXT[0], c.outcome),
            "cause_for_termination": Pick(_OUTCOME_TEXT[2], c.outcome),
            "release_cause_code": Pick(_OUTCOME_TEXT[3], c.outcome),
            "release_cause": Pick(_OUTCOME_TEXT[4], c.outcome),
            "msc_id": Nullable(Pick(c.texts.msc, c.tu), ~ims),
            **self._money(c, VOICE_S, (c.talk + 59) // 60, c.talk > 0),
        }

    def _money(self, c: _Ctx, service: int, units: np.ndarray, payable: np.ndarray) -> dict:
        """``charge_amount`` and ``currency`` of rows of ``service`` (telco_cdr.charging: VOICE_S for voice
        and VoIP) with ``units`` to rate where ``payable`` (a call with talk time, a delivered SMS, an
        internet bearer's record); an MT call or SMS is payable only where the called party pays or
        when roaming.  No draw: the other fields' bytes do not depend on these."""
        tariffs, u = self.pop.tariffs, c.u
        country = tariffs.country[u]
        roaming = np.zeros(len(u), dtype=bool) if c.surcharged is None else c.surcharged
        if service == DATA_S:
            intl = roaming  # (unused for data)
        else:
            payable = payable & (c.mo | MT_PAYS_OF[country] | roaming)
            # a number abroad, or a user of the file of another country (never a service code)
            peer_country = tariffs.country[np.maximum(c.cp_user, 0)]  # (by MCC, as rates are)
            intl = c.mo & ((c.cp_kind == INTERNATIONAL) | ((c.cp_kind == USER) & (peer_country != country)))
        made: list = []

        def text(start: np.ndarray) -> tuple:  # once the record's start is known (a stream's moves back)
            if not made:
                local = self.curve.local_of(u, start) if c.home_local is None else c.home_local
                where = cycle_position(local, tariffs.billing_day[u])
                in_bundle = ~tariffs.prepaid[u] & (where < tariffs.exhaust[u, service])
                amount = charge(service, units, country, in_bundle, roaming, intl, payable)
                # The whole part, then the decimals and the currency by one index: neighbouring picks by
                # one index are joined into one piece (with the text between): one piece fewer a record.
                whole = amount // SCALE  # (a table small enough that the text before joins its entries)
                whole = Pick(_WHOLE, whole) if not len(whole) or whole.max() < len(_WHOLE) else dec(whole)
                at = (amount % SCALE) * len(CURRENCIES) + CURRENCY_OF[country]
                made.extend(((*(whole if isinstance(whole, tuple) else (whole,)), Pick(_DECIMALS_BY_AT, at)),
                             Pick(_CURRENCY_BY_AT, at)))
            return made

        return {"charge_amount": lambda start: text(start)[0], "currency": lambda start: text(start)[1]}

    def _data(self, c: _Ctx):
        j, p = c.partial, c.partials
        dur = p["dur"][j].astype(np.int64)
        kind = p["kind"][j]
        apn = np.where(kind == INTERNET, self.apn_of_user[c.u], np.where(kind == MMS, _MMS_APN, _IMS_APN))
        return dur * 1000, {
            "apn": Pick(_APN_TEXT, apn),
            "uplink_bytes": dec(p["up"][j]), "downlink_bytes": dec(p["down"][j]), "duration_seconds": dec(dur),
            "charging_id": dec(p["charging"][j]), "record_sequence_number": dec(p["seq"][j]),
            "pgw_address": Pick(c.texts.pgw, c.tu), "cause_for_record_closing": Pick(_CLOSING_TEXT, p["cause"][j]),
            **self._money(c, DATA_S, -(-(p["up"][j].astype(np.int64) + p["down"][j]) // 1000), kind == INTERNET),
        }

    def _messages(self, rng, rows, start, u, cp_user, cp_num, cp_kind, cp_net, mo, call) -> tuple:
        """Cut SMS rows ``rows`` (in time order) into messages: a text that fits one SMS is one row, a
        longer one as many rows as it has segments (SMS_SEGMENT).  A message's rows take its first row's
        user, other party and direction (the arrays change in place), and follow it SMS_SEGMENT_GAP_MS
        apart, never after the chunk's last time (so chunks stay in time order; ``start`` holds the
        closing times of a stream's records alike); ``call`` names each row's first row.  The rows keep
        their number: messages are drawn until their segments cover them, the last one cut to fit (its
        count says so).  Returns per row of the chunk: its segment, its message's segments, the
        segment's characters and whether it is UCS-2 (1, 1, 0, False for the other types)."""
        n, m = len(start), len(rows)
        segment, segments = np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64)
        length, ucs2 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        wide = rng.random(m) < SMS_UCS2_SHARE  # one message per row at most: the draws never depend on the cut
        chars = rng.lognormal(SMS_LENGTH_MU, SMS_LENGTH_SIGMA, m)
        gap = rng.integers(SMS_SEGMENT_GAP_MS[0], SMS_SEGMENT_GAP_MS[1] + 1, m)
        if not m:
            return segment, segments, length, ucs2
        single, per = _SMS_SINGLE[wide.view(np.int8)], _SMS_PER[wide.view(np.int8)]
        chars = np.clip(chars, 1, _SEGMENTS_MAX * per).astype(np.int64)
        k = np.where(chars <= single, 1, -(-chars // per))
        cum = np.cumsum(k)
        last = int(np.searchsorted(cum, m))  # the message whose segments reach the last row
        k, cum = k[:last + 1], cum[:last + 1]
        cut = int(cum[last]) - m
        if cut:  # the last message keeps the segments that fit: full ones (one SMS if one is left)
            k[last] -= cut
            chars[last] = single[last] if k[last] == 1 else k[last] * per[last]
            cum[last] = m
        first = cum - k  # each message's first row among ``rows``
        r = np.arange(m)
        j = np.searchsorted(cum, r, side="right")  # each row's message
        seg, count, per_j = r - first[j] + 1, k[j], per[j]
        head = rows[first[j]]
        later = np.flatnonzero(seg > 1)
        if len(later):
            at, h = rows[later], head[later]
            for a in (u, cp_user, cp_num, cp_kind, cp_net, mo):
                a[at] = a[h]
            start[at] = np.minimum(start[h] + (seg[later] - 1) * gap[j[later]], start.max())
        call[rows] = head
        segment[rows], segments[rows], ucs2[rows] = seg, count, wide[j]
        length[rows] = np.where(count == 1, chars[j], np.where(seg < count, per_j, chars[j] - (count - 1) * per_j))
        return segment, segments, length, ucs2

    def _sms(self, c: _Ctx):
        rng, k = c.rng, len(c.idx)
        head = np.searchsorted(c.idx, c.call)  # each row's message's first segment (its own row for one SMS)
        # A message's segments share its outcome and delivery delay (delivered, or not, as one text).
        result = _draw(rng, _SMS_CUM, k)[head]
        delay = np.where(result == 2, rng.integers(86_400_000, 259_200_000, k),
                         (rng.lognormal(0.5, 1.0, k) * 1000).astype(np.int64))[head]
        # Application-to-person messages (A2P_SHARE of messages, all MT, from a sender of the user's
        # country or operator): their other party is the application's short code or alphanumeric
        # sender, not a number (counterparty_type ``short_code``, no network).  ``c.a2p`` names them
        # (the rows of anomalies' incidents keep their planted sender); counterparty_type is set from it
        # here, through ``c.cp_kind`` (which _counterparty reads): where counterparty_type is made
        # elsewhere, rows with ``c.a2p`` are ``short_code`` (counterparties.SHORT_CODE) with no network.
        a2p = (rng.random(k) < A2P_SHARE)[head]
        r, own = rng.random(k)[head], (rng.random(k) < A2P_OPERATOR_SHARE)[head]
        if c.planted is not None:
            a2p &= ~c.planted
        c.a2p = a2p
        rows = np.flatnonzero(a2p)
        if len(rows):
            u = c.u[rows]
            country = self.pop.tariffs.country[u]
            entry = np.minimum(np.searchsorted(_A2P_CUM, country + r[rows], side="right"), _A2P_LAST[country])
            operator = self.a2p_operator[self.pop.plmn_code[u]]
            entry = np.where(own[rows] & (operator >= 0), operator, entry)
            c.mo[rows], c.cp_user[rows], c.cp_kind[rows], c.cp_net[rows] = False, -1, SHORT_CODE, NO_NETWORK
        sender, receiver = self._parties(c, skip=a2p)
        if len(rows):
            sender[rows] = _A2P_TEXT[entry]
        # message_length and encoding by one index, segment_number and segment_count by another: the
        # layout joins each pair into one piece
        at = (c.segments * (c.segments - 1)) // 2 + c.segment - 1
        chars = c.length * 2 + c.ucs2
        return delay, {
            "direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)), "sender_number": sender,
            "receiver_number": receiver, **self._counterparty(c),
            "message_length": Pick(_LENGTH_BY_AT, chars), "encoding": Pick(_ENCODING_BY_AT, chars),
            "segment_number": Pick(_SEGMENT_BY_AT, at), "segment_count": Pick(_SEGMENTS_BY_AT, at),
            "delivery_status": Pick(_SMS_TEXT, result), "smsc_address": Pick(c.texts.smsc, c.tu),
            **self._money(c, SMS_S, np.ones(k, dtype=np.int64), result == _DELIVERED),
        }

    def _voip(self, c: _Ctx):
        rng, k = c.rng, len(c.idx)
        # over-the-top calls often go over Wi-Fi (its cell is the last LTE one: LTE devices only here)
        c.rat[(rng.random(k) < VOIP_WLAN_SHARE) & self.pop.radio.lte[c.u]] = WLAN
        codec = _draw(rng, _CODEC_CUM, k)
        dur = np.maximum(np.minimum(rng.lognormal(VOICE_MU + 0.1, VOICE_SIGMA, k), VOICE_MAX_S), 1).astype(np.int64)
        bad = rng.random(k) < 0.06  # a congested Wi-Fi or cell: jitter and loss go up together
        latency = (rng.lognormal(np.log(45), 0.4, k) * np.where(bad, 2.5, 1.0)).astype(np.int64)
        jitter = np.round(rng.gamma(2.0, 3.0, k) * np.where(bad, 6.0, 1.0), 1)
        loss = np.round(np.clip(rng.lognormal(np.log(0.15), 1.0, k) * np.where(bad, 12.0, 1.0), 0, 40), 2)
        mos = mos_from(latency, jitter, loss, _CODEC_IMPAIRMENT[codec])
        caller, callee = self._parties(c)
        dom = Pick(c.texts.domain, c.tu)  # a pick: the literal text beside it joins the table's entries
        ids = rng.integers(0, 2**63, (2, k))
        return dur * 1000, {
            "call_direction": Pick(_DIRECTION_TEXT, c.mo.view(np.int8)), "sip_call_id": (hex64(*ids), b"@", dom),
            "caller_uri": (b"sip:+", caller, b"@", dom, b";user=phone"),
            "callee_uri": (b"sip:+", callee, b"@", dom, b";user=phone"), **self._counterparty(c),
            "codec": Pick(_CODEC_TEXT, codec), "duration_seconds": dec(dur), "latency_ms": dec(latency),
            "jitter_ms": fixed(jitter, 1), "packet_loss_pct": fixed(loss, 2), "mos": fixed(mos, 2),
            **self._money(c, VOICE_S, (dur + 59) // 60, dur > 0),
        }

    def _ims(self, c: _Ctx):
        rng, pop, k = c.rng, self.pop, len(c.idx)
        method = c.method
        status = np.empty(k, dtype=np.int64)
        service = np.empty(k, dtype=np.int64)
        r1, r2 = rng.random(k), rng.random(k)
        for mi, (m, _, _) in enumerate(IMS_METHODS):
            sel = method == mi
            codes, cum = _IMS_STATUS_TABLE[m]
            status[sel] = codes[np.minimum(np.searchsorted(cum, r1[sel], side="right"), len(cum) - 1)]
            names, cum = _IMS_SERVICE_TABLE[m]
            service[sel] = names[np.minimum(np.searchsorted(cum, r2[sel], side="right"), len(cum) - 1)]
        # The INVITEs of voice rows' calls: the call's outcome, technology and length.
        twin = c.twin
        status[twin] = _INVITE_STATUS[c.outcome[twin]]
        service[twin] = _TECH_SERVICE[c.tech[twin]]
        register = method == _REGISTER
        originating = c.mo | register
        talk = np.clip(rng.lognormal(VOICE_MU, VOICE_SIGMA, k), 1, VOICE_MAX_S).astype(np.int64)
        talk = np.where(twin, c.talk, talk)
        dur = np.where((method == _INVITE) & (status == 200), talk, 0)
        end_ms = np.where(twin, np.rint(c.ring * 1000).astype(np.int64) + dur * 1000, dur * 1000)
        # Access: Wi-Fi for VoWiFi, NR for VoNR, else the device's bearer (NR or LTE; IMS needs one).
        c.rat = np.where(service == _VOWIFI, WLAN, np.where(service == _VONR, NR,
                         np.where((c.rat == NR) & pop.radio.nr[c.u], NR, EUTRAN)))
        own = c.texts.msisdn[c.tu]
        other = self._other_numbers(c)
        a, b = np.where(originating, own, other), np.where(originating, other, own)
        # The URIs as pieces (no text joined per record): a REGISTER's called URI is ``sip:`` and the
        # domain; picks by the same ``reg`` next to each other are joined into one table (Columns).
        dom, reg = Pick(c.texts.domain, c.tu), register.view(np.int8)
        calling = (b"sip:+", a, b"@", dom, Pick(_PHONE_PARAM, reg))
        called = (Pick(_SIP_SCHEME, reg), np.where(register, b"", b), Pick(_AT, reg), dom, Pick(_PHONE_PARAM, reg))
        return end_ms, {
            "icid": self._icid(c),
            "sip_method": Pick(_METHOD_TEXT, method), "role_of_node": Pick(_ROLE_TEXT, originating.view(np.int8)),
            "ims_service": Pick(_SERVICE_TEXT, service), "sip_status_code": Pick(DEC, status),
            "duration_seconds": dec(dur), "node_address": Pick(c.texts.node, c.tu),
            "access_network": Pick(_ACCESS_BY_RAT, c.rat),
            "calling_party_uri": calling, "called_party_uri": called,
        }


_METHOD_TEXT = text_array([m for m, _, _ in IMS_METHODS])
_ANOMALY_TEXT = text_array(list(ANOMALY_KINDS))
# A SIP URI's parts by whether it is a REGISTER's called URI (sip:domain) or a number's.
_SIP_SCHEME, _AT = text_array([b"sip:+", b"sip:"]), text_array([b"@", b""])
_PHONE_PARAM = text_array([b";user=phone", b""])
_REGISTER, _INVITE = [m for m, _, _ in IMS_METHODS].index("REGISTER"), [m for m, _, _ in IMS_METHODS].index("INVITE")
_SERVICES = sorted({name for rows in IMS_SERVICES.values() for name, _ in rows})
_SERVICE_TEXT = text_array(_SERVICES)
_VOWIFI, _VONR = _SERVICES.index("VoWiFi"), _SERVICES.index("VoNR")
_TECH_SERVICE = np.array([_SERVICES.index(t) for t in VOICE_TECHNOLOGIES if t != "CS"] + [-1])
_TECH_TEXT = text_array(VOICE_TECHNOLOGIES)
_CELL_FIRST = np.concatenate((HEX3, HEX4))  # the NCI's or ECI's first 3 hex digits, or (from 4096) a LAC's 4
_CELL_THIRD = np.append(HEX2, np.array([b""], dtype=object))  # the NCI's last 2 hex digits, or nothing
_CELL_THIRD_BY_RAT = np.repeat(_CELL_THIRD, len(RATS))  # by third * len(RATS) + rat
_RAT_BY_THIRD = np.tile(text_array(RATS), len(_CELL_THIRD))  # the same index
_NULLS = np.full(65536, None, dtype=object)
_SERVICE_BYTES = [t.encode() for t in SERVICE_TEXT]
_TAC_OR_NULL, _LAC_OR_NULL = np.concatenate((DEC, _NULLS)), np.concatenate((_NULLS, DEC))  # by TAC, or 65536 + LAC
_IMS_STATUS_TABLE = {m: (np.array([x for x, _ in rows]), _table(rows)) for m, rows in IMS_STATUS.items()}
_IMS_SERVICE_TABLE = {m: (np.array([_SERVICES.index(x) for x, _ in rows]), _table(rows))
                      for m, rows in IMS_SERVICES.items()}
_INVITE_STATUS = np.array([INVITE_STATUS[o[3]] for o in VOICE_OUTCOMES])
_APN_TEXT = text_array(list(APNS))
_IMS_APN, _MMS_APN = APNS.index(IMS_APN), APNS.index(MMS_APN)
_CLOSING_TEXT = text_array(RECORD_CLOSING)
_ENCODING_TEXT = text_array(SMS_ENCODINGS)
# An SMS's characters and encoding by ``length * 2 + ucs2``; its segment and count by ``count * (count - 1)
# / 2 + segment - 1``, for counts up to _SEGMENTS_MAX (a table small enough that the layout joins the text
# between the fields onto its entries: a 30,000-character text, longer than any drawn in practice).
_SMS_SINGLE, _SMS_PER = np.array(SMS_SINGLE), np.array(SMS_SEGMENT)
_SEGMENTS_MAX = min(SMS_MAX_SEGMENTS, 199)
_LENGTH_BY_AT = np.repeat(DEC[:max(SMS_SINGLE) + 1], 2)
_ENCODING_BY_AT = np.tile(_ENCODING_TEXT, max(SMS_SINGLE) + 1)
_SEGMENT_BY_AT = np.concatenate([DEC[1:c + 1] for c in range(1, _SEGMENTS_MAX + 1)])
_SEGMENTS_BY_AT = np.concatenate([np.repeat(DEC[c:c + 1], c) for c in range(1, _SEGMENTS_MAX + 1)])
# A2P senders of every country (A2P_SENDERS, in COUNTRIES' order), then the operators' own; a country's
# entries drawn by ``country + r`` (r uniform in [0, 1)) in the stacked cumulative weights.
_A2P_ROWS = [(ci, name, w) for ci, country in enumerate(COUNTRIES) for name, w in A2P_SENDERS[country]]
_A2P_TEXT = text_array([name for _, name, _ in _A2P_ROWS] + list(A2P_OPERATOR_SENDERS.values()))
_A2P_CUM = np.concatenate([ci + _cum([w for cj, _, w in _A2P_ROWS if cj == ci]) for ci in range(len(COUNTRIES))])
_A2P_CUM[np.cumsum([len(A2P_SENDERS[c]) for c in COUNTRIES]) - 1] = np.arange(1, len(COUNTRIES) + 1)
_A2P_LAST = np.cumsum([len(A2P_SENDERS[c]) for c in COUNTRIES]) - 1
_A2P_OPERATOR_AT = {plmn: len(_A2P_ROWS) + i for i, plmn in enumerate(A2P_OPERATOR_SENDERS)}
# accessNetworkInformation by RAT (radio.RATS): 3G/2G never serve IMS here
_ACCESS_BY_RAT = text_array([{"NR": "3GPP-NR", "WLAN": "IEEE-802.11"}.get(r, "3GPP-E-UTRAN-FDD") for r in RATS])
_ROLE_TEXT = text_array(ROLES_OF_NODE)
_DIRECTION_TEXT = text_array(DIRECTIONS)
# VOICE_OUTCOMES' text columns: call_result, causeForTerm, Q.850 code and name
_OUTCOME_TEXT = {k: text_array([str(o[k]) for o in VOICE_OUTCOMES]) for k in (0, 2, 3, 4)}
_SMS_TEXT = text_array([r[0] for r in SMS_RESULTS])
_DELIVERED = [r[0] for r in SMS_RESULTS].index("delivered")
# An amount's point and 4 decimals, and its currency, by ``decimals * len(CURRENCIES) + currency``.
_WHOLE = DEC[:MERGE_MAX].copy()  # an amount's whole part, most of them
_DECIMALS_BY_AT = np.repeat(text_array([f".{i:04d}" for i in range(SCALE)]), len(CURRENCIES))
_CURRENCY_BY_AT = np.tile(text_array(list(CURRENCIES)), SCALE)
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
    rat: np.ndarray  # the serving RAT (radio.RATS); a builder may change it
    cp_user: np.ndarray | None = None  # the other party's user (on-net), else -1
    cp_kind: np.ndarray | None = None  # the other party's kind (counterparties.KINDS)
    cp_net: np.ndarray | None = None  # its serving network (counterparties.networks), or -1
    outcome: np.ndarray | None = None  # the voice call's (VOICE_OUTCOMES), and its ringing and talk time
    ring: np.ndarray | None = None
    talk: np.ndarray | None = None
    tech: np.ndarray | None = None  # how the call is carried (radio.VOICE_TECHNOLOGIES)
    method: np.ndarray | None = None  # SIP method of an IMS row (traffic.IMS_METHODS)
    twin: np.ndarray | None = None  # an IMS row that is the INVITE of a voice row's call
    call: np.ndarray | None = None  # the call's number (its ICID)
    caller: np.ndarray | None = None  # the user whose S-CSCF names the ICID
    partial: np.ndarray | None = None  # a data row's partial record: its row in ``partials``
    partials: dict | None = None  # the chunk's partial records' columns (telco_cdr.bearers)
    texts: UserTexts | None = None  # the chunk's users' own text
    tu: np.ndarray | None = None  # each row's user in ``texts``
    roaming: np.ndarray | None = None  # the rows whose user is abroad (telco_cdr.roaming)
    surcharged: np.ndarray | None = None  # of those, the ones priced as roaming (charging's surcharge)
    home_local: np.ndarray | None = None  # the rows' local start times at home (ms as if UTC), where known
    segment: np.ndarray | None = None  # an SMS row's segment of its message (1..segments), SMS_SEGMENT chars
    segments: np.ndarray | None = None  # its message's segments (1 for a text that fits one SMS)
    length: np.ndarray | None = None  # the segment's characters
    ucs2: np.ndarray | None = None  # whether its message is in UCS-2 (else GSM-7)
    planted: np.ndarray | None = None  # the rows of anomalies' incidents (--anomalies), else None
    a2p: np.ndarray | None = None  # _sms: the SMS rows of application-to-person messages (short code senders)
