"""Pacing against a real broker: --rate, fractional rates, --interval, --duration, measured by the
timestamps the producer put on the messages the broker holds."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kafka_data import cdr_topics, consume_all, create_args, summary, unique_prefix
from running import run_script


def paced_run(kafka, *args):
    prefix = unique_prefix()
    launched_ms = time.time() * 1000
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200,
                     "--stats-interval", 0, *args, timeout=120)
    assert run.returncode == 0, run.describe()
    s = summary(run.stderr)
    assert s["sent"] == s["delivered"] and s["failed"] == 0 and s["unconfirmed"] == 0, run.describe()
    msgs = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), s["delivered"], timeout=60, grace=1.0)
    assert len(msgs) == s["delivered"], f"broker holds {len(msgs)}, summary says {s['delivered']}\n{run.describe()}"
    ts = np.sort(np.array([m[5] for m in msgs], dtype=np.int64))
    return run, s, ts, launched_ms


def test_rate_500_for_6_seconds(kafka):
    rate, duration = 500, 6
    run, s, ts, _ = paced_run(kafka, "--rate", rate, "--duration", duration)
    info = run.describe()
    span = (ts[-1] - ts[0]) / 1000
    assert duration - 0.25 <= span <= duration + 0.25, f"messages span {span:.2f} s\n{info}"
    # the steady state: 4 s from 1 s after the first message
    steady = int(((ts >= ts[0] + 1000) & (ts < ts[0] + 5000)).sum())
    assert abs(steady - 4 * rate) <= 0.03 * 4 * rate, f"{steady} messages in 4 s at --rate {rate}\n{info}"
    # the whole run, allowing what was sent at once when sending began (test_no_burst_at_start checks that)
    startup = int((ts < ts[0] + 50).sum())
    total = s["delivered"]
    assert 0.97 * rate * duration <= total <= 1.03 * rate * duration + startup, \
        f"{total} delivered in {duration} s at {rate}/s ({startup} in the first 50 ms)\n{info}"


def test_fractional_rate(kafka):
    run, s, ts, launched_ms = paced_run(kafka, "--rate", 0.5, "--max-count", 3)
    info = run.describe()
    assert s["delivered"] == 3, info
    assert 3.5 <= run.seconds <= 7.0, f"took {run.seconds:.1f} s\n{info}"
    assert ts[0] - launched_ms < 3000, f"first message {ts[0] - launched_ms:.0f} ms after launch\n{info}"
    assert 3.5 <= (ts[2] - ts[0]) / 1000 <= 4.3, f"message times {list(ts - ts[0])} ms\n{info}"


def test_interval(kafka):
    run, s, ts, _ = paced_run(kafka, "--interval", 0.25, "--duration", 3)
    info = run.describe()
    assert abs(s["delivered"] - 12) <= 2, info
    gaps = np.diff(ts)
    assert 230 <= np.median(gaps) <= 270, f"gaps {gaps.tolist()} ms\n{info}"


@pytest.mark.parametrize("pace", [("--rate", 500), ("--interval", 0.25)], ids=["rate-500", "interval-0.25"])
def test_no_burst_at_start(kafka, pace):
    """The pace holds from the first message: the time spent connecting and creating topics before
    sending is no credit for a burst.  Message i goes no earlier than i/rate after the first."""
    run, s, ts, _ = paced_run(kafka, *pace, "--duration", 1.5)
    per_s = pace[1] if pace[0] == "--rate" else 1 / pace[1]
    due_ms = np.arange(len(ts)) * 1000 / per_s
    early_ms = due_ms - (ts - ts[0])
    worst = int(np.argmax(early_ms))
    assert early_ms[worst] <= 60, \
        f"message {worst} went {early_ms[worst]:.0f} ms before it was due at {per_s:g}/s " \
        f"({int((ts < ts[0] + 200).sum())} messages in the first 200 ms, at most {int(0.2 * per_s) + 1} due); " \
        f"first times {(ts[:4] - ts[0]).tolist()} ms\n{run.describe()}"


def test_default_pace_and_rate_max(kafka):
    """No --rate, no --interval: one message every 0.5 s (a producer left running costs little), and
    the "connected" and stats lines say so; --rate max sends as fast as the broker takes them."""
    prefix = unique_prefix()
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200,
                     "--stats-interval", 1, "--duration", 3, timeout=120)
    info = run.describe()
    assert run.returncode == 0, info
    s = summary(run.stderr)
    assert 6 <= s["delivered"] <= 7, info  # at 0, 0.5, ..., 3.0 s
    assert "sending at 2 messages/s (the default, one every 0.5 s; --rate N or --rate max for more)" in run.stderr, info
    stats = [line for line in run.stderr_lines if " sent " in line and " in flight " in line]
    assert stats and all(line.endswith("; pace 2/s") for line in stats), info
    msgs = consume_all(kafka.bootstrap, cdr_topics(prefix).values(), s["delivered"], timeout=60, grace=1.0)
    gaps = np.diff(np.sort(np.array([m[5] for m in msgs], dtype=np.int64)))
    assert len(gaps) >= 5 and 450 <= np.median(gaps) <= 550, f"gaps {gaps.tolist()} ms\n{info}"

    run, s, ts, _ = paced_run(kafka, "--rate", "max", "--max-count", 20_000, "--stats-interval", 0.5)
    info = run.describe()
    assert "sending as fast as it can (--rate max)" in run.stderr, info
    assert all(line.endswith("; pace max") for line in run.stderr_lines if " in flight " in line), info
    span = max((ts[-1] - ts[0]) / 1000, 0.001)
    assert s["delivered"] / span > 2000, f"{s['delivered']} in {span:.2f} s: not unlimited\n{info}"
