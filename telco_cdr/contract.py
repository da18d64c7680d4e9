"""The record contract: one description per field of the user record and of the five CDR types.

Each field is described once, here: its name, type, whether it may be null, its allowed values
(taken from the code's own tables, never retyped), its meaning and the 3GPP TS 32.298 field it
stands for ("ours" when none).  Everything else is derived from these descriptions:

- the byte layout that the record builders fill, and the CSV header (telco_cdr.layout);
- the JSON Schemas ``schemas/<type>.schema.json``, rules between fields included;
- the Avro schemas ``schemas/<type>.avsc``;
- the Spark schemas for ``from_json`` downstream: ``spark_ddl`` here, and ``telco_cdr.spark.spark_schema``
  (the one module that imports pyspark);
- the Arrow schemas of Parquet files: ``arrow_fields`` here, and ``telco_cdr.parquet.arrow_schema``
  (the one module that imports pyarrow);
- the README's record tables.

``python -m telco_cdr.contract write`` regenerates the derived files; ``python -m
telco_cdr.contract check`` names each stale one and exits 1 (0 when all are current).

To add a field: add a ``Field`` to its record below, and its values to the record's builder in
telco_cdr/cdrs.py (or to the user record in telco_cdr/users.py); then run ``write``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from . import layout as _layout
from .anomalies import KINDS as ANOMALY_KINDS
from .bearers import APNS, IMS_APN, MMS_APN, MMS_BYTES, PGW_SETTINGS, RECORD_CLOSING, TIME_LIMITS_S
from .cdrs import (
    ACCESS_NETWORKS,
    CODECS,
    DIRECTIONS,
    IMS_METHODS,
    IMS_SERVICES,
    IMS_STATUS,
    MOS_RANGE,
    REACHES_CALLEE,
    RECORD_TYPES,
    ROLES_OF_NODE,
    SMS_ENCODINGS,
    SMS_MAX_SEGMENTS,
    SMS_RESULTS,
    SMS_SEGMENT,
    SMS_SINGLE,
    TALK_RESULTS,
    VOICE_OUTCOMES,
    VOICEMAIL_MAX_S,
)
from .charging import CURRENCIES, CURRENCY
from .charging import DECIMALS as CHARGE_DECIMALS
from .constants import CDR_TYPES
from .counterparties import KINDS as COUNTERPARTY_KINDS
from .identifiers import CITIES, COUNTRIES, OPERATORS, msisdn_pattern
from .radio import RATS, TECHNOLOGY_RAT, VOICE_TECHNOLOGIES
from .users import ACTIVATION_FIRST, ACTIVATION_LAST, PLANS

TYPES = ("string", "integer", "number", "boolean", "timestamp", "date")


@dataclass(frozen=True)
class Field:
    """One field of a record.  ``meaning`` is Markdown (the README shows it as it is; the schemas
    take it without the backticks)."""

    name: str
    type: str  # one of TYPES; timestamps are ISO 8601 UTC strings with milliseconds and a Z
    meaning: str
    gpp: str = "ours"  # the 3GPP TS 32.298 field it stands for, or "ours"
    nullable: bool = False
    values: tuple = ()  # the allowed values; one value makes a constant
    pattern: str | None = None  # a regular expression the whole value matches (no anchors)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    text: bool = False  # free text: any printable characters, escaped when written


@dataclass(frozen=True)
class Rule:
    """A rule between fields: when the fields of ``when`` have those values, the fields of ``then``
    meet those JSON Schema constraints (else those of ``otherwise``)."""

    when: dict
    then: dict
    otherwise: dict | None = None


@dataclass(frozen=True)
class Record:
    name: str
    title: str
    summary: str  # Markdown: what one record is
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    optional: tuple[Field, ...] = ()  # written only when asked for (--label-anomalies), after the fields

    @property
    def all_fields(self) -> tuple[Field, ...]:
        """The fields, then the optional ones: what the schemas describe."""
        return self.fields + self.optional

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def _values(rows, at: int = 0) -> tuple:
    """The distinct values of column ``at`` of a code table, in the table's order."""
    return tuple(dict.fromkeys(r[at] for r in rows))


def _or(values, quote: bool = True) -> str:
    """``a``, ``b`` or ``c``: a Markdown list of values for a meaning."""
    shown = [f"`{v}`" if quote else str(v) for v in values]
    return ", ".join(shown[:-1]) + f" or {shown[-1]}" if len(shown) > 1 else shown[0]


E164 = "[1-9][0-9]{7,14}"
# A number a subscriber dials or is called from: E.164, or an operator's service short code
# (telco_cdr.counterparties.SERVICE_NUMBERS: voicemail, customer care).
DIALLED = r"([1-9][0-9]{7,14}|[0-9]{3,5}|\*[0-9]{2,4})"
# An SMS sender: a number (E.164), or an application's short code (5-6 digits), alphanumeric sender (up to
# 11 characters) or Indian DLT header (telco_cdr.cdrs.A2P_SENDERS).
SMS_SENDER = r"([1-9][0-9]{7,14}|[0-9]{5,6}|[A-Za-z][A-Za-z0-9]{1,10}|[A-Z]{2}-[A-Za-z0-9]{6})"
_MO_MT = tuple(reversed(DIRECTIONS))
IMS_DOMAIN = r"ims\.mnc[0-9]{3}\.mcc[0-9]{3}\.3gppnetwork\.org"
ECGI = "[0-9]{5,6}[0-9A-F]{7}"
TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"
MAX_CALL_S = 4 * 3600

# ---------------------------------------------------------------- user

