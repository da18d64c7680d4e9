"""--faults and --ledger of cdr_generator.py, checked by a reader of our own.

The reader here does not use the generator's code: it reads the output with json/csv and the JSON
Schemas (jsonschema), finds every line that is spoiled and says how (a line that does not parse, a
cdr_id seen before, a schema error, an end before the start, a user that is not in the users file,
a record that ends an hour or more before the records before it started), and the set it finds
must be exactly the ledger's.  A run of the same flags without --faults then shows that every line
the ledger does not name is byte for byte the clean run's record.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter

import pytest

import helpers
from fault_reader import (
    HOUR_MS,
    KINDS,
    LATE_MAX_MS,
    TYPES,
    VALIDATORS,
    Users,
    audit,
    audit_messages,
    ledger_positions,
    read_ledger,
    summary_counts,
)
from running import assert_clean_error, call_main

ALL = ",".join(f"{k}=0.02" for k in KINDS)
ALL_BUT_MALFORMED = ",".join(f"{k}=0.02" for k in KINDS if k != "malformed")


# ---------------------------------------------------------------- running the generator

@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    return helpers.write_users(tmp_path_factory.mktemp("faults_users") / "users.jsonl", 300, seed=8)


@pytest.fixture(scope="module")
def users(users_file):
    return Users(users_file)


def generate(users_file, out, *extra, count=3000, seed=11):
    res = call_main("cdr_generator.py", ["-u", users_file, "-c", count, "--seed", seed, "--start", helpers.WEEK_START,
                                         "--end", helpers.WEEK_END, *out, *extra])
    assert res.returncode == 0 and res.escaped is None, res.describe()
    return res


def record_lines(data: bytes, fmt: str) -> list[bytes]:
    lines = data.split(b"\n")[:-1]
    if fmt == "json":
        return [ln[:-1] if ln.endswith(b",") else ln for ln in lines[1:-1]]
    return lines[1:] if fmt == "csv" else lines


def check_against_clean(faulty: bytes, clean: bytes, fmt: str, ledger: list[dict], file: str | None = None) -> None:
    """Every line the ledger does not name is the clean run's line; the ledger's lines, the resends
    taken out, stand where the clean run's records stood, and carry their cdr_ids."""
    offset = 1 if fmt == "jsonl" else 2
    spoiled = {e["line"]: e for e in ledger if e.get("file") == file}
    got, want = record_lines(faulty, fmt), record_lines(clean, fmt)
    kept = []
    for no, raw in enumerate(got, start=offset):
        entry = spoiled.get(no)
        if entry is not None and entry["kind"] == "duplicate":
            original = got[entry["original_line"] - offset]
            assert raw == original and entry["original_line"] < no
            assert f'{entry["cdr_id"]}'.encode() in raw
            continue
        kept.append((no, raw))
    assert len(kept) == len(want), "the clean run's records, one line each"
    for (no, raw), clean_raw in zip(kept, want):
        entry = spoiled.get(no)
        if entry is None:
            assert raw == clean_raw, f"line {no} is spoiled, and the ledger does not say so"
        else:
            assert raw != clean_raw, f"line {no}: the ledger names it, but it is the clean record"
            assert entry["cdr_id"].encode() in clean_raw, f"line {no}: the ledger's cdr_id is another record's"


# ---------------------------------------------------------------- the tests

