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
    """The PGW's network: the serving one, or abroad the home one (home-routed roaming: the IMSI's)."""
    if c["roaming"]:
        return next(p for p in PGW_SETTINGS if c["imsi"].startswith(p))
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


def _chains_at(run: bearers.BearerRun, horizon: int) -> dict:
    """What a BearerRun's future depends on, once it has simulated up to ``horizon`` (a run that
    takes a count of partials simulates ahead of them, some more or less): which chains go on,
    their states and steps, the partials taken so far and those simulated but not taken."""
    run._simulate_to(horizon)
    alive = run.alive.copy()
    out = {"alive": alive, "taken": run.taken, "horizon": run.horizon, "step": run.step[alive]}
    out.update({k: v[alive] for k, v in run.state.items()})
    if run.pending:
        pending = {k: np.concatenate([p[k] for p in run.pending]) for k in run.pending[0]}
        order = np.lexsort((pending["chain"], pending["start"]))
        out.update({f"pending {k}": v[order] for k, v in pending.items()})
    return out


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and np.asarray(a[k]).dtype == np.asarray(b[k]).dtype
                                        for k in a)


@pytest.mark.parametrize("weights", [{"voice": 0.5, "data": 0.5}, {"data": 1.0}], ids=["by-time", "data-only"])
def test_a_worker_starts_its_chunk_from_the_chain_states_of_the_chunks_before(weights, monkeypatch):
    """A process whose first chunk is k (of a long window with few chains: many steps a chunk)
    starts from the plan's marks, not from the window's start, and its chains are then as the
    run of chunks 0 .. k-1, one after the other, leaves them; so are the chunk's partials."""
    from telco_cdr.batch import CdrFileJob
    from telco_cdr.users import generate_users

    monkeypatch.setattr(bearers, "KEEP_PARTIALS", 0)  # partials simulated a chunk at a time, not kept
    pop = build_population(list(generate_users(30, 6, ["US", "IN"])), 6)
    lo = helpers.iso_ms("2026-01-01T00:00:00.000Z")
    job = CdrFileJob(pop, weights, 6, lo, lo + 45 * 86_400_000, 4 * 8192 - 100, "jsonl", workers=2)
    plan = job.bearers
    assert job.n_chunks == 4 and len(plan.marks) >= 4
    in_order = bearers.BearerRun(pop, plan)  # no marks: chunk after chunk from the window's start
    steps = []
    real_open = bearers._open
    monkeypatch.setattr(bearers, "_open",
                        lambda curve, c, *a, **k: steps.append(len(c["keys"])) or real_open(curve, c, *a, **k))
    expected = []
    for k in range(job.n_chunks):
        job._run = None  # a fresh process for each chunk: its first chunk is k
        before = len(steps)
        derived = job.bearer_run(k)
        if k >= 2:  # far fewer chain steps than simulating chunks 0 .. k-1 again
            assert sum(steps[before:]) < 0.5 * in_order.taken, (k, sum(steps[before:]), in_order.taken)
        horizon = max(in_order.horizon, derived.horizon)
        expected.append(_chains_at(in_order, horizon))
        assert _same(_chains_at(derived, horizon), expected[k]), k
        end = int(job.data_end[k])
        part = in_order.first(end - in_order.taken) if job.data_by_count else in_order.until(end)
        got, first = job.data(k)
        assert first == expected[k]["taken"] and all(np.array_equal(getattr(got, f), getattr(part, f))
                                                     for f in ("start", "dur", "charging", "seq", "cause", "up"))
    # A wrong state at the mark the worker starts from is seen.
    j = int(np.searchsorted(plan.mark_taken if job.data_by_count else plan.marks, job.data_end[1], side="right")) - 1
    alive = np.flatnonzero(plan.mark_state["t"][j, :-1] < plan.end_ms)  # (the last chain may be cut short)
    plan.mark_state["inst"][j, alive[0]] += 1  # its bearer instance (a charging id)
    job._run = None
    assert not _same(_chains_at(job.bearer_run(2), expected[2]["horizon"]), expected[2])


def test_a_small_files_partials_kept_from_the_choice_are_those_simulated_chunk_by_chunk(monkeypatch):
    """A file of few data records keeps them when the chains are chosen (each chain simulated
    once); they are the partials that a run simulating the chains a piece at a time gives."""
    from telco_cdr.users import generate_users

    pop = build_population(list(generate_users(40, 8, COUNTRIES)), 8)
    lo = helpers.iso_ms("2026-02-01T00:00:00.000Z")
    hi = lo + 20 * 86_400_000
    kept = bearers.choose_chains(pop, 8, lo, hi, 12_000, 77)
    monkeypatch.setattr(bearers, "KEEP_PARTIALS", 0)
    plan = bearers.choose_chains(pop, 8, lo, hi, 12_000, 77)
    assert kept.partials is not None and plan.partials is None and len(kept.partials) == 12_000
    fields = ("offset", "dur", "user", "kind", "charging", "seq", "cause", "rat", "up", "down")
    a, b = bearers.BearerRun(pop, kept), bearers.BearerRun(pop, plan)
    for end in [lo + k * 86_400_000 // 3 for k in (1, 5, 17, 40)] + [hi]:
        x, y = a.until(end), b.until(end)
        assert a.taken == b.taken and all(np.array_equal(getattr(x, f), getattr(y, f)) and
                                          getattr(x, f).dtype == getattr(y, f).dtype for f in fields)
    assert a.taken == 12_000
