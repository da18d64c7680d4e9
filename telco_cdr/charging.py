"""Money: what a record costs its subscriber (``charge_amount``, ``currency``), stateless per record.

A record's chunk knows nothing of the records before it, so usage is not counted up across chunks
(the bytes must be the same at any worker count).  Instead each user has a billing cycle that starts
on its ``billing_day`` (1-28, from its MSISDN) at local midnight, and an expected usage per cycle of
each service (voice minutes, SMS, data), in proportion to its activity for that type in the traffic
model.  If the expected usage exceeds the plan's allowance, the allowance runs out at the fraction
``allowance / expected`` of the cycle (usage spread evenly over it): records before that moment are
in the bundle, records after it out of it.  So whether a record is in the bundle is a function of the
user and the record's time alone.

Rating (telco-reference.md, "The network of 2026", "Money": in-bundle usage rated 0 for postpaid,
per unit for prepaid, roaming and international surcharges):

- postpaid, in the bundle: 0; postpaid out of the bundle, and prepaid always: units x the per-unit
  rate of the operator's country (prepaid plans here are pay-as-you-go, no bundle: allowances 0);
- a roaming record adds units x the roaming surcharge, an MO call or SMS to an international number
  units x the international surcharge (both on top of the base, bundle or not);
- units: voice and VoIP per started minute of talk time (``ceil(duration_seconds / 60)``), SMS per
  delivered message, data per started kB (1000 bytes, up and down) at the per-MB rate / 1000, rounded
  up to 0.0001; only the internet APN is rated (the ims APN's VoLTE signalling and the mms APN's
  transfer are zero-rated, an MMS being a message);
- unanswered and failed calls (no talk time), undelivered SMS: 0;
- MT calls and SMS cost the callee nothing (calling party pays), except in the US, where incoming
  minutes and texts are billed like outgoing ones (mobile party pays), and when roaming;
- amounts are in 1/10000 of the currency unit (integers here), written with 4 decimals.

The rates are illustrative: of the order of the operators' public pay-as-you-go and out-of-bundle
price lists of 2024-2025 (not any one operator's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .identifiers import COUNTRIES, OPERATORS
from .timezones import DAY_MS

VOICE_S, SMS_S, DATA_S = range(3)  # the services with allowances, their column in Tariffs.exhaust
SCALE = 10_000  # amounts are integers of 1/SCALE of the currency unit: 4 decimals
DECIMALS = 4

# ISO 4217 currency of each country (COUNTRIES' order).
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "IN": "INR"}
CURRENCIES = tuple(dict.fromkeys(CURRENCY[c] for c in COUNTRIES))


@dataclass(frozen=True)
class Rates:
    """Per-unit rates of a country, in its currency (illustrative, see the module's text)."""

    voice_min: float  # per started minute, prepaid and out of bundle
    sms: float  # per message
    data_mb: float  # per MB (rated per started kB)
    roam_voice_min: float  # surcharges when roaming
    roam_sms: float
    roam_data_mb: float
    intl_voice_min: float  # surcharges of an MO call or SMS to an international number
    intl_sms: float


RATES = {
    "US": Rates(0.10, 0.10, 0.015, 0.25, 0.25, 0.10, 0.25, 0.25),
    "GB": Rates(0.10, 0.06, 0.05, 0.25, 0.10, 0.05, 0.50, 0.20),
    "DE": Rates(0.09, 0.09, 0.02, 0.30, 0.20, 0.05, 0.29, 0.19),
    "FR": Rates(0.15, 0.10, 0.02, 0.30, 0.20, 0.05, 0.35, 0.20),
    "IN": Rates(0.60, 1.00, 0.05, 1.50, 2.00, 0.50, 5.00, 5.00),
}
# Countries where the called party pays for incoming calls and texts too (US plans count incoming
# minutes and messages).
MT_PAYS = ("US",)

# Average monthly usage of a subscriber (voice minutes, SMS, data GB): data from the Ericsson
# Mobility Report 2024 (telco-reference.md: about 15-20 GB a smartphone in North America and Western
# Europe, about 30 GB in India); minutes of use for India of the order of TRAI's performance indicator
# reports (about 900 a month); the other minutes and the SMS are ours, illustrative.
AVG_MONTHLY = {"US": (450, 120, 18), "GB": (250, 60, 15), "DE": (180, 40, 15), "FR": (250, 80, 16),
               "IN": (900, 30, 30)}

# The MCCs of each country (ITU-T E.212), for users of operators not in identifiers.OPERATORS.
MCC_COUNTRY = {**{str(m): "US" for m in range(310, 317)}, "234": "GB", "235": "GB", "262": "DE", "208": "FR",
               "404": "IN", "405": "IN", **{op.mcc: op.country for op in OPERATORS}}
DEFAULT_COUNTRY = "US"  # the rates and currency of a user of an MCC not listed

# The rate tables as integers (1/SCALE units), by country in COUNTRIES' order.
_FIELDS = ("voice_min", "sms", "data_mb", "roam_voice_min", "roam_sms", "roam_data_mb", "intl_voice_min", "intl_sms")
RATE_TABLE = {f: np.array([round(getattr(RATES[c], f) * SCALE) for c in COUNTRIES], dtype=np.int64) for f in _FIELDS}
COUNTRY_INDEX = {c: i for i, c in enumerate(COUNTRIES)}
CURRENCY_OF = np.array([CURRENCIES.index(CURRENCY[c]) for c in COUNTRIES], dtype=np.int8)  # by country
MT_PAYS_OF = np.array([c in MT_PAYS for c in COUNTRIES])
NEVER = np.uint16(65535)  # an allowance that does not run out in the cycle (unlimited, or usage below it)


def billing_day(msisdn) -> np.ndarray:
    """Each user's billing day, 1 to 28 (every month has it), from its number: the same for the
    users file and the CDRs."""
    msisdn = np.asarray(msisdn, dtype=np.int64)
    flat = msisdn.reshape(-1)
    out = np.empty(flat.shape, dtype=np.int8)
    for lo in range(0, len(out), EXHAUST_BLOCK):  # (a block at a time: no int64 array of a base of millions)
        out[lo:lo + EXHAUST_BLOCK] = flat[lo:lo + EXHAUST_BLOCK] % 28 + 1
    return out.reshape(msisdn.shape)


def country_of_plmns(plmn_keys: list[str]) -> np.ndarray:
    """The country (index into COUNTRIES) of each ``MCC-MNC`` key by its MCC."""
    return np.array([COUNTRIES.index(MCC_COUNTRY.get(k.split("-")[0], DEFAULT_COUNTRY)) for k in plmn_keys],
                    dtype=np.int8)


@dataclass
class Tariffs:
    """What rating needs of each user, built once per run (traffic.build_population)."""

    country: np.ndarray  # int8, index into COUNTRIES: rates, currency, who pays for MT
    prepaid: np.ndarray  # bool
    billing_day: np.ndarray  # int8, 1-28
    exhaust: np.ndarray  # (n, 3) uint16: when in the cycle each allowance runs out, in 1/65535 of it; NEVER


def exhaust_fraction(allowance: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """uint16 fractions of the cycle (1/65535) at which ``allowance`` runs out with ``expected``
    usage over the cycle (both per user; allowance inf for unlimited): NEVER where it does not."""
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(expected > allowance, allowance / expected, 1.0)
    return np.minimum(np.floor(np.nan_to_num(frac, nan=1.0) * 65535), 65535).astype(np.uint16)


def expected_usage(country: np.ndarray, service: int, weight: np.ndarray, mean: float | None = None) -> np.ndarray:
    """A user's expected usage of ``service`` per cycle: its country's average times its activity for
    the service relative to the mean of the users who have any (``weight``, from the traffic model;
    ``mean``: that mean, when ``weight`` is a block of the users)."""
    w = np.asarray(weight, dtype=np.float64)
    if mean is None:
        mean = positive_mean(w)
    avg = np.array([AVG_MONTHLY[c][service] * (1000 if service == DATA_S else 1) for c in COUNTRIES])  # data in MB
    return avg[country] * (w / mean)


def positive_mean(weight: np.ndarray) -> float:
    """The mean of the positive entries of ``weight`` (>= 0), 1.0 if none; no copy of it is made."""
    k = np.count_nonzero(weight)
    return float(weight.sum()) / k if k else 1.0


EXHAUST_BLOCK = 1 << 18  # users at a time (a base of millions makes no float arrays of every user)


def exhaust_column(country: np.ndarray, allowance_of_plan: np.ndarray, plan: np.ndarray, service: int,
                   weight: np.ndarray, out: np.ndarray) -> None:
    """``out`` (a column of Tariffs.exhaust): when each user's allowance of ``service`` runs out in a cycle,
    from its plan's allowance (``allowance_of_plan[plan]``) and its expected usage (weight), a block of
    users at a time."""
    mean = positive_mean(weight)
    for lo in range(0, len(weight), EXHAUST_BLOCK):
        hi = lo + EXHAUST_BLOCK
        expected = expected_usage(country[lo:hi], service, weight[lo:hi], mean)
        out[lo:hi] = exhaust_fraction(allowance_of_plan[plan[lo:hi]], expected)


def cycle_position(local_ms: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Where local times fall in their billing cycles (cycles from day ``day`` of a month to the same
    day of the next, at local midnight), in 1/65535 of the cycle: 0 at its start.  The calendar of the
    few days and months the times span is worked out once (small tables), not per record."""
    local_ms = np.asarray(local_ms, dtype=np.int64)
    if not len(local_ms):
        return np.zeros(0, dtype=np.int64)
    days = local_ms // DAY_MS
    first_day = int(days.min())
    span = np.arange(first_day, int(days.max()) + 1)
    span_month = span.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    span_dom = span - _month_start(span_month) + 1  # day of the month
    day = day.astype(np.int64)
    at = days - first_day
    month = span_month[at] - (span_dom[at] < day)  # before this month's billing day: the cycle began last month
    first_month = int(month.min())
    starts = _month_start(np.arange(first_month, int(month.max()) + 2))
    begin = starts[month - first_month] + day - 1
    end = starts[month - first_month + 1] + day - 1
    return (local_ms - begin * DAY_MS) * 65535 // ((end - begin) * DAY_MS)


def _month_start(months: np.ndarray) -> np.ndarray:
    """The first day (days since 1970) of months (months since 1970-01)."""
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def international(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Whether numbers ``other`` are of another country than ``own`` (E.164 integers): their country
    codes (1 for NANP, else the first two digits, as of COUNTRIES' codes 44, 49, 33, 91) differ."""
    own, other = np.asarray(own, dtype=np.int64), np.asarray(other, dtype=np.int64)
    digits = np.searchsorted(_POW10, other, side="right")
    own_digits = np.searchsorted(_POW10, own, side="right")
    width = np.where(own // _POW10[np.maximum(own_digits - 1, 0)] == 1, 1, 2)  # NANP: code 1
    return other // _POW10[np.maximum(digits - width, 0)] != own // _POW10[np.maximum(own_digits - width, 0)]


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def amounts(units: np.ndarray, rate: np.ndarray, per: int = 1) -> np.ndarray:
    """``units`` x ``rate`` / ``per`` in 1/SCALE units, rounded up (``per`` 1000: kB at a per-MB rate)."""
    return -(-(np.asarray(units, dtype=np.int64) * rate) // per)


def charge(service: int, units: np.ndarray, country: np.ndarray, in_bundle: np.ndarray, roaming: np.ndarray,
           intl: np.ndarray, payable: np.ndarray) -> np.ndarray:
    """The amounts (1/SCALE units, int64) of records of ``service`` (VOICE_S for voice and VoIP):
    the base (0 in the bundle, else units x rate) plus the roaming and international surcharges,
    where ``payable`` (else 0)."""
    t = RATE_TABLE
    if service == DATA_S:
        base = amounts(units, t["data_mb"][country], 1000)
        extra = np.where(roaming, amounts(units, t["roam_data_mb"][country], 1000), 0)
    else:
        rate, roam, intl_rate = ((t["voice_min"], t["roam_voice_min"], t["intl_voice_min"]) if service == VOICE_S
                                 else (t["sms"], t["roam_sms"], t["intl_sms"]))
        base = units * rate[country]
        extra = units * (np.where(roaming, roam[country], 0) + np.where(intl, intl_rate[country], 0))
    return np.where(payable, np.where(in_bundle, 0, base) + extra, 0)
