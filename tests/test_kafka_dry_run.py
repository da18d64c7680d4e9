"""--dry-run needs no broker: it writes what it would send, one JSON object a line (topic, key, value)."""

from __future__ import annotations

import json
from collections import Counter

from helpers import iso_ms
from running import run_script
from telco_cdr.constants import CDR_TOPICS, USERS_TOPIC
from telco_cdr.users import generate_users



def dry_run(*args, script="kafka_producer.py"):
    run = run_script(script, "--dry-run", *args, timeout=60)
    assert run.returncode == 0, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    lines = run.stdout.splitlines()
    return run, [json.loads(line) for line in lines]


def without_times(msg):
    """The value without its event times (start_time, end_time, answer_time, ...)."""
    return {k: v for k, v in msg["value"].items() if not k.endswith("_time")}


def time_offsets(msg):
    """Each event time relative to start_time, in ms: the same seed gives the same offsets."""
    v = msg["value"]
    return {k: iso_ms(t) - iso_ms(v["start_time"]) for k, t in v.items() if k.endswith("_time") and t}


def test_dry_run_writes_max_count_messages():
    run, msgs = dry_run("--max-count", 50, "--num-users", 200)
    assert len(msgs) == 50, run.describe()
    assert "wrote 50 messages" in run.stderr, run.describe()
    for m in msgs:
        assert set(m) == {"topic", "key", "value"}, m
        assert m["key"] == m["value"]["user_id"], m
        assert m["topic"] == CDR_TOPICS[m["value"]["cdr_type"]], m
    assert len({m["value"]["cdr_id"] for m in msgs}) == 50
    assert len(Counter(m["value"]["cdr_type"] for m in msgs)) >= 3


def test_dry_run_needs_no_broker():
    # a broker address that refuses connections, and none at all: both are fine for a dry run
    for extra in (["-b", "127.0.0.1:1", "--timeout", 1], []):
        run, msgs = dry_run("--max-count", 5, "--num-users", 20, *extra)
        assert len(msgs) == 5
        assert run.seconds < 15, run.describe()


def test_same_seed_same_values_apart_from_times():
    _, a = dry_run("--max-count", 50, "--num-users", 200, "--seed", 7)
    _, b = dry_run("--max-count", 50, "--num-users", 200, "--seed", 7)
    _, c = dry_run("--max-count", 50, "--num-users", 200, "--seed", 8)
    assert [(m["topic"], m["key"], without_times(m)) for m in a] == [(m["topic"], m["key"], without_times(m)) for m in b]
    assert [time_offsets(m) for m in a] == [time_offsets(m) for m in b]
    assert [without_times(m) for m in a] != [without_times(m) for m in c]


def test_dry_run_topic_prefix_and_single_topic():
    _, msgs = dry_run("--max-count", 30, "--num-users", 50, "--topic-prefix", "dev.")
    assert all(m["topic"] == "dev." + CDR_TOPICS[m["value"]["cdr_type"]] for m in msgs)
    _, msgs = dry_run("--max-count", 30, "--num-users", 50, "--topic", "all-cdrs")
    assert {m["topic"] for m in msgs} == {"all-cdrs"}
    assert len({m["value"]["cdr_type"] for m in msgs}) >= 2


def test_export_users_dry_run():
    run, msgs = dry_run("--num-users", 20, "--seed", 42, script="export_users_to_kafka.py")
    assert len(msgs) == 20, run.describe()
    assert all(m["topic"] == USERS_TOPIC and m["key"] == m["value"]["user_id"] for m in msgs)
    assert [m["value"] for m in msgs] == list(generate_users(20, 42))