USER = Record("user", "Subscriber", "One mobile subscriber as written by user_generator.py.", (
    Field("user_id", "string", "The subscriber's key, `U` and a zero-padded number (7 digits or more); what a "
          "CDR's `user_id` refers to.", pattern="U[0-9]{7,}"),
    Field("first_name", "string", "Given name, from Faker's name lists of the operator's country.", text=True),
    Field("last_name", "string", "Family name, from Faker's name lists of the operator's country.", text=True),
    Field("msisdn", "string", "E.164 number without `+` (country code and national number, 8 to 15 digits), a "
          "valid mobile number of the operator's country (libphonenumber); in GB, DE, FR and IN from a number "
          "block that libphonenumber's carrier data gives the operator, in the US from the home city's area "
          "codes.", "servedMSISDN", pattern=E164),
    Field("imsi", "string", "15 digits: MCC + MNC of the operator + MSIN (ITU-T E.212).", "servedIMSI",
          pattern="[0-9]{15}"),
    Field("imei", "string", "15 digits: TAC of a real device (8) + serial (6) + Luhn check digit (GSMA TS.06). "
          "Most models have several TACs (up to 16, from public TAC lists), and a long tail of models gives a "
          "large base hundreds of TACs. A TAC numbers 1,000,000 devices: past 800,000 users of one TAC (a base "
          "of more than ten million), the rest get the TACs after it, which no TAC database gives that model.",
          "servedIMEI", pattern="[0-9]{15}"),
    Field("iccid", "string", "SIM card number (ITU-T E.118): the operator's real issuer identification number "
          "(89 + country code + issuer id: T-Mobile US 8901260, AT&T 8901410, Verizon 891480, Vodafone UK "
          "894410, ...) + account + Luhn check digit; 20 digits for the US operators, 19 for the others.",
          pattern="89[0-9]{17,18}"),
    Field("mcc", "string", "Mobile Country Code of the home network (ITU-T E.212).", "mCC-MNC (its MCC)",
          values=tuple(sorted({op.mcc for op in OPERATORS}))),
    Field("mnc", "string", "Mobile Network Code of the home network, 2 or 3 digits as listed.",
          "mCC-MNC (its MNC)", values=tuple(sorted({op.mnc for op in OPERATORS}))),
    Field("operator", "string", "Home operator's name.", values=tuple(op.name for op in OPERATORS)),
    Field("country", "string", f"ISO 3166-1 alpha-2 country of the operator: {', '.join(COUNTRIES)}.",
          values=COUNTRIES),
    Field("device_make", "string", "Maker of the device the IMEI's TAC belongs to.", text=True),
    Field("device_model", "string", "Model of that device.", text=True),
    Field("device_5g", "boolean", "The device supports 5G NR (its records may have `rat_type` `NR`)."),
    Field("device_4g", "boolean", "The device supports LTE; a 2G/3G-only device has no LTE or NR records, and none "
          "at all where its network has switched 2G and 3G off."),
    Field("device_volte", "boolean", "The device calls over IMS (VoLTE, VoWiFi, VoNR); without it calls are "
          "circuit-switched, and impossible where 2G and 3G are gone."),
    Field("plan_id", "string", f"Tariff plan: {_or([p.plan_id for p in PLANS])}.",
          values=tuple(p.plan_id for p in PLANS)),
    Field("plan_name", "string", f"The plan's name (`{PLANS[0].plan_name}`, ..., `{PLANS[-1].plan_name}`).",
          values=tuple(p.plan_name for p in PLANS)),
    Field("plan_type", "string", "`prepaid` or `postpaid`.", values=_values([(p.plan_type,) for p in PLANS])),
    Field("segment", "string", "`consumer` or `business`.", values=_values([(p.segment,) for p in PLANS])),
    Field("status", "string", "`active` or `suspended`; suspended lines make no CDRs.",
          values=("active", "suspended")),
    Field("activation_date", "date", f"Date the line was activated, {ACTIVATION_FIRST} to {ACTIVATION_LAST}.",
          pattern=f"({'|'.join(map(str, range(ACTIVATION_FIRST.year, ACTIVATION_LAST.year + 1)))})"
                  "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"),
    Field("home_city", "string", "The city the subscriber lives in (one of the country's largest; in India one "
          "of its operator's licence circle: 404-10 Delhi, 404-20 Mumbai).", text=True),
    Field("home_region", "string", "State, nation or region of the city.", text=True),
    Field("time_zone", "string", "The IANA time zone of the home city (US cities in their own zones), in which "
          "the subscriber's daily and weekly curves run, daylight saving included.",
          values=tuple(sorted({c.zone for c in CITIES}))),
    Field("home_cell_id", "string", "The home cell as an E-UTRAN Cell Global Identity: MCC + MNC digits and the "
          "28-bit ECI in 7 upper-case hex digits (TS 23.003 §19.6).", "location.cellId", pattern=ECGI),
    Field("home_tac", "integer", "Tracking area code of the home cell, 0 to 65535.",
          "location.locationAreaCode (in E-UTRAN the tracking area code)", minimum=0, maximum=65535),
    Field("data_allowance_gb", "integer", "The plan's data allowance per billing cycle, GB; null for unlimited; 0 "
          "on prepaid (pay-as-you-go) plans.", nullable=True, minimum=0),
    Field("voice_allowance_minutes", "integer", "The plan's voice minutes per billing cycle; null for unlimited; 0 "
          "on prepaid plans.", nullable=True, minimum=0),
    Field("sms_allowance", "integer", "The plan's SMS per billing cycle; null for unlimited; 0 on prepaid plans.",
          nullable=True, minimum=0),
    Field("billing_day", "integer", "Day of the month the billing cycle starts (local midnight), 1 to 28; the "
          "allowances are per cycle.", minimum=1, maximum=28),
), tuple(
    Rule({"operator": op.name}, {
        "mcc": {"const": op.mcc}, "mnc": {"const": op.mnc}, "country": {"const": op.country},
        "imsi": {"pattern": f"^{op.plmn}[0-9]{{{15 - len(op.plmn)}}}$"},
        "iccid": {"pattern": f"^{op.iccid_prefix}[0-9]{{{op.iccid_digits - len(op.iccid_prefix)}}}$"},
        "home_cell_id": {"pattern": f"^{op.plmn}[0-9A-F]{{7}}$"},
        "msisdn": {"pattern": f"^{msisdn_pattern(op)}$"}})
    for op in OPERATORS
) + tuple(
    Rule({"plan_id": p.plan_id}, {"plan_name": {"const": p.plan_name}, "plan_type": {"const": p.plan_type},
                                  "segment": {"const": p.segment}, "data_allowance_gb": {"const": p.data_gb},
                                  "voice_allowance_minutes": {"const": p.voice_minutes},
                                  "sms_allowance": {"const": p.sms}})
    for p in PLANS
))

# ---------------------------------------------------------------- fields common to every CDR

# The 3GPP field of a common field, per CDR type (the README's common table shows them together).
_ULI = dict.fromkeys(("data", "ims"), "userLocationInformation")  # PGW and S-CSCF records
_COMMON_GPP = {
    "record_type": dict.fromkeys(CDR_TYPES, "recordType") | {"voip": "ours"},
    "start_time": {"voice": "seizureTime", "data": "recordOpeningTime", "sms": "originationTime / deliveryTime",
                   "voip": "ours", "ims": "serviceDeliveryStartTimeStamp"},
    "end_time": {"voice": "releaseTime", "data": "ours", "sms": "ours", "voip": "ours",
                 "ims": "serviceDeliveryEndTimeStamp"},
    "msisdn": dict.fromkeys(CDR_TYPES, "servedMSISDN") | {"ims": "list-Of-Subscription-ID"},
    "imsi": dict.fromkeys(CDR_TYPES, "servedIMSI") | {"ims": "list-Of-Subscription-ID"},
    "imei": dict.fromkeys(CDR_TYPES, "servedIMEI") | {"data": "servedIMEISV", "ims": "ours"},
    "cell_mcc": dict.fromkeys(CDR_TYPES, "location.mCC-MNC") | _ULI,
    "cell_mnc": dict.fromkeys(CDR_TYPES, "location.mCC-MNC") | _ULI,
    "cell_id": dict.fromkeys(CDR_TYPES, "location.cellId") | _ULI,
    "rat_type": dict.fromkeys(CDR_TYPES, "ours") | {"data": "rATType"},
    "tracking_area_code": dict.fromkeys(CDR_TYPES, "location.locationAreaCode") | _ULI,
    "location_area_code": dict.fromkeys(CDR_TYPES, "location.locationAreaCode") | _ULI,
    # mSTimeZone of PGW records (TS 29.274 §8.44) and of MSC records (TS 32.250); ours elsewhere
    "ms_time_zone": dict.fromkeys(CDR_TYPES, "ours") | dict.fromkeys(("voice", "data"), "mSTimeZone"),
}


