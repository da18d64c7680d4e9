"""Subscriber identifiers checked against independent validators (python-stdnum, phonenumbers)."""

from __future__ import annotations

import numpy as np
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType
from stdnum import imei as std_imei
from stdnum import imsi as std_imsi
from stdnum import luhn as std_luhn

from telco_cdr.identifiers import COUNTRIES, DEVICES, OPERATORS, is_luhn_valid, luhn_digit, luhn_digits
from telco_cdr.users import generate_users

# One pytest-xdist process for the module: world_users is made once.
pytestmark = pytest.mark.xdist_group("identifiers")
MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
# geocoder gives either "City, ST" or a state name for NANP numbers.
US_STATES = {"New York": "NY", "California": "CA", "Texas": "TX", "Illinois": "IL", "Arizona": "AZ",
             "Pennsylvania": "PA", "Washington State": "WA", "Washington": "WA", "Massachusetts": "MA",
             "Florida": "FL"}


@pytest.fixture(scope="module")
def world_users():
    """10,000 users spread over every supported country."""
    return list(generate_users(10_000, seed=3, countries=list(COUNTRIES)))


# ---------------------------------------------------------------- Luhn

@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_luhn_digit_agrees_with_stdnum(payload):
    assert luhn_digit(payload) == std_luhn.calc_check_digit(payload)


@given(st.text(alphabet="0123456789", min_size=2, max_size=40))
def test_is_luhn_valid_agrees_with_stdnum(number):
    assert is_luhn_valid(number) == std_luhn.is_valid(number)


@given(st.integers(min_value=1, max_value=18).flatmap(
    lambda nd: st.tuples(st.just(nd), st.lists(st.integers(0, 10 ** nd - 1), min_size=1, max_size=50))))
def test_luhn_digits_vectorised_agrees_with_stdnum(case):
    ndigits, payloads = case
    got = luhn_digits(np.array(payloads, dtype=np.int64), ndigits)
    want = [int(std_luhn.calc_check_digit(str(p).zfill(ndigits))) for p in payloads]
    assert got.tolist() == want


# ---------------------------------------------------------------- per-identifier checks

def test_every_country_is_represented(world_users):
    assert {u["country"] for u in world_users} == set(COUNTRIES)


def test_imsi_is_valid_and_starts_with_the_operators_plmn(world_users):
    plmns = {(op.mcc, op.mnc): op for op in OPERATORS}
    for u in world_users:
        imsi = u["imsi"]
        assert len(imsi) == 15 and imsi.isdigit(), u
        op = plmns.get((u["mcc"], u["mnc"]))
        assert op is not None, f"{u['mcc']}-{u['mnc']} is not in the operator table"
        assert op.country == u["country"] and op.name == u["operator"], u
        assert imsi.startswith(op.mcc + op.mnc), u
        assert std_imsi.is_valid(imsi), imsi


def test_imsi_mnc_length_agrees_with_stdnum_database(world_users):
    # stdnum knows from the ITU list whether an MCC uses 2- or 3-digit MNCs.
    seen = {}
    for u in world_users:
        seen.setdefault((u["mcc"], u["mnc"]), u["imsi"])
    assert len(seen) == len(OPERATORS)
    for (mcc, mnc), imsi in seen.items():
        s_mcc, s_mnc, msin = std_imsi.split(imsi)
        assert (s_mcc, s_mnc) == (mcc, mnc), imsi
        assert len(msin) == 15 - len(mcc) - len(mnc)


def test_imei_is_luhn_valid_with_a_known_tac(world_users):
    devices = {t: d for d in DEVICES for t in d.tacs}
    for u in world_users:
        imei = u["imei"]
        assert len(imei) == 15 and imei.isdigit(), u
        assert std_imei.is_valid(imei), imei
        assert std_luhn.is_valid(imei), imei
        d = devices.get(imei[:8])
        assert d is not None, f"TAC {imei[:8]} is not in identifiers.DEVICES"
        assert (d.make, d.model, d.nr) == (u["device_make"], u["device_model"], u["device_5g"]), u


