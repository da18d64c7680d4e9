"""Money (issue 11, item 7; telco-reference.md, "The network of 2026", "Money"): users carry their plan's
allowances; voice, SMS, data and VoIP records carry ``charge_amount`` and ``currency``: in-bundle usage
0 on postpaid plans, per-unit rates on prepaid and out of bundle, surcharges for roaming and
international.  Each rule a test of its own, on generated data of several countries and seeds.

The facts are written here (currencies, who pays for an incoming call, how units are counted); the
rates are the generator's table (telco_cdr.charging.RATES, illustrative prices: the test checks that
each record is priced by it, not what the prices are)."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict

import numpy as np
import pytest

import helpers
from telco_cdr import charging
from telco_cdr.users import PLANS

MIX = "voice=0.3,data=0.3,sms=0.2,voip=0.1,ims=0.1"
# (countries, seed, window): unlike each other; the windows cross billing days of some users
SETS = {
    "us_gb": (("US", "GB"), 61, "2026-03-27T00:00:00Z", "2026-04-02T00:00:00Z"),
    "de_fr_in": (("DE", "FR", "IN"), 62, "2026-10-10T00:00:00Z", "2026-10-14T00:00:00Z"),
}
CURRENCY = {"US": "USD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "IN": "INR"}  # ISO 4217
CALLING_CODE = {"US": "1", "GB": "44", "DE": "49", "FR": "33", "IN": "91"}  # ITU-T E.164
RATED = ("voice", "data", "sms", "voip")
ZERO_RATED_APNS = ("ims", "mms")  # VoLTE signalling and MMS transfer


@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.xdist_group(f"money-{name}"))
                                        for name in sorted(SETS)])
def ds(request, tmp_path_factory):
    countries, seed, start, end = SETS[request.param]
    d = tmp_path_factory.mktemp(request.param)
    users = helpers.write_users(d / "users.json", 3000, seed=seed, countries=countries)
    cdrs = helpers.write_cdrs(users, d / "cdrs.jsonl", 60_000, seed, start, end, "--weights", MIX,
                              "--anomalies", "irsf=2,wangiri=1")
    return helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))


def _e4(amount) -> int:
    return round(amount * charging.SCALE)


def _rate(c: dict, name: str) -> int:
    return round(getattr(charging.RATES[c], name) * charging.SCALE)


def _country(ds, r) -> str:
    return ds.by_id[r["user_id"]]["country"]


def _mo(r) -> bool:
    return (r.get("call_direction") or r.get("direction")) == "MO"


def _other(r) -> str:
    if r["cdr_type"] == "sms":
        return r["receiver_number"] if _mo(r) else r["sender_number"]
    if r["cdr_type"] == "voip":
        uri = r["callee_uri"] if _mo(r) else r["caller_uri"]
        return uri[len("sip:+"):uri.index("@")]
    return r["called_number"] if _mo(r) else r["calling_number"]


def _international(ds, r) -> bool:
    # (a service's short code or an application's sender, counterparty_type service or short_code, is not E.164)
    if r["cdr_type"] == "data" or r.get("counterparty_type") in ("service", "short_code"):
        return False
    return not _other(r).startswith(CALLING_CODE[_country(ds, r)])


def _units(r) -> int:
    """What a record is rated by: started minutes of talk, a delivered message, started kB of an
    internet bearer's record (0: nothing to rate)."""
    t = r["cdr_type"]
    if t in ("voice", "voip"):
        return math.ceil(r["duration_seconds"] / 60)
    if t == "sms":
        return int(r["delivery_status"] == "delivered")
    if r["apn"] in ZERO_RATED_APNS:
        return 0
    return math.ceil((r["uplink_bytes"] + r["downlink_bytes"]) / 1000)