def _common(t: str) -> tuple[Field, ...]:
    gpp = {name: by_type[t] for name, by_type in _COMMON_GPP.items()}
    return (
        Field("cdr_id", "string", "Unique id of the record in a run: run tag (8 hex digits, from the seed), chunk "
              "(8 hex digits), record in the chunk (6 hex digits).", pattern="[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{6}"),
        Field("cdr_type", "string", f"{_or(CDR_TYPES)}.", values=(t,)),
        Field("record_type", "string", "`mmtelRecord` (voice carried by IMS) or `moCallRecord`/`mtCallRecord` "
              "(circuit-switched voice), `pgwRecord` (data), `moSMSRecord`/`mtSMSRecord` (sms), `voipRecord` (voip, "
              "ours), `sCSCFRecord` (ims).",
              gpp["record_type"], values=tuple(sorted(set(RECORD_TYPES[CDR_TYPES.index(t)])))),
        Field("start_time", "timestamp", "When the call, session, message or SIP transaction began (UTC).",
              gpp["start_time"]),
        Field("end_time", "timestamp", "When it ended, never before `start_time`; for SMS when the delivery outcome "
              "was known.", gpp["end_time"]),
        Field("user_id", "string", "The subscriber's `user_id` in the users file (the join key to users).",
              text=True, max_length=64),
        Field("msisdn", "string", "The subscriber's MSISDN (E.164, without `+`).", gpp["msisdn"], pattern=E164),
        Field("imsi", "string", "The subscriber's IMSI (15 digits).", gpp["imsi"], pattern="[0-9]{15}"),
        Field("imei", "string", "The subscriber's IMEI (15 digits).", gpp["imei"], pattern="[0-9]{15}"),
        Field("cell_mcc", "string", "MCC of the serving network.", gpp["cell_mcc"], pattern="[0-9]{3}"),
        Field("cell_mnc", "string", "MNC of the serving network, 2 or 3 digits.", gpp["cell_mnc"],
              pattern="[0-9]{2,3}"),
        Field("roaming", "boolean", "The subscriber is abroad, in a visited network (`cell_mcc`, `cell_mnc` and "
              "`cell_id` are the visited network's, `ms_time_zone` the visited country's): a few per cent of users "
              "travel for days at a time.", "ours (servedPLMN other than the home PLMN)"),
        Field("cell_id", "string", "Serving cell, `cell_mcc` + `cell_mnc` digits and then, by `rat_type`: on `NR` "
              "an NR Cell Global Identity (9 hex digits of the 36-bit NCI, TS 23.003 §19.6A); on `UTRAN` or `GERAN` a "
              "Cell Global Identity (4 hex digits of the location area code, 4 of the cell id, TS 23.003 §4.3); "
              "else an E-UTRAN Cell Global Identity (7 hex digits of the 28-bit ECI, TS 23.003 §19.6; on `WLAN` the "
              "last LTE cell). Where the user is at the record's local time: at night the home cell or a neighbour, in "
              "weekday working hours near the user's work anchor, in commute hours a site on the way between.",
              gpp["cell_id"],
              pattern="[0-9]{5,6}[0-9A-F]{7,9}"),
        Field("rat_type", "string", f"Radio access of the record: {_or(RATS)} (TS 29.274 names; `WLAN` is Wi-Fi), as "
              "the device, its network on that day and the service allow.", gpp["rat_type"], values=RATS),
        Field("tracking_area_code", "integer", "Tracking area code of the serving LTE or NR cell, 0 to 65535; null "
              "on 2G/3G.", gpp["tracking_area_code"], nullable=True, minimum=0, maximum=65535),
        Field("location_area_code", "integer", "Location area code of the serving 2G/3G cell, 0 to 65535; null on "
              "LTE, NR and Wi-Fi.", gpp["location_area_code"], nullable=True, minimum=0, maximum=65535),
        Field("ms_time_zone", "string", "The subscriber's UTC offset at `start_time`, daylight saving included "
              "(`+01:00`, `-07:00`, `+05:30`): the local time of the record is `start_time` plus this (abroad, the "
              "visited country's).",
              gpp["ms_time_zone"], pattern="[+-][0-9]{2}:[0-5][0-9]"),
    )


def _money(what: str) -> tuple[Field, ...]:
    """The charging fields of a rated CDR type (telco_cdr.charging), last among its fields."""
    return (
        Field("charge_amount", "number", f"What the record costs the subscriber, in `currency`, with "
              f"{CHARGE_DECIMALS} decimals (a JSON number; a double in Avro, Spark and Parquet: cast to "
              f"DECIMAL(18,{CHARGE_DECIMALS}) to sum exactly). {what} Postpaid usage inside the plan's "
              "allowance of the billing cycle is 0, usage past it and prepaid usage is rated per unit at the "
              "operator's country's rates; roaming and calls or SMS to international numbers add a surcharge "
              "per unit. Illustrative rates (README, Money).", minimum=0),
        Field("currency", "string", "ISO 4217 currency of the subscriber's operator's country: "
              f"{_or([f'{CURRENCY[c]} ({c})' for c in COUNTRIES], quote=False)}.", values=CURRENCIES),
    )


def _counterparty(what: str) -> tuple[Field, ...]:
    """Who the other party of a call or message is (telco_cdr.counterparties)."""
    return (
        Field("counterparty_type", "string", f"The other party of the {what}: `user` (a user of the users file, "
              "whose `msisdn` the number is), `mobile` (a mobile number of another subscriber of the country), "
              "`fixed` (a fixed line of the subscriber's city), `international` (a number abroad), `service` (the "
              "operator's voicemail or customer care) or `short_code` (an application's short code or "
              "alphanumeric sender).", "ours", values=COUNTERPARTY_KINDS),
        Field("counterparty_network", "string", "The network serving the other party, MCC and MNC as one "
              "number (`23410`), for a `user` or a `mobile`; null for the others. About 12 % of mobile numbers are "
              "ported: their number block names another operator than the one serving them.", "ours",
              nullable=True, pattern="[0-9]{5,6}"),
    )