def test_iccid_is_19_or_20_digits_starting_89_with_country_code_and_luhn(world_users):
    for u in world_users:
        iccid = u["iccid"]
        assert len(iccid) in (19, 20) and iccid.isdigit(), u
        assert iccid.startswith("89"), u
        assert std_luhn.is_valid(iccid), iccid
        cc = str(phonenumbers.country_code_for_region(u["country"]))
        # ITU-T E.118: 89 + country code (NANP issuers write 1 as 01)
        assert iccid[2:].startswith(cc) or (cc == "1" and iccid[2:].startswith("01")), (iccid, u["country"])


def test_msisdn_is_a_valid_mobile_number_of_the_users_country(world_users):
    for u in world_users:
        msisdn = u["msisdn"]
        assert msisdn.isdigit() and len(msisdn) <= 15 and msisdn[0] != "0", u
        num = phonenumbers.parse("+" + msisdn)
        assert phonenumbers.is_valid_number(num), msisdn
        assert phonenumbers.region_code_for_number(num) == u["country"], (msisdn, u["country"])
        assert phonenumbers.number_type(num) in MOBILE_TYPES, (msisdn, phonenumbers.number_type(num))
        # E.164 digits round-trip: no national prefix or padding slipped in.
        assert phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164) == "+" + msisdn


def test_nanp_area_and_exchange_codes_start_with_2_to_9():
    users = list(generate_users(20_000, seed=8, countries=["US"]))
    exchanges = set()
    for u in users:
        m = u["msisdn"]
        assert len(m) == 11 and m[0] == "1", m
        npa, nxx = m[1:4], m[4:7]
        assert npa[0] in "23456789", m
        assert nxx[0] in "23456789", m
        assert nxx[1:] != "11", m  # N11 codes are service codes
        exchanges.add(nxx[0])
    assert exchanges == set("23456789")  # and all of 2-9 are used, not just a few


def test_us_area_code_lies_in_the_users_home_state():
    from phonenumbers import geocoder  # its data take 0.3 s to import: only in the process that runs this

    users = list(generate_users(1000, seed=9, countries=["US"]))
    assert len({u["home_region"] for u in users}) >= 5  # several states, each with its own area codes
    for u in users:
        desc = geocoder.description_for_number(phonenumbers.parse("+" + u["msisdn"]), "en")
        state = desc.rsplit(", ", 1)[1] if ", " in desc else US_STATES.get(desc)
        assert state == u["home_region"], (u["msisdn"], desc, u["home_city"], u["home_region"])


@settings(max_examples=15)
@given(seed=st.integers(0, 2**63 - 1), country=st.sampled_from(COUNTRIES))
def test_identifiers_valid_for_any_seed(seed, country):
    for u in generate_users(40, seed=seed, countries=[country]):
        num = phonenumbers.parse("+" + u["msisdn"])
        assert phonenumbers.is_valid_number(num) and phonenumbers.region_code_for_number(num) == country
        assert std_imsi.is_valid(u["imsi"]) and u["imsi"].startswith(u["mcc"] + u["mnc"])
        assert std_imei.is_valid(u["imei"])
        assert std_luhn.is_valid(u["iccid"]) and len(u["iccid"]) == (20 if country == "US" else 19)


def test_operator_flag_pins_the_plmn():
    users = list(generate_users(500, seed=4, operators=["234-15"]))
    assert {(u["mcc"], u["mnc"], u["country"]) for u in users} == {("234", "15", "GB")}
    assert all(u["imsi"].startswith("23415") and std_imsi.is_valid(u["imsi"]) for u in users)


# ---------------------------------------------------------------- uniqueness

@pytest.mark.parametrize("countries", [list(COUNTRIES), ["US"]], ids=["all-countries", "US-only"])
def test_identifiers_unique_over_50k_users(countries):
    users = list(generate_users(50_000, seed=12, countries=countries))
    assert len(users) == 50_000
    for key in ("user_id", "msisdn", "imsi", "imei", "iccid"):
        values = [u[key] for u in users]
        assert len(set(values)) == len(values), f"duplicate {key}"


def test_home_cell_belongs_to_the_users_plmn(world_users):
    for u in world_users:
        cell = u["home_cell_id"]
        plmn = u["mcc"] + u["mnc"]
        assert cell.startswith(plmn) and len(cell) == len(plmn) + 7, u
        eci = int(cell[len(plmn):], 16)
        assert 0 < eci < 2 ** 28  # 28-bit E-UTRAN cell identity (TS 23.003 §19.6)
        assert 0 <= u["home_tac"] <= 0xFFFF


