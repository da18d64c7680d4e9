"""kafka_producer.py --faults against the real broker: the ledger's topic, partition and offset
point at exactly the spoiled messages, which a reader of our own (fault_reader.py: json and the
JSON Schemas, not the generator's code) finds on the broker, and at nothing else."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import helpers
from fault_reader import KINDS, Users, audit_messages
from kafka_data import cdr_topics, consume_all, create_args, summary, unique_prefix
from running import run_script

N = 4000
USERS = 300


@pytest.mark.timeout(300)
def test_ledger_points_at_the_spoiled_messages(kafka, tmp_path):
    prefix = unique_prefix()
    users_file = helpers.write_users(tmp_path / "users.jsonl", USERS, seed=3)
    ledger_path = tmp_path / "ledger.jsonl"
    faults = ",".join(f"{k}=0.02" for k in KINDS)
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--max-count", N,
                     "--rate", "max", "--users-file", users_file, "--seed", 5, "--stats-interval", 0,
                     "--faults", faults, "--ledger", ledger_path)
    assert run.returncode == 0, run.describe()
    s = summary(run.stderr)
    assert s["failed"] == 0 and s["unconfirmed"] == 0 and s["sent"] == s["delivered"] >= N, run.describe()
    messages = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), s["delivered"], timeout=60, grace=2.0,
                           raw=True)
    assert len(messages) == s["delivered"]
    ledger = [json.loads(line) for line in ledger_path.read_text().splitlines()]
    found = audit_messages(messages, Users(users_file))
    assert found == {(e["topic"], e["partition"], e["offset"]): e["kind"] for e in ledger}
    counts = Counter(e["kind"] for e in ledger)
    assert set(counts) == set(KINDS) and all(40 <= c <= 130 for c in counts.values()), counts
    assert s["delivered"] == N + counts["duplicate"]  # resends come on top of --max-count
    by_place = {(t, p, o): raw for t, _, raw, p, o, _ in messages}
    for e in ledger:
        raw = by_place[(e["topic"], e["partition"], e["offset"])]
        if e["kind"] != "malformed":
            assert json.loads(raw)["cdr_id"] == e["cdr_id"]
    line = next(ln for ln in run.stderr.splitlines() if "faults delivered:" in ln)
    for k in KINDS:
        assert f"{k} {counts[k]:,}" in line
