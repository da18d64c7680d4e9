"""Arrival as from a network (telco_cdr/delivery.py): cdr_generator.py --order arrival and
kafka_producer.py's records, which arrive their delivery delay after their end.

The files are read as a reader would (json, csv, gzip); the order a file must have is worked out
here from its records' end times and the documented delays (drawn per chunk, in event order, from
DeliveryDelay.draw), not by the writer's code."""

from __future__ import annotations

import gzip
import json
import math
import time
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import helpers
from fault_reader import KINDS, Users, audit, ledger_positions, read_ledger
from helpers import iso_ms
from running import assert_clean_error, call_main
from telco_cdr.constants import SeedDomain
from telco_cdr.delivery import DeliveryDelay, delay_rng, parse_delay
from telco_cdr.errors import UserError

SEED = 11
FAULTS = ",".join(f"{k}=0.02" for k in KINDS)
DEFAULT = DeliveryDelay()  # the documented default: median 60 s, 99th percentile 15 min
FAULTS_JSON = ",".join(f"{k}=0.02" for k in KINDS if k != "malformed")


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    return helpers.write_users(tmp_path_factory.mktemp("delivery_users") / "users.jsonl", 300, seed=8)


def generate(users_file, out, *extra, count=3000, seed=SEED):
    res = call_main("cdr_generator.py", ["-u", users_file, "-c", count, "--seed", seed, "--start", helpers.WEEK_START,
                                         "--end", helpers.WEEK_END, *out, *extra])
    assert res.returncode == 0 and res.escaped is None, res.describe()
    return res


def lines_of(data: bytes, fmt: str) -> list[bytes]:
    lines = data.split(b"\n")[:-1]
    if fmt == "json":
        return [ln[:-1] if ln.endswith(b",") else ln for ln in lines[1:-1]]
    return lines[1:] if fmt == "csv" else lines


def records(data: bytes, fmt: str) -> list[dict]:
    if fmt == "csv":
        return helpers.parse_records(data.decode(), "csv")
    return [json.loads(line) for line in lines_of(data, fmt)]


def event_place(cdr_id: str) -> tuple[int, int]:
    """(chunk, place in the chunk) from a cdr_id (run tag, chunk, place, in hex)."""
    _, chunk, place = cdr_id.split("-")
    return int(chunk, 16), int(place, 16)


def expected_arrivals(recs: list[dict], seed: int = SEED, delay: DeliveryDelay = DEFAULT) -> dict:
    """{cdr_id: arrival ms}: each record's end plus its delay, the delays of a chunk drawn in its
    event order (a record's place in the cdr_id)."""
    per_chunk = defaultdict(int)
    for r in recs:
        per_chunk[event_place(r["cdr_id"])[0]] += 1
    delays = {c: delay.draw(delay_rng(SeedDomain.FILE_CDRS, seed, c), n) for c, n in per_chunk.items()}
    return {r["cdr_id"]: iso_ms(r["end_time"]) + int(delays[event_place(r["cdr_id"])[0]][event_place(r["cdr_id"])[1]])
            for r in recs}


def assert_arrival_order(recs: list[dict], seed: int = SEED, delay: DeliveryDelay = DEFAULT) -> None:
    arrival = expected_arrivals(recs, seed, delay)
    keys = [(arrival[r["cdr_id"]], event_place(r["cdr_id"])) for r in recs]
    assert keys == sorted(keys), "not sorted by end + delay (ties in event order)"
    for r in recs:
        assert iso_ms(r["start_time"]) <= iso_ms(r["end_time"]) <= arrival[r["cdr_id"]]
    starts = [iso_ms(r["start_time"]) for r in recs]
    assert sum(b < a for a, b in zip(starts, starts[1:])) > len(recs) // 10, "out of start-time order"


# ---------------------------------------------------------------- the delay itself