def test_a_number_space_too_small_is_a_one_line_error():
    """unique_draw gives up with a UserError (the scripts' one line, not a traceback) when the space
    cannot hold the values asked for."""
    from telco_cdr.errors import UserError
    from telco_cdr.identifiers import unique_draw

    rng = np.random.default_rng(1)
    assert len(set(unique_draw(rng, lambda r, pos: r.integers(0, 100, len(pos)), 60, "IMEIs").tolist())) == 60
    with pytest.raises(UserError, match="cannot make 101 unique IMEIs"):
        unique_draw(rng, lambda r, pos: r.integers(0, 100, len(pos)), 101, "IMEIs")


def test_a_tac_past_its_serials_gets_the_next_tacs(monkeypatch):
    """A TAC numbers a million devices: a TAC's users past TAC_USERS_MAX get the TACs after it."""
    from telco_cdr import users

    monkeypatch.setattr(users, "TAC_USERS_MAX", 2)
    tacs = users._tacs(np.array([3] * 5 + [0] * 2))
    base3, base0 = int(users._TAC_INT[3]), int(users._TAC_INT[0])
    assert tacs.tolist() == [base3, base3, base3 + 1, base3 + 1, base3 + 2, base0, base0]


# ---------------------------------------------------------------- issue 11, item 6: TACs, ICCID issuers, number blocks

# The names libphonenumber's carrier data gives each operator's number blocks (E-Plus is part of
# Telefónica Germany since 2014; Vodafone India and Idea merged as Vodafone Idea in 2018).
CARRIER_OF = {
    "Vodafone UK": {"Vodafone"}, "O2 UK": {"O2"}, "EE": {"EE"},
    "Telekom Deutschland": {"T-Mobile"}, "Vodafone DE": {"Vodafone"}, "O2 Telefonica DE": {"O2", "Eplus"},
    "Orange France": {"Orange France"}, "SFR": {"SFR"}, "Bouygues Telecom": {"Bouygues"},
    "Airtel Delhi": {"Airtel"}, "Vodafone Idea Mumbai": {"Vodafone", "Idea"},
}

# ICCID issuer identification numbers as the ITU's list (Operational Bulletin 1295) and the operators'
# SIMs show them (NANP issuers write the country code 1 as 01), and the ICCID lengths.
ISSUER_OF = {
    "T-Mobile US": ("8901260", 20), "AT&T Mobility": ("8901410", 20), "Verizon Wireless": ("891480", 20),
    "Vodafone UK": ("894410", 19), "O2 UK": ("894411", 19), "EE": ("894430", 19),
    "Telekom Deutschland": ("894902", 19), "Vodafone DE": ("894920", 19), "O2 Telefonica DE": ("894922", 19),
    "Orange France": ("893301", 19), "SFR": ("893310", 19), "Bouygues Telecom": ("893320", 19),
    "Airtel Delhi": ("899110", 19), "Vodafone Idea Mumbai": ("899130", 19),
}


@pytest.fixture(scope="module")
def large_bases():
    """Two bases of 100,000 users: every country (seed 21), and the US alone (seed 22)."""
    return [list(generate_users(100_000, seed=21, countries=list(COUNTRIES))),
            list(generate_users(100_000, seed=22, countries=["US"]))]


def test_the_tacs_of_the_device_table_are_distinct_8_digit_codes():
    tacs = [t for d in DEVICES for t in d.tacs]
    assert all(len(t) == 8 and t.isdigit() for t in tacs)
    assert len(set(tacs)) == len(tacs), "a TAC listed for two models"
    assert len({(d.make, d.model) for d in DEVICES}) == len(DEVICES)


def test_a_large_base_shows_hundreds_of_tacs(large_bases):
    by_tac = {t: d for d in DEVICES for t in d.tacs}
    for users in large_bases:
        tacs = {u["imei"][:8] for u in users}
        assert len(tacs) >= 300, len(tacs)
        for u in users[:5000]:
            d = by_tac[u["imei"][:8]]
            assert (d.make, d.model, d.nr, d.lte, d.volte) == (
                u["device_make"], u["device_model"], u["device_5g"], u["device_4g"], u["device_volte"])