def _base(ds, r) -> int:
    """units x the per-unit rate of the user's country (1/10000 units; data per kB at the MB rate, up)."""
    c, units = _country(ds, r), _units(r)
    if r["cdr_type"] == "data":
        return -(-units * _rate(c, "data_mb") // 1000)
    return units * _rate(c, "sms" if r["cdr_type"] == "sms" else "voice_min")


def _payable(ds, r) -> bool:
    """Something to rate, and by the subscriber: an MT call or SMS is free but in the US (mobile party
    pays) and abroad."""
    return _units(r) > 0 and (r["cdr_type"] == "data" or _mo(r) or _country(ds, r) == "US" or r["roaming"])


def _rated(ds, roaming: bool = False):
    """The rated records made at home (with ``roaming``, those made abroad)."""
    return [r for r in ds.cdrs if r["cdr_type"] in RATED and r["roaming"] == roaming]


def _service(r) -> str:
    return {"voip": "voice"}.get(r["cdr_type"], r["cdr_type"])  # VoIP minutes count as voice minutes


def _allowance(user: dict, service: str):
    return user[{"voice": "voice_allowance_minutes", "sms": "sms_allowance", "data": "data_allowance_gb"}[service]]


# ---------------------------------------------------------------- users

@pytest.mark.parametrize("countries,seed", [(("US",), 1), (("GB", "DE"), 2), (("FR", "IN"), 3)])
def test_users_get_their_plans_allowances(tmp_path, countries, seed):
    """Allowances as the plan says (prepaid: pay-as-you-go, none; unlimited: null), a billing day 1-28."""
    users = helpers.load_records(helpers.write_users(tmp_path / "u.json", 2000, seed=seed, countries=countries))
    plans = {p.plan_id: p for p in PLANS}
    seen = set()
    for u in users:
        p = plans[u["plan_id"]]
        assert (u["data_allowance_gb"], u["voice_allowance_minutes"], u["sms_allowance"]) == \
            (p.data_gb, p.voice_minutes, p.sms), u["user_id"]
        if u["plan_type"] == "prepaid":
            assert u["data_allowance_gb"] == u["voice_allowance_minutes"] == u["sms_allowance"] == 0
        if "UNL" in u["plan_id"]:
            assert u["data_allowance_gb"] is u["voice_allowance_minutes"] is u["sms_allowance"] is None
        assert 1 <= u["billing_day"] <= 28
        seen.add(u["billing_day"])
    assert len(seen) == 28  # spread over the month
    assert {u["plan_id"] for u in users} == set(plans)


# ---------------------------------------------------------------- records

def test_rated_records_and_only_they_carry_money(ds):
    raw = helpers.Path(ds.cdr_path).read_text(encoding="utf-8").splitlines()
    for line, r in zip(raw, ds.cdrs):
        if r["cdr_type"] in RATED:
            assert re.search(r',"charge_amount":(0|[1-9][0-9]*)\.[0-9]{4},"currency":"[A-Z]{3}"', line), line
            assert r["charge_amount"] >= 0
        else:
            assert "charge_amount" not in r and "currency" not in r  # IMS records are not rated


def test_currency_is_that_of_the_operators_country(ds):
    countries = set()
    for r in _rated(ds):
        country = _country(ds, r)
        assert r["currency"] == CURRENCY[country], r["cdr_id"]
        countries.add(country)
    assert countries == set(SETS["us_gb"][0] if "US" in countries else SETS["de_fr_in"][0])


def test_calls_without_talk_and_undelivered_messages_cost_nothing(ds):
    failed = [r for r in _rated(ds) if (r["cdr_type"] == "voice" and r["duration_seconds"] == 0)
              or (r["cdr_type"] == "sms" and r["delivery_status"] != "delivered")]
    assert len(failed) > 100
    assert {r["charge_amount"] for r in failed} == {0}
    results = {r["call_result"] for r in failed if r["cdr_type"] == "voice"}
    assert {"failed", "no_answer", "busy", "unreachable"} <= results


def test_incoming_calls_and_messages_are_free_but_in_the_us(ds):
    mt = [r for r in _rated(ds) if r["cdr_type"] != "data" and not _mo(r) and _units(r)]
    assert mt
    for r in mt:
        if _country(ds, r) == "US":
            continue  # mobile party pays: rated as outgoing ones (the tests below)
        assert r["charge_amount"] == 0, r["cdr_id"]


def test_prepaid_records_cost_units_times_rate(ds):
    """Prepaid lines pay every unit: units x the country's rate (plus the international surcharge)."""
    rows = [r for r in _rated(ds) if ds.by_id[r["user_id"]]["plan_type"] == "prepaid" and _payable(ds, r)
            and not _international(ds, r)]
    assert len({r["cdr_type"] for r in rows}) == len(RATED)
    for r in rows:
        assert _e4(r["charge_amount"]) == _base(ds, r) > 0, r["cdr_id"]
    zero = [r for r in _rated(ds) if r["cdr_type"] == "data" and r["apn"] in ZERO_RATED_APNS]
    assert zero and {r["charge_amount"] for r in zero} == {0}


def _cycle(ds, r, local) -> tuple[int, int]:
    """The billing cycle (year, month of its start) of a record at local time ``local``."""
    day = ds.by_id[r["user_id"]]["billing_day"]
    y, m = local.year, local.month
    if local.day < day:
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return y, m


def _postpaid_domestic(ds):
    rows = [r for r in _rated(ds) if ds.by_id[r["user_id"]]["plan_type"] == "postpaid" and _payable(ds, r)
            and not _international(ds, r)]
    return rows, helpers.local_times(ds, rows)


def test_postpaid_usage_in_bundle_costs_nothing_then_units_times_rate(ds):
    """Postpaid: 0 while the cycle's allowance lasts, then units x rate: within a billing cycle of a
    user and service, no free record after a charged one; an unlimited allowance never runs out."""
    rows, local = _postpaid_domestic(ds)
    runs = defaultdict(list)
    for r, t in zip(rows, local):
        user = ds.by_id[r["user_id"]]
        if _allowance(user, _service(r)) is None:
            assert r["charge_amount"] == 0, r["cdr_id"]  # unlimited
            continue
        if r["charge_amount"]:
            assert _e4(r["charge_amount"]) == _base(ds, r), r["cdr_id"]
        runs[r["user_id"], _service(r), _cycle(ds, r, t)].append((r["start_time"], r["charge_amount"] > 0))
    free = charged = 0
    for key, run in runs.items():
        flags = [c for _, c in sorted(run)]
        assert flags == sorted(flags), key  # charged only once the allowance ran out
        free += flags.count(False)
        charged += flags.count(True)
    assert free > 100 and charged > 100  # both occur: the rule is tested, not its absence


def test_an_allowance_runs_out_where_usage_passes_it():
    """The moment in the cycle an allowance runs out: allowance / expected usage of the cycle; never
    for usage below it or an unlimited one; a bigger allowance later."""
    allowance = np.array([0, 10, 10, 20, 10, np.inf])
    expected = np.array([5, 40, 20, 40, 5, 1e9])
    got = charging.exhaust_fraction(allowance, expected) / 65535
    assert got[0] == 0 and got[1] == pytest.approx(0.25, abs=1e-4) and got[2] == pytest.approx(0.5, abs=1e-4)
    assert got[3] > got[1] and got[4] == got[5] == 1.0


def test_international_calls_and_messages_add_a_surcharge(ds):
    """An MO call or SMS to a number of another country: the base (0 in a postpaid bundle) plus units x
    the international surcharge (the planted IRSF calls and Wangiri callbacks are such calls)."""
    rows = [r for r in _rated(ds) if _international(ds, r) and _mo(r) and _payable(ds, r)]
    assert len(rows) >= 5
    for r in rows:
        c = _country(ds, r)
        extra = _units(r) * _rate(c, "intl_sms" if r["cdr_type"] == "sms" else "intl_voice_min")
        user = ds.by_id[r["user_id"]]
        got = _e4(r["charge_amount"])
        if user["plan_type"] == "prepaid":
            assert got == _base(ds, r) + extra, r["cdr_id"]
        else:
            assert got in (extra, _base(ds, r) + extra), r["cdr_id"]
    incoming = [r for r in _rated(ds) if _international(ds, r) and not _mo(r) and _country(ds, r) != "US"]
    assert {r["charge_amount"] for r in incoming} <= {0}  # the caller pays an international call


# ---------------------------------------------------------------- roaming

# EU/EEA networks of the visited countries (MCC): roam like at home (Regulation (EU) 2022/612) for a
# subscriber of an EU network (here DE and FR), not for a British one since 2021.
EU_MCC, EU_HOMES = {"262", "208", "214", "222", "232"}, {"DE", "FR"}


def _like_home(ds, r) -> bool:
    return _country(ds, r) in EU_HOMES and r["cell_mcc"] in EU_MCC


def test_records_abroad_add_the_roaming_surcharge(ds):
    """A call, SMS or VoIP call abroad (incoming too) costs its base (0 in a postpaid bundle) plus units
    x the roaming surcharge, plus the international one for an MO one to another country."""
    rows = [r for r in _rated(ds, roaming=True) if r["cdr_type"] != "data" and _units(r) and not _like_home(ds, r)]
    assert len(rows) >= 30, len(rows)
    for r in rows:
        c, sms = _country(ds, r), r["cdr_type"] == "sms"
        extra = _units(r) * _rate(c, "roam_sms" if sms else "roam_voice_min")
        if _mo(r) and _international(ds, r):
            extra += _units(r) * _rate(c, "intl_sms" if sms else "intl_voice_min")
        got = _e4(r["charge_amount"])
        if ds.by_id[r["user_id"]]["plan_type"] == "prepaid":
            assert got == _base(ds, r) + extra, r["cdr_id"]
        else:
            assert got in (extra, _base(ds, r) + extra), r["cdr_id"]


def test_eu_subscribers_roam_like_at_home_in_the_eu_and_british_ones_do_not(ds):
    """A German or French subscriber in another EU network pays what it would at home: no roaming
    surcharge, incoming calls and SMS free, prepaid MO units x the domestic rate.  A British one there
    pays the roaming surcharge (the UK left the EU)."""
    abroad = [r for r in _rated(ds, roaming=True) if _units(r) and r["cdr_type"] != "data"]
    eu = [r for r in abroad if _like_home(ds, r)]
    british = [r for r in abroad if _country(ds, r) == "GB" and r["cell_mcc"] in EU_MCC]
    assert len(eu) + len(british) >= 10, (len(eu), len(british))
    for r in eu:
        got = _e4(r["charge_amount"])
        if not _mo(r):
            assert got == 0, r["cdr_id"]
        elif ds.by_id[r["user_id"]]["plan_type"] == "prepaid" and not _international(ds, r):
            assert got == _base(ds, r), r["cdr_id"]
        else:
            assert got <= _base(ds, r) + _units(r) * _rate(_country(ds, r), "intl_voice_min"), r["cdr_id"]
    for r in british:
        sms = r["cdr_type"] == "sms"
        assert _e4(r["charge_amount"]) >= _units(r) * _rate("GB", "roam_sms" if sms else "roam_voice_min"), r


# A constructed case too: the records of a chunk built as if every one roamed each cost its base plus
# units x the roaming surcharge.

def test_roaming_adds_a_surcharge_per_unit(monkeypatch):
    from datetime import date

    from telco_cdr import cdrs
    from telco_cdr.traffic import TrafficCurve, build_population
    from telco_cdr.users import generate_users

    users = list(generate_users(1500, seed=9, countries=["US", "GB", "DE", "IN"]))
    pop = build_population(users, 9, on=date(2026, 5, 4))
    start, end = helpers.iso_ms("2026-05-04T00:00:00Z"), helpers.iso_ms("2026-05-06T00:00:00Z")
    weights = {"voice": 0.4, "data": 0.0, "sms": 0.3, "voip": 0.3, "ims": 0.0}
    curve = TrafficCurve(pop, weights, start, end)
    times = curve.chunk_times(9, 0, 0, 6000, 6000)

    def build(roaming: bool):
        factory = cdrs.CdrFactory(pop, weights, 9, "json", curve=curve)
        if roaming:
            money = factory._money

            def roam(c, *args):
                c.roaming = c.surcharged = np.ones(len(c.u), dtype=bool)
                return money(c, *args)
            monkeypatch.setattr(factory, "_money", roam)
        return [json.loads(line) for line in factory.build(0, 0, times).lines]

    home, away = build(False), build(True)
    country = {u["user_id"]: u["country"] for u in users}
    checked = 0
    for h, a in zip(home, away):
        mine = ("charge_amount", "roaming")
        assert {k: v for k, v in h.items() if k not in mine} == {k: v for k, v in a.items() if k not in mine}
        if h["cdr_type"] not in RATED or h["roaming"]:
            continue
        c = country[h["user_id"]]
        sms = h["cdr_type"] == "sms"
        units = int(h["delivery_status"] == "delivered") if sms else math.ceil(h["duration_seconds"] / 60)
        surcharge = units * _rate(c, "roam_sms" if sms else "roam_voice_min")
        if _mo(h) or c == "US":
            assert _e4(a["charge_amount"]) == _e4(h["charge_amount"]) + surcharge, h["cdr_id"]
        else:  # an incoming call or SMS abroad is paid for: base and surcharge
            base = units * _rate(c, "sms" if sms else "voice_min")
            assert _e4(h["charge_amount"]) == 0
            assert _e4(a["charge_amount"]) in (surcharge, base + surcharge), h["cdr_id"]
        checked += units > 0
    assert checked > 1000


def test_roaming_data_adds_a_surcharge_per_started_kb():
    units = np.array([1, 999, 1000, 12_345])
    country = np.full(4, charging.COUNTRY_INDEX["GB"])
    rate, roam = _rate("GB", "data_mb"), _rate("GB", "roam_data_mb")
    yes, no = np.ones(4, dtype=bool), np.zeros(4, dtype=bool)
    home = charging.charge(charging.DATA_S, units, country, no, no, no, yes)
    away = charging.charge(charging.DATA_S, units, country, no, yes, no, yes)
    bundled_away = charging.charge(charging.DATA_S, units, country, yes, yes, no, yes)
    assert home.tolist() == [-(-k * rate // 1000) for k in units.tolist()]
    assert (away - home).tolist() == bundled_away.tolist() == [-(-k * roam // 1000) for k in units.tolist()]
    assert charging.charge(charging.DATA_S, units, country, no, yes, no, no).tolist() == [0] * 4


def test_international_numbers_are_told_by_their_country_code():
    own = np.array([12125550100, 12125550100, 447700900123, 447700900123, 919812345678, 33612345678])
    other = np.array([13105550100, 447700900124, 447700900999, 12125550100, 918812345678, 4915112345678])
    assert charging.international(own, other).tolist() == [False, True, False, True, False, True]


def test_a_billing_cycle_runs_from_the_billing_day_to_the_same_day_of_the_next_month():
    def ms(text):
        return helpers.iso_ms(text + "Z")

    t = np.array([ms("2026-03-05T00:00:00"), ms("2026-03-04T23:59:59"), ms("2026-02-05T00:00:00"),
                  ms("2026-12-31T12:00:00"), ms("2027-01-01T00:00:00"), ms("2026-02-16T12:00:00")])
    got = charging.cycle_position(t, np.array([5, 5, 5, 28, 1, 2])) / 65535
    assert got[0] == got[2] == got[4] == 0  # a cycle's first moment
    assert got[1] == pytest.approx(1, abs=1e-4)  # Feb 5 to Mar 5: the last second
    assert got[3] == pytest.approx(3.5 / 31, abs=1e-4)  # Dec 28 to Jan 28
    assert got[5] == pytest.approx(14.5 / 28, abs=1e-4)  # Feb 2 to Mar 2 (28 days in 2026)


def test_a_plan_the_generator_does_not_know_has_no_bundle(tmp_path):
    """A users file's own plan ids (not the generator's): no allowance known, so every unit is rated."""
    path = helpers.write_users(tmp_path / "u.json", 800, seed=71, countries=["GB", "FR"])
    users = helpers.load_records(path)
    for u in users[::2]:
        u["plan_id"] = "CORP-" + u["plan_id"]
    path.write_text(json.dumps(users), encoding="utf-8")
    cdrs = helpers.load_records(helpers.write_cdrs(path, tmp_path / "c.jsonl", 8000, 71, helpers.WEEK_START,
                                                   helpers.WEEK_END, "--weights", MIX))
    ds = helpers.DataSet(path, tmp_path / "c.jsonl", users, cdrs)
    rows = [r for r in _rated(ds) if ds.by_id[r["user_id"]]["plan_id"].startswith("CORP-") and _payable(ds, r)
            and not _international(ds, r)]
    assert len(rows) > 500 and {ds.by_id[r["user_id"]]["plan_type"] for r in rows} == {"prepaid", "postpaid"}
    for r in rows:
        assert _e4(r["charge_amount"]) == _base(ds, r) > 0, r["cdr_id"]
