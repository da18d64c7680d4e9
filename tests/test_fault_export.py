"""Exporting the same users twice into one compacted topic: both runs succeed, the topic is
compacted (cleanup.policy=compact), both runs send the same keys, and the latest record per key --
what compaction keeps -- is exactly one current record per user, equal to the generated user.

Compaction itself runs lazily on the broker (only on closed segments, after
min.cleanable.dirty.ratio / min.compaction.lag.ms), so the test does not wait for it to happen: it
asserts on the topic's configuration and on the latest-per-key view of what the broker holds.
"""

from __future__ import annotations

import json
from collections import Counter

from kafka_data import consume_all, create_args, summary, unique_prefix
from running import run_script

USERS = 300
SEED = 4711


def topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ResourceType.TOPIC, topic)
    entries = admin.describe_configs([res], request_timeout=15)[res].result(timeout=30)
    return {name: entry.value for name, entry in entries.items()}


def partition_marks(bootstrap: str, topic: str) -> dict[int, int]:
    """The high watermark of each partition of ``topic``."""
    from uuid import uuid4

    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid4().hex}"})
    try:
        parts = c.list_topics(topic, timeout=15).topics[topic].partitions
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        c.close()


def test_export_twice_into_compacted_topic(kafka, tmp_path):
    prefix = unique_prefix()
    topic = f"{prefix}telco-users"
    args = ["-b", kafka.bootstrap, *create_args(prefix), "--num-users", USERS, "--seed", SEED, "--timeout", 30]

    first = run_script("export_users_to_kafka.py", *args, timeout=120)
    assert first.returncode == 0, first.describe()
    assert f"created topic {topic}" in first.stderr, first.describe()
    marks = partition_marks(kafka.bootstrap, topic)
    second = run_script("export_users_to_kafka.py", *args, timeout=120)
    assert second.returncode == 0, second.describe()
    assert "created topic" not in second.stderr, f"the topic was made again\n{second.describe()}"
    for run in (first, second):
        assert "Traceback" not in run.stderr, run.describe()
        s = summary(run.stderr)
        assert (s["sent"], s["delivered"], s["failed"], s["unconfirmed"]) == (USERS, USERS, 0, 0), run.describe()

    cfg = topic_config(kafka.bootstrap, topic)
    assert cfg.get("cleanup.policy") == "compact", cfg.get("cleanup.policy")

    msgs = consume_all(kafka.bootstrap, [topic], 2 * USERS, timeout=60, grace=1.5)
    assert len(msgs) == 2 * USERS, f"{len(msgs)} records on {topic}, expected {2 * USERS}"
    # Tell the runs apart by offset: in each partition, the first run's records lie below the high
    # watermark that partition had after the first run.
    assert len(marks) == 3 and sum(marks.values()) == USERS, marks
    by_partition: dict[int, list] = {}
    for _, key, value, part, offset, _ in msgs:
        by_partition.setdefault(part, []).append((offset, key, value))
    run1 = [r for part, recs in by_partition.items() for r in recs if r[0] < marks[part]]
    run2 = [r for part, recs in by_partition.items() for r in recs if r[0] >= marks[part]]
    keys1, keys2 = [k for _, k, _ in run1], [k for _, k, _ in run2]
    assert len(keys1) == len(set(keys1)) == USERS, Counter(keys1).most_common(3)
    assert len(keys2) == len(set(keys2)) == USERS, Counter(keys2).most_common(3)
    assert set(keys1) == set(keys2), sorted(set(keys1) ^ set(keys2))[:5]

    homes = {}
    for part, recs in by_partition.items():
        for _, key, _ in recs:
            assert homes.setdefault(key, part) == part, f"key {key} is in partitions {homes[key]} and {part}"

    # What compaction keeps: the last record per key (a key's records all lie in one partition).
    latest: dict[str, dict] = {}
    for part in sorted(by_partition):
        for _, key, value in sorted(by_partition[part]):
            latest[key] = value
    assert len(latest) == USERS

    out = tmp_path / "users.json"
    gen = run_script("user_generator.py", "--num-users", USERS, "--seed", SEED, "--output", out, timeout=120)
    assert gen.returncode == 0, gen.describe()
    generated = {u["user_id"]: u for u in json.loads(out.read_text(encoding="utf-8"))}
    assert set(latest) == set(generated), sorted(set(latest) ^ set(generated))[:5]
    different = [k for k in generated if latest[k] != generated[k]]
    assert not different, f"{len(different)} users differ from user_generator.py, e.g. {different[0]}: " \
                          f"{latest[different[0]]} != {generated[different[0]]}"
    # and the two runs sent the very same records
    first_value = {k: v for _, k, v in run1}
    assert all(first_value[k] == v for _, k, v in run2)
