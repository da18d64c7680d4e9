"""Counterparties (issue 11, item 1), measured on generated records of several countries, seeds and
windows, with libphonenumber (the phonenumbers package) as the independent judge of every number:
numbers outside the users file belong to the country's operators roughly by market share, some of
them ported; fixed lines of the user's city make 10-20 % of calls, numbers abroad 2-8 %; a few calls
go to the operator's service numbers; ``counterparty_type`` and ``counterparty_network`` say which."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType, carrier, geocoder

import helpers

RUNS = [
    helpers.one_process(("gb_us", ["GB", "US"], 41, 7, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"),
                        "counterparties"),
    helpers.one_process(("de_fr_in", ["DE", "FR", "IN"], 42, 8, "2026-05-04T00:00:00Z", "2026-05-11T00:00:00Z"),
                        "counterparties"),
]
USERS, CDRS = 3000, 200_000
KINDS = {"user", "mobile", "fixed", "international", "service", "short_code"}

# Written here apart from the generator: the names libphonenumber's carrier data gives each operator's
# blocks, by PLMN (as in tests/test_identifiers.py), and the cities' names in its geocoder.
CARRIER_PLMN = {"Vodafone": {"23415", "26202", "40420"}, "O2": {"23410", "26203"}, "EE": {"23430"},
                "T-Mobile": {"26201"}, "Eplus": {"26203"}, "Orange France": {"20801"}, "SFR": {"20810"},
                "Bouygues": {"20820"}, "Airtel": {"40410"}, "Idea": {"40420"}}
GEOCODED = {"Köln": "Cologne", "München": "Munich", "Delhi": "New Delhi", "Bengaluru": "Bangalore"}


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    return helpers.run_data_set(tmp_path_factory, "counterparties", request.param, USERS, CDRS)


def _other(c: dict) -> str:
    """The other party's number of a voice, SMS or VoIP record."""
    if c["cdr_type"] == "voice":
        return c["called_number"] if c["call_direction"] == "MO" else c["calling_number"]
    if c["cdr_type"] == "sms":
        return c["receiver_number"] if c["direction"] == "MO" else c["sender_number"]
    uri = c["callee_uri"] if c["call_direction"] == "MO" else c["caller_uri"]
    return uri[len("sip:+"):uri.index("@")]


def _parties(run, types=("voice", "sms", "voip")):
    return [(c, _other(c)) for c in run.cdrs if c["cdr_type"] in types]


def _parse(number: str):
    return phonenumbers.parse("+" + number)


def test_every_counterparty_has_a_kind_and_users_are_users(run):
    rows = _parties(run)
    assert rows
    for c, other in rows:
        kind = c["counterparty_type"]
        assert kind in KINDS, kind
        if kind == "user":
            peer = run.by_msisdn.get(other)
            assert peer is not None and peer["msisdn"] != c["msisdn"], (c["cdr_id"], other)
            assert c["counterparty_network"] == peer["mcc"] + peer["mnc"], c["cdr_id"]
        else:
            assert other not in run.by_msisdn, (c["cdr_id"], other, kind)  # not a user's number
        assert (c["counterparty_network"] is None) == (kind not in ("user", "mobile")), (c["cdr_id"], kind)


def test_calls_reach_fixed_lines_and_numbers_abroad_in_the_reference_shares(run):
    voice = [c for c in run.cdrs if c["cdr_type"] == "voice"]
    share = {k: v / len(voice) for k, v in Counter(c["counterparty_type"] for c in voice).items()}
    assert 0.10 <= share.get("fixed", 0) <= 0.20, share
    assert 0.02 <= share.get("international", 0) <= 0.08, share
    assert 0.003 <= share.get("service", 0) <= 0.03, share
    assert share.get("user", 0) > 0.15 and share.get("mobile", 0) > 0.3, share
    sms = Counter(c["counterparty_type"] for c in run.cdrs if c["cdr_type"] == "sms")
    assert sms["fixed"] == 0, sms  # a text goes to a mobile


