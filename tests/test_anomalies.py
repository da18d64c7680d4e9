"""--anomalies of cdr_generator.py: each incident's records have the planted shape, measured here
against the rest of the data by a reader of our own (json and csv only, none of the generator's
code), and the ledger reconciles exactly: every record it does not name is byte for byte the one
a run without --anomalies writes, every cdr_id it names is in the output, and the same seed gives
the same records and ledger whatever --workers.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime

import pytest

import helpers
from fault_reader import VALIDATORS, Users, audit, ledger_positions
from running import assert_clean_error, call_main

KINDS = ("sim_box", "wangiri", "irsf", "sim_swap", "cell_outage", "data_spike")
ALL = "sim_box=1,wangiri=1,irsf=1,sim_swap=1,cell_outage=2,data_spike=1"
# Country calling codes of the users' countries (US, GB, DE, FR, IN).
HOME_CODES = ("1", "44", "49", "33", "91")
# Two runs unlike each other: countries, seed and window.
RUNS = {
    "gb_us": (("GB", "US"), 21, "2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z"),
    "de_fr_in": (("DE", "FR", "IN"), 22, "2026-06-10T00:00:00Z", "2026-06-12T00:00:00Z"),
}
# Enough records that the busiest home cell (one user's, of 1,500) has a handful of calls in a 20-minute
# outage and an on-net call among them (120,000 left too few for 0.4.0's users, who are home only part
# of the day: telco_cdr.mobility)
COUNT = 300_000


def ms(text: str) -> float:
    return datetime.fromisoformat(text).timestamp() * 1000


def generate(users, out, *extra, seed, start, end, count=COUNT):
    res = call_main("cdr_generator.py", ["-u", users, "-c", count, "--seed", seed, "--start", start, "--end", end,
                                         *out, *extra])
    assert res.returncode == 0 and res.escaped is None, res.describe()
    return res


class Run:
    """A run with every kind of anomaly and the same run without: their lines, records and ledger."""

    def __init__(self, folder, countries, seed, start, end):
        self.users = helpers.write_users(folder / "users.jsonl", 1500, seed=seed, countries=countries)
        kw = {"seed": seed, "start": start, "end": end}
        self.res = generate(self.users, ["-o", folder / "a.jsonl"], "--anomalies", ALL, "--ledger",
                            folder / "ledger.jsonl", **kw)
        generate(self.users, ["-o", folder / "clean.jsonl"], **kw)
        self.lines = (folder / "a.jsonl").read_bytes().splitlines()
        self.clean = (folder / "clean.jsonl").read_bytes().splitlines()
        self.records = [json.loads(line) for line in self.lines]
        self.ledger = [json.loads(line) for line in (folder / "ledger.jsonl").read_text().splitlines()]
        self.by_id = {r["cdr_id"]: r for r in self.records}
        self.kw, self.folder = kw, folder

    def incidents(self, kind: str) -> list[dict]:
        return [e for e in self.ledger if e["kind"] == kind]

    def voice(self):
        return (r for r in self.records if r["cdr_type"] == "voice")


# each run's tests on one process (pytest-xdist --dist loadgroup), which makes the run once
@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.xdist_group(f"anomalies-{name}")) for name in sorted(RUNS)])
def run(request, tmp_path_factory):
    return Run(tmp_path_factory.mktemp(request.param), *RUNS[request.param])


def inside(rec: dict, incident: dict) -> bool:
    return ms(incident["start_time"]) <= ms(rec["start_time"]) < ms(incident["end_time"])


# ---------------------------------------------------------------- the ledger reconciles

def test_every_record_the_ledger_does_not_name_is_the_clean_runs(run):
    named = [i for e in run.ledger for i in e["cdr_ids"]]
    assert len(named) == len(set(named)), "a record belongs to one incident"
    named = set(named)
    assert named <= set(run.by_id), "every cdr_id of the ledger is a record of the file"
    assert len(run.lines) == len(run.clean) == COUNT
    changed = 0
    for line, clean, rec in zip(run.lines, run.clean, run.records):
        if rec["cdr_id"] not in named:
            assert line == clean, f"{rec['cdr_id']} is changed and the ledger does not say so"
        else:
            changed += line != clean
    assert changed >= 0.9 * len(named), "the records the ledger names are the changed ones"


def test_ledger_has_each_incident_with_its_words(run):
    assert Counter(e["kind"] for e in run.ledger) == {k: 2 if k == "cell_outage" else 1 for k in KINDS}
    assert [e["kind"] for e in run.ledger] == sorted((e["kind"] for e in run.ledger), key=KINDS.index)
    users = {json.loads(line)["user_id"] for line in open(run.users)}
    lo, hi = ms(run.kw["start"]), ms(run.kw["end"])
    for e in run.ledger:
        assert {"kind", "start_time", "end_time", "user_ids", "records", "cdr_ids"} <= set(e)
        assert lo <= ms(e["start_time"]) < ms(e["end_time"]) <= hi
        assert set(e["user_ids"]) <= users and e["records"] == len(e["cdr_ids"]) > 0, e["kind"]
        for i in e["cdr_ids"]:
            rec = run.by_id[i]
            assert inside(rec, e) or e["kind"] == "wangiri", (e["kind"], i)
    # the run's summary gives the incidents and records per kind
    line = next(x for x in run.res.stderr.splitlines() if ": anomalies: " in x)
    for kind in KINDS:
        es = run.incidents(kind)
        assert f"{kind} {len(es)} ({sum(e['records'] for e in es):,} record" in line


def test_the_records_of_an_incident_keep_to_their_schemas(run):
    named = {i for e in run.ledger for i in e["cdr_ids"]}
    for rec in run.records:
        if rec["cdr_id"] in named:
            errors = list(VALIDATORS[rec["cdr_type"]].iter_errors(rec))
            assert not errors, (rec, errors[0].message)


def test_same_records_and_ledger_for_any_workers(tmp_path, run):
    generate(run.users, ["-o", tmp_path / "w3.jsonl"], "--anomalies", ALL, "--ledger", tmp_path / "l3.jsonl",
             "--workers", 3, **run.kw)
    assert (tmp_path / "w3.jsonl").read_bytes() == b"\n".join(run.lines) + b"\n"
    assert (tmp_path / "l3.jsonl").read_bytes() == (run.folder / "ledger.jsonl").read_bytes()


def test_csv_files_per_type_carry_the_same_incidents(tmp_path, run):
    generate(run.users, ["--output-dir", tmp_path / "csv", "--format", "csv"], "--anomalies", ALL, "--ledger",
             tmp_path / "csv.jsonl", count=20_000, **run.kw)
    generate(run.users, ["-o", tmp_path / "one.jsonl"], "--anomalies", ALL, "--ledger", tmp_path / "jsonl.jsonl",
             count=20_000, **run.kw)
    ledger = (tmp_path / "csv.jsonl").read_text()
    assert ledger == (tmp_path / "jsonl.jsonl").read_text(), "the same incidents in any format"
    ids = set()
    for t in ("voice", "data", "sms", "voip", "ims"):
        ids |= {r["cdr_id"] for r in helpers.load_records(tmp_path / "csv" / f"{t}.csv")}
    named = {i for e in map(json.loads, ledger.splitlines()) for i in e["cdr_ids"]}
    assert named and named <= ids


def test_faults_and_anomalies_in_one_run_and_one_ledger(tmp_path, run):
    out, ledger = tmp_path / "both.jsonl", tmp_path / "ledger.jsonl"
    # (not sim_swap: its records carry an IMSI and IMEI the users file does not give the user, which
    # the reader of faults would rightly call a record of another user's identifiers)
    kinds = "sim_box=1,wangiri=1,irsf=1,cell_outage=2,data_spike=1"
    generate(run.users, ["-o", out], "--anomalies", kinds, "--faults", "duplicate=0.01,malformed=0.01,bad_value=0.01",
             "--ledger", ledger, count=10_000, **run.kw)
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    faults = [e for e in entries if "line" in e]
    incidents = [e for e in entries if "line" not in e]
    assert entries == faults + incidents, "the faults, then the incidents"
    assert [e["kind"] for e in incidents] == ["sim_box", "wangiri", "irsf", "cell_outage", "cell_outage", "data_spike"]
    # the reader of faults finds exactly the ledger's faults: the planted records are not faults
    assert audit(out.read_bytes(), "jsonl", Users(run.users)) == ledger_positions(faults)
    ids = set()
    for line in out.read_bytes().splitlines():
        m = re.search(rb'"cdr_id":"([0-9a-f-]+)"', line)
        if m:
            ids.add(m.group(1).decode())
    assert {i for e in incidents for i in e["cdr_ids"]} <= ids


# ---------------------------------------------------------------- each kind's shape, measured

def test_sim_box_many_short_calls_to_distinct_numbers_from_one_cell(run):
    (e,) = run.incidents("sim_box")
    sims = set(e["user_ids"])
    assert 3 <= len(sims) <= 8
    mine = [r for r in run.records if r["user_id"] in sims and inside(r, e)]
    assert {r["cell_id"] for r in mine} <= set(e["cell_ids"]), "every record of the SIMs from the one site"
    assert len({(r["cell_mcc"], r["cell_mnc"]) for r in mine}) == 1, "SIMs of one operator"
    calls = [r for r in mine if r["cdr_type"] == "voice"]
    out = [r for r in calls if r["call_direction"] == "MO"]
    assert len(out) >= 20 * len(sims)
    assert 1 - len(out) / len(calls) < 0.05, "almost no incoming calls"
    assert len({r["called_number"] for r in out}) >= 0.95 * len(out), "many distinct numbers"
    talk = [r["duration_seconds"] for r in out if r["call_result"] == "answered"]
    assert statistics.median(talk) < 90, "short calls"
    # against everyone else's: calls per caller in the same window
    others = Counter(r["user_id"] for r in run.voice() if r["call_direction"] == "MO" and inside(r, e)
                     and r["user_id"] not in sims)
    typical = statistics.mean(others.values())
    per_sim = len(out) / len(sims)
    assert per_sim >= 8 * typical, (per_sim, typical)


def test_wangiri_one_ring_calls_from_premium_numbers_then_callbacks(run):
    (e,) = run.incidents("wangiri")
    numbers = set(e["numbers"])
    assert all(not n.startswith(HOME_CODES) for n in numbers), "international numbers"
    rings = [r for r in run.voice() if r["call_direction"] == "MT" and r["calling_number"] in numbers]
    assert len(rings) >= 15 and {r["cdr_id"] for r in rings} <= set(e["cdr_ids"])
    assert len({r["user_id"] for r in rings}) == len(rings), "one call to each of many users"
    assert {r["call_result"] for r in rings} == {"no_answer"}
    assert max(ms(r["end_time"]) - ms(r["start_time"]) for r in rings) <= 3000, "one ring: 3 s at most"
    assert all(inside(r, e) for r in rings)
    first = {r["user_id"]: ms(r["start_time"]) for r in rings}
    backs = [r for r in run.voice() if r["call_direction"] == "MO" and r["called_number"] in numbers]
    assert backs, "some call back"
    for r in backs:
        assert r["user_id"] in first and ms(r["start_time"]) > first[r["user_id"]], "a callback follows its ring"
    assert len(backs) <= 0.5 * len(rings)
    # nobody else calls or is called by these numbers
    assert {r["cdr_id"] for r in rings + backs} == set(e["cdr_ids"])


def test_irsf_long_calls_one_after_another_to_premium_ranges(run):
    (e,) = run.incidents("irsf")
    numbers = set(e["numbers"])
    calls = [r for r in run.voice() if r["called_number"] in numbers]
    assert calls and {r["user_id"] for r in calls} <= set(e["user_ids"])
    assert all(not n.startswith(HOME_CODES) for n in numbers), "international numbers"
    assert {r["call_result"] for r in calls} == {"answered"}
    assert statistics.median(r["duration_seconds"] for r in calls) >= 600, "long calls"
    per_line = defaultdict(float)
    for r in calls:
        per_line[r["user_id"]] += r["duration_seconds"]
    window_s = (ms(e["end_time"]) - ms(e["start_time"])) / 1000
    for line, talk in per_line.items():  # most of the window on the phone to the ranges
        assert talk >= 0.4 * window_s, (line, talk, window_s)
    # against everyone else's talk time in the window
    others = defaultdict(float)
    for r in run.voice():
        if r["call_direction"] == "MO" and inside(r, e) and r["user_id"] not in per_line:
            others[r["user_id"]] += r["duration_seconds"]
    assert min(per_line.values()) >= 10 * statistics.mean(others.values())


def test_sim_swap_new_imsi_and_imei_then_otps_and_calls_abroad(run):
    (e,) = run.incidents("sim_swap")
    (user,) = e["user_ids"]
    assert e["new_imsi"] != e["old_imsi"] and e["new_imei"] != e["old_imei"]
    assert e["new_imsi"][:5] == e["old_imsi"][:5], "a SIM of the same operator"
    assert e["new_imei"][:8] != e["old_imei"][:8] or e["new_imei"] != e["old_imei"]
    mine = [r for r in run.records if r["user_id"] == user]
    during = [r for r in mine if inside(r, e)]
    assert during and {(r["imsi"], r["imei"]) for r in during} == {(e["new_imsi"], e["new_imei"])}
    assert {(r["imsi"], r["imei"]) for r in mine if not inside(r, e)} <= {(e["old_imsi"], e["old_imei"])}
    assert {r["cdr_id"] for r in during} == set(e["cdr_ids"])
    first_hour = [r for r in during if ms(r["start_time"]) < ms(e["start_time"]) + 3_600_000]
    otps = [r for r in first_hour if r["cdr_type"] == "sms" and r["direction"] == "MT"]
    senders = Counter(r["sender_number"] for r in otps)
    assert senders.most_common(1)[0][1] >= 3, "one-time passwords from one sender"
    abroad = [r for r in first_hour if r["cdr_type"] == "voice" and r["called_number"] in set(e["numbers"])]
    assert len(abroad) >= 2


def test_cell_outage_calls_fail_many_times_the_usual_rate(run):
    """In the outages' cells, calls fail or drop many times as often during the outages as before and
    after them (the two outages of a run together: a home cell is one or two users' of 1,500, so one
    outage of 20 minutes may hold only a few calls)."""
    closed, during, before_after = [], [], []
    for e in run.incidents("cell_outage"):
        cells = set(e["cell_ids"])
        assert e["cell_id"] in cells
        calls = [r for r in run.voice() if r["cell_id"] in cells]
        assert any(inside(r, e) for r in calls), "an outage with no call in its cell"
        during += [r for r in calls if inside(r, e)]
        before_after += [r for r in calls if not inside(r, e)]
        data = [r for r in run.records if r["cdr_type"] == "data" and r["cell_id"] in cells and inside(r, e)]
        closed += [r["cause_for_record_closing"] for r in data]
        assert 20 <= (ms(e["end_time"]) - ms(e["start_time"])) / 60_000 <= 60
    bad = lambda rs: sum(r["call_result"] in ("dropped", "failed") for r in rs) / len(rs)  # noqa: E731
    # 8 calls are enough: at the usual rate (a few per cent fail or drop) 3 or more of 8 failing by
    # chance has odds of about 1 in 1,000 (binomial, p = 0.03)
    assert len(during) >= 8 and len(before_after) >= 100, (len(during), len(before_after))
    assert bad(during) >= 0.3 and bad(during) >= 5 * bad(before_after), (bad(during), bad(before_after))
    # (the data records that open there: a 20-minute outage of one user's cell may have none, see below)
    assert set(closed) <= {"abnormalRelease"}, "the data records of the cells close abnormally"


def test_anomalies_keep_the_call_flow(run):
    """Planted calls and an outage's failures follow the call flow of every call
    (tests/test_call_flow.py): an outage fails calls at set-up as network out of order (Q.850 #38),
    and only calls that never reached the callee, so no MT record is of a failed or unreachable
    call; the two legs of a call still end alike, the MT leg 1-5 s after the MO leg."""
    voice = list(run.voice())
    assert not [r["cdr_id"] for r in voice if r["call_direction"] == "MT" and r["call_result"] in ("failed",
                                                                                                   "unreachable")]
    outage_ids = {i for e in run.incidents("cell_outage") for i in e["cdr_ids"]}
    failed = [r for r in voice if r["cdr_id"] in outage_ids and r["call_result"] == "failed"]
    # (a few in a run's two outages of one user's cell; the run of its own below has more)
    assert failed and {r["release_cause_code"] for r in failed} == {38}, Counter(
        r["release_cause_code"] for r in failed)
    legs = defaultdict(dict)
    for r in voice:
        if r["icid"]:
            legs[r["icid"]][r["call_direction"]] = r
    pairs = [(x["MO"], x["MT"]) for x in legs.values() if len(x) == 2]
    assert pairs
    for mo, mt in pairs:
        assert 1000 <= ms(mt["start_time"]) - ms(mo["start_time"]) <= 5000, (mo["cdr_id"], mt["cdr_id"])
        assert (mo["end_time"], mo["call_result"], mo["duration_seconds"]) == \
               (mt["end_time"], mt["call_result"], mt["duration_seconds"]), (mo["cdr_id"], mt["cdr_id"])


def test_outage_calls_that_reached_the_callee_end_alike_on_both_legs(tmp_path):
    """On-net calls caught by outages (a run of its own: one country, so calls are on-net, and four
    outages): a call that had reached its callee is not failed at set-up but drops, and its MO and MT
    legs end alike; the data records that open in an outage close abnormally."""
    users = helpers.write_users(tmp_path / "u.jsonl", 800, seed=5, countries=["US"])
    generate(users, ["-o", tmp_path / "a.jsonl"], "--anomalies", "cell_outage=4", "--ledger", tmp_path / "l.jsonl",
             seed=5, start="2026-11-02T00:00:00Z", end="2026-11-04T00:00:00Z", count=200_000)
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    voice = [r for r in records if r["cdr_type"] == "voice"]
    ledger = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text().splitlines()]
    outage_ids = {i for e in ledger for i in e["cdr_ids"]}
    # every data record that opens in an outage's cell while it is out closes abnormally
    closed = [r["cause_for_record_closing"] for e in ledger for r in records
              if r["cdr_type"] == "data" and r["cell_id"] in e["cell_ids"] and inside(r, e)]
    assert closed and set(closed) == {"abnormalRelease"}, closed
    legs = defaultdict(dict)
    for r in voice:
        if r["icid"]:
            legs[r["icid"]][r["call_direction"]] = r
    in_outage = [(x["MO"], x["MT"]) for x in legs.values()
                 if len(x) == 2 and (x["MO"]["cdr_id"] in outage_ids or x["MT"]["cdr_id"] in outage_ids)]
    assert len(in_outage) >= 3, len(in_outage)
    for mo, mt in in_outage:
        assert mo["call_result"] != "failed" and mt["call_result"] != "failed", mo["cdr_id"]
        assert (mo["end_time"], mo["call_result"], mo["duration_seconds"]) == \
               (mt["end_time"], mt["call_result"], mt["duration_seconds"]), (mo["cdr_id"], mt["cdr_id"])
    assert any(mo["call_result"] == "dropped" for mo, _ in in_outage)
    failed = [r for r in voice if r["cdr_id"] in outage_ids and r["call_result"] == "failed"]
    assert len(failed) >= 5 and {r["release_cause_code"] for r in failed} == {38}, len(failed)
    assert not [r for r in failed if r["call_direction"] == "MT"], "an MT record is of a call that reached the callee"


def test_the_outcome_rows_named_here_are_the_generators():
    """anomalies.py names rows of cdrs.VOICE_OUTCOMES by number (it cannot import cdrs)."""
    from telco_cdr import anomalies, cdrs

    rows = cdrs.VOICE_OUTCOMES
    assert (rows[anomalies.ANSWERED][0], rows[anomalies.DROPPED][0], rows[anomalies.NO_ANSWER][0]) == \
           ("answered", "dropped", "no_answer")
    assert (rows[anomalies.FAILED][0], rows[anomalies.FAILED][3]) == ("failed", 38)


def test_data_spike_volume_many_times_the_lines_usual(run):
    (e,) = run.incidents("data_spike")
    (user,) = e["user_ids"]
    mine = [r for r in run.records if r["user_id"] == user and r["cdr_type"] == "data" and r["apn"] not in ("ims",
                                                                                                           "mms")]
    rate = lambda rs: sum(r["uplink_bytes"] + r["downlink_bytes"] for r in rs) / sum(r["duration_seconds"]  # noqa
                                                                                     for r in rs)
    during = [r for r in mine if inside(r, e)]
    usual = [r for r in mine if not inside(r, e)]
    assert during and usual
    assert rate(during) >= 5 * rate(usual), (rate(during), rate(usual))
    assert {r["cdr_id"] for r in during} == set(e["cdr_ids"])
    assert 20 <= e["factor"] <= 100
    clean = {r["cdr_id"]: r for r in map(json.loads, run.clean) if r["cdr_id"] in set(e["cdr_ids"])}
    for r in during:  # the same records as without the spike, their volumes times the factor
        was = clean[r["cdr_id"]]
        assert (r["uplink_bytes"], r["downlink_bytes"]) == (was["uplink_bytes"] * e["factor"],
                                                              was["downlink_bytes"] * e["factor"])


# ---------------------------------------------------------------- the flags

@pytest.mark.parametrize("text,words", [
    ("sim_box", "is not KIND=INCIDENTS"),
    ("fraud=1", "unknown kind 'fraud'"),
    ("sim_box=1,sim_box=2", "given twice"),
    ("wangiri=1.5", "not a whole number"),
    ("irsf=101", "0 to 100"),
])
def test_bad_anomalies_are_one_line(tmp_path, text, words):
    users = helpers.write_users(tmp_path / "u.jsonl", 20)
    res = call_main("cdr_generator.py", ["-u", users, "-o", tmp_path / "c.jsonl", "--anomalies", text])
    assert_clean_error(res, 2, "--anomalies", words)
    assert not (tmp_path / "c.jsonl").exists()


def test_ledger_without_faults_or_anomalies_is_refused(tmp_path):
    users = helpers.write_users(tmp_path / "u.jsonl", 20)
    res = call_main("cdr_generator.py", ["-u", users, "-o", tmp_path / "c.jsonl", "--ledger", tmp_path / "l.jsonl"])
    assert_clean_error(res, 2, "--ledger", "--anomalies")


def test_help_lists_every_kind():
    res = call_main("cdr_generator.py", ["--help"])
    assert res.returncode == 0
    for kind in KINDS:
        assert re.search(rf"\b{kind}\b", res.stdout), kind


# ---------------------------------------------------------------- --label-anomalies

def test_labels_say_exactly_what_the_ledger_says(tmp_path, run):
    out, plain_out, ledger = tmp_path / "labelled.jsonl", tmp_path / "plain.jsonl", tmp_path / "ledger.jsonl"
    generate(run.users, ["-o", out], "--anomalies", ALL, "--label-anomalies", count=30_000, **run.kw)
    generate(run.users, ["-o", plain_out], "--anomalies", ALL, "--ledger", ledger, count=30_000, **run.kw)
    lines = out.read_bytes().splitlines()
    kind_of = {i: e["kind"] for e in map(json.loads, ledger.read_text().splitlines()) for i in e["cdr_ids"]}
    labelled = Counter()
    for line, plain in zip(lines, plain_out.read_bytes().splitlines(), strict=True):
        rec = json.loads(line)
        assert list(rec)[-1] == "anomaly"
        assert rec["anomaly"] == kind_of.get(rec["cdr_id"])
        labelled[rec["anomaly"]] += 1
        label = b',"anomaly":' + (json.dumps(rec["anomaly"]).encode())
        assert line.endswith(label + b"}") and line[:-len(label) - 1] + b"}" == plain, "the label is all that differs"
    assert set(labelled) == {None, *KINDS}
    named = [json.loads(line) for line in lines if b'"anomaly":null' not in line]
    for rec in named + [json.loads(line) for line in lines[:200]]:  # the labels keep to the schemas
        errors = list(VALIDATORS[rec["cdr_type"]].iter_errors(rec))
        assert not errors, (rec, errors[0].message)


def test_labels_in_csv_are_the_last_column(tmp_path, run):
    out, ledger = tmp_path / "labelled.csv", tmp_path / "ledger.jsonl"
    generate(run.users, ["-o", out], "--anomalies", ALL, "--label-anomalies", "--ledger", ledger, count=20_000,
             **run.kw)
    rows = helpers.load_records(out)
    assert list(rows[0])[-1] == "anomaly"
    kind_of = {i: e["kind"] for e in map(json.loads, ledger.read_text().splitlines()) for i in e["cdr_ids"]}
    assert [r["anomaly"] for r in rows] == [kind_of.get(r["cdr_id"], "") for r in rows]
    assert len(kind_of) > 0 and Counter(r["anomaly"] for r in rows)[""] > 0


def test_labels_round_trip_through_avro(tmp_path, run):
    import io

    import fastavro

    out = tmp_path / "labelled.jsonl"
    generate(run.users, ["-o", out], "--anomalies", ALL, "--label-anomalies", count=10_000, **run.kw)
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    for t in ("voice", "data", "sms", "voip", "ims"):
        schema = fastavro.parse_schema(json.loads((helpers.ROOT / "telco_cdr" / "schemas" / f"{t}.avsc").read_text()))
        mine = [r for r in recs if r["cdr_type"] == t]
        buf = io.BytesIO()
        times = ("start_time", "end_time", "answer_time")  # timestamp-millis: whole milliseconds
        fastavro.writer(buf, schema, [{**r, **{k: round(ms(r[k])) for k in times if r.get(k)}} for r in mine],
                        validator=True)
        buf.seek(0)
        assert [r["anomaly"] for r in fastavro.reader(buf)] == [r["anomaly"] for r in mine]
    assert any(r["anomaly"] for r in recs)


# ---------------------------------------------------------------- a stream's (kafka_producer.py --dry-run)

def test_a_stream_plants_the_incidents_and_labels_exactly_the_ledgers(tmp_path):
    users = helpers.write_users(tmp_path / "users.jsonl", 1500, seed=31, countries=("GB", "US"))
    ledger = tmp_path / "ledger.jsonl"
    res = call_main("kafka_producer.py", ["--dry-run", "-u", users, "--seed", 31, "--rate", 20000, "--duration", 2,
                                          "--anomalies", ALL, "--label-anomalies", "--ledger", ledger])
    assert res.returncode == 0 and res.escaped is None, res.describe()
    values = [json.loads(line)["value"] for line in res.stdout.splitlines()]
    assert len(values) >= 10_000
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [e["kind"] for e in entries] == [k for k in KINDS for _ in range(2 if k == "cell_outage" else 1)]
    kind_of = {i: e["kind"] for e in entries for i in e["cdr_ids"]}
    assert {v["cdr_id"]: v["anomaly"] for v in values if v["anomaly"]} == kind_of, "labels and ledger agree"
    assert sum(e["records"] for e in entries if e["kind"] in ("sim_box", "cell_outage")) >= 20
    line = next(x for x in res.stderr.splitlines() if ": anomalies: " in x)
    assert all(f"{e['kind']} " in line for e in entries)
    (box,) = [e for e in entries if e["kind"] == "sim_box"]
    calls = [v for v in values if v["cdr_id"] in set(box["cdr_ids"]) and v["cdr_type"] == "voice"]
    out = [v for v in calls if v["call_direction"] == "MO"]
    assert len(out) >= 0.95 * len(calls) and len({v["called_number"] for v in out}) >= 0.95 * len(out)
    assert {v["cell_id"] for v in values if v["cdr_id"] in set(box["cdr_ids"])} <= set(box["cell_ids"])
    for v in values[:500]:  # labelled messages keep to the schemas
        assert not list(VALIDATORS[v["cdr_type"]].iter_errors(v))


def test_a_streams_flags_are_checked_as_the_files(tmp_path):
    res = call_main("kafka_producer.py", ["--dry-run", "--anomalies", "sim_box=x"])
    assert_clean_error(res, 2, "--anomalies", "not a whole number")
    res = call_main("kafka_producer.py", ["--dry-run", "--ledger", tmp_path / "l.jsonl"])
    assert_clean_error(res, 2, "--ledger", "--anomalies")


def test_planted_calls_name_their_other_party(run):
    """An incident's calls and messages say whom they reach as every record does: a SIM box's national
    numbers and a SIM swap's bank are mobiles with their network, premium ranges abroad international
    (no network), a user of the file a user."""
    kinds = Counter()
    users = {u["user_id"]: u for u in helpers.load_records(run.users)}
    mccs = defaultdict(set)
    for u in users.values():
        mccs[u["country"]].add(u["mcc"])
    for e in run.ledger:
        for i in e.get("cdr_ids", []):
            r = run.by_id.get(i)
            if r is None or r["cdr_type"] not in ("voice", "sms"):
                continue
            kind = r["counterparty_type"]
            kinds[e["kind"], kind] += 1
            assert (r["counterparty_network"] is not None) == (kind in ("user", "mobile")), (e["kind"], r["cdr_id"])
            if kind == "mobile":  # a network of the user's country
                user = users[r["user_id"]]
                assert r["counterparty_network"][:3] in mccs[user["country"]], (r["cdr_id"], user["country"])
    assert kinds["sim_box", "mobile"] > 0 and kinds["irsf", "international"] > 0, kinds