@pytest.mark.parametrize("fmt,faults", [("jsonl", ALL), ("csv", ALL), ("json", ALL_BUT_MALFORMED)])
def test_one_file_reader_finds_exactly_the_ledger(tmp_path, users_file, users, fmt, faults):
    out, ledger_path = tmp_path / f"cdrs.{fmt}", tmp_path / "ledger.jsonl"
    res = generate(users_file, ["-o", out], "--faults", faults, "--ledger", ledger_path)
    clean = tmp_path / f"clean.{fmt}"
    generate(users_file, ["-o", clean])
    ledger = read_ledger(ledger_path)
    found = audit(out.read_bytes(), fmt, users)
    assert found == ledger_positions(ledger)
    check_against_clean(out.read_bytes(), clean.read_bytes(), fmt, ledger)
    counts = Counter(e["kind"] for e in ledger)
    assert summary_counts(res.stderr) == {k: counts.get(k, 0) for k in KINDS}
    kinds = [k for k in KINDS if f"{k}=" in faults]
    for k in kinds:  # about 2 % each of 3,000 records: 60, give or take (a standard deviation of 8)
        assert 30 <= counts[k] <= 100, (k, counts)
    assert set(counts) == set(kinds)
    assert [e["line"] for e in ledger] == sorted(e["line"] for e in ledger)
    assert all(set(e) >= {"kind", "line", "cdr_id"} for e in ledger)
    for e in ledger:  # the ledger's own words agree with the file
        if e["kind"] == "late":
            assert HOUR_MS <= e["arrival_delay_s"] * 1000 <= LATE_MAX_MS
    if fmt == "jsonl":
        hows = Counter(e["how"] for e in ledger if e["kind"] == "malformed")
        assert set(hows) == {"truncated", "corrupted"}
        bad = Counter(e["how"] for e in ledger if e["kind"] == "bad_value")
        assert set(bad) == {"negative", "end_before_start", "unknown_enum"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_output_dir_reader_finds_exactly_the_ledger(tmp_path, users_file, users, fmt):
    out, ledger_path = tmp_path / "landing", tmp_path / "ledger.jsonl"
    generate(users_file, ["--output-dir", out, "--format", fmt], "--faults", ALL, "--ledger", ledger_path,
             "--compression", "gzip")
    clean = tmp_path / "clean"
    generate(users_file, ["--output-dir", clean, "--format", fmt])
    ledger = read_ledger(ledger_path)
    assert {e["file"] for e in ledger} == {f"{t}.{fmt}.gz" for t in TYPES}
    found, seen = {}, {}
    for t in TYPES:
        name = f"{t}.{fmt}.gz"
        data = gzip.decompress((out / name).read_bytes())
        found.update(audit(data, fmt, users, file=name, seen=seen))
        check_against_clean(data, (clean / f"{t}.{fmt}").read_bytes(), fmt, ledger, file=name)
    assert found == ledger_positions(ledger)
    assert set(Counter(e["kind"] for e in ledger)) == set(KINDS)


def test_same_faults_for_any_workers_and_by_seed(tmp_path, users_file, users):
    # 20,000 records: three chunks, so that the workers share them and line numbers cross chunks
    runs = {}
    for name, workers, seed in (("one", 1, 11), ("three", 3, 11), ("other", 2, 12)):
        out, ledger = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.ledger.jsonl"
        generate(users_file, ["-o", out], "--faults", "duplicate=0.01,late=0.01,malformed=0.01,orphan_user=0.01",
                 "--ledger", ledger, "--workers", workers, count=20000, seed=seed)
        runs[name] = (out.read_bytes(), ledger.read_bytes())
    assert runs["one"] == runs["three"]
    assert runs["other"][1] != runs["one"][1]
    ledger = [json.loads(x) for x in runs["one"][1].splitlines()]
    assert max(e["line"] for e in ledger) > 16384, "faults in the last chunk too"
    assert audit(runs["one"][0], "jsonl", users) == ledger_positions(ledger)


def test_no_faults_leaves_the_bytes_alone(tmp_path, users_file):
    """--faults with every fraction 0 writes the bytes of a run without it, and an empty ledger."""
    a, b, ledger = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "l.jsonl"
    generate(users_file, ["-o", a])
    res = generate(users_file, ["-o", b], "--faults", "duplicate=0,late=0", "--ledger", ledger)
    assert a.read_bytes() == b.read_bytes()
    assert ledger.read_bytes() == b""
    assert summary_counts(res.stderr) == dict.fromkeys(KINDS, 0)


def test_everything_spoiled(tmp_path, users_file, users):
    """Fractions that add up to 1: every record but the few late ones with nothing before them."""
    out, ledger_path = tmp_path / "c.jsonl", tmp_path / "l.jsonl"
    generate(users_file, ["-o", out], "--faults", "late=0.5,bad_value=0.5", "--ledger", ledger_path, count=300)
    ledger = read_ledger(ledger_path)
    assert audit(out.read_bytes(), "jsonl", users) == ledger_positions(ledger)
    assert len(ledger) >= 298


def test_missing_field_and_orphans_in_detail(tmp_path, users_file, users):
    out, ledger_path = tmp_path / "c.jsonl", tmp_path / "l.jsonl"
    generate(users_file, ["-o", out], "--faults", "missing_field=0.05,orphan_user=0.05,schema_drift=0.05",
             "--ledger", ledger_path, count=3000)
    lines = out.read_bytes().split(b"\n")
    for e in read_ledger(ledger_path):
        rec = json.loads(lines[e["line"] - 1])
        assert rec["cdr_id"] == e["cdr_id"]
        if e["kind"] == "missing_field":
            assert e["field"] not in rec and set(rec) == set(VALIDATORS[rec["cdr_type"]].schema["required"]) - {e["field"]}
        elif e["kind"] == "orphan_user":
            assert rec["user_id"] == e["user_id"] not in users.by_id
        else:
            assert e["field"] in rec and e["field"] not in VALIDATORS[rec["cdr_type"]].schema["properties"]


# ---------------------------------------------------------------- bad flags

@pytest.mark.parametrize("args,named", [
    (["--faults", "typo=0.1"], ("--faults", "typo", "duplicate")),
    (["--faults", "late=1.5"], ("--faults", "between 0 and 1")),
    (["--faults", "late=-0.1"], ("--faults", "between 0 and 1")),
    (["--faults", "late=nan"], ("--faults", "between 0 and 1")),
    (["--faults", "late=abc"], ("--faults", "not a number")),
    (["--faults", "late"], ("--faults", "KIND=FRACTION")),
    (["--faults", ""], ("--faults", "KIND=FRACTION")),
    (["--faults", "late=0.6,duplicate=0.6"], ("--faults", "add up to 1.2")),
    (["--faults", "late=0.1,late=0.2"], ("--faults", "twice")),
    (["--ledger", "l.jsonl"], ("--ledger", "--faults")),
    (["--faults", "malformed=0.1", "--format", "json"], ("--faults", "malformed", "json")),
    (["--faults", "late=0.1", "--ledger", "<out>"], ("--ledger", "output")),
])
def test_bad_fault_flags(tmp_path, monkeypatch, users_file, args, named):
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.chdir(folder)
    out = folder / "cdrs.json"
    args = [str(out) if a == "<out>" else a for a in args]
    res = call_main("cdr_generator.py", ["-u", users_file, "-o", out, "-c", 5, *args])
    assert_clean_error(res, 2, *named)
    assert list(folder.iterdir()) == []


def test_help_names_the_fault_kinds():
    res = call_main("cdr_generator.py", ["--help"])
    assert res.returncode == 0
    for k in KINDS:
        assert k in res.stdout
    assert re.search(r"--faults \S+=0\.\d+.* --ledger", res.stdout.replace("\\\n", ""))


# ---------------------------------------------------------------- kafka_producer.py --dry-run

def test_kafka_dry_run_ledger_names_the_lines_on_stdout(tmp_path, users_file, users):
    ledger_path = tmp_path / "l.jsonl"
    faults = ",".join(f"{k}=0.03" for k in KINDS)
    res = call_main("kafka_producer.py", ["--dry-run", "--max-count", 2000, "--rate", "max", "-u", users_file,
                                          "--faults", faults, "--ledger", ledger_path])
    assert res.returncode == 0, res.describe()
    ledger = read_ledger(ledger_path)
    by_line = {e["line"]: e for e in ledger}
    messages = []
    for no, line in enumerate(res.stdout.encode().split(b"\n")[:-1], start=1):
        head, _, value = line.partition(b',"value":')
        topic_key = json.loads(head + b"}")
        messages.append((topic_key["topic"], topic_key["key"], value[:-1], 0, no, None))
    now = int(time.time() * 1000)  # every message "arrives" now
    messages = [(t, k, v, p, o, now) for t, k, v, p, o, _ in messages]
    found = audit_messages(messages, users)
    assert {o: kind for (_, _, o), kind in found.items()} == {n: e["kind"] for n, e in by_line.items()}
    assert all(by_line[o]["topic"] == t for (t, _, o) in found)
    assert set(Counter(e["kind"] for e in ledger)) == set(KINDS)
    assert summary_counts(res.stderr.replace("faults delivered:", "faults:")) == \
        {k: Counter(e["kind"] for e in ledger).get(k, 0) for k in KINDS}


@pytest.mark.parametrize("args,named", [
    (["--faults", "typo=0.1"], ("--faults", "typo")),
    (["--faults", "late=0.7,bad_value=0.7"], ("--faults", "add up")),
    (["--ledger", "l.jsonl"], ("--ledger", "--faults")),
])
def test_kafka_bad_fault_flags(tmp_path, monkeypatch, args, named):
    monkeypatch.chdir(tmp_path)
    res = call_main("kafka_producer.py", ["-b", "127.0.0.1:1", "--timeout", 1, "--max-count", 5, "--num-users", 20,
                                          *args])
    assert_clean_error(res, 2, *named)
    assert list(tmp_path.iterdir()) == []