def test_mobile_numbers_are_the_countrys_operators_by_share_some_ported(run):
    """Each country's mobile counterparties are valid mobile numbers of the country; every operator
    has a fair part of them (for the countries libphonenumber has carrier data for, the block's
    carrier); 5-20 % are served by another network than the block's (ported)."""
    by_country = defaultdict(list)
    for c, other in _parties(run):
        if c["counterparty_type"] == "mobile":
            by_country[run.by_id[c["user_id"]]["country"]].append((c, other))
    assert by_country
    for country, rows in by_country.items():
        assert len(rows) > 500, (country, len(rows))
        operators = {u["mcc"] + u["mnc"] for u in run.users if u["country"] == country}
        networks = Counter(c["counterparty_network"] for c, _ in rows)
        for plmn in operators:
            assert networks[plmn] / len(rows) > 0.15, (country, networks)
        ported = blocks = 0
        for c, other in rows[:3000]:
            num = _parse(other)
            assert phonenumbers.is_valid_number(num), other
            assert phonenumbers.region_code_for_number(num) == country, (other, country)
            kind = phonenumbers.number_type(num)
            assert kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE), (other, kind)
            if country != "US":
                name = carrier.name_for_number(num, "en")
                assert name in CARRIER_PLMN, (other, name)
                blocks += 1
                ported += c["counterparty_network"] not in CARRIER_PLMN[name]
        if blocks:
            assert 0.05 <= ported / blocks <= 0.20, (country, ported, blocks)


def test_fixed_lines_are_of_the_users_city(run):
    rows = [(c, o) for c, o in _parties(run, ("voice", "voip")) if c["counterparty_type"] == "fixed"]
    assert len(rows) > 1000
    places = 0
    for c, other in rows[:4000]:
        user = run.by_id[c["user_id"]]
        num = _parse(other)
        assert phonenumbers.is_valid_number(num), other
        assert phonenumbers.region_code_for_number(num) == user["country"], (other, user["country"])
        kind = phonenumbers.number_type(num)
        assert kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE), (other, kind)
        if user["country"] == "US":  # NANP: the city's area code
            assert other[1:4] in {u["msisdn"][1:4] for u in run.users if u["home_city"] == user["home_city"]}
        elif user["country"] != "FR":  # (its geocoder names the communes of a French area code)
            place = geocoder.description_for_number(num, "en")
            assert place.startswith(GEOCODED.get(user["home_city"], user["home_city"])), (other, place, user)
            places += 1
    assert places > 100


def test_numbers_abroad_are_valid_mobiles_of_other_countries(run):
    rows = [(c, o) for c, o in _parties(run) if c["counterparty_type"] == "international"]
    assert len(rows) > 500
    countries = Counter()
    for c, other in rows[:4000]:
        num = _parse(other)
        home = run.by_id[c["user_id"]]["country"]
        region = phonenumbers.region_code_for_number(num)
        assert phonenumbers.is_valid_number(num), other
        assert region != home, (other, home)
        assert phonenumbers.number_type(num) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        countries[home, region] += 1
    for home in {h for h, _ in countries}:
        assert len([r for h, r in countries if h == home]) >= 3, countries  # several destinations each


def test_service_calls_are_the_operators_short_codes_dialled(run):
    rows = [c for c in run.cdrs if c["cdr_type"] == "voice" and c["counterparty_type"] == "service"]
    assert len(rows) > 100
    codes = defaultdict(set)
    for c in rows:
        assert c["call_direction"] == "MO", c["cdr_id"]
        assert re.fullmatch(r"[0-9]{3,5}|\*[0-9]{2,4}", c["called_number"]), c["called_number"]
        user = run.by_id[c["user_id"]]
        codes[user["mcc"] + user["mnc"]].add(c["called_number"])
    for plmn, seen in codes.items():
        assert 1 <= len(seen) <= 2, (plmn, seen)  # voicemail and customer care
    assert len({frozenset(s) for s in codes.values()}) > 1  # each operator its own
    # a voicemail or care line answers (or the network fails the call): never busy, unanswered or absent
    results = Counter(c["call_result"] for c in rows)
    assert results["answered"] / len(rows) > 0.9, results
    assert not {"busy", "no_answer", "voicemail", "unreachable"} & set(results), results


def test_a_users_contact_is_the_same_number_call_after_call(run):
    """The other parties outside the file repeat: a user's calls to numbers outside the file go to a
    circle of numbers, not a new number each time."""
    per_user = defaultdict(list)
    for c, other in _parties(run, ("voice",)):
        if c["counterparty_type"] in ("mobile", "fixed", "international"):
            per_user[c["user_id"]].append(other)
    repeated = [1 - len(set(v)) / len(v) for v in per_user.values() if len(v) >= 20]
    assert len(repeated) > 50
    assert sum(repeated) / len(repeated) > 0.4, sum(repeated) / len(repeated)