def test_popular_models_have_several_tacs_each(large_bases):
    """Most models with many users show several TACs, and no one TAC carries nearly all of them."""
    import collections

    for users in large_bases:
        tacs_of = collections.defaultdict(collections.Counter)
        for u in users:
            tacs_of[(u["device_make"], u["device_model"])][u["imei"][:8]] += 1
        popular = [m for m, c in tacs_of.items() if sum(c.values()) >= 1000]
        assert len(popular) >= 20
        several = [m for m in popular if len(tacs_of[m]) >= 3]
        assert len(several) >= len(popular) // 2, (len(several), len(popular))
        for m in several:
            counts = tacs_of[m]
            assert max(counts.values()) < 0.8 * sum(counts.values()), (m, counts.most_common(3))


def test_model_popularity_is_heavy_tailed(large_bases):
    """A few models hold most users, and a long tail of models each holds very few."""
    import collections

    for users in large_bases:
        n = len(users)
        counts = sorted(collections.Counter((u["device_make"], u["device_model"]) for u in users).values(),
                        reverse=True)
        assert len(counts) >= 80, len(counts)
        assert sum(counts[:10]) > 0.35 * n  # the head
        assert counts[0] < 0.15 * n  # no one model is the base
        tail = [c for c in counts if c < 0.002 * n]
        assert len(tail) >= len(counts) // 3, (len(tail), len(counts))  # the long tail
        assert sum(tail) < 0.1 * n
        assert max(counts[:5]) > 20 * min(counts)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_iccid_carries_the_operators_issuer_id_and_luhn(seed):
    users = list(generate_users(3000, seed=seed, countries=list(COUNTRIES)))
    seen = set()
    for u in users:
        prefix, length = ISSUER_OF[u["operator"]]
        assert u["iccid"].startswith(prefix), (u["operator"], u["iccid"])
        assert len(u["iccid"]) == length and u["iccid"].isdigit(), u["iccid"]
        assert std_luhn.is_valid(u["iccid"]), u["iccid"]
        seen.add(u["operator"])
    assert seen == set(ISSUER_OF)
    assert any(u["iccid"].startswith("8901260") for u in users)  # T-Mobile US SIMs begin 8901260


@pytest.mark.parametrize("seed", [5, 6, 7])
@pytest.mark.parametrize("country", ["GB", "DE", "FR", "IN"])
def test_msisdn_lies_in_a_number_block_of_the_users_operator(seed, country):
    """libphonenumber's carrier data (the independent oracle) names the user's operator for every number."""
    from phonenumbers import carrier

    users = list(generate_users(2000, seed=seed, countries=[country]))
    blocks = {}
    for u in users:
        num = phonenumbers.parse("+" + u["msisdn"])
        name = carrier.name_for_number(num, "en")
        assert name in CARRIER_OF[u["operator"]], (u["msisdn"], name, u["operator"])
        assert phonenumbers.is_valid_number(num) and phonenumbers.number_type(num) in MOBILE_TYPES, u["msisdn"]
        national = str(num.national_number)
        blocks.setdefault(u["operator"], set()).add(national[:4])
    assert set(blocks) == {op.name for op in OPERATORS if op.country == country}
    for name, prefixes in blocks.items():
        assert len(prefixes) >= 3, (name, prefixes)  # numbers spread over the operator's blocks


def test_us_msisdns_stay_valid_nanp_numbers():
    """libphonenumber has no US carrier data: US numbers keep the home city's area codes."""
    for u in generate_users(2000, seed=31, countries=["US"]):
        num = phonenumbers.parse("+" + u["msisdn"])
        assert phonenumbers.is_valid_number(num) and phonenumbers.region_code_for_number(num) == "US", u["msisdn"]


def test_the_number_blocks_are_those_of_the_pinned_libphonenumber():
    """identifiers.MOBILE_BLOCKS is what scripts/number_blocks.py derives from the installed phonenumbers'
    carrier data (a newer phonenumbers that moves blocks between carriers fails here: run the script)."""
    import runpy
    from pathlib import Path

    script = runpy.run_path(str(Path(__file__).parent.parent / "scripts" / "number_blocks.py"))
    for op in OPERATORS:
        if op.country in ("GB", "DE", "FR", "IN"):
            assert script["blocks_of"](op) == list(op.blocks), op.name