def test_delay_distribution_is_the_documented_one():
    """Log-normal, median 60 s, 99th percentile 15 min, cut at 30 min; drawn per (seed, chunk)."""
    ms = DeliveryDelay().draw(delay_rng(SeedDomain.FILE_CDRS, 1, 0), 200_000)
    d = ms / 1000
    assert abs(np.median(d) / 60 - 1) < 0.02
    assert abs(np.quantile(d, 0.99) / 900 - 1) < 0.05
    assert d.max() == 1800 and d.min() > 0
    assert 0.001 < np.mean(d == 1800) < 0.0025  # the tail past twice the 99th percentile: 0.17 %
    again = DeliveryDelay().draw(delay_rng(SeedDomain.FILE_CDRS, 1, 0), 10)
    assert (again == ms[:10]).all()
    assert (DeliveryDelay().draw(delay_rng(SeedDomain.FILE_CDRS, 1, 1), 10) != again).all()


@given(st.text(max_size=16))
def test_parse_delay_takes_a_delay_or_says_why_not(text):
    try:
        d = parse_delay(text)
    except UserError as e:
        assert str(e).startswith("--delivery-delay: ") and "\n" not in str(e)
        return
    assert d.median_s == d.p99_s == 0 or 0.001 <= d.median_s <= d.p99_s <= 30 * 86400


@pytest.mark.parametrize("text,median,p99", [
    ("0", 0, 0), ("60s,15m", 60, 900), ("90", 90, 1350), ("1.5m", 90, 1350), ("500ms,2s", 0.5, 2),
    ("2h,1d", 7200, 86400), ("10 s , 10 s", 10, 10), ("1e1", 10, 150),
])
def test_parse_delay(text, median, p99):
    d = parse_delay(text)
    assert (d.median_s, d.p99_s) == pytest.approx((median, p99))
    if median:
        assert d.max_ms == round(2 * p99 * 1000)


# ---------------------------------------------------------------- cdr_generator.py --order arrival

def test_arrival_order_has_the_records_of_event_order(tmp_path, users_file):
    event, arrival = tmp_path / "e.jsonl", tmp_path / "a.jsonl"
    generate(users_file, ["-o", event], count=20000)
    res = generate(users_file, ["-o", arrival], "--order", "arrival", count=20000)
    got, want = lines_of(arrival.read_bytes(), "jsonl"), lines_of(event.read_bytes(), "jsonl")
    assert Counter(got) == Counter(want) and got != want, "the same records, byte for byte, in another order"
    recs = records(arrival.read_bytes(), "jsonl")
    assert len({event_place(r["cdr_id"])[0] for r in recs}) == 3, "three chunks: records cross them"
    assert_arrival_order(recs)
    assert "wrote 20,000 CDRs" in res.stderr


def test_event_order_is_unchanged_by_the_flag(tmp_path, users_file):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    generate(users_file, ["-o", a])
    generate(users_file, ["-o", b], "--order", "event")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("fmt,extra", [("jsonl", []), ("json", []), ("csv", ["--compression", "gzip"])])
def test_arrival_order_same_bytes_for_any_workers(tmp_path, users_file, fmt, extra):
    outs = {}
    for workers in (1, 3):
        folder = tmp_path / f"w{workers}"
        generate(users_file, ["--output-dir", folder, "--format", fmt], "--order", "arrival", "--workers", workers,
                 "--delivery-delay", "5m,40m", *extra, count=20000)
        outs[workers] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert outs[1] == outs[3]
    assert len(outs[1]) == 5
    delay = DeliveryDelay(300, 2400)
    for name, data in outs[1].items():
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        recs = records(data, fmt)
        assert recs and all(r["cdr_type"] == name.split(".")[0] for r in recs)
        arrival = expected_arrivals_all(outs[1], fmt, delay)
        keys = [(arrival[r["cdr_id"]], event_place(r["cdr_id"])) for r in recs]
        assert keys == sorted(keys), name


def expected_arrivals_all(files: dict, fmt: str, delay: DeliveryDelay) -> dict:
    """expected_arrivals over the records of every file of an --output-dir (a chunk spans them)."""
    recs = []
    for name, data in files.items():
        recs += records(gzip.decompress(data) if name.endswith(".gz") else data, fmt)
    return expected_arrivals(recs, delay=delay)


