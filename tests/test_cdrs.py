"""CDR content: the join to the users file, MO/MT pairing, and per-type realism with tolerances
derived from /work/shared/telco-reference.md (3GPP TS 32.298 field semantics, ITU-T Q.850 causes)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np
import phonenumbers
import pytest

import helpers

# ITU-T Q.850 causes for each outcome name (telco-reference.md; tests/test_call_flow.py has them
# all); causeForTerm per TS 32.298.
UNSUCCESSFUL_Q850 = {"no_answer": {19}, "busy": {17, 21}, "unreachable": {20, 27}, "failed": {1, 31, 34, 38, 102, 127}}
TALKED = ("answered", "dropped", "voicemail")  # answered by the callee, or by the callee's voicemail
SIP_URI = re.compile(r"sip:\+(\d+)@")
# The tests of helpers.us_week (here and in test_traffic.py) run in one pytest-xdist process, which
# makes the data set once.
pytestmark = pytest.mark.xdist_group("us-week")


@pytest.fixture(scope="module")
def us(tmp_path_factory):
    return helpers.us_week(tmp_path_factory)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return helpers.world(tmp_path_factory)


@pytest.fixture(scope="module", params=["us", "world"])
def ds(request):
    return request.getfixturevalue(request.param)


def _uri_number(uri: str) -> str:
    m = SIP_URI.match(uri)
    assert m, uri
    return m.group(1)


# ---------------------------------------------------------------- join integrity

def test_count_is_exact(ds):
    assert len(ds.cdrs) == (100_000 if len(ds.users) == 3000 else 30_000)


def test_every_cdr_joins_to_its_user(ds):
    for c in ds.cdrs:
        u = ds.by_id.get(c["user_id"])
        assert u is not None, c["user_id"]
        assert (c["msisdn"], c["imsi"], c["imei"]) == (u["msisdn"], u["imsi"], u["imei"]), c["cdr_id"]


def test_no_cdr_for_a_suspended_user(ds):
    suspended = {u["user_id"] for u in ds.users if u["status"] == "suspended"}
    assert suspended, "the data set should contain suspended users for this test to mean anything"
    assert not [c["cdr_id"] for c in ds.cdrs if c["user_id"] in suspended]


def test_most_active_users_appear(ds):
    active = {u["user_id"] for u in ds.users if u["status"] == "active"}
    assert len({c["user_id"] for c in ds.cdrs}) > 0.8 * len(active)


def test_direction_fixes_the_served_party(ds):
    for c in ds.cdrs:
        own, t = c["msisdn"], c["cdr_type"]
        if t == "voice":
            assert c["call_direction"] in ("MO", "MT")
            mo = c["call_direction"] == "MO"
            cs = c["voice_technology"] == "CS"
            assert c["record_type"] == (("moCallRecord" if mo else "mtCallRecord") if cs else "mmtelRecord")
            assert (c["calling_number"] if mo else c["called_number"]) == own, c
            assert c["calling_number"] != c["called_number"], c
        elif t == "sms":
            mo = c["direction"] == "MO"
            assert c["record_type"] == ("moSMSRecord" if mo else "mtSMSRecord")
            assert (c["sender_number"] if mo else c["receiver_number"]) == own, c
            assert c["sender_number"] != c["receiver_number"], c
        elif t == "voip":
            mo = c["call_direction"] == "MO"
            caller, callee = _uri_number(c["caller_uri"]), _uri_number(c["callee_uri"])
            assert (caller if mo else callee) == own, c
            assert caller != callee, c
        elif t == "ims":
            mo = c["role_of_node"] == "originating"
            calling = _uri_number(c["calling_party_uri"])
            if c["sip_method"] == "REGISTER":
                assert mo and calling == own, c
            else:
                called = _uri_number(c["called_party_uri"])
                assert (calling if mo else called) == own, c
                assert calling != called, c


def _voice_counterparty(c) -> str:
    return c["called_number"] if c["call_direction"] == "MO" else c["calling_number"]


def test_a_sizable_share_of_voice_counterparties_are_on_net(ds):
    voice = ds.of_type("voice")
    on_net = sum(_voice_counterparty(c) in ds.by_msisdn for c in voice)
    assert on_net / len(voice) > 0.10, on_net / len(voice)
    assert on_net / len(voice) < 0.95  # and there is off-net traffic too


def test_off_net_counterparties_are_valid_e164(ds):
    numbers = []
    for c in ds.cdrs:
        if c["cdr_type"] == "voice":
            numbers.append((c, _voice_counterparty(c)))
        elif c["cdr_type"] == "sms" and c["counterparty_type"] != "short_code":  # (an application's: test_cdrs_sms)
            numbers.append((c, c["receiver_number"] if c["direction"] == "MO" else c["sender_number"]))
    checked = set()
    for c, num in numbers:
        if num in ds.by_msisdn or num in checked or c["counterparty_type"] == "service":
            continue
        checked.add(num)
        p = phonenumbers.parse("+" + num)
        assert phonenumbers.is_valid_number(p), (num, c["cdr_id"])
        assert num != c["msisdn"]
    assert len(checked) > 100


def test_mt_twins_of_on_net_calls(ds):
    voice = ds.of_type("voice")
    # the MT leg starts when the call is set up, 1-5 s after the MO leg, and ends with it
    mt = {(c["user_id"], c["calling_number"], c["end_time"]): c for c in voice if c["call_direction"] == "MT"}
    on_net_mo = [c for c in voice if c["call_direction"] == "MO" and c["called_number"] in ds.by_msisdn]
    assert on_net_mo
    twins = 0
    for a in on_net_mo:
        callee = ds.by_msisdn[a["called_number"]]
        b = mt.get((callee["user_id"], a["msisdn"], a["end_time"]))
        if b is None:
            continue
        twins += 1
        assert b["called_number"] == callee["msisdn"]
        assert 1000 <= helpers.iso_ms(b["start_time"]) - helpers.iso_ms(a["start_time"]) <= 5000, (a["cdr_id"],
                                                                                                  b["cdr_id"])
        assert (b["call_result"], b["duration_seconds"], b["answer_time"]) == \
               (a["call_result"], a["duration_seconds"], a["answer_time"])
    assert twins / len(on_net_mo) > 0.5, (twins, len(on_net_mo))


# ---------------------------------------------------------------- voice realism

def test_answered_call_durations_match_published_averages(us):
    answered = [c for c in us.of_type("voice") if c["call_result"] == "answered"]
    d = np.array([c["duration_seconds"] for c in answered])
    assert len(d) > 10_000
    # CTIA / Vodafone: mean mobile call ~100-110 s; log-normal with a median near 55 s.
    assert 40 <= np.median(d) <= 75, np.median(d)
    assert 80 <= d.mean() <= 150, d.mean()
    assert d.min() >= 1 and np.percentile(d, 99) > 5 * np.median(d)  # long tail


def test_answered_calls_have_consistent_times(us):
    for c in us.of_type("voice"):
        start, end = helpers.iso_ms(c["start_time"]), helpers.iso_ms(c["end_time"])
        if c["call_result"] in TALKED:
            assert c["answer_time"] is not None, c
            ans = helpers.iso_ms(c["answer_time"])
            assert start <= ans <= end
            assert abs((end - ans) - 1000 * c["duration_seconds"]) < 1000, c
            assert c["duration_seconds"] >= 1
        else:
            assert c["answer_time"] is None, c


def test_unanswered_calls_have_zero_duration_and_matching_causes(us):
    seen = Counter()
    for c in us.of_type("voice"):
        r = c["call_result"]
        seen[r] += 1
        if r in UNSUCCESSFUL_Q850:
            assert c["duration_seconds"] == 0, c
            assert c["cause_for_termination"] == "unsuccessfulCallAttempt", c
            assert c["release_cause_code"] in UNSUCCESSFUL_Q850[r], c
        elif r in ("answered", "voicemail"):
            assert (c["cause_for_termination"], c["release_cause_code"]) == ("normalRelease", 16), c
        elif r == "dropped":
            assert c["cause_for_termination"] == "abnormalRelease", c
            assert c["release_cause_code"] not in (16, 17, 18, 19), c
        else:
            pytest.fail(f"unexpected call_result {r!r}")
    assert set(UNSUCCESSFUL_Q850) <= set(seen), seen


def test_answer_seizure_and_drop_rates_are_plausible(us):
    seen = Counter(c["call_result"] for c in us.of_type("voice"))
    total = sum(seen.values())
    asr = (seen["answered"] + seen["dropped"]) / total
    assert 0.40 <= asr <= 0.95, asr  # ASR 40-60 % on networks, higher mobile-to-mobile
    drop = seen["dropped"] / (seen["answered"] + seen["dropped"])
    assert 0.001 <= drop <= 0.03, drop  # drop rate 0.1-2 %


# ---------------------------------------------------------------- data

def test_data_volumes_downlink_dominates_and_is_heavy_tailed(us):
    data = us.of_type("data")
    up = np.array([c["uplink_bytes"] for c in data], dtype=float)
    down = np.array([c["downlink_bytes"] for c in data], dtype=float)
    assert (up >= 0).all() and (down >= 0).all()
    assert np.median(down) > 3 * np.median(up)
    assert np.percentile(down, 99) / np.median(down) > 10  # Weibull shape < 1: heavy tail
    assert down.mean() > 1.5 * np.median(down)


def test_data_duration_matches_times_and_charging_ids(us):
    data = us.of_type("data")
    ids = [c["charging_id"] for c in data]
    assert all(isinstance(i, int) and 0 <= i <= 2**32 - 1 for i in ids)
    owner = {}
    for c in data:  # a bearer's partial records share its charging id; no two users share one
        assert owner.setdefault(c["charging_id"], c["user_id"]) == c["user_id"], c
    for c in data:
        span = helpers.iso_ms(c["end_time"]) - helpers.iso_ms(c["start_time"])
        assert span == 1000 * c["duration_seconds"], c


# ---------------------------------------------------------------- sms

def test_sms_length_encoding_and_delivery(us):
    sms = us.of_type("sms")
    for c in sms:
        assert 1 <= c["message_length"] <= 160, c
        if c["encoding"] == "UCS-2":
            assert c["message_length"] <= 70, c
    delivered = sum(c["delivery_status"] == "delivered" for c in sms) / len(sms)
    assert delivered > 0.90, delivered
    assert delivered < 1.0  # some failures exist


# ---------------------------------------------------------------- voip and ims

def test_voip_mos_falls_with_packet_loss(us):
    voip = us.of_type("voip")
    loss = np.array([c["packet_loss_pct"] for c in voip])
    mos = np.array([c["mos"] for c in voip])
    assert ((mos >= 1.0) & (mos <= 4.5)).all()
    assert helpers.spearman(loss, mos) < -0.2
    order = np.argsort(loss, kind="stable")
    decile = len(order) // 10
    assert mos[order[-decile:]].mean() < mos[order[:decile]].mean() - 0.2


def test_voip_mos_falls_with_latency_and_jitter(us):
    voip = us.of_type("voip")
    mos = [c["mos"] for c in voip]
    assert helpers.spearman([c["latency_ms"] for c in voip], mos) < 0
    assert helpers.spearman([c["jitter_ms"] for c in voip], mos) < 0


def test_session_identifiers_are_unique(us):
    values = [c["sip_call_id"] for c in us.of_type("voip")]
    assert values and len(set(values)) == len(values)
    # An ICID names one IMS session: only the originating and terminating records of one call share it,
    # the terminating one starting when the call is set up to the callee, 1-5 s later.
    by_icid = defaultdict(list)
    for c in us.of_type("ims"):
        by_icid[c["icid"]].append(c)
    assert len(by_icid) > 1000
    for shared in (v for v in by_icid.values() if len(v) > 1):
        assert len(shared) == 2 and {c["sip_method"] for c in shared} == {"INVITE"}, shared
        assert {c["role_of_node"] for c in shared} == {"originating", "terminating"}, shared
        o, t = sorted(shared, key=lambda c: c["role_of_node"] != "originating")
        assert 1000 <= helpers.iso_ms(t["start_time"]) - helpers.iso_ms(o["start_time"]) <= 5000, shared
    ids = [c["cdr_id"] for c in us.cdrs]
    assert len(set(ids)) == len(ids)


def test_ims_durations_only_for_established_sessions(us):
    for c in us.of_type("ims"):
        if c["sip_method"] == "INVITE" and c["sip_status_code"] == 200:
            assert c["duration_seconds"] >= 1, c
        else:
            assert c["duration_seconds"] == 0, c
        span = helpers.iso_ms(c["end_time"]) - helpers.iso_ms(c["start_time"])
        # A call's INVITE record runs from the INVITE to the release: ringing, then the session.
        assert span == 1000 * c["duration_seconds"] or (c["sip_method"] == "INVITE" and span > 1000 * c["duration_seconds"])


# ---------------------------------------------------------------- time and place

def test_times_ordered_and_within_the_window(ds):
    lo, hi = helpers.iso_ms(helpers.WEEK_START), helpers.iso_ms(helpers.WEEK_END)
    prev = None
    for c in ds.cdrs:
        s, e = helpers.iso_ms(c["start_time"]), helpers.iso_ms(c["end_time"])
        assert lo <= s < hi, c["start_time"]
        assert e >= s, c["cdr_id"]
        if prev is not None:
            assert s >= prev, c["cdr_id"]
        prev = s


def _site(c, plmn_digits: int) -> int | None:
    """The site (eNodeB or gNB id) of a record's cell, by its RAT; None for 2G/3G (a CGI)."""
    rest = int(c["cell_id"][plmn_digits:], 16)
    return {"NR": rest >> 14, "EUTRAN": rest >> 8, "WLAN": rest >> 8}.get(c["rat_type"])


