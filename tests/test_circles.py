"""Contact circles and habits (issue 11, item 2), measured on generated records of several countries,
seeds and windows: circles heavy-tailed in size and growing with activity, mostly mutual; failed
calls retried within minutes, missed calls called back."""

from __future__ import annotations

import bisect
import json
from collections import Counter, defaultdict

import numpy as np
import pytest

import helpers
from telco_cdr.circles import draw_circles

RUNS = [
    helpers.one_process(("us_in", ["US", "IN"], 51, 9, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"), "circles"),
    helpers.one_process(("gb_de_fr", ["GB", "DE", "FR"], 52, 10, "2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"),
                        "circles"),
]
USERS, CDRS = 3000, 200_000
NOT_THROUGH = ("busy", "no_answer", "unreachable", "failed")
MISSED = ("no_answer", "voicemail", "busy")


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    return helpers.run_data_set(tmp_path_factory, "circles", request.param, USERS, CDRS, "--weights",
                                "voice=0.6,sms=0.2,data=0.2")


def _other(c: dict) -> str:
    if c["cdr_type"] == "voice":
        return c["called_number"] if c["call_direction"] == "MO" else c["calling_number"]
    return c["receiver_number"] if c["direction"] == "MO" else c["sender_number"]


def _s(c: dict) -> float:
    return helpers.iso_ms(c["start_time"]) / 1000


def test_circles_are_heavy_tailed_and_grow_with_activity(run):
    """Distinct people a user calls or texts in the week: a few dozen at most for most, many more for
    the heaviest users, and more the more the user does."""
    records, people = Counter(), defaultdict(set)
    for c in run.cdrs:
        if c["cdr_type"] in ("voice", "sms"):
            records[c["user_id"]] += 1
            people[c["user_id"]].add(_other(c))
    users = list(people)
    sizes = np.array([len(people[u]) for u in users])
    assert np.median(sizes) <= 40, np.median(sizes)
    assert np.percentile(sizes, 99) >= 4 * np.median(sizes), (np.percentile(sizes, 99), np.median(sizes))
    assert helpers.spearman([records[u] for u in users], sizes) > 0.7


def test_ties_between_users_are_mostly_mutual(run):
    """Pairs of users of the file with several calls or texts between them: most go both ways."""
    calls = Counter()
    for c in run.cdrs:
        if c["cdr_type"] in ("voice", "sms") and c["counterparty_type"] == "user":
            a, b = ((c["msisdn"], _other(c)) if c.get("call_direction", c.get("direction")) == "MO"
                    else (_other(c), c["msisdn"]))
            calls[a, b] += 1
    pairs = {tuple(sorted(p)) for p in calls}
    strong = [p for p in pairs if calls[p] + calls[p[::-1]] >= 4]
    assert len(strong) > 200, len(strong)
    both = sum(calls[p] > 0 and calls[p[::-1]] > 0 for p in strong)
    assert both / len(strong) > 0.7, both / len(strong)


def _mo_calls(run) -> dict:
    out = defaultdict(list)
    for c in run.cdrs:
        if c["cdr_type"] == "voice" and c["call_direction"] == "MO":
            out[c["msisdn"], c["called_number"]].append(_s(c))
    return {k: sorted(v) for k, v in out.items()}


def _followed(mo: dict, key, t: float, within: float) -> bool:
    times = mo.get(key, [])
    i = bisect.bisect_right(times, t)
    return i < len(times) and times[i] - t <= within


def _followed_share(mo: dict, rows: list, other: str, within: float) -> float:
    """The share of calls ``rows`` after which the user calls the number in field ``other`` within
    ``within`` seconds."""
    return sum(_followed(mo, (c["msisdn"], c[other]), _s(c), within) for c in rows) / len(rows)


def test_failed_calls_are_retried_within_minutes(run):
    mo = _mo_calls(run)
    voice = [c for c in run.cdrs if c["cdr_type"] == "voice" and c["call_direction"] == "MO"]
    failed = [c for c in voice if c["call_result"] in NOT_THROUGH]
    answered = [c for c in voice if c["call_result"] == "answered"]
    assert len(failed) > 1000

    failed_share, answered_share = (_followed_share(mo, rows, "called_number", 600) for rows in (failed, answered))
    assert failed_share > 0.3, failed_share
    assert answered_share < 0.1, answered_share  # an answered call is not tried again


def test_missed_calls_are_called_back(run):
    mo = _mo_calls(run)
    mt = [c for c in run.cdrs if c["cdr_type"] == "voice" and c["call_direction"] == "MT"]
    missed = [c for c in mt if c["call_result"] in MISSED]
    answered = [c for c in mt if c["call_result"] == "answered"]
    assert len(missed) > 1000

    missed_share, answered_share = (_followed_share(mo, rows, "calling_number", 3600) for rows in (missed, answered))
    assert missed_share > 0.25, missed_share
    assert missed_share > 2 * answered_share, (missed_share, answered_share)


# ---------------------------------------------------------------- a stream's (kafka_producer.py's blocks)

# A stream paced at 10 messages a second in blocks of 100 (10 s each, where kafka_producer.py's are 50 ms):
# a retry (about 90 s) or a call back (about 15 minutes) is nearly always due in a later block than its call.
STREAM_USERS, STREAM_CDRS, STREAM_BLOCK, STREAM_RATE = 20_000, 100_000, 100, 10
STREAM_T0 = 1_794_556_800_000  # 2026-11-13T08:00:00Z
STREAM_RUNS = [("us_in", ["US", "IN"], 61, 11), ("gb_de_fr", ["GB", "DE", "FR"], 62, 12)]


def stream_records(users_path, seed: int, shards: int = 1, count: int = STREAM_CDRS) -> list[bytes]:
    """The stream's records (JSON), block by block, as ``shards`` shards (telco_cdr.streaming.cdr_batches
    with --shard K/N) send them between them."""
    from telco_cdr.cdrs import CdrFactory
    from telco_cdr.constants import SeedDomain
    from telco_cdr.streaming import cdr_batches, cdr_topics
    from telco_cdr.traffic import build_population, parse_weights
    from telco_cdr.user_table import load_users

    pop = build_population(load_users(str(users_path)), seed)
    blocks = {}
    for k in range(shards):
        factory = CdrFactory(pop, parse_weights("voice=0.6,sms=0.2,data=0.2"), seed, "json",
                             stream=SeedDomain.STREAM_CDRS)
        batches = cdr_batches(pop, factory, cdr_topics(), STREAM_BLOCK, shard=(k, shards), max_count=count,
                              schedule=lambda j: STREAM_T0 + j * STREAM_BLOCK * 1000 // STREAM_RATE)
        j = k
        while groups := batches(STREAM_BLOCK, 0):
            blocks[j] = [line for _, _, lines in groups for line in lines]
            j += shards
    return [line for j in sorted(blocks) for line in blocks[j]]


@pytest.fixture(scope="module", params=STREAM_RUNS, ids=[r[0] for r in STREAM_RUNS])
def stream_run(request, tmp_path_factory):
    name, countries, useed, cseed = request.param
    users = helpers.write_users(tmp_path_factory.mktemp(f"stream-{name}") / "users.json", STREAM_USERS, seed=useed,
                                countries=countries)
    return helpers.DataSet(users, None, [], [json.loads(line) for line in stream_records(users, cseed)])


def test_a_streams_failed_calls_are_retried_and_missed_calls_called_back(stream_run):
    """Follow-ups wait for the block they are due in (before, a stream's blocks kept only those due within
    themselves: at kafka_producer.py's 50 ms, none): measured as for a file, against the same share
    after calls that got through."""
    mo = _mo_calls(stream_run)
    voice = [c for c in stream_run.cdrs if c["cdr_type"] == "voice"]
    failed = [c for c in voice if c["call_direction"] == "MO" and c["call_result"] in NOT_THROUGH]
    answered_mo = [c for c in voice if c["call_direction"] == "MO" and c["call_result"] == "answered"]
    missed = [c for c in voice if c["call_direction"] == "MT" and c["call_result"] in MISSED]
    answered_mt = [c for c in voice if c["call_direction"] == "MT" and c["call_result"] == "answered"]
    assert min(len(failed), len(missed)) > 1000, (len(failed), len(missed))

    retried, after_answer = (_followed_share(mo, rows, "called_number", 600) for rows in (failed, answered_mo))
    assert retried > 0.3 and retried > 2 * after_answer, (retried, after_answer)
    called_back, after_answer = (_followed_share(mo, rows, "calling_number", 3600) for rows in (missed, answered_mt))
    assert called_back > 0.3 and called_back > 1.5 * after_answer, (called_back, after_answer)


def test_a_streams_follow_ups_are_the_same_in_shards(tmp_path):
    """Shards move the follow-ups past each other's blocks (as they move bearers): two or three of them
    send the one stream's records, byte for byte."""
    users = helpers.write_users(tmp_path / "users.json", 3000, seed=63, countries=["FR", "IN"])
    one = stream_records(users, 13, count=20_000)
    assert stream_records(users, 13, shards=2, count=20_000) == one
    assert stream_records(users, 13, shards=3, count=20_000) == one


def test_a_circle_is_mutual_by_construction():
    """Every contact in the file a circle picks has the user in its own circle (Circles.knows both
    ways), whatever the activity and the size of the base."""
    rng = np.random.default_rng(3)
    for n in (2, 5, 40, 3000):
        activity = (1 - rng.random(n)) ** (-1 / 1.2)
        circles = draw_circles(activity, rng.random(n) < 0.95, rng.integers(0, 4, n).astype(np.int32))
        users = np.flatnonzero(circles.pos >= 0)
        if len(users) < 2:
            continue
        u = np.repeat(users, 50)
        cp, member = circles.pick(u, rng.random(len(u)))
        onnet = cp >= 0
        assert (member[~onnet] >= 1).all() and (member[onnet] == 0).all()
        assert (cp[onnet] != u[onnet]).all()
        assert circles.knows(u[onnet], cp[onnet]).all() and circles.knows(cp[onnet], u[onnet]).all()
        assert (circles.pos[cp[onnet]] >= 0).all()  # only active users are called as users
        if n >= 40:
            assert 0.2 < onnet.mean() < 0.5, onnet.mean()
            big = circles.size[users] > np.median(circles.size[users])
            assert activity[users][big].min() >= np.median(activity[users])  # sizes follow activity
