"""Radio by country, date and device, and voice as 2026 networks carry it: IMS calls with their
S-CSCF records sharing one ICID, circuit-switched calls only where 2G/3G runs and the device needs
them, cell ids shaped by RAT, and IMS registration by device timers."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
import pytest

import helpers

COUNTRIES = ["US", "GB", "DE", "FR", "IN"]
MIX = "voice=0.3,data=0.25,sms=0.1,voip=0.05,ims=0.3"  # room in ims for the calls' INVITEs
# Which legacy RATs run in each country, from telco-reference.md "The network of 2026" (US 3G and 2G
# gone in 2022; Germany's 3G in 2021; the UK's 3G during 2024-2025; France keeps 2G and 3G; India's
# 3G gone, 2G kept): the facts, not the generator's table.
LEGACY_2026 = {"US": set(), "DE": {"GERAN"}, "GB": {"GERAN"}, "FR": {"UTRAN", "GERAN"}, "IN": {"GERAN"}}


def _dataset(tmp_path_factory, name, start, end, seed, count=150_000, weights=MIX):
    d = tmp_path_factory.mktemp(name)
    users = helpers.write_users(d / "users.json", 3000, seed=seed, countries=COUNTRIES)
    cdrs = helpers.write_cdrs(users, d / "cdrs.jsonl", count, seed, start, end, "--weights", weights)
    return helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))


@pytest.fixture(scope="module", params=[
    helpers.one_process(("winter", "2026-01-12", "2026-01-19", 31), "radio-winter"),
    helpers.one_process(("summer", "2026-07-06", "2026-07-13", 32), "radio-summer")])
def net(request, tmp_path_factory):
    name, start, end, seed = request.param
    return _dataset(tmp_path_factory, name, start, end, seed)


@pytest.fixture(scope="module")
def net_2020(tmp_path_factory):
    """A week of 2020, before the US and UK switched 3G off."""
    return _dataset(tmp_path_factory, "y2020", "2020-03-02", "2020-03-09", 33, count=60_000)


def _user(ds, c):
    return ds.by_id[c["user_id"]]


# ---------------------------------------------------------------- radio

def test_no_2g_or_3g_records_where_they_are_switched_off(net):
    legacy = defaultdict(Counter)
    for c in net.cdrs:
        if c["rat_type"] in ("UTRAN", "GERAN"):
            legacy[_user(net, c)["country"]][c["rat_type"]] += 1
    for country, allowed in LEGACY_2026.items():
        assert set(legacy[country]) <= allowed, (country, legacy[country])
    assert legacy["FR"]["UTRAN"] > 0 and legacy["IN"]["GERAN"] > 0  # where they run, they appear


def test_the_event_date_decides_which_networks_run(net_2020):
    rats = defaultdict(Counter)
    for c in net_2020.cdrs:
        rats[_user(net_2020, c)["country"]][c["rat_type"]] += 1
    assert rats["US"]["UTRAN"] > 0 and rats["GB"]["UTRAN"] > 0  # 3G still ran in 2020
    assert rats["DE"]["UTRAN"] > 0  # Germany's went in mid-2021
    assert not rats["US"]["GERAN"] or rats["US"]["GERAN"] < rats["US"]["UTRAN"]


def test_the_device_decides_the_rat(net):
    by_device = defaultdict(Counter)
    for c in net.cdrs:
        u = _user(net, c)
        by_device[("5g" if u["device_5g"] else "4g" if u["device_4g"] else "3g", u["country"])][c["rat_type"]] += 1
    for (kind, country), rats in by_device.items():
        if kind == "3g":
            assert set(rats) <= {"UTRAN", "GERAN"}, (kind, country, rats)  # a 3G phone has no LTE or NR
        if kind == "4g":
            assert "NR" not in rats, (kind, country, rats)
    assert all(not rats for (kind, country), rats in by_device.items() if kind == "3g" and country == "US")
    threeg_us = [u for u in net.users if not u["device_4g"] and u["country"] == "US" and u["status"] == "active"]
    assert threeg_us, "no 3G-only US users to check"
    assert not {u["user_id"] for u in threeg_us} & {c["user_id"] for c in net.cdrs}  # no network at all


def test_5g_devices_spend_part_of_their_time_on_nr(net):
    data = [c for c in net.of_type("data") if _user(net, c)["device_5g"]]
    share = sum(c["rat_type"] == "NR" for c in data) / len(data)
    assert 0.2 < share < 0.7, share


def test_the_cell_id_has_the_shape_of_its_rat(net):
    for c in net.cdrs:
        plmn = c["cell_mcc"] + c["cell_mnc"]
        assert c["cell_id"].startswith(plmn)
        rest = c["cell_id"][len(plmn):]
        rat = c["rat_type"]
        if rat == "NR":
            assert re.fullmatch("[0-9A-F]{9}", rest), c  # a 36-bit NCI
            assert c["tracking_area_code"] is not None and c["location_area_code"] is None
        elif rat in ("UTRAN", "GERAN"):
            assert re.fullmatch("[0-9A-F]{8}", rest), c  # LAC + CI
            assert int(rest[:4], 16) == c["location_area_code"] and c["tracking_area_code"] is None, c
        else:
            assert re.fullmatch("[0-9A-F]{7}", rest), c  # a 28-bit ECI
            assert c["tracking_area_code"] is not None and c["location_area_code"] is None


# ---------------------------------------------------------------- voice

def test_ims_calls_are_mmtel_records_and_cs_calls_msc_records(net):
    for c in net.of_type("voice"):
        if c["voice_technology"] == "CS":
            assert c["record_type"] == ("moCallRecord" if c["call_direction"] == "MO" else "mtCallRecord"), c
            assert c["icid"] is None and c["msc_id"] and c["rat_type"] in ("UTRAN", "GERAN"), c
        else:
            assert c["record_type"] == "mmtelRecord" and c["icid"] and c["msc_id"] is None, c
            want = {"VoLTE": "EUTRAN", "VoNR": "NR", "VoWiFi": "WLAN"}[c["voice_technology"]]
            assert c["rat_type"] == want, c


def test_most_calls_go_over_ims_and_cs_only_where_it_is_needed(net):
    voice = net.of_type("voice")
    tech = Counter(c["voice_technology"] for c in voice)
    assert tech["VoLTE"] + tech["VoNR"] + tech["VoWiFi"] > 0.85 * len(voice), tech
    assert tech["VoWiFi"] > 0.05 * len(voice) and tech["VoNR"] > 0, tech
    cs_by = Counter()
    calls_by = Counter()
    for c in voice:
        u = _user(net, c)
        key = (u["country"], u["device_volte"])
        calls_by[key] += 1
        cs_by[key] += c["voice_technology"] == "CS"
    assert not any(cs_by[(c, v)] for c, v in calls_by if c == "US"), "CS calls in the US of 2026"
    for (country, volte), n in calls_by.items():
        share = cs_by[(country, volte)] / n
        if volte:
            assert share < 0.05, (country, share)  # a small fallback where 2G/3G runs
        else:
            assert share == 1.0, (country, share)  # a phone without VoLTE calls circuit-switched
    assert not any(_user(net, c)["country"] == "US" and not _user(net, c)["device_volte"] for c in voice)


def test_an_ims_calls_invites_share_its_icid(net):
    voice_by_icid = defaultdict(list)
    for c in net.of_type("voice"):
        if c["icid"]:
            voice_by_icid[c["icid"]].append(c)
    invites = [c for c in net.of_type("ims") if c["sip_method"] == "INVITE"]
    assert len(invites) > 1000
    linked = 0
    for inv in invites:
        legs = voice_by_icid.get(inv["icid"], [])
        assert legs, f"INVITE {inv['cdr_id']} has no voice record of its call"
        mine = [v for v in legs if v["user_id"] == inv["user_id"]]
        assert mine, inv
        v = mine[0]
        assert v["start_time"] == inv["start_time"] and v["end_time"] == inv["end_time"], (v, inv)
        assert inv["role_of_node"] == ("originating" if v["call_direction"] == "MO" else "terminating")
        assert inv["duration_seconds"] == v["duration_seconds"]
        # RFC 3398's SIP responses for the outcome's Q.850 causes (tests/test_call_flow.py: cause by cause)
        assert inv["sip_status_code"] in {"answered": (200,), "dropped": (200,), "voicemail": (200,),
                                          "busy": (486, 603), "no_answer": (480,), "unreachable": (480, 502),
                                          "failed": (404, 480, 500, 503, 504)}[v["call_result"]], (inv, v)
        assert inv["ims_service"] == v["voice_technology"] and inv["rat_type"] == v["rat_type"]
        linked += 1
    assert linked == len(invites)
    two_legs = [legs for legs in voice_by_icid.values() if len(legs) == 2]
    assert two_legs and all({c["call_direction"] for c in legs} == {"MO", "MT"} for legs in two_legs)
    assert len(voice_by_icid) > 0.9 * sum(map(len, voice_by_icid.values())) / 2  # one ICID a call, not one a run


# ---------------------------------------------------------------- IMS registration

def test_registration_follows_device_timers_not_activity(net):
    registers = [c for c in net.of_type("ims") if c["sip_method"] == "REGISTER"]
    assert len(registers) > 3000
    by_user = defaultdict(list)
    for c in registers:
        by_user[c["user_id"]].append(helpers.iso_ms(c["start_time"]) // 1000 % 3600)
    spread = [max(s) - min(s) for s in by_user.values() if len(s) >= 3 and max(s) - min(s) < 1800]
    assert len(spread) > 200 and np.percentile(spread, 95) <= 10, np.percentile(spread, 95)  # one second of the hour
    per_hour = np.bincount([helpers.iso_ms(c["start_time"]) // 3_600_000 % 24 for c in registers], minlength=24)
    assert per_hour.max() / per_hour.min() < 1.5, per_hour  # as many at 03:00 as at noon
    invites = np.bincount([helpers.iso_ms(c["start_time"]) // 3_600_000 % 24 for c in net.of_type("ims")
                           if c["sip_method"] == "INVITE"], minlength=24)
    assert invites.max() / max(invites.min(), 1) > 2.5, invites
    # Every IMS device registers, the light users as often as the heavy ones: the busiest tenth of
    # the registering users hold about what chance gives them (a fifth), far less than of the calls.
    def top_tenth(records):
        counts = np.sort(list(Counter(c["user_id"] for c in records).values()))[::-1]
        return counts[: len(counts) // 10].sum() / counts.sum()

    assert top_tenth(registers) < 0.25 and top_tenth(registers) < top_tenth(net.of_type("voice")) - 0.1
    volte = {u["user_id"] for u in net.users if u["device_volte"] and u["status"] == "active"}
    assert set(by_user) <= volte