_COUNTERPARTY_RULES = tuple(Rule({"counterparty_type": k}, {"counterparty_network": {"const": None}}
                                 if k not in ("user", "mobile") else {"counterparty_network": {"type": "string"}})
                            for k in COUNTERPARTY_KINDS)


def _direction_rule(direction_field: str, t: str, when: dict | None = None) -> Rule:
    mt, mo = RECORD_TYPES[CDR_TYPES.index(t)][:2]
    return Rule({direction_field: "MO", **(when or {})}, {"record_type": {"const": mo}},
                None if when else {"record_type": {"const": mt}})


_CELL = "[0-9]{5,6}"
# The shape of the serving cell's fields by RAT (radio.RATS), in every CDR.
CELL_RULES = (
    Rule({"rat_type": "NR"}, {"cell_id": {"pattern": f"^{_CELL}[0-9A-F]{{9}}$"},
                              "tracking_area_code": {"type": "integer"}, "location_area_code": {"type": "null"}}),
    *(Rule({"rat_type": r}, {"cell_id": {"pattern": f"^{_CELL}[0-9A-F]{{8}}$"},
                             "tracking_area_code": {"type": "null"}, "location_area_code": {"type": "integer"}})
      for r in ("UTRAN", "GERAN")),
    *(Rule({"rat_type": r}, {"cell_id": {"pattern": f"^{_CELL}[0-9A-F]{{7}}$"},
                             "tracking_area_code": {"type": "integer"}, "location_area_code": {"type": "null"}})
      for r in ("EUTRAN", "WLAN")),
)


# ---------------------------------------------------------------- the five CDR types

