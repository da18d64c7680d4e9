"""kafka_producer.py --shard K/N: N producers together send exactly the messages of one, none twice
and none missing; --max-count and --rate shared out.  Dry runs in this process (call_main)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from running import assert_clean_error, call_main
from telco_cdr.streaming import block_size, shard_share

PAST = "2026-01-01T00:00:00Z"  # a --start-at gone by: every message is due, the dry runs go as fast as they can


def produce(*args) -> list[str]:
    """The lines of a dry run of kafka_producer.py."""
    run = call_main("kafka_producer.py", ["--dry-run", "--num-users", 300, *args])
    assert run.returncode == 0 and run.escaped is None, run.describe()
    assert "Traceback" not in run.stderr, run.describe()
    return run.stdout.split("\n")[:-1]


def block_of(line: str) -> int:
    """The block a message was made in: the third part of its cdr_id (run tag, block, place)."""
    return int(json.loads(line)["value"]["cdr_id"].split("-")[1], 16)


def by_key(lines: list[str]) -> dict:
    out = defaultdict(list)
    for line in lines:
        m = json.loads(line)
        out[m["topic"], m["key"]].append(line)
    return out


@pytest.mark.parametrize("extra", [
    [],
    ["--faults", "duplicate=0.05,late=0.02,orphan_user=0.02,bad_value=0.02", "--delivery-delay", "5m,30m"],
], ids=["plain", "faults-and-delays"])
def test_three_shards_send_exactly_the_messages_of_one_producer(extra):
    """The same flags and --start-at: the three shards' messages are the one producer's, byte for byte
    (times included), as a multiset; each shard's are those of its blocks (K, K+3, ...) in the one
    producer's order, so every key's messages keep their order within a shard; --max-count 1,234
    (not a multiple of 3, nor of the block of 50) is met exactly."""
    flags = ["--rate", 1000, "--max-count", 1234, "--start-at", PAST, "--seed", 5, *extra]
    one = produce(*flags)
    shards = [produce(*flags, "--shard", f"{k}/3") for k in range(3)]
    assert len({json.loads(line)["value"]["cdr_id"] for line in one}) == 1234  # every block, each record once
    assert Counter(one) == Counter(line for s in shards for line in s)
    assert all(shards) and sum(map(len, shards)) == len(one)
    assert len(one) > 1234 if extra else len(one) == 1234  # resends of --faults come on top of --max-count
    for k, lines in enumerate(shards):
        assert {block_of(line) % 3 for line in lines} == {k}, k
        assert lines == [line for line in one if block_of(line) % 3 == k], f"shard {k}/3 is not its blocks in order"
        mine = by_key([line for line in one if block_of(line) % 3 == k])
        assert by_key(lines) == mine, k


def test_shard_of_one_is_the_whole_stream():
    flags = ["--rate", 500, "--max-count", 333, "--start-at", PAST, "--delivery-delay", "0"]
    whole = produce(*flags)
    assert len(whole) == 333
    assert produce(*flags, "--shard", "0/1") == whole


def test_max_count_smaller_than_a_block_goes_to_the_first_shard():
    """At --rate max a block is 5,000 messages: --max-count 7 is one short block, all of shard 0's."""
    assert block_size(None) == 5000
    counts = [len(produce("--rate", "max", "--max-count", 7, "--shard", f"{k}/3")) for k in range(3)]
    assert counts == [7, 0, 0]


def test_rate_max_shards_send_the_same_records_apart_from_time():
    """Without a pace there is no schedule: each block is made for the moment it is built, so only
    what does not follow the clock is promised: the same cdr_ids, each sent once, and the counts."""
    one = produce("--rate", "max", "--max-count", 12_000)
    shards = [produce("--rate", "max", "--max-count", 12_000, "--shard", f"{k}/3") for k in range(3)]
    assert [len(s) for s in shards] == [5000, 5000, 2000]
    ids = [json.loads(line)["value"]["cdr_id"] for s in shards for line in s]
    assert len(ids) == len(set(ids)) == 12_000
    assert set(ids) == {json.loads(line)["value"]["cdr_id"] for line in one}


def test_a_shard_goes_at_its_share_of_the_rate():
    """--rate 20 shared by 2 shards: shard 0 sends its 20 of --max-count 40 at 10 a second, so its
    last one is due 1.9 s after its first (at the whole rate it would be 0.95 s)."""
    run = call_main("kafka_producer.py", ["--dry-run", "--num-users", 50, "--rate", 20, "--max-count", 40,
                                          "--shard", "0/2", "--delivery-delay", 0])
    assert run.returncode == 0 and run.escaped is None, run.describe()
    assert len(run.stdout.splitlines()) == 20, run.describe()
    assert "shard 0/2: 10 messages/s of them" in run.stderr, run.describe()
    assert 1.85 <= run.seconds < 8, run.describe()


@given(st.integers(0, 100_000), st.integers(1, 5000), st.integers(1, 40))
def test_shares_add_up_to_max_count(max_count, block, n):
    shares = [shard_share(max_count, block, (k, n)) for k in range(n)]
    assert sum(shares) == max_count
    assert all(s >= 0 for s in shares)
    blocks = -(-max_count // block)
    for k, s in enumerate(shares):  # shard k: whole blocks k, k+n, ..., the last one perhaps short
        assert s == sum(min(block, max_count - j * block) for j in range(k, blocks, n))


@pytest.mark.parametrize("value, words", [
    ("3/3", "K must be 0 to 2"), ("1/0", "N must be 1"), ("x", "is not K/N"), ("1", "is not K/N"),
    ("1/3/4", "is not K/N"), ("", "is not K/N"), ("0/10001", "N must be 1"),
])
def test_bad_shard_is_one_line(value, words):
    res = call_main("kafka_producer.py", ["--dry-run", "--max-count", 3, "--shard", value])
    assert_clean_error(res, 2, "--shard", words)


@pytest.mark.parametrize("args, words", [
    (["--shard", "1/2", "--anomalies", "sim_box=1"], "--anomalies cannot be sharded"),
    (["--start-at", "2026-01-01T00:00:00Z", "--rate", "max"], "needs a pace"),
    (["--start-at", "soon"], "not an ISO 8601 time"),
])
def test_refused_combinations_are_one_line(args, words):
    res = call_main("kafka_producer.py", ["--dry-run", "--max-count", 3, "--num-users", 20, *args])
    assert_clean_error(res, 2, words)
