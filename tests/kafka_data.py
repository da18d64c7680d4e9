"""What the Kafka tests send and read: topic names of a test, the producing scripts' summary, and
what the broker holds (read back with a real consumer, checked for exactly-once and per-key order)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter

from telco_cdr.constants import CDR_TYPES

# ---------------------------------------------------------------- topics of a test

def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


def cdr_topics(prefix: str) -> dict[str, str]:
    """Topic name by CDR type."""
    return {t: f"{prefix}telco-{t}-cdrs" for t in CDR_TYPES}


def create_args(prefix: str) -> list[str]:
    return ["--topic-prefix", prefix, "--create-topics", "--partitions", "3", "--replication-factor", "1"]



# ---------------------------------------------------------------- what a producing script reports

_TOTAL = re.compile(r"^\s*total: sent ([\d,]+), delivered ([\d,]+), failed ([\d,]+), unconfirmed ([\d,]+)\s*$", re.M)
_TOPIC = re.compile(r"^\s*(\S+): sent ([\d,]+), delivered ([\d,]+), failed ([\d,]+)\s*$", re.M)


def summary(stderr: str) -> dict:
    """The end-of-run summary on stderr: ``total`` (sent, delivered, failed, unconfirmed) and
    ``topics`` (name -> (sent, delivered, failed))."""
    totals = _TOTAL.findall(stderr)
    assert len(totals) == 1, f"expected one 'total:' summary line on stderr, found {len(totals)}:\n{stderr}"
    num = lambda s: int(s.replace(",", ""))  # noqa: E731
    sent, delivered, failed, unconfirmed = map(num, totals[0])
    topics = {m[0]: tuple(map(num, m[1:])) for m in _TOPIC.findall(stderr) if m[0] != "total"}
    return {"sent": sent, "delivered": delivered, "failed": failed, "unconfirmed": unconfirmed, "topics": topics}


# ---------------------------------------------------------------- what the broker holds

def consume_all(bootstrap: str, topics, expected: int | None, timeout: float = 30.0, grace: float = 1.5,
                conf: dict | None = None, raw: bool = False) -> list[tuple]:
    """Every message of ``topics`` from the beginning, as (topic, key, value-dict, partition, offset,
    timestamp-ms) tuples.  Reads until ``expected`` messages are in (or ``timeout``), then ``grace``
    seconds more to catch extras and duplicates.  With ``expected`` None, expects what the partitions
    held when it started (their high watermarks less their low ones), so that a slow first fetch on a
    busy machine does not end the read early.  Topics that do not exist hold nothing.  ``raw``: values
    as the bytes on the broker, not parsed (several times faster for hundreds of thousands of messages)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    topics = list(topics)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "enable.partition.eof": False,
                  **(conf or {})})
    try:
        md = c.list_topics(timeout=15)
        parts = [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics
                 if t in md.topics and md.topics[t].error is None for p in sorted(md.topics[t].partitions)]
        out: list[tuple] = []
        if not parts:
            return out
        if expected is None:
            expected = sum(hi - lo for lo, hi in (c.get_watermark_offsets(tp, timeout=10) for tp in parts))
        c.assign(parts)
        deadline = time.monotonic() + timeout
        done_at = None  # when the expected count was reached
        while True:
            now = time.monotonic()
            if done_at is None and len(out) >= expected:
                done_at = now
            if done_at is not None and now - done_at >= grace:
                break
            if done_at is None and now >= deadline:
                break
            for m in c.consume(num_messages=5000, timeout=0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError(f"consumer error: {m.error()}")
                key = m.key().decode("utf-8") if m.key() is not None else None
                out.append((m.topic(), key, m.value() if raw else json.loads(m.value()), m.partition(), m.offset(),
                            m.timestamp()[1]))
        return out
    finally:
        c.close()


def high_watermarks(bootstrap: str, topics) -> dict[str, int]:
    """Messages per topic by the brokers' own offsets (sum of high watermarks of the partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}"})
    try:
        md = c.list_topics(timeout=15)
        out = {}
        for t in topics:
            if t not in md.topics or md.topics[t].error is not None:
                out[t] = 0
                continue
            out[t] = sum(c.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for p in md.topics[t].partitions)
        return out
    finally:
        c.close()


def precreate(bootstrap: str, topics, partitions: int = 3) -> None:
    """Create ``topics`` (``partitions`` each) and wait until the broker's metadata shows them with leaders,
    so that tests about something else do not lean on --create-topics."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = list(topics)
    for fut in admin.create_topics([NewTopic(t, num_partitions=partitions, replication_factor=1) for t in topics]).values():
        fut.result(timeout=30)
    deadline = time.monotonic() + 30
    while True:
        md = admin.list_topics(timeout=10).topics
        if all(t in md and md[t].error is None and md[t].partitions
               and all(p.leader >= 0 for p in md[t].partitions.values()) for t in topics):
            return
        assert time.monotonic() < deadline, f"topics {topics} not ready after 30 s"
        time.sleep(0.1)


_CDR_ID = re.compile(rb'"cdr_id":"([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{6})"')
_USER_ID = re.compile(rb'"user_id":"([^"]+)"')


def check_exactly_once(msgs: list[tuple], at_least: int, at_most: int | None = None, info: str = "",
                       gapless: str = "none") -> dict:
    """``msgs`` as consume_all(raw=True) returns them.  Asserts: between ``at_least`` and ``at_most``
    messages (exactly ``at_least`` if ``at_most`` is None); every cdr_id once; one run tag; the key
    is the record's user_id; a key lives in one partition of a topic; and within that partition the
    key's CDRs come in the order they were produced, i.e. (chunk, position) of the cdr_id strictly
    increasing with the offset.

    ``gapless`` "all" (or "but-last"): the producer builds chunk 0, 1, 2, ... and sends every record
    of a chunk (positions 0..n-1, spread over the five topics), so the chunks on the broker must be
    0..K-1 and each one's positions 0..max without a hole (the last chunk may be cut short by a stop
    signal while the local queue is full: "but-last" does not look at it).  Returns a few numbers."""
    at_most = at_least if at_most is None else at_most
    n = len(msgs)
    assert at_least <= n <= at_most, (f"the broker holds {n:,} messages, expected "
                                       f"{at_least:,}" + (f"..{at_most:,}" if at_most != at_least else "") + f"\n{info}")
    ids: list[bytes] = []
    tags: set[bytes] = set()
    last: dict[tuple, tuple] = {}     # (topic, key) -> (partition, offset, chunk, pos)
    bad_order: list[str] = []
    positions: dict[int, set[int]] = {}
    for topic, key, value, part, offset, _ in sorted(msgs, key=lambda m: (m[0], m[3], m[4])):
        m = _CDR_ID.search(value)
        assert m, f"no cdr_id in a message of {topic}[{part}]@{offset}: {value[:200]!r}\n{info}"
        u = _USER_ID.search(value)
        assert u and u.group(1).decode() == key, f"key {key!r} is not the user_id of {value[:300]!r}\n{info}"
        ids.append(m.group(0))
        tags.add(m.group(1))
        chunk, pos = int(m.group(2), 16), int(m.group(3), 16)
        positions.setdefault(chunk, set()).add(pos)
        prev = last.get((topic, key))
        if prev is not None:
            assert prev[0] == part, f"key {key!r} of {topic} is in partitions {prev[0]} and {part}\n{info}"
            if (chunk, pos) <= prev[2:]:
                bad_order.append(f"{topic}[{part}] key {key}: offset {prev[1]} has (chunk {prev[2]}, pos {prev[3]}), "
                                 f"offset {offset} has (chunk {chunk}, pos {pos})")
        last[(topic, key)] = (part, offset, chunk, pos)
    if gapless != "none" and positions:
        chunks = sorted(positions)
        assert chunks == list(range(len(chunks))), f"chunks missing on the broker: " \
            f"{sorted(set(range(chunks[-1] + 1)) - set(chunks))[:10]}\n{info}"
        for c in chunks[:-1] if gapless == "but-last" else chunks:
            have = positions[c]
            assert len(have) == max(have) + 1, f"chunk {c}: {max(have) + 1 - len(have)} CDRs missing, e.g. positions " \
                f"{sorted(set(range(max(have) + 1)) - have)[:10]}\n{info}"
    dupes = [i for i, c in Counter(ids).items() if c > 1]
    assert not dupes, f"{len(dupes)} cdr_ids are on the broker more than once, e.g. {dupes[:3]}\n{info}"
    assert len(tags) <= 1, f"CDRs of more than one run tag: {sorted(tags)}\n{info}"
    assert not bad_order, f"{len(bad_order)} CDRs out of per-key order, e.g.\n" + "\n".join(bad_order[:5]) + f"\n{info}"
    return {"messages": n, "keys": len({k for _, k in last})}


def read_back(kafka, prefix: str, expected: int | None, timeout: float = 120) -> list[tuple]:
    return consume_all(kafka.bootstrap, cdr_topics(prefix).values(), expected, timeout=timeout, grace=2.0, raw=True)