def test_one_csv_file_and_stdout(tmp_path, users_file):
    out = tmp_path / "a.csv"
    generate(users_file, ["-o", out], "--order", "arrival")
    assert_arrival_order(records(out.read_bytes(), "csv"))
    res = generate(users_file, ["-o", "-"], "--order", "arrival", "--delivery-delay", "0")
    recs = records(res.stdout.encode(), "jsonl")
    ends = [iso_ms(r["end_time"]) for r in recs]
    assert ends == sorted(ends), "no delay: by end time"
    assert_arrival_order(recs, delay=DeliveryDelay(0, 0))


def test_arrival_order_of_no_records(tmp_path, users_file):
    out = tmp_path / "a.json"
    generate(users_file, ["-o", out], "--order", "arrival", count=0)
    assert out.read_bytes() == b"[]\n"


@pytest.mark.parametrize("fmt,faults,split", [("jsonl", FAULTS, False), ("json", FAULTS_JSON, False),
                                              ("csv", FAULTS, True)])
def test_faults_in_arrival_order_reconcile_with_the_ledger(tmp_path, users_file, fmt, faults, split):
    """The faults are laid on the records in arrival order: the ledger's lines are the spoiled ones
    that an independent reader finds, and every other line is the clean arrival-order run's."""
    from test_faults import check_against_clean

    users = Users(users_file)
    ledger_path = tmp_path / "ledger.jsonl"
    where = (["--output-dir", tmp_path / "spoiled", "--format", fmt, "--compression", "gzip"] if split
             else ["-o", tmp_path / f"spoiled.{fmt}"])
    clean_where = (["--output-dir", tmp_path / "clean", "--format", fmt] if split else ["-o", tmp_path / f"clean.{fmt}"])
    runs = []
    for workers in (1, 3):
        generate(users_file, where, "--order", "arrival", "--faults", faults, "--ledger", ledger_path,
                 "--workers", workers, count=8000)
        files = ({t: gzip.decompress((tmp_path / "spoiled" / f"{t}.{fmt}.gz").read_bytes()) for t in helpers_types()}
                 if split else {None: (tmp_path / f"spoiled.{fmt}").read_bytes()})
        runs.append((files, ledger_path.read_bytes()))
    assert runs[0] == runs[1], "the same faults and ledger for any --workers"
    generate(users_file, clean_where, "--order", "arrival", count=8000)
    files, _ = runs[0]
    ledger = read_ledger(ledger_path)
    found, seen = {}, {}
    for t, data in files.items():
        name = f"{t}.{fmt}.gz" if split else None
        found.update(audit(data, fmt, users, file=name, seen=seen))
        clean = (tmp_path / "clean" / f"{t}.{fmt}").read_bytes() if split else (tmp_path / f"clean.{fmt}").read_bytes()
        check_against_clean(data, clean, fmt, ledger, file=name)
    assert found == ledger_positions(ledger)
    counts = Counter(e["kind"] for e in ledger)
    assert set(counts) == {k for k in KINDS if f"{k}=" in faults}, counts
    assert all(100 <= c <= 240 for c in counts.values()), counts  # 2 % of 8,000: 160 each


def test_anomalies_in_arrival_order(tmp_path, users_file):
    """--anomalies: the same records and incidents as in event order (the ledger's incident lines
    name cdr_ids, not lines), the same for any --workers; the faults' lines are the file's."""
    runs = {}
    anomalies = "sim_box=1,wangiri=1,sim_swap=1,cell_outage=1"
    for name, extra in (("event", []), ("one", ["--order", "arrival"]), ("three", ["--order", "arrival",
                                                                                   "--workers", 3])):
        out, ledger = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.ledger.jsonl"
        generate(users_file, ["-o", out], "--anomalies", anomalies, "--faults", "duplicate=0.01,late=0.01",
                 "--ledger", ledger, *extra, count=20000)
        runs[name] = (out.read_bytes(), read_ledger(ledger))
    assert runs["one"][0] == runs["three"][0] and runs["one"][1] == runs["three"][1]
    incidents = {k: [e for e in ledger if "cdr_ids" in e] for k, (_, ledger) in runs.items()}
    assert len(incidents["event"]) == 4 and incidents["one"] == incidents["event"]
    clean = tmp_path / "clean.jsonl"
    generate(users_file, ["-o", clean], "--anomalies", anomalies, "--order", "arrival", count=20000)
    recs = records(clean.read_bytes(), "jsonl")
    assert_arrival_order(recs)
    data, ledger = runs["one"]
    faults = [e for e in ledger if "line" in e]
    assert faults and all(json.loads(lines_of(data, "jsonl")[e["line"] - 1])["cdr_id"] == e["cdr_id"]
                          for e in faults if e["kind"] == "duplicate")