_OUTCOMES = [dict(zip(("result", "weight", "cause", "code", "text", "ring_lo", "ring_hi"), o)) for o in VOICE_OUTCOMES]
_RESULTS = {r: [o for o in _OUTCOMES if o["result"] == r] for r in _values(VOICE_OUTCOMES)}  # a result's causes
_CAUSE_TEXT = {o["code"]: o["text"] for o in _OUTCOMES}
# the longest talk time of a result (cdrs.CdrFactory.build: a dropped call's is cut, voicemail's a message)
_TALK_MAX = {"answered": MAX_CALL_S, "dropped": MAX_CALL_S // 2, "voicemail": VOICEMAIL_MAX_S}
assert set(_TALK_MAX) == set(TALK_RESULTS)

VOICE = Record("voice", "Voice CDR", "A call: the MMTel record (TS 32.275) of a call carried by IMS (VoLTE, VoNR, "
               "VoWiFi), whose S-CSCF INVITE records in `ims` share its `icid`, or the MSC's MOCallRecord / "
               "MTCallRecord of a circuit-switched call. An on-net MO call usually has its MT twin, the callee's "
               "record of the same call, in the same output: it starts when the call is set up to the callee's "
               "phone, 1 to 5 s after the MO record, and ends with it. A call that never reached the callee's phone "
               "(`unreachable`, `failed`) has no MT record.",
               _common("voice") + (
    Field("call_direction", "string", "`MO` (the subscriber called; `moCallRecord` when circuit-switched) or `MT` "
          "(was called; `mtCallRecord`).", values=_MO_MT),
    Field("voice_technology", "string", f"How the call is carried: {_or(VOICE_TECHNOLOGIES)} (circuit-switched, 2G "
          "or 3G: devices without VoLTE, and a small fallback share where 2G/3G runs).", values=VOICE_TECHNOLOGIES),
    Field("icid", "string", "IMS Charging Identifier of an IMS-carried call, the same in its S-CSCF records in "
          "`ims` and in the other leg's record; null for a circuit-switched call.", "iMS-Charging-Identifier",
          nullable=True, pattern=f"scscf[1-4]\\.{IMS_DOMAIN}-[0-9a-f]{{12}}"),
    Field("calling_number", "string", "E.164 number of the caller, without `+` (the subscriber's for MO).",
          "callingNumber", pattern=DIALLED),
    Field("called_number", "string", "E.164 number of the callee, without `+` (the subscriber's for MT), or the "
          "short code of an operator's service number as dialled (`121`, `*86`).", "calledNumber", pattern=DIALLED),
    *_counterparty("call"),
    Field("answer_time", "timestamp", "When the call was answered (for `voicemail`, by the voicemail, after the "
          "no-reply timer of at most 30 s); null (empty in CSV) when it was not.",
          "answerTime", nullable=True),
    Field("duration_seconds", "integer", "Seconds from answer to release, at most 4 hours; 0 when unanswered.",
          "callDuration", minimum=0, maximum=MAX_CALL_S),
    Field("call_result", "string", f"{_or(_values(VOICE_OUTCOMES))}: `voicemail` is a call forwarded on no reply "
          "to the callee's voicemail, which answered it (the caller's message is the duration). `unreachable` "
          "and `failed` calls never reached the callee's phone, so they have no MT record.",
          values=_values(VOICE_OUTCOMES)),
    Field("cause_for_termination", "string", "`normalRelease` (answered, voicemail), `abnormalRelease` (dropped) "
          "or `unsuccessfulCallAttempt`.", "causeForTerm", values=_values(VOICE_OUTCOMES, 2)),
    Field("release_cause_code", "integer", "ITU-T Q.850 cause by `call_result`: "
          + "; ".join(f"{r} {_or([o['code'] for o in rows], quote=False)}" for r, rows in _RESULTS.items()) + ".",
          "diagnostics", values=_values(VOICE_OUTCOMES, 3)),
    Field("release_cause", "string", f"The Q.850 cause's name (`{VOICE_OUTCOMES[0][4]}`, ...).",
          values=_values(VOICE_OUTCOMES, 4)),
    Field("msc_id", "string", "The MSC that wrote a circuit-switched record, `MSC-<MCC+MNC>-<01..40>`; null for an "
          "IMS-carried call.", "recordingEntity / mSCAddress", nullable=True,
          pattern="MSC-[0-9]{5,6}-(0[1-9]|[1-3][0-9]|40)"),
) + _money("Voice per started minute of `duration_seconds`; 0 for a call without talk time; an MT call is free "
           "(calling party pays) but in the US and when roaming."), CELL_RULES + _COUNTERPARTY_RULES + (
    # the operator's service numbers are dialled (MO), by their short codes; every other number is E.164
    Rule({"counterparty_type": "service"}, {"call_direction": {"const": "MO"},
                                            "called_number": {"pattern": r"^([0-9]{3,5}|\*[0-9]{2,4})$"}},
         {"called_number": {"pattern": f"^{E164}$"}, "calling_number": {"pattern": f"^{E164}$"}}),
    _direction_rule("call_direction", "voice", {"voice_technology": "CS"}),
    Rule({"call_direction": "MT", "voice_technology": "CS"}, {"record_type": {"const": "mtCallRecord"}}),
    Rule({"voice_technology": "CS"},
         {"icid": {"type": "null"}, "msc_id": {"type": "string"}, "rat_type": {"enum": ["UTRAN", "GERAN"]}},
         {"record_type": {"const": "mmtelRecord"}, "icid": {"type": "string"}, "msc_id": {"type": "null"}}),
    *(Rule({"voice_technology": tech}, {"rat_type": {"const": RATS[TECHNOLOGY_RAT[i]]}})
      for i, tech in enumerate(VOICE_TECHNOLOGIES) if tech != "CS"),
) + tuple(
    Rule({"call_result": r}, {
        "cause_for_termination": {"const": rows[0]["cause"]},
        "release_cause_code": {"enum": [o["code"] for o in rows]},
        **({"answer_time": {"type": "string"}, "duration_seconds": {"minimum": 1, "maximum": _TALK_MAX[r]}}
           if r in TALK_RESULTS else {"answer_time": {"type": "null"}, "duration_seconds": {"const": 0}})})
    for r, rows in _RESULTS.items()
) + tuple(Rule({"release_cause_code": code}, {"release_cause": {"const": text}}) for code, text in _CAUSE_TEXT.items())
+ (Rule({"call_direction": "MT"}, {"call_result": {"enum": list(REACHES_CALLEE)}}),))

_PLMN_OF = {op.plmn: op for op in OPERATORS}
_RELEASES = ["normalRelease", "abnormalRelease"]

DATA = Record("data", "Data CDR", "A partial record of a bearer on the PGW (PGWRecord, TS 32.251): a device holds "
              "its default bearers (the operator's internet APN; `ims` for VoLTE devices) for hours or days, and "
              "the PGW closes a partial record on its time limit, a volume limit, a RAT change or a serving-node "
              "change, and at the release. The partial records of one bearer share its `charging_id` and count "
              "1, 2, 3 ... in `record_sequence_number`, each opening when the one before closed; an MMS is sent "
              "or fetched on a short `mms` bearer of one record.", _common("data") + (
    Field("apn", "string", "The access point name: the operator's internet APN (such as `fast.t-mobile.com`, "
          f"`broadband` at AT&T, `vzwinternet`), `{IMS_APN}` (the IMS signalling of a VoLTE device) or `{MMS_APN}`.",
          "accessPointNameNI", values=APNS),
    Field("uplink_bytes", "integer", "Bytes sent by the device in the record.", "dataVolumeGPRSUplink", minimum=256),
    Field("downlink_bytes", "integer", "Bytes received by the device in the record.", "dataVolumeGPRSDownlink",
          minimum=512),
    Field("duration_seconds", "integer", f"Seconds the record covers, 1 to {max(TIME_LIMITS_S)}: at most the "
          "operator's time limit.", "duration", minimum=1, maximum=max(TIME_LIMITS_S)),
    Field("charging_id", "integer", "Charging id of the bearer, 0 to 4294967295: the same in every partial record "
          "of the bearer, another for each bearer of a run.", "chargingID", minimum=0, maximum=2**32 - 1),
    Field("record_sequence_number", "integer", "The record's place among its bearer's partial records, 1 for the "
          "first; a bearer set up before the window starts above 1.", "recordSequenceNumber", minimum=1),
    Field("pgw_address", "string", "IPv4 address of the PGW (10.0.0.0/8).", "p-GWAddress",
          pattern=r"10\.([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9])\.[0-7]\.1[6-9]"),
    Field("cause_for_record_closing", "string", "Why the record closed (TS 32.298 causeForRecClosing): "
          "`normalRelease` (0) or `abnormalRelease` (4), the bearer's release; `volumeLimit` (16); `timeLimit` "
          "(17), after the operator's time limit; `servingNodeChange` (18); `rATChange` (22), between NR and LTE.",
          "causeForRecClosing", values=RECORD_CLOSING),
) + _money(f"Data per started kB (1000 bytes) of `uplink_bytes` + `downlink_bytes` at the per-MB rate, rounded "
           f"up; the `{IMS_APN}` and `{MMS_APN}` APNs are zero-rated (0)."), CELL_RULES + (
    Rule({"cause_for_record_closing": "timeLimit"}, {"duration_seconds": {"enum": list(TIME_LIMITS_S)}}),
    Rule({"apn": MMS_APN}, {"record_sequence_number": {"const": 1}, "cause_for_record_closing": {"enum": _RELEASES},
                            "uplink_bytes": {"maximum": MMS_BYTES[2]}, "downlink_bytes": {"maximum": MMS_BYTES[2]}}),
) + tuple(
    Rule({"cell_mcc": _PLMN_OF[plmn].mcc, "cell_mnc": _PLMN_OF[plmn].mnc, "roaming": False},
         {"apn": {"enum": [pgw.apn, IMS_APN, MMS_APN]}, "duration_seconds": {"maximum": pgw.time_limit_s}})
    for plmn, pgw in PGW_SETTINGS.items() if plmn in _PLMN_OF
) + tuple(
    Rule({"cell_mcc": _PLMN_OF[plmn].mcc, "cell_mnc": _PLMN_OF[plmn].mnc, "roaming": False,
          "cause_for_record_closing": "timeLimit"},
         {"duration_seconds": {"const": pgw.time_limit_s}})
    for plmn, pgw in PGW_SETTINGS.items() if plmn in _PLMN_OF
))

SMS = Record("sms", "SMS CDR", "A short message (MOSMSRecord / MTSMSRecord).", _common("sms") + (
    Field("direction", "string", "`MO` (sent by the subscriber; `moSMSRecord`) or `MT` (received; `mtSMSRecord`).",
          values=_MO_MT),
    Field("sender_number", "string", "The sender: a person's E.164 number without `+`, or (an application-to-person "
          "message, `counterparty_type` `short_code`, always MT) the application's short code (5 or 6 digits) or "
          "alphanumeric sender (up to 11 letters and digits, TS 23.040 TP-OA; in India a TRAI DLT header, "
          "`JM-VERIFY`).", "servedMSISDN (MO); ours (MT)", pattern=SMS_SENDER),
    Field("receiver_number", "string", "E.164 number of the receiver, without `+`.",
          "destinationNumber (MO); servedMSISDN (MT)", pattern=E164),
    *_counterparty("message"),
    Field("message_length", "integer", "Characters of this segment: the whole text if it fits one SMS (1 to 160 "
          f"GSM-7, 1 to 70 UCS-2 characters), else {SMS_SEGMENT[0]} GSM-7 or {SMS_SEGMENT[1]} UCS-2 in each "
          "segment but the last, which has the rest (TS 23.040 §9.2.3.24.1).", minimum=1, maximum=max(SMS_SINGLE)),
    Field("encoding", "string", "`GSM-7` or `UCS-2` (TS 23.038), the same in every segment of a message.",
          values=SMS_ENCODINGS),
    Field("segment_number", "integer", "This record's segment of a concatenated message, 1 to `segment_count` "
          "(TS 23.040 §9.2.3.24.1); 1 for a text that fits one SMS. The segments of a message are consecutive "
          "records of one subscriber, other party and direction, a few hundred ms apart.", minimum=1,
          maximum=SMS_MAX_SEGMENTS),
    Field("segment_count", "integer", "The segments of the message this record is one of (1 for a text that fits "
          f"one SMS), at most {SMS_MAX_SEGMENTS}.", minimum=1, maximum=SMS_MAX_SEGMENTS),
    Field("delivery_status", "string", f"{_or(_values(SMS_RESULTS))}.", "smsResult", values=_values(SMS_RESULTS)),
    Field("smsc_address", "string", "E.164 address of the operator's SMS centre, with `+`.", "serviceCentre",
          pattern=r"\+" + E164),
) + _money("Per message `delivered`, each segment of a concatenated one a message; 0 for one not "
           "delivered; an MT message (an application's too) is free but in the US and when roaming."),
    CELL_RULES + _COUNTERPARTY_RULES + (
        _direction_rule("direction", "sms"),
        Rule({"encoding": "UCS-2"}, {"message_length": {"maximum": SMS_SINGLE[1]}}),
        Rule({"segment_count": 1}, {"segment_number": {"const": 1}}),
        # an application's message is MT; a person's sender is a number
        Rule({"counterparty_type": "short_code"}, {"direction": {"const": "MT"}},
             {"sender_number": {"pattern": f"^{E164}$"}})))

_SIP_URI = rf"sip:\+{E164}@{IMS_DOMAIN}"

VOIP = Record("voip", "VoIP CDR", "An over-the-top or enterprise VoIP call with quality metrics. Not a 3GPP "
              "record type: its own fields are ours, named after SIP (RFC 3261) and RTCP (RFC 3550).",
              _common("voip") + (
    Field("call_direction", "string", "`MO` or `MT`.", values=_MO_MT),
    Field("sip_call_id", "string", "SIP Call-ID: 32 random hex digits `@` the operator's IMS domain "
          "(TS 23.003 §13.2).", "ours (session-Id in IMS records)", pattern=f"[0-9a-f]{{32}}@{IMS_DOMAIN}"),
    Field("caller_uri", "string", "`sip:+<E.164>@<IMS domain>;user=phone` of the caller.",
          "ours (as list-Of-Calling-Party-Address)", pattern=_SIP_URI + ";user=phone"),
    Field("callee_uri", "string", "The same for the callee.", "ours (as called-Party-Address)",
          pattern=_SIP_URI + ";user=phone"),
    *_counterparty("call"),
    Field("codec", "string", f"{_or(_values(CODECS))}.", values=_values(CODECS)),
    Field("duration_seconds", "integer", "Seconds of the call, 1 to 4 hours.", minimum=1, maximum=MAX_CALL_S),
    Field("latency_ms", "integer", "One-way network delay, milliseconds.", minimum=0),
    Field("jitter_ms", "number", "Interarrival jitter, milliseconds, one decimal.", minimum=0),
    Field("packet_loss_pct", "number", "Packets lost, percent (0 to 40), two decimals.", minimum=0, maximum=40),
    Field("mos", "number", "Mean opinion score, 1.0 to 4.5, from the ITU-T G.107 E-model of the delay, jitter, "
          "loss and codec.", minimum=MOS_RANGE[0], maximum=MOS_RANGE[1]),
) + _money("VoIP as voice minutes (an enterprise line billed by the operator), per started minute; an MT call "
           "is free but in the US and when roaming."), CELL_RULES + _COUNTERPARTY_RULES)

_METHODS = _values(IMS_METHODS)
_SERVICES = tuple(dict.fromkeys(s for m in _METHODS for s, _ in IMS_SERVICES[m]))
_STATUS = tuple(sorted({c for rows in IMS_STATUS.values() for c, _ in rows}))


def _ims_method_rule(m: str) -> Rule:
    then = {"sip_status_code": {"enum": sorted(c for c, _ in IMS_STATUS[m])},
            "ims_service": {"enum": [s for s, _ in IMS_SERVICES[m]]}}
    if m == "REGISTER":
        then |= {"role_of_node": {"const": "originating"}, "calling_party_uri": {"pattern": f"^{_SIP_URI}$"},
                 "called_party_uri": {"pattern": f"^sip:{IMS_DOMAIN}$"}}
    else:
        then |= {"calling_party_uri": {"pattern": f"^{_SIP_URI};user=phone$"},
                 "called_party_uri": {"pattern": f"^{_SIP_URI};user=phone$"}}
    return Rule({"sip_method": m}, then)


IMS = Record("ims", "IMS CDR", "A SIP session or transaction on the S-CSCF (S-CSCF record).", _common("ims") + (
    Field("icid", "string", "IMS Charging Identifier: the S-CSCF's host name, `-`, 12 hex digits; unique in a run.",
          "iMS-Charging-Identifier", pattern=f"scscf[1-4]\\.{IMS_DOMAIN}-[0-9a-f]{{12}}"),
    Field("sip_method", "string", f"{_or(_METHODS)}.", "sIP-Method", values=_METHODS),
    Field("role_of_node", "string", "`originating` or `terminating` (REGISTER is always originating).",
          "role-of-Node", values=tuple(reversed(ROLES_OF_NODE))),
    Field("ims_service", "string", f"{_or(_SERVICES)}, as fits the method.", values=_SERVICES),
    Field("sip_status_code", "integer", f"The final SIP response (RFC 3261): {', '.join(map(str, _STATUS))}, as "
          "fits the method.", values=_STATUS),
    Field("duration_seconds", "integer", "Seconds of the established session (200 OK to release); above 0 only "
          "for an INVITE answered with 200. A call's INVITE record runs from the INVITE to the release, so it also "
          "covers the ringing.", minimum=0, maximum=MAX_CALL_S),
    Field("node_address", "string", "The S-CSCF, `scscf<1-4>.<IMS domain>`.", "nodeAddress",
          pattern=f"scscf[1-4]\\.{IMS_DOMAIN}"),
    Field("access_network", "string", "`IEEE-802.11` (VoWiFi), `3GPP-NR` or `3GPP-E-UTRAN-FDD`.",
          "accessNetworkInformation", values=ACCESS_NETWORKS),
    Field("calling_party_uri", "string", "SIP URI of the originating party (`;user=phone` except for REGISTER).",
          "list-Of-Calling-Party-Address", pattern=_SIP_URI + "(;user=phone)?"),
    Field("called_party_uri", "string", "SIP URI of the terminating party; for REGISTER the registrar, "
          "`sip:<IMS domain>`.", "called-Party-Address", pattern=rf"sip:(\+{E164}@)?{IMS_DOMAIN}(;user=phone)?"),
), CELL_RULES + tuple(_ims_method_rule(m) for m in _METHODS) + (
    *(Rule({"rat_type": r}, {"access_network": {"const": a}})
      for r, a in (("WLAN", "IEEE-802.11"), ("NR", "3GPP-NR"), ("EUTRAN", "3GPP-E-UTRAN-FDD"))),
    Rule({"sip_method": "INVITE", "sip_status_code": 200}, {"duration_seconds": {"minimum": 1}},
         {"duration_seconds": {"const": 0}}),
    Rule({"ims_service": "VoWiFi"}, {"access_network": {"const": "IEEE-802.11"}},
         {"access_network": {"enum": [a for a in ACCESS_NETWORKS if a != "IEEE-802.11"]}}),
))

# The label of --label-anomalies, last in every CDR type when asked for (telco_cdr.anomalies).
ANOMALY = Field("anomaly", "string", f"Only with `--label-anomalies`: the kind of planted anomaly the record belongs "
                f"to ({_or(ANOMALY_KINDS)}; the ledger has the incident), else null.", nullable=True,
                values=ANOMALY_KINDS)
CDRS: dict[str, Record] = {t: replace(r, optional=(ANOMALY,))
                           for t, r in {"voice": VOICE, "data": DATA, "sms": SMS, "voip": VOIP, "ims": IMS}.items()}
RECORDS: dict[str, Record] = {"user": USER, **CDRS}
COMMON_FIELDS: tuple[str, ...] = VOICE.names[:len(_common("voice"))]


# ---------------------------------------------------------------- checked at import

for _record in RECORDS.values():
    _layout.check_record(_record)
    for _rule in _record.rules:
        for _name in list(_rule.when) + list(_rule.then) + list(_rule.otherwise or ()):
            if _name not in _record.names:
                raise _layout.LayoutError(f"{_record.name}: a rule names {_name!r}, which is not a field")
for _t in CDR_TYPES:
    if CDRS[_t].names[:len(COMMON_FIELDS)] != COMMON_FIELDS:
        raise _layout.LayoutError(f"{_t}: the common fields must come first, in order")
# The columns of a CSV of all types; the charging fields (0.4.0) last, after every older column, so
# that a CSV of all types keeps the places of the columns before them.
_MONEY_COLUMNS = ("charge_amount", "currency")
CSV_COLUMNS: tuple[str, ...] = tuple(c for c in _layout.check_columns(CDRS.values()) if c not in _MONEY_COLUMNS) \
    + _MONEY_COLUMNS
OPTIONAL_COLUMNS: tuple[str, ...] = (ANOMALY.name,)  # after CSV_COLUMNS, when asked for


def _written(t: str, labelled: bool) -> Record:
    """CDR type ``t`` as written: its fields, and with ``labelled`` its optional ones after them."""
    return replace(CDRS[t], fields=CDRS[t].all_fields) if labelled else CDRS[t]


def layouts(kind: str, labelled: bool = False) -> dict[str, list]:
    """The layout of each CDR type in ``kind`` (json, csv, csv_type), with ``labelled`` the
    optional fields too (--label-anomalies)."""
    columns = CSV_COLUMNS + (OPTIONAL_COLUMNS if labelled else ())
    return {t: _layout.layout(_written(t, labelled), kind, columns) for t in CDR_TYPES}


def csv_header(cdr_type: str | None = None, labelled: bool = False) -> str:
    """The header of a CSV of all CDR types, or of one type's CSV (``labelled``: with the optional
    columns)."""
    if cdr_type:
        return _layout.header(_written(cdr_type, labelled))
    return _layout.header(columns=CSV_COLUMNS + (OPTIONAL_COLUMNS if labelled else ()))


# ---------------------------------------------------------------- JSON Schema

def plain_text(markdown: str) -> str:
    return markdown.replace("`", "")


def _property(f: Field) -> dict:
    jtype = {"timestamp": "string", "date": "string"}.get(f.type, f.type)
    prop: dict = {"type": [jtype, "null"] if f.nullable else jtype}
    if f.type == "timestamp":
        prop |= {"format": "date-time", "pattern": f"^{TIME}$"}
    elif f.type == "date":
        prop["format"] = "date"
    if len(f.values) == 1:
        prop["const"] = f.values[0]
    elif f.values:
        prop["enum"] = list(f.values) + ([None] if f.nullable else [])
    if f.pattern:
        prop["pattern"] = f"^{f.pattern}$"
    if f.text:
        prop["minLength"] = 1
    if f.max_length is not None:
        prop["maxLength"] = f.max_length
    if f.minimum is not None:
        prop["minimum"] = f.minimum
    if f.maximum is not None:
        prop["maximum"] = f.maximum
    gpp = "Ours" if f.gpp == "ours" else f.gpp
    prop["description"] = f"{gpp}: {plain_text(f.meaning)}"
    return prop


def _rule(rule: Rule) -> dict:
    out = {"if": {"properties": {k: {"const": v} for k, v in rule.when.items()}, "required": list(rule.when)},
           "then": {"properties": rule.then}}
    if rule.otherwise is not None:
        out["else"] = {"properties": rule.otherwise}
    return out


def json_schema(name: str) -> dict:
    """The JSON Schema (draft 2020-12) of record ``name``: every field required, no others."""
    record = RECORDS[name]
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:telco-cdr-generator:schema:{name}",
        "title": record.title,
        "description": plain_text(record.summary) + " Field names, types and order are a public contract (README, "
                       "'Changes to record shapes'); generated by python -m telco_cdr.contract write.",
        "type": "object",
        "properties": {f.name: _property(f) for f in record.all_fields},
        "required": list(record.names),
        "additionalProperties": False,
    }
    if record.rules:
        schema["allOf"] = [_rule(r) for r in record.rules]
    return schema