def test_cells_belong_to_the_users_network_and_often_home(ds):
    """Every cell is of the user's network; the home cell has a large share (nights, evenings and weekends
    there: test_mobility measures it by the hour)."""
    home = lte = 0
    for c in ds.cdrs:
        if c["roaming"]:  # abroad: a visited network's cell (tests/test_roaming.py)
            continue
        u = ds.by_id[c["user_id"]]
        plmn = u["mcc"] + u["mnc"]
        assert (c["cell_mcc"], c["cell_mnc"]) == (u["mcc"], u["mnc"]), c
        assert c["cell_id"].startswith(plmn), c
        if c["rat_type"] in ("EUTRAN", "WLAN"):
            assert re.fullmatch(r"[0-9A-F]{7}", c["cell_id"][len(plmn):]), c
            assert 0 <= c["tracking_area_code"] <= 0xFFFF
            lte += 1
            home += c["cell_id"] == u["home_cell_id"]
    assert lte > 0.5 * len(ds.cdrs) and 0.25 < home / lte < 0.6


def test_away_cells_are_mostly_near_home(ds):
    """The site (eNodeB, or the gNB beside it) is mostly near the home one: the work anchors and the
    day's wandering are a few km away for most users, far for a few (mobility's heavy tail)."""
    far = sites = 0
    for c in ds.cdrs:
        if c["roaming"]:
            continue
        u = ds.by_id[c["user_id"]]
        n = len(u["mcc"] + u["mnc"])
        site = _site(c, n)
        if site is None:
            continue
        sites += 1
        far += abs(site - (int(u["home_cell_id"][n:], 16) >> 8)) > 64
    assert sites and 0.001 < far / sites < 0.15


