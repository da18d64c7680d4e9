"""Data is always on: data records are partial records of long-lived bearers (telco_cdr.bearers).
Each rule is checked on generated files of users of the US, GB, DE, FR and IN, for two seeds, a
winter and a summer week."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
import pytest

import helpers
from telco_cdr import bearers
from telco_cdr.bearers import IMS_APN, MMS_APN, MMS_BYTES, PGW_SETTINGS
from telco_cdr.cdrs import CdrFactory
from telco_cdr.constants import CDR_TYPES, SeedDomain
from telco_cdr.traffic import build_population

COUNTRIES = ["US", "GB", "DE", "FR", "IN"]
WINTER = ("2026-01-12T00:00:00Z", "2026-01-19T00:00:00Z")
SUMMER = ("2026-07-06T00:00:00Z", "2026-07-13T00:00:00Z")
WEIGHTS = {"voice": 0.2, "data": 0.6, "sms": 0.1, "voip": 0.05, "ims": 0.05}
COUNT = 100_000
_RELEASES = {"normalRelease", "abnormalRelease"}


@pytest.fixture(scope="module", params=[helpers.one_process(("winter", WINTER, 31), "bearers-winter"),
                                        helpers.one_process(("summer", SUMMER, 32), "bearers-summer")])
def ds(request, tmp_path_factory):
    name, (start, end), seed = request.param
    d = tmp_path_factory.mktemp(f"bearers-{name}")
    users = helpers.write_users(d / "users.json", 2500, seed=seed, countries=COUNTRIES)
    text = ",".join(f"{k}={v}" for k, v in WEIGHTS.items())
    cdrs = helpers.write_cdrs(users, d / "cdrs.jsonl", COUNT, seed, start, end, "--weights", text)
    out = helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))
    out.window = tuple(helpers.iso_ms(t.replace("Z", ".000Z")) for t in (start, end))
    return out


def _bearers(ds) -> dict[int, list[dict]]:
    """Each charging id's records, by sequence number."""
    out = defaultdict(list)
    for c in ds.of_type("data"):
        out[c["charging_id"]].append(c)
    return {k: sorted(v, key=lambda c: c["record_sequence_number"]) for k, v in out.items()}


def _plmn(c: dict) -> str:
    return c["cell_mcc"] + c["cell_mnc"]


def test_count_is_exact_and_the_data_share_is_as_weighted(ds):
    assert len(ds.cdrs) == COUNT
    got = Counter(c["cdr_type"] for c in ds.cdrs)
    assert got["data"] == round(COUNT * WEIGHTS["data"] / sum(WEIGHTS.values()))
    for t in CDR_TYPES:
        assert abs(got[t] / COUNT - WEIGHTS[t]) < 0.02, (t, got)


def test_records_are_in_start_time_order(ds):
    starts = [helpers.iso_ms(c["start_time"]) for c in ds.cdrs]
    assert starts == sorted(starts)
    lo, hi = ds.window
    assert lo <= starts[0] and starts[-1] < hi


def test_a_bearers_records_are_one_users_one_apns_and_contiguous(ds):
    chains = _bearers(ds)
    assert len(chains) < len(ds.of_type("data")) / 5  # bearers have many partial records
    for cid, recs in chains.items():
        assert len({c["user_id"] for c in recs}) == 1, cid
        assert len({c["apn"] for c in recs}) == 1, cid
        seq = [c["record_sequence_number"] for c in recs]
        assert seq == list(range(seq[0], seq[0] + len(seq))), (cid, seq)  # no gap, no repeat
        for a, b in zip(recs, recs[1:]):
            assert b["start_time"] == a["end_time"], (cid, a, b)  # opens when the one before closed


def test_a_new_bearer_instance_restarts_at_one(ds):
    by_device = defaultdict(list)  # (user, apn) -> bearers by their first record's start
    for recs in _bearers(ds).values():
        if recs[0]["apn"] != MMS_APN:
            by_device[recs[0]["user_id"], recs[0]["apn"]].append(recs)
    later = 0
    for chain in by_device.values():
        chain.sort(key=lambda r: r[0]["start_time"])
        for before, after in zip(chain, chain[1:]):
            assert before[-1]["cause_for_record_closing"] in _RELEASES, before[-1]
            assert after[0]["record_sequence_number"] == 1, after[0]
            assert after[0]["start_time"] >= before[-1]["end_time"]
            later += 1
    assert later > 20
    firsts = [chain[0][0]["record_sequence_number"] for chain in by_device.values()]
    assert max(firsts) > 1  # set up before the window


def test_the_closing_causes_occur(ds):
    got = Counter(c["cause_for_record_closing"] for c in ds.of_type("data"))
    assert set(got) == set(bearers.RECORD_CLOSING), got
    assert got["timeLimit"] > 0.5 * sum(got.values()), got
    assert got["abnormalRelease"] < got["normalRelease"], got


def test_a_time_limit_partial_lasts_the_operators_time_limit(ds):
    for c in ds.of_type("data"):
        limit = PGW_SETTINGS[_plmn(c)].time_limit_s
        assert c["duration_seconds"] <= limit, c
        if c["cause_for_record_closing"] == "timeLimit":
            assert c["duration_seconds"] == limit, c


def test_the_last_partial_of_a_released_bearer_is_a_release(ds):
    for recs in _bearers(ds).values():
        for c in recs[:-1]:
            assert c["cause_for_record_closing"] not in _RELEASES, c  # a release ends the bearer
        if recs[0]["apn"] == MMS_APN:
            assert len(recs) == 1 and recs[0]["cause_for_record_closing"] in _RELEASES, recs


