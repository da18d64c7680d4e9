"""A running producer stopped by SIGINT or SIGTERM flushes, prints its summary and exits 0, and the
broker holds exactly what the summary says was delivered: nothing lost, nothing twice."""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest

from kafka_data import cdr_topics, consume_all, create_args, high_watermarks, summary, unique_prefix
from running import start_script


def stop_and_check(kafka, prefix, proc, sig, after_s: float, min_delivered: int = 1) -> dict:
    time.sleep(after_s)
    assert proc.poll() is None, f"the producer ended by itself (exit {proc.returncode}): {proc.stderr.read()}"
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"still running 60 s after {sig.name}:\n{err}")
    took = time.monotonic() - t0
    info = f"{sig.name} after {after_s:.2f} s: exit {proc.returncode} {took:.1f} s later\n--- stderr:\n{err[-3000:]}"
    assert proc.returncode == 0, info
    assert "Traceback" not in err, info
    assert took < 15, info
    s = summary(err)
    assert s["failed"] == 0 and s["unconfirmed"] == 0, info
    assert s["sent"] == s["delivered"] >= min_delivered, info
    # raw values: a no-limit run leaves half a million messages, too many to parse quickly
    msgs = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), s["delivered"], timeout=90, grace=2.0, raw=True)
    assert len(msgs) == s["delivered"], f"the broker holds {len(msgs)} messages, the summary says " \
                                        f"{s['delivered']} delivered\n{info}"
    distinct = {v for _, _, v, *_ in msgs}  # every CDR has its own cdr_id: a duplicate is the same bytes
    assert len(distinct) == len(msgs), f"{len(msgs) - len(distinct)} duplicated CDRs on the broker\n{info}"
    per_topic = {}
    for t, *_ in msgs:
        per_topic[t] = per_topic.get(t, 0) + 1
    assert per_topic == {t: d for t, (_, d, _) in s["topics"].items() if d}, info
    # and the broker's own offsets agree (idempotent producer, no transactions: one offset a message)
    assert sum(high_watermarks(kafka.bootstrap, cdr_topics(prefix).values()).values()) == s["delivered"], info
    return s


@pytest.mark.parametrize("rate", [2000, None], ids=["rate-2000", "rate-max"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_flushes_and_exits_0(kafka, sig, rate):
    prefix = unique_prefix()
    args = ["-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200, "--stats-interval", 1,
            "--rate", rate or "max"]
    proc = start_script("kafka_producer.py", *args)
    s = stop_and_check(kafka, prefix, proc, sig, 3.0, min_delivered=1000)
    if rate:  # ~2-3 s of sending at 2000/s
        assert s["delivered"] <= 3.5 * rate, s


def test_sigterm_at_random_moments(kafka):
    rng = random.Random()
    moments = [round(rng.uniform(0.5, 3.0), 2) for _ in range(3)]
    for after in moments:
        prefix = unique_prefix()
        proc = start_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200,
                            "--rate", 2000)
        stop_and_check(kafka, prefix, proc, signal.SIGTERM, after, min_delivered=0)


def test_sigterm_during_startup_is_clean(kafka):
    """SIGTERM before the first message (while the script imports and makes its users, ~0.6 s here)
    must end the run like a later one: exit 0 and a summary, not killed by the signal (exit -15).
    test_sigterm_at_random_moments hits the same window when a moment falls below ~0.65 s."""
    prefix = unique_prefix()
    proc = start_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200,
                        "--rate", 2000)
    stop_and_check(kafka, prefix, proc, signal.SIGTERM, 0.25, min_delivered=0)


@pytest.mark.parametrize("sig, again", [(signal.SIGINT, "Ctrl+C again"), (signal.SIGTERM, "a second signal")],
                         ids=["SIGINT", "SIGTERM"])
def test_first_signal_says_it_is_flushing(kafka, sig, again):
    """After the first Ctrl+C the producer says, at once, how many messages it is flushing and that
    a second one quits without waiting; the count is what was in flight, so the summary's sent minus
    what was delivered before the signal is at least it."""
    import re

    prefix = unique_prefix()
    proc = start_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200,
                        "--rate", "max", "--stats-interval", 0)
    try:
        time.sleep(3.0)
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    m = re.search(rf"^kafka_producer\.py: got {sig.name}: flushing ([\d,]+) messages? still in flight \(up to "
                  rf"--timeout 30 s\); {re.escape(again)} quits at once, leaving (it|them) unconfirmed$", err, re.M)
    assert m, err
    flushing = int(m.group(1).replace(",", ""))
    s = summary(err)
    assert 1 <= flushing <= s["sent"] and s["sent"] == s["delivered"], (flushing, s, err)
    assert err.index(m.group(0)) < err.index("total: sent"), err  # said before the flush, not after