# ---------------------------------------------------------------- Avro

_AVRO = {"string": "string", "integer": "long", "number": "double", "boolean": "boolean",
         "timestamp": {"type": "long", "logicalType": "timestamp-millis"},
         "date": {"type": "int", "logicalType": "date"}}


def avro_schema(name: str) -> dict:
    """The Avro schema of record ``name``: times as timestamp-millis, dates as date, enums as strings
    (Avro enum symbols cannot hold values such as ``G.711``); the allowed values are in each doc."""
    record = RECORDS[name]
    fields = []
    for f in record.all_fields:
        doc = f"{'Ours' if f.gpp == 'ours' else f.gpp}: {plain_text(f.meaning)}"
        entry = {"name": f.name, "type": ["null", _AVRO[f.type]] if f.nullable else _AVRO[f.type], "doc": doc}
        if f.nullable:
            entry["default"] = None
        fields.append(entry)
    return {"type": "record", "name": record.title.replace(" ", ""), "namespace": "telco_cdr_generator",
            "doc": plain_text(record.summary), "fields": fields}


def avro_datum(name: str, record: dict) -> dict:
    """A record as read from JSON, with the values Avro's logical types take (datetimes, dates)."""
    out = dict(record)
    for f in RECORDS[name].fields:
        v = out.get(f.name)
        if v is None:
            continue
        if f.type == "timestamp":
            out[f.name] = datetime.fromisoformat(v.replace("Z", "+00:00"))
        elif f.type == "date":
            out[f.name] = date.fromisoformat(v)
    return out