def test_users_talk_to_a_small_circle(us):
    contacts = defaultdict(Counter)
    for c in us.of_type("voice"):
        if c["call_direction"] == "MO":
            contacts[c["user_id"]][c["called_number"]] += 1
    busy = [cnt for cnt in contacts.values() if sum(cnt.values()) >= 30]
    assert len(busy) > 20
    top3 = [sum(n for _, n in cnt.most_common(3)) / sum(cnt.values()) for cnt in busy]
    top_fifth = [sum(n for _, n in cnt.most_common(max(1, len(cnt) // 5))) / sum(cnt.values()) for cnt in busy]
    # Zipf-like (telco_cdr.circles: rank k in proportion to k ** -1.5): a few contacts get most calls
    assert np.median(top3) > 0.35, np.median(top3)
    assert np.median(top_fifth) > 0.5, np.median(top_fifth)


def test_warming_a_factory_makes_its_joined_tables_and_changes_no_record():
    from telco_cdr.cdrs import CdrFactory
    from telco_cdr.constants import DEFAULT_WEIGHTS
    from telco_cdr.traffic import build_population
    from telco_cdr.users import generate_users

    pop = build_population(list(generate_users(500, seed=4)), 4)
    times = np.sort(np.random.default_rng(1).integers(1_790_000_000_000, 1_790_086_400_000, 3000))
    cold, warm = (CdrFactory(pop, DEFAULT_WEIGHTS, 4, "json") for _ in range(2))
    warm.warm()
    joined = [k for k in warm.columns._cache if k[0] == "join"]
    # user_id, msisdn, imsi and imei (cell_mcc and cell_mnc are the serving network's, not the user's:
    # abroad, a visited one's)
    assert any(len(k) >= 8 for k in joined), "no per-user run of fields was joined into one table"
    before = set(warm.columns._cache)
    assert cold.build(3, 0, times).lines == warm.build(3, 0, times).lines
    # Made again after warm(): only tables of the chunk's span (the minutes of its days, some with
    # a null entry) and small combined ones, never per-user text.
    from telco_cdr.layout import PRODUCT_MAX
    made = [v[1] for k, v in warm.columns._cache.items() if k not in before]
    assert all(len(t) % 1440 in (0, 1) or len(t) <= PRODUCT_MAX for t in made), \
        "building a chunk after warm() made tables again"