@pytest.mark.parametrize("workers", [1, 3])
def test_a_failing_chunk_in_arrival_order_is_one_line_and_no_file(tmp_path, monkeypatch, users_file, workers):
    """A chunk that cannot be built (here: a RunError in chunk 1, in whichever process builds it)
    ends the run with its one line and exit 1, and leaves no file behind."""
    from telco_cdr.batch import CdrFileJob
    from telco_cdr.errors import RunError

    chunk = CdrFileJob.chunk

    def failing(self, i):
        if i == 1:
            raise RunError("chunk 1 could not be built")
        return chunk(self, i)

    monkeypatch.setattr(CdrFileJob, "chunk", failing)
    out = tmp_path / "out"
    out.mkdir()
    res = call_main("cdr_generator.py", ["-u", users_file, "-c", 20000, "-o", out / "c.jsonl", "--order", "arrival",
                                         "--workers", workers])
    assert_clean_error(res, 1, "chunk 1 could not be built")
    assert list(out.iterdir()) == []


def helpers_types():
    from fault_reader import TYPES

    return TYPES


# ---------------------------------------------------------------- bad flags

@pytest.mark.parametrize("args,named", [
    (["--delivery-delay", "5m"], ("--delivery-delay", "--order arrival")),
    (["--order", "arrival", "--delivery-delay", "soon"], ("--delivery-delay", "'soon'", "duration")),
    (["--order", "arrival", "--delivery-delay", "5m,1m"], ("--delivery-delay", "99th percentile", "median")),
    (["--order", "arrival", "--delivery-delay", "0,5m"], ("--delivery-delay", "median", "0 alone")),
    (["--order", "arrival", "--delivery-delay", "1,2,3"], ("--delivery-delay", "MEDIAN[,P99]")),
    (["--order", "arrival", "--delivery-delay", "-5"], ("--delivery-delay", "duration")),
    (["--order", "arrival", "--delivery-delay", "5y"], ("--delivery-delay", "duration")),
    (["--order", "arrival", "--delivery-delay", "31d"], ("--delivery-delay", "30 days")),
    (["--order", "sideways"], ("--order", "sideways")),
    (["--order", "arrival", "--delivery-delay", ""], ("--delivery-delay", "empty")),
])
def test_bad_delivery_flags(tmp_path, monkeypatch, users_file, args, named):
    monkeypatch.chdir(tmp_path)
    res = call_main("cdr_generator.py", ["-u", users_file, "-o", tmp_path / "c.jsonl", "-c", 5, *args])
    assert_clean_error(res, 2, *named)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["soon", "5m,1m", "0,1s", "nan", "inf", " "])