def json_datum(name: str, record: dict) -> dict:
    """The inverse of :func:`avro_datum`: times back to ISO 8601 text with milliseconds and a Z."""
    out = dict(record)
    for f in RECORDS[name].fields:
        v = out.get(f.name)
        if isinstance(v, datetime):
            out[f.name] = v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
        elif isinstance(v, date):
            out[f.name] = v.isoformat()
    return out


# ---------------------------------------------------------------- Spark

_SPARK = {"string": "STRING", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN",
          "timestamp": "TIMESTAMP", "date": "DATE"}


def spark_ddl(name: str) -> str:
    """The Spark SQL DDL of record ``name`` (``cdr_id STRING NOT NULL, ...``), for ``from_json``."""
    return ", ".join(f"{f.name} {_SPARK[f.type]}{'' if f.nullable else ' NOT NULL'}"
                     for f in RECORDS[name].all_fields)


# ---------------------------------------------------------------- Arrow (Parquet)

# Arrow's names of the types (as pyarrow prints them): times as UTC milliseconds, dates as days.
ARROW = {"string": "string", "integer": "int64", "number": "double", "boolean": "bool",
         "timestamp": "timestamp[ms, tz=UTC]", "date": "date32"}


def arrow_fields(name: str | None = None, labelled: bool = False) -> list[tuple[str, str, bool]]:
    """The Arrow columns of record ``name`` as it is written (``labelled``: with the optional
    fields, --label-anomalies): (field, Arrow type, nullable), in the record's order.  Without a
    ``name``, the columns of one file of all CDR types, the order and names of the all-types CSV:
    a column is nullable where its field may be null or a type lacks it.  ``telco_cdr.parquet.
    arrow_schema`` makes the pyarrow schema of them (that module imports pyarrow, this one does not)."""
    if name is not None:
        fields = RECORDS[name].all_fields if labelled else RECORDS[name].fields
        return [(f.name, ARROW[f.type], f.nullable) for f in fields]
    by_name: dict[str, list[Field]] = {}
    for t in CDR_TYPES:
        for f in CDRS[t].all_fields if labelled else CDRS[t].fields:
            by_name.setdefault(f.name, []).append(f)
    columns = CSV_COLUMNS + (OPTIONAL_COLUMNS if labelled else ())
    return [(c, ARROW[by_name[c][0].type], len(by_name[c]) < len(CDR_TYPES) or any(f.nullable for f in by_name[c]))
            for c in columns]


