"""kafka_producer.py and export_users_to_kafka.py against a real broker: what the broker holds after
a --max-count run (count, mix, keys, topics, event times) and how CDRs join the exported users."""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from helpers import iso_ms, load_records
from kafka_data import cdr_topics, consume_all, create_args, summary, unique_prefix
from running import run_script
from telco_cdr.constants import DEFAULT_WEIGHTS
from telco_cdr.users import generate_users

N = 3000
USERS = 200
SEED = 42


@dataclass
class CdrRun:
    prefix: str
    started_ms: int
    ended_ms: int
    run: object
    messages: list
    users_run: object
    users_messages: list


@pytest.fixture(scope="module")
def cdr_run(kafka) -> CdrRun:
    prefix = unique_prefix()
    t0 = int(time.time() * 1000)
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--max-count", N,
                     "--rate", "max", "--num-users", USERS, "--seed", SEED, "--stats-interval", 0)
    t1 = int(time.time() * 1000)
    assert run.returncode == 0, run.describe()
    messages = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), N, timeout=60, grace=2.0)
    users_run = run_script("export_users_to_kafka.py", "-b", kafka.bootstrap, *create_args(prefix),
                           "--num-users", USERS, "--seed", SEED, "--stats-interval", 0)
    assert users_run.returncode == 0, users_run.describe()
    users_messages = consume_all(kafka.bootstrap, [prefix + "telco-users"], USERS, timeout=60, grace=1.5)
    return CdrRun(prefix, t0, t1, run, messages, users_run, users_messages)


def test_broker_holds_exactly_max_count(cdr_run):
    assert "Traceback" not in cdr_run.run.stderr
    s = summary(cdr_run.run.stderr)
    assert (s["sent"], s["delivered"], s["failed"], s["unconfirmed"]) == (N, N, 0, 0), cdr_run.run.describe()
    assert len(cdr_run.messages) == N, f"the broker holds {len(cdr_run.messages)} CDRs, not {N}"
    ids = Counter(v["cdr_id"] for _, _, v, *_ in cdr_run.messages)
    dups = [i for i, c in ids.items() if c > 1]
    assert not dups, f"{len(dups)} cdr_ids on the broker more than once, e.g. {dups[:3]}"
    # the per-topic summary agrees with the broker
    on_broker = Counter(t for t, *_ in cdr_run.messages)
    assert {t: d for t, (_, d, _) in s["topics"].items()} == dict(on_broker)


def test_type_mix_matches_default_weights(cdr_run):
    counts = Counter(v["cdr_type"] for _, _, v, *_ in cdr_run.messages)
    assert set(counts) <= set(DEFAULT_WEIGHTS), counts
    for t, p in DEFAULT_WEIGHTS.items():
        sigma = math.sqrt(N * p * (1 - p))
        assert abs(counts[t] - N * p) <= 4 * sigma, \
            f"{t}: {counts[t]} of {N}, expected {N * p:.0f} +- {4 * sigma:.0f} (4 sigma); all: {dict(counts)}"


def test_keys_topics_and_event_times(cdr_run):
    topics = cdr_topics(cdr_run.prefix)
    for topic, key, value, partition, offset, ts in cdr_run.messages:
        assert key == value["user_id"], (topic, key, value)
        assert topic == topics[value["cdr_type"]], (topic, value["cdr_type"])
        # sent as from a network: after the record's end, by its delivery delay (at most 30 min by default)
        end = iso_ms(value["end_time"])
        assert cdr_run.started_ms - 1_800_000 <= end <= ts <= cdr_run.ended_ms + 2000, \
            f"end_time {value['end_time']} vs message timestamp {ts}, the run {cdr_run.started_ms}-{cdr_run.ended_ms}"
        assert ts - end <= 1_800_000 + 5000, f"end_time {value['end_time']} vs message timestamp {ts}"
        assert iso_ms(value["start_time"]) <= end, value


def test_cdrs_belong_to_the_generated_users(cdr_run):
    users = {u["user_id"]: u for u in generate_users(USERS, SEED)}
    for _, key, value, *_ in cdr_run.messages:
        u = users.get(value["user_id"])
        assert u is not None, f"CDR of unknown user {value['user_id']}"
        assert u["status"] == "active", f"CDR of a {u['status']} user: {value}"
        assert (value["msisdn"], value["imsi"]) == (u["msisdn"], u["imsi"]), (value, u)


def test_exported_users_equal_generated_users(cdr_run):
    run = cdr_run.users_run
    assert "Traceback" not in run.stderr
    s = summary(run.stderr)
    assert (s["sent"], s["delivered"], s["failed"], s["unconfirmed"]) == (USERS, USERS, 0, 0), run.describe()
    expected = list(generate_users(USERS, SEED))
    msgs = cdr_run.users_messages
    assert len(msgs) == USERS, f"the users topic holds {len(msgs)} records, not {USERS}"
    assert {t for t, *_ in msgs} == {cdr_run.prefix + "telco-users"}
    for _, key, value, *_ in msgs:
        assert key == value["user_id"], (key, value)
    got = sorted((v for _, _, v, *_ in msgs), key=lambda u: u["user_id"])
    assert got == sorted(expected, key=lambda u: u["user_id"])


def test_every_cdr_user_is_in_users_topic_and_co_partitioned(cdr_run):
    user_partition = {key: p for _, key, _, p, *_ in cdr_run.users_messages}
    missing = {v["user_id"] for _, _, v, *_ in cdr_run.messages} - set(user_partition)
    assert not missing, f"{len(missing)} CDR users are not in the users topic, e.g. {sorted(missing)[:5]}"
    # "co-partitioned with telco-users": the same key lands on the same partition number
    wrong = [(t, k, p, user_partition[k]) for t, k, _, p, *_ in cdr_run.messages if user_partition[k] != p]
    assert not wrong, f"{len(wrong)} CDRs on another partition than their user, e.g. {wrong[:3]}"


def test_users_file_cdrs_match_its_users(kafka, tmp_path):
    users_path = tmp_path / "users.json"
    gen = run_script("user_generator.py", "-n", USERS, "--seed", 9, "-o", users_path)
    assert gen.returncode == 0, gen.describe()
    users = {u["user_id"]: u for u in load_records(users_path)}
    assert len(users) == USERS
    prefix = unique_prefix()
    count = 600
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--users-file", users_path,
                     "--max-count", count, "--rate", "max", "--stats-interval", 0)
    assert run.returncode == 0, run.describe()
    assert summary(run.stderr)["delivered"] == count
    msgs = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), count, timeout=60)
    assert len(msgs) == count
    seen = set()
    for _, key, value, *_ in msgs:
        u = users.get(value["user_id"])
        assert u is not None, f"CDR of a user not in the file: {value}"
        assert key == value["user_id"]
        assert (value["msisdn"], value["imsi"]) == (u["msisdn"], u["imsi"]), (value, u)
        seen.add(value["user_id"])
    # the file's users, not the default ones: seed 9 users differ from seed 42 users
    default = {u["user_id"]: u["msisdn"] for u in generate_users(USERS, SEED)}
    assert any(default[i] != users[i]["msisdn"] for i in seen)
