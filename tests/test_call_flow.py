"""Call flow as a core-network engineer reads it (telco-reference.md, "The network of 2026"; issue
11, item 3): the MT leg starts 1-5 s after its MO leg (the call setup) and ends with it; a call that
never reached the callee's phone has no MT record; unanswered calls ring at most about 30 s (the
no-reply timer of TS 22.082/24.082: 5 to 30 s, 20 s by default) and a share are forwarded to
voicemail; Q.850 causes fit their outcomes (20 for a phone that is off, never 18; 1, 21, 27, 31, 38,
102 and 127 where they fit).  Each rule on generated data of several countries and seeds; the facts
are written here from the reference, not taken from the generator's tables."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

import helpers
from helpers import iso_ms

MIX = "voice=0.35,data=0.2,sms=0.1,voip=0.05,ims=0.3"  # room in ims for the calls' INVITEs
# (countries, seed, window): unlike each other
SETS = {
    "us_gb": (("US", "GB"), 41, "2026-03-02T00:00:00Z", "2026-03-05T00:00:00Z"),
    "de_fr_in": (("DE", "FR", "IN"), 42, "2026-09-14T00:00:00Z", "2026-09-16T00:00:00Z"),
}
# The Q.850 causes (ITU-T Q.850 section 2.2.7) that fit each outcome: a switched-off phone is
# "subscriber absent" (20); #27 when the callee's access fails; busy also when the callee declines
# (21); set-up failures of the network (34, 38, 102), of the number (1), unspecified (31) or from
# interworking with another network (127); #41 for a call lost mid-way.
CAUSES = {"answered": {16}, "voicemail": {16}, "dropped": {41}, "no_answer": {19}, "busy": {17, 21},
          "unreachable": {20, 27}, "failed": {1, 31, 34, 38, 102, 127}}
NEVER_REACHED = ("unreachable", "failed")  # the call never got to the callee's phone
UNANSWERED = ("no_answer", "voicemail")  # the callee's phone rang out
NO_REPLY_TIMERS_S = {15, 20, 25, 30}  # TS 22.082: 5 to 30 s in steps of 5; operators' and users' settings
SETUP_MS = (1000, 5000)


@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.xdist_group(f"callflow-{name}"))
                                        for name in sorted(SETS)])
def ds(request, tmp_path_factory):
    countries, seed, start, end = SETS[request.param]
    d = tmp_path_factory.mktemp(request.param)
    users = helpers.write_users(d / "users.json", 3000, seed=seed, countries=countries)
    cdrs = helpers.write_cdrs(users, d / "cdrs.jsonl", 80_000, seed, start, end, "--weights", MIX)
    return helpers.DataSet(users, cdrs, helpers.load_records(users), helpers.load_records(cdrs))


def _voice(ds):
    return ds.of_type("voice")


def _pairs(ds):
    """(MO, MT) records of the same call: by ICID for a call carried by IMS, else by its numbers and
    its end (a circuit-switched call has no common id)."""
    voice = _voice(ds)
    by_icid = defaultdict(list)
    for c in voice:
        if c["icid"]:
            by_icid[c["icid"]].append(c)
    pairs = []
    for legs in by_icid.values():
        if len(legs) == 2:
            mo, mt = sorted(legs, key=lambda c: c["call_direction"] != "MO")
            assert (mo["call_direction"], mt["call_direction"]) == ("MO", "MT"), legs
            pairs.append((mo, mt))
        assert len(legs) <= 2, legs
    cs_mo = {(c["calling_number"], c["called_number"], c["end_time"]): c for c in voice
             if c["call_direction"] == "MO" and not c["icid"]}
    for c in voice:
        if c["call_direction"] == "MT" and not c["icid"]:
            mo = cs_mo.get((c["calling_number"], c["called_number"], c["end_time"]))
            if mo is not None:
                pairs.append((mo, c))
    return pairs


def _ring_ms(c):
    """From the record's start to the answer (by the callee or voicemail) or, unanswered, the release."""
    return iso_ms(c["answer_time"] or c["end_time"]) - iso_ms(c["start_time"])