# ---------------------------------------------------------------- README tables

README_BEGIN = "<!-- BEGIN record tables: generated by python -m telco_cdr.contract write; do not edit -->"
README_END = "<!-- END record tables -->"


def _type_label(f: Field) -> str:
    label = {"timestamp": "string (time)", "date": "string (date)"}.get(f.type, f.type)
    return f"{label} or null" if f.nullable else label


def _table(fields, gpp=lambda f: f.gpp) -> list[str]:
    rows = ["| field | type | meaning | 3GPP TS 32.298 field |", "|---|---|---|---|"]
    rows += [f"| `{f.name}` | {_type_label(f)} | {f.meaning} | {gpp(f)} |" for f in fields]
    return rows


def _common_gpp(f: Field) -> str:
    by_type = _COMMON_GPP.get(f.name)
    if by_type is None:
        return f.gpp
    groups: dict[str, list[str]] = {}
    for t, g in by_type.items():
        groups.setdefault(g, []).append(t)
    if len(groups) == 1:
        return next(iter(groups))
    return ", ".join(f"{g} ({', '.join(ts)})" for g, ts in groups.items())  # in the order of CDR_TYPES


def readme_tables() -> str:
    """The README's record tables (user, the common CDR fields, each CDR type), in Markdown."""
    common = len(COMMON_FIELDS)
    common_fields = CDRS["voice"].fields[:common]
    lines = ["### user", "", USER.summary, ""] + _table(USER.fields) + [
        "", "### Fields common to every CDR", "",
        "Every CDR starts with these fields, in this order; the tables of each type follow with its own. "
        "`anomaly` is written only with `--label-anomalies`, as the last field of every type.", ""]
    lines += _table(common_fields + CDRS["voice"].optional, _common_gpp)
    for t in CDR_TYPES:
        lines += ["", f"### {t}", "", CDRS[t].summary, ""] + _table(CDRS[t].fields[common:])
    return "\n".join(lines)


# ---------------------------------------------------------------- the derived files

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def derived_files() -> dict[Path, str]:
    """Every file derived from the descriptions, with the text it must hold."""
    files: dict[Path, str] = {}
    for name in RECORDS:
        files[PACKAGE / "schemas" / f"{name}.schema.json"] = _dump(json_schema(name))
        files[PACKAGE / "schemas" / f"{name}.avsc"] = _dump(avro_schema(name))
    readme = ROOT / "README.md"
    if readme.exists():  # an installed package has no README beside it
        files[readme] = _with_tables(readme.read_text(encoding="utf-8"))
    return files


def _with_tables(text: str) -> str:
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {README_BEGIN!r} ... {README_END!r} markers")
    return pattern.sub(lambda _: f"{README_BEGIN}\n{readme_tables()}\n{README_END}", text, count=1)


def stale_files() -> list[Path]:
    stale = []
    for path, text in derived_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in (["write"], ["check"]):
        print("usage: python -m telco_cdr.contract write|check\n"
              "  write  regenerate the JSON Schemas, Avro schemas and README tables from the contract\n"
              "  check  exit 1 naming each derived file that is stale, 0 when all are current", file=sys.stderr)
        return 2
    if args == ["write"]:
        for path, text in derived_files().items():
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_files()
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)} (run: python -m telco_cdr.contract write)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
