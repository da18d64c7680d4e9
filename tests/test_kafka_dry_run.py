"""--dry-run needs no broker: it writes what it would send, one JSON object a line (topic, key, value)."""

from __future__ import annotations

import json
import time
from collections import Counter

from helpers import iso_ms
from running import call_main, run_script
from telco_cdr.constants import CDR_TOPICS, USERS_TOPIC
from telco_cdr.users import generate_users


def dry_run(*args, script="kafka_producer.py", process=False):
    """A dry run: main() in this process, or (``process``) the script in a process of its own."""
    if script == "kafka_producer.py":
        args = ("--rate", "max", *args)  # not the default pace of one message every 0.5 s
    run = run_script(script, "--dry-run", *args, timeout=60) if process else call_main(script, ["--dry-run", *args])
    assert run.returncode == 0 and run.escaped is None, run.describe()
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
    # processes of their own: each with its own hash seed, as two runs of the script have
    _, a = dry_run("--max-count", 50, "--num-users", 200, "--seed", 7, process=True)
    _, b = dry_run("--max-count", 50, "--num-users", 200, "--seed", 7, process=True)
    _, c = dry_run("--max-count", 50, "--num-users", 200, "--seed", 8, process=True)
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


def test_default_pace_is_one_message_every_half_second():
    """Without --rate or --interval the producer keeps the original tool's pace, also in a dry run;
    --rate max lifts it; both say so on stderr."""
    run = call_main("kafka_producer.py", ["--dry-run", "--max-count", 3, "--num-users", 20, "--delivery-delay", 0])
    assert run.returncode == 0 and run.escaped is None, run.describe()
    assert len(run.stdout.splitlines()) == 3, run.describe()
    assert "at 2 messages/s (the default, one every 0.5 s; --rate N or --rate max for more)" in run.stderr, \
        run.describe()
    fast = call_main("kafka_producer.py", ["--dry-run", "--max-count", 3, "--num-users", 20, "--rate", "max",
                                           "--delivery-delay", 0])
    assert fast.returncode == 0 and fast.escaped is None and len(fast.stdout.splitlines()) == 3, fast.describe()
    assert "as fast as it can (--rate max)" in fast.stderr, fast.describe()
    # with --delivery-delay 0 a CDR's end_time is the moment it was made: due at 0, 0.5 and 1.0 s at the
    # default pace.  The pace is exact over time: no message before it is due, and a late one (a busy
    # machine) does not move the next one's due time.
    times = [iso_ms(json.loads(line)["value"]["end_time"]) for line in run.stdout.splitlines()]
    since = [t - times[0] for t in times]
    assert all(since[i] >= 500 * i - 50 for i in range(3)), since
    assert since[2] <= 1000 + 350, since
    times = [iso_ms(json.loads(line)["value"]["end_time"]) for line in fast.stdout.splitlines()]
    assert times[-1] - times[0] < 400, times


def test_export_sends_as_fast_as_it_can_by_default():
    run, msgs = dry_run("--num-users", 3000, script="export_users_to_kafka.py")
    assert len(msgs) == 3000, run.describe()
    assert "as fast as it can" in run.stderr, run.describe()
    assert run.seconds < 30, run.describe()  # at 2 messages/s it would take 25 minutes


HOSTILE_TOPICS = ['a"b', "back\\slash\\", 'q"\\"q', "tópico-ümlaut-日本", "emoji-🚀", "tab\there", "line\nbreak",
                  "ctl-\x01\x1f\x7f", "\u2028sep\u2029", "{\"topic\":1}", "'single'"]


def test_dry_run_lines_are_json_whatever_the_topic_name():
    """The topic is written as a JSON string (escaped), not pasted: every line json.loads, and gives
    the topic back exactly, for --topic and --topic-prefix."""
    for name in HOSTILE_TOPICS:
        for flag, expect in (("--topic", lambda m, name=name: name),
                             ("--topic-prefix", lambda m, name=name: name + CDR_TOPICS[m["value"]["cdr_type"]])):
            res = call_main("kafka_producer.py", ["--dry-run", "--rate", "max", "--max-count", 4, "--num-users", 20,
                                                  flag, name])
            assert res.escaped is None and res.returncode == 0, res.describe()
            lines = res.stdout.split("\n")[:-1]  # JSON Lines end at \n only (not at U+2028, as splitlines)
            assert len(lines) == 4, res.describe()
            for line in lines:
                m = json.loads(line)
                assert m["topic"] == expect(m), (name, flag, line[:120])


def test_dry_run_topic_of_bytes_that_are_not_utf8():
    """A topic given as bytes that are not UTF-8 (Python holds them as lone surrogates) is written
    with \\u escapes: still one valid JSON line per message, on a strict UTF-8 stdout."""
    import subprocess
    import sys

    from helpers import ROOT

    proc = subprocess.run([sys.executable, "kafka_producer.py", "--dry-run", "--rate", "max", "--max-count", "2",
                           "--num-users", "20", "--topic", b"bad-\xff\xfe"], cwd=ROOT, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    topics = [json.loads(line)["topic"] for line in proc.stdout.decode("utf-8").splitlines()]
    assert topics == ["bad-\udcff\udcfe"] * 2


def test_producer_and_dry_run_share_one_sink_interface():
    """run_stream talks to a streaming.Sink; the Kafka producer and the dry run both are one, and
    what they have in common (the totals) is written once, in Sink."""
    from typing import get_type_hints

    from telco_cdr.kafka import Producer
    from telco_cdr.streaming import DryRunSink, Sink

    methods = ("send_many", "poll", "in_flight", "flush", "totals")
    attributes = set(get_type_hints(Sink))
    assert {"sent", "delivered", "failed", "down_since", "last_delivery_error", "last_error"} <= attributes
    for cls in (Producer, DryRunSink):
        assert Sink in cls.__mro__, cls
        for name in methods:
            assert callable(getattr(cls, name)), (cls, name)
        assert cls.totals is Sink.totals, f"{cls.__name__} has its own totals()"
    sink = DryRunSink(stream=__import__("io").StringIO())
    for name in attributes:
        assert hasattr(sink, name), name
    sink.send_many([("t1", ["a", "b"], [b"1", b"2"]), ("t2", ["c"], [b"3"])])
    assert sink.totals() == (3, 3, 0) and sink.in_flight() == 0 and sink.flush(1) == 0


def test_duration_counts_from_the_first_message_out():
    """A first batch that is slow to build (a cold start on a busy machine) does not eat into
    --duration: the run sends for the whole duration at its pace, as the pace counts from the first
    message out too."""
    import io

    from telco_cdr.kafka import Stats
    from telco_cdr.streaming import DryRunSink, RateLimiter, run_stream

    class NoStop:
        stop = hard = False
        signal_name = None

    def batches(n, first_index):
        if first_index == 0:
            time.sleep(0.6)  # the first chunk's build
        return [("t", ["k"] * n, [b"{}"] * n)]

    sink = DryRunSink(stream=io.StringIO())
    t0 = time.monotonic()
    out = run_stream(sink, batches, RateLimiter(200.0), NoStop(), Stats(0, stream=io.StringIO()), "test",
                     duration=1.0)
    took = time.monotonic() - t0
    assert out.stopped_by == "duration"
    assert 1.55 <= took <= 2.5, f"took {took:.2f} s for a 0.6 s build and --duration 1"
    assert 190 <= out.sent <= 215, f"{out.sent} sent in 1 s at 200/s"