def test_bad_delivery_delay_of_the_producer(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    res = call_main("kafka_producer.py", ["--dry-run", "--max-count", 5, "--num-users", 20, "--delivery-delay", text])
    assert_clean_error(res, 2, "--delivery-delay")
    assert res.stdout == ""


# ---------------------------------------------------------------- kafka_producer.py --dry-run

NOW_MS = iso_ms("2026-11-04T12:00:00.000Z")


def dry_run(monkeypatch, *args, count=5000):
    """A dry run in this process with the wall clock stopped at NOW_MS, so that every record is sent
    at NOW_MS exactly: its delay is NOW_MS - end_time."""
    monkeypatch.setattr(time, "time", lambda: NOW_MS / 1000)
    res = call_main("kafka_producer.py", ["--dry-run", "--rate", "max", "--max-count", count, "--num-users", 300,
                                          "--seed", 4, *args])
    assert res.returncode == 0 and res.escaped is None, res.describe()
    return [json.loads(line)["value"] for line in res.stdout.splitlines()]


def test_producer_sends_records_after_their_end(monkeypatch):
    recs = dry_run(monkeypatch, count=20000)
    delays = np.array([NOW_MS - iso_ms(r["end_time"]) for r in recs]) / 1000
    assert len(recs) == 20000
    assert (delays >= 0).all() and delays.max() <= 1800
    for r in recs:
        assert iso_ms(r["start_time"]) <= iso_ms(r["end_time"])
    # as documented: median 60 s (sample median within 3 standard errors: 2 % at 20,000), p99 15 min
    se = 1.2533 * math.log(15) / 2.3263 / math.sqrt(len(delays))
    assert abs(math.log(np.median(delays) / 60)) < 3 * se + 0.01, np.median(delays)
    assert 0.85 < np.quantile(delays, 0.99) / 900 < 1.15, np.quantile(delays, 0.99)
    starts = [iso_ms(r["start_time"]) for r in recs]
    assert sum(b < a for a, b in zip(starts, starts[1:])) > len(recs) // 10, "out of start-time order"
    voice = [r for r in recs if r["cdr_type"] == "voice" and r["answer_time"]]
    assert voice and all(iso_ms(r["start_time"]) < iso_ms(r["answer_time"]) <= iso_ms(r["end_time"]) for r in voice)


def test_producer_without_delay_ends_records_as_they_are_sent(monkeypatch):
    recs = dry_run(monkeypatch, "--delivery-delay", "0", count=2000)
    assert {r["end_time"] for r in recs} == {"2026-11-04T12:00:00.000Z"}
    spans = Counter(iso_ms(r["end_time"]) - iso_ms(r["start_time"]) > 0 for r in recs)
    assert spans[True] > 1000, "they started their duration before"


def test_producer_delay_flag_moves_the_median(monkeypatch):
    recs = dry_run(monkeypatch, "--delivery-delay", "10m,20m", count=3000)
    delays = np.array([NOW_MS - iso_ms(r["end_time"]) for r in recs]) / 1000
    assert 0.93 < np.median(delays) / 600 < 1.07 and delays.max() <= 2400


# ---------------------------------------------------------------- on a real broker

@pytest.mark.timeout(300)
def test_consumed_records_arrive_after_their_end(kafka, tmp_path):
    """What a consumer reads: each record's message timestamp (when the producer sent it) is after its
    end_time by the documented delay, and a partition's records are out of start-time order."""
    from kafka_data import cdr_topics, consume_all, create_args, summary, unique_prefix
    from running import run_script

    prefix, n = unique_prefix(), 4000
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--max-count", n,
                     "--rate", "max", "--num-users", 300, "--seed", 6, "--stats-interval", 0)
    assert run.returncode == 0, run.describe()
    assert summary(run.stderr)["delivered"] == n
    messages = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), n, timeout=60, grace=1.0)
    assert len(messages) == n
    delays = np.array([ts - iso_ms(v["end_time"]) for _, _, v, _, _, ts in messages]) / 1000
    assert delays.min() >= 0 and delays.max() <= 1800 + 5, "after the end, by at most 30 min (+ sending)"
    assert 0.9 < np.median(delays) / 60 < 1.1, np.median(delays)  # 4,000: a standard error of 2.3 %
    assert 0.8 < np.quantile(delays, 0.99) / 900 < 1.2, np.quantile(delays, 0.99)
    inversions = 0
    by_partition = defaultdict(list)
    for topic, _, v, partition, offset, _ in messages:
        by_partition[(topic, partition)].append((offset, iso_ms(v["start_time"])))
    for rows in by_partition.values():
        starts = [s for _, s in sorted(rows)]
        inversions += sum(b < a for a, b in zip(starts, starts[1:]))
    assert inversions > n // 10, f"only {inversions} records start before the one read before them"