def test_mt_leg_starts_1_to_5_s_after_its_mo_leg_and_ends_with_it(ds):
    pairs = _pairs(ds)
    assert len(pairs) > 1000, len(pairs)
    assert any(not mo["icid"] for mo, _ in pairs) or not any(c["voice_technology"] == "CS" for c in _voice(ds))
    delays = []
    for mo, mt in pairs:
        delay = iso_ms(mt["start_time"]) - iso_ms(mo["start_time"])
        assert SETUP_MS[0] <= delay <= SETUP_MS[1], (mo["cdr_id"], mt["cdr_id"], delay)
        assert mt["end_time"] == mo["end_time"], (mo["cdr_id"], mt["cdr_id"])
        assert (mt["call_result"], mt["release_cause_code"], mt["duration_seconds"], mt["answer_time"]) == \
               (mo["call_result"], mo["release_cause_code"], mo["duration_seconds"], mo["answer_time"])
        assert (mt["calling_number"], mt["called_number"]) == (mo["calling_number"], mo["called_number"])
        assert mt["msisdn"] == mo["called_number"]
        delays.append(delay)
    delays.sort()
    # spread over the setup times, not one fixed delay
    assert delays[len(delays) // 10] < 1800 and delays[-len(delays) // 10] > 4200, delays[::len(delays) // 10]


def test_an_mt_legs_invite_starts_with_it(ds):
    """The terminating S-CSCF's INVITE record of a call starts when the call reaches the callee, as
    its MT record does, after the originating one."""
    voice = {(c["icid"], c["call_direction"]): c for c in _voice(ds) if c["icid"]}
    invites = defaultdict(dict)
    for c in ds.of_type("ims"):
        if c["sip_method"] == "INVITE":
            invites[c["icid"]][c["role_of_node"]] = c
    both = [i for i in invites.values() if len(i) == 2]
    assert len(both) > 100, len(both)
    for i in both:
        o, t = i["originating"], i["terminating"]
        delay = iso_ms(t["start_time"]) - iso_ms(o["start_time"])
        assert SETUP_MS[0] <= delay <= SETUP_MS[1], (o["cdr_id"], t["cdr_id"])
        assert t["start_time"] == voice[(t["icid"], "MT")]["start_time"]
        assert t["end_time"] == o["end_time"]


def test_no_mt_record_for_a_call_that_never_reached_the_callee(ds):
    voice = _voice(ds)
    seen = Counter((c["call_direction"], c["call_result"]) for c in voice)
    for r in NEVER_REACHED:
        assert seen[("MO", r)] > 20, seen  # there are such calls ...
        assert seen[("MT", r)] == 0, seen  # ... and no callee has a record of one
    # the on-net ones: the callee is a user of the file, and has no record of that call
    mt_of = defaultdict(list)
    for c in voice:
        if c["call_direction"] == "MT":
            mt_of[(c["msisdn"], c["calling_number"])].append(iso_ms(c["start_time"]))
    terminating = {c["icid"] for c in ds.of_type("ims") if c["sip_method"] == "INVITE"
                   and c["role_of_node"] == "terminating"}
    failed_on_net = [c for c in voice if c["call_direction"] == "MO" and c["call_result"] in NEVER_REACHED
                     and c["called_number"] in ds.by_msisdn]
    assert len(failed_on_net) > 20, len(failed_on_net)
    for c in failed_on_net:
        t0, t1 = iso_ms(c["start_time"]), iso_ms(c["end_time"])
        starts = mt_of[(c["called_number"], c["msisdn"])]
        assert not [s for s in starts if t0 <= s <= t1 + SETUP_MS[1]], c["cdr_id"]
        assert not c["icid"] or c["icid"] not in terminating, c["cdr_id"]
    # while calls that reached the callee mostly have the callee's record in the output
    reached = [c for c in voice if c["call_direction"] == "MO" and c["call_result"] not in NEVER_REACHED
               and c["called_number"] in ds.by_msisdn]
    paired = {mo["cdr_id"] for mo, _ in _pairs(ds)}
    assert sum(c["cdr_id"] in paired for c in reached) > 0.5 * len(reached)


def test_unanswered_calls_ring_at_most_about_30_s(ds):
    rings = defaultdict(list)
    for c in _voice(ds):
        if c["call_result"] in UNANSWERED:
            rings[c["call_direction"]].append(_ring_ms(c))
    assert len(rings["MT"]) > 300 and len(rings["MO"]) > 300
    # at the callee, the no-reply timer (30 s at most); the caller's record also holds the setup
    assert max(rings["MT"]) <= 30_000, max(rings["MT"])
    assert max(rings["MO"]) <= 30_000 + SETUP_MS[1], max(rings["MO"])
    assert sorted(rings["MT"])[len(rings["MT"]) // 2] >= 10_000  # they do ring out, not hang up at once
    # answered calls are answered sooner than the timer
    answered = sorted(_ring_ms(c) for c in _voice(ds) if c["call_result"] == "answered")
    assert answered[len(answered) // 2] < 15_000 and answered[-1] <= 30_000 + SETUP_MS[1]


def test_a_share_of_unanswered_calls_reach_voicemail(ds):
    voice = _voice(ds)
    seen = Counter(c["call_result"] for c in voice)
    share = seen["voicemail"] / (seen["voicemail"] + seen["no_answer"])
    assert 0.25 <= share <= 0.75, (share, seen)
    timers = Counter()
    for c in voice:
        if c["call_result"] != "voicemail":
            continue
        # answered by the voicemail when the no-reply timer ran out; the caller's message is the duration
        assert c["answer_time"] is not None and 1 <= c["duration_seconds"] <= 180, c
        assert (c["cause_for_termination"], c["release_cause_code"]) == ("normalRelease", 16), c
        end_from_answer = iso_ms(c["end_time"]) - iso_ms(c["answer_time"])
        assert end_from_answer == 1000 * c["duration_seconds"], c
        if c["call_direction"] == "MT":
            timers[_ring_ms(c) / 1000] += 1
    assert set(timers) <= NO_REPLY_TIMERS_S, timers
    assert timers.most_common(1)[0][0] == 20, timers  # the default timer
    # its INVITE was answered (by the voicemail): 200, with the message as the session
    by_icid = {(c["icid"], c["call_direction"]): c for c in voice if c["icid"]}
    vm_invites = [c for c in ds.of_type("ims") if c["sip_method"] == "INVITE" and (c["icid"], "MO") in by_icid
                  and by_icid[(c["icid"], "MO")]["call_result"] == "voicemail"]
    assert vm_invites and {c["sip_status_code"] for c in vm_invites} == {200}


def test_q850_causes_fit_their_outcomes(ds):
    voice = _voice(ds)
    by_result = defaultdict(Counter)
    for c in voice:
        by_result[c["call_result"]][c["release_cause_code"]] += 1
    assert set(by_result) == set(CAUSES), set(by_result)
    for result, codes in by_result.items():
        assert set(codes) <= CAUSES[result], (result, codes)
    codes = Counter(c["release_cause_code"] for c in voice)
    assert codes[18] == 0, "a switched-off phone is subscriber absent (20), not no user responding (18)"
    for code in (1, 20, 21, 27, 31, 38, 102, 127):
        assert codes[code] > 0, (code, codes)
    # a phone that is off is the common case of an unreachable callee
    assert by_result["unreachable"][20] > 3 * by_result["unreachable"][27], by_result["unreachable"]
    # an unallocated number, or a call through another network that gives no cause, only for numbers
    # outside the file: a user's number is in service
    assert not [c["cdr_id"] for c in voice if c["release_cause_code"] in (1, 127)
                and c["called_number"] in ds.by_msisdn and c["call_direction"] == "MO"]


def test_a_callee_whose_phone_has_no_network_is_absent(ds):
    """A user whose phone has no network on the day (a phone without VoLTE in the US, where 2G and 3G
    are gone) cannot be reached by a call: every call to them is subscriber absent, and they have no
    voice record."""
    dark = {u["msisdn"] for u in ds.users if u["country"] == "US" and not u["device_volte"]}
    if not dark:
        assert "US" not in {u["country"] for u in ds.users}
        return
    calls = [c for c in _voice(ds) if c["call_direction"] == "MO" and c["called_number"] in dark]
    assert len(calls) > 10, len(calls)
    assert {(c["call_result"], c["release_cause_code"]) for c in calls} == {("unreachable", 20)}
    assert not [c for c in _voice(ds) if c["msisdn"] in dark]


def test_invite_status_follows_the_cause(ds):
    """The final SIP response of a call's INVITE records is the one RFC 3398 maps its Q.850 cause to
    (603 Decline for a callee who declines, RFC 3261)."""
    sip = {16: 200, 41: 200, 19: 480, 17: 486, 21: 603, 20: 480, 27: 502, 34: 503, 38: 503, 31: 480, 102: 504,
           1: 404, 127: 500}
    voice = {(c["icid"], c["msisdn"]): c for c in _voice(ds) if c["icid"]}
    checked = Counter()
    for c in ds.of_type("ims"):
        v = voice.get((c["icid"], c["msisdn"]))
        if c["sip_method"] == "INVITE" and v is not None:
            assert c["sip_status_code"] == sip[v["release_cause_code"]], (c["cdr_id"], v["cdr_id"])
            checked[v["release_cause_code"]] += 1
    assert len(checked) >= 6, checked


def test_a_streams_mt_legs_start_after_their_mo_legs():
    """kafka_producer.py's records (made from their end times): the same call flow."""
    from test_kafka_dry_run import dry_run

    _, msgs = dry_run("--max-count", 6000, "--num-users", 300, "--seed", 9, "--weights", MIX)
    voice = [m["value"] for m in msgs if m["value"]["cdr_type"] == "voice"]
    by_icid = defaultdict(dict)
    for c in voice:
        if c["icid"]:
            by_icid[c["icid"]][c["call_direction"]] = c
    pairs = [(legs["MO"], legs["MT"]) for legs in by_icid.values() if len(legs) == 2]
    assert len(pairs) > 50, len(pairs)
    for mo, mt in pairs:
        assert SETUP_MS[0] <= iso_ms(mt["start_time"]) - iso_ms(mo["start_time"]) <= SETUP_MS[1], (mo, mt)
        assert mt["end_time"] == mo["end_time"]
    assert not [c for c in voice if c["call_direction"] == "MT" and c["call_result"] in NEVER_REACHED]