def test_rat_changes_are_5g_devices_between_nr_and_lte(ds):
    changes = 0
    for recs in _bearers(ds).values():
        device = ds.by_id[recs[0]["user_id"]]
        for a, b in zip(recs, recs[1:]):
            if a["cause_for_record_closing"] == "rATChange":
                assert device["device_5g"], a
                assert {a["rat_type"], b["rat_type"]} == {"NR", "EUTRAN"}, (a, b)
                changes += 1
            else:
                assert a["rat_type"] == b["rat_type"], (a, b)
    assert changes > 50


def test_a_volume_limit_partial_carries_the_operators_volume_limit(ds):
    seen = 0
    for c in ds.of_type("data"):
        total = c["uplink_bytes"] + c["downlink_bytes"]
        limit = PGW_SETTINGS[_plmn(c)].volume_limit_bytes
        assert total <= limit, c
        if c["cause_for_record_closing"] == "volumeLimit":
            assert total > limit - 2048, c
            seen += 1
    assert seen


def test_apn_names_are_the_operators(ds):
    seen = defaultdict(set)
    for c in ds.of_type("data"):
        device = ds.by_id[c["user_id"]]
        assert c["apn"] in {PGW_SETTINGS[_plmn(c)].apn, IMS_APN, MMS_APN}, c
        if c["apn"] == IMS_APN:
            assert device["device_volte"], c  # only VoLTE devices hold an ims bearer
        seen[_plmn(c)].add(c["apn"])
    for plmn, apns in seen.items():
        assert PGW_SETTINGS[plmn].apn in apns, plmn


def test_mms_stays_small(ds):
    mms = [c for c in ds.of_type("data") if c["apn"] == MMS_APN]
    assert len(mms) >= 10
    sizes = np.array([c["uplink_bytes"] + c["downlink_bytes"] for c in mms])
    assert sizes.max() <= 1.05 * MMS_BYTES[2]
    assert 150_000 < np.median(sizes) < 500_000, np.median(sizes)  # about 300 kB
    assert all(c["duration_seconds"] < 120 and c["record_sequence_number"] == 1 for c in mms)


def test_monthly_volume_per_device_by_country(ds):
    # Ericsson Mobility Report 2024: 15-20 GB a month per smartphone in North America and Western
    # Europe, about 30 GB in India.  Measured on the internet APN: bytes per bearer-hour x 720.
    ranges = {"US": (15, 20), "GB": (15, 20), "DE": (15, 20), "FR": (15, 20), "IN": (26, 34)}
    volume, hours = defaultdict(float), defaultdict(float)
    for c in ds.of_type("data"):
        if c["apn"] in (IMS_APN, MMS_APN):
            continue
        country = ds.by_id[c["user_id"]]["country"]
        volume[country] += c["uplink_bytes"] + c["downlink_bytes"]
        hours[country] += c["duration_seconds"] / 3600
    monthly = {k: volume[k] / hours[k] * 720 / 1e9 for k in volume}
    assert set(monthly) == set(COUNTRIES), monthly
    for country, (lo, hi) in ranges.items():
        # a sample of some dozens of devices per country: their spread on top of the range
        assert 0.8 * lo <= monthly[country] <= 1.2 * hi, (country, monthly)


def test_ims_bearers_carry_little(ds):
    ims = [c for c in ds.of_type("data") if c["apn"] == IMS_APN]
    assert ims
    per_hour = sum(c["uplink_bytes"] + c["downlink_bytes"] for c in ims) / sum(c["duration_seconds"] for c in ims)
    assert per_hour * 3600 < 1_000_000


def test_bearer_choice_is_deterministic_and_exact():
    users = list(__import__("telco_cdr.users", fromlist=["generate_users"]).generate_users(300, 4, COUNTRIES))
    pop = build_population(users, 4)
    lo = helpers.iso_ms("2026-03-02T00:00:00.000Z")
    a = bearers.choose_bearers(pop, 4, lo, lo + 86_400_000, 5000)
    b = bearers.choose_bearers(pop, 4, lo, lo + 86_400_000, 5000)
    assert len(a) == 5000 and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("start", "charging", "up"))
    assert np.all(np.diff(a.start) >= 0)
    # more records than the users' bearers make in the window: further rounds, still exact
    many = bearers.choose_bearers(pop, 4, lo, lo + 3_600_000, 5000)
    assert len(many) == 5000 and many.start.min() >= lo and many.start.max() < lo + 3_600_000
    assert a.nbytes < 40 * len(a)  # compact


def test_a_stream_continues_each_users_internet_bearer():
    users = list(__import__("telco_cdr.users", fromlist=["generate_users"]).generate_users(50, 9, ["US"]))
    pop = build_population(users, 9)
    factory = CdrFactory(pop, {"data": 1.0}, 9, "json", stream=SeedDomain.STREAM_CDRS)
    now = helpers.iso_ms("2026-05-01T12:00:00.000Z")
    seen = defaultdict(list)
    for batch in range(6):
        at = now + batch * 60_000
        chunk = factory.build(batch, batch * 500, np.full(500, at, dtype=np.int64))
        for line in chunk.lines:
            c = json.loads(line)
            assert helpers.iso_ms(c["start_time"]) == at, c  # event times of now, as every streamed record
            seen[c["user_id"]].append(c)
    for recs in seen.values():
        by_bearer = defaultdict(list)
        for c in recs:
            by_bearer[c["charging_id"]].append(c["record_sequence_number"])
        for seqs in by_bearer.values():
            seqs.sort()
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    causes = Counter(c["cause_for_record_closing"] for recs in seen.values() for c in recs)
    assert causes.most_common(1)[0][0] == "timeLimit"
