"""Faults of the broker: it goes away in the middle of a run and comes back, it stays away past
--delivery-timeout, it is away before the run starts.

The tests' own broker instance (kafka_broker.py) is stopped and started here, so these tests must
run serially (as pytest does here) and each one restores the broker in a ``finally`` and waits
until ``local-kafka.sh status`` says it is healthy again before the next test runs.  What the
broker holds afterwards is read back with a real consumer and checked for exactly-once: no
duplicated cdr_id, the count the summary gives, and per-key order intact in every partition.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from kafka_broker import RESTART_TIMEOUT_S, broker_down, require_local_broker
from kafka_data import cdr_topics, check_exactly_once, create_args, high_watermarks, read_back, summary, unique_prefix
from running import LiveStderr, assert_clean_error, kill_if_running, run_script, start_script

PROG = "kafka_producer.py"


# ---------------------------------------------------------------- the tests

def test_broker_restart_mid_run_loses_nothing(kafka):
    """At 2000/s the broker stops for ~25-35 s (stop, 15 s down, start) and comes back: the
    producer stays up, shows the outage, resumes by itself and clears its backlog; after SIGINT it
    exits 0 and the topics hold every delivered CDR exactly once, in per-key order."""
    require_local_broker(kafka)
    prefix = unique_prefix()
    proc = start_script(PROG, "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200, "--rate", 2000,
                        "--delivery-timeout", 120, "--stats-interval", 1, "--timeout", 30)
    live = LiveStderr(proc)
    try:
        live.wait_for(lambda: [s for s in live.stats() if s.delivered >= 2000], 45, "2,000 delivered CDRs")
        with broker_down(kafka) as outage:
            # The client sees the outage: a stats line says so, and nothing is lost or failed meanwhile.
            live.wait_for(lambda: [s for s in live.stats(outage.stopped_at) if s.down_s is not None], 20,
                          "'BROKER DOWN' in a stats line after the broker stopped")
            time.sleep(max(0.0, outage.stopped_at + 15 - time.monotonic()))
            assert proc.poll() is None, f"the producer died while the broker was down\n{live.describe()}"
            during = live.stats(outage.stopped_at)
            assert max(s.down_s or 0 for s in during) >= 10, f"the outage count did not grow\n{live.describe()}"
            assert all(s.failed == 0 for s in during), f"messages failed during a 15 s outage\n{live.describe()}"
            backlog = during[-1]
            assert backlog.in_flight >= 10_000, f"no backlog piled up while the broker was down\n{live.describe()}"
        down_for = outage.restarted_at - outage.stopped_at
        assert 15 <= down_for <= 20 + RESTART_TIMEOUT_S, down_for
        sent_at_restart = live.stats()[-1].sent
        # Resumes by itself: the backlog is delivered and delivery keeps pace afterwards.
        resumed = live.wait_for(
            lambda: [s for s in live.stats(outage.restarted_at) if s.delivered >= sent_at_restart and s.down_s is None],
            60, f"the backlog ({sent_at_restart:,} sent) delivered after the restart")
        assert proc.poll() is None, live.describe()
        time.sleep(2)
        assert live.stats()[-1].delivered > resumed[0].delivered, f"delivery stalled after the backlog\n{live.describe()}"
        proc.send_signal(signal.SIGINT)
        rc = live.finish(60)
    finally:
        kill_if_running(proc)
    info = f"broker down {down_for:.1f} s (restart took {outage.restart_s:.1f} s)\n{live.describe(6000)}"
    assert rc == 0, info
    assert "Traceback" not in live.text, info
    s = summary(live.text)
    assert s["failed"] == 0 and s["unconfirmed"] == 0 and s["sent"] == s["delivered"], info
    assert s["delivered"] >= backlog.sent, info
    msgs = read_back(kafka, prefix, s["delivered"])
    check_exactly_once(msgs, s["delivered"], info=info, gapless="all")
    per_topic = Counter(m[0] for m in msgs)
    assert per_topic == Counter({t: d for t, (_, d, _) in s["topics"].items() if d}), info
    assert sum(high_watermarks(kafka.bootstrap, cdr_topics(prefix).values()).values()) == s["delivered"], info
    print(f"broker down {down_for:.1f} s (restart {outage.restart_s:.1f} s); backlog {backlog.in_flight:,} in flight; "
          f"max 'BROKER DOWN for' {max(x.down_s or 0 for x in during)} s; delivered {s['delivered']:,}, on the "
          f"broker {len(msgs):,}, lost 0, duplicated 0")


_ERROR = re.compile(rf"^{re.escape(PROG)}: error: .+", re.M)


def test_broker_gone_for_good_then_down_at_start(kafka):
    """The broker stops and stays down past --delivery-timeout 8: the producer gives up in bounded
    time with exit 1, a summary and one clear error line, no traceback.  And in the same downtime,
    a run that starts with the broker down ends with exit 1 within ~10 s
    and one line "cannot reach Kafka at HOST:PORT ..." (both producing scripts)."""
    require_local_broker(kafka)
    prefix = unique_prefix()
    delivery_timeout, flush_timeout = 8, 5
    proc = start_script(PROG, "-b", kafka.bootstrap, *create_args(prefix), "--num-users", 200, "--rate", 500,
                        "--delivery-timeout", delivery_timeout, "--timeout", flush_timeout, "--stats-interval", 1)
    live = LiveStderr(proc)
    try:
        live.wait_for(lambda: [s for s in live.stats() if s.delivered >= 500], 45, "500 delivered CDRs")
        with broker_down(kafka) as outage:
            bound = delivery_timeout + flush_timeout + 10
            rc = live.finish(bound + 30)
            took = time.monotonic() - outage.stopped_at
            # A cold start while the broker is still down: both scripts at once, to share the downtime.
            with ThreadPoolExecutor(2) as pool:
                cold = {script: pool.submit(run_script, script, "-b", kafka.bootstrap, "--timeout", 5, *extra,
                                            timeout=60)
                        for script, extra in (("kafka_producer.py", ["--max-count", 10]),
                                              ("export_users_to_kafka.py", ["--num-users", 10]))}
                cold = {k: f.result() for k, f in cold.items()}
    finally:
        kill_if_running(proc)
    info = f"exit {rc} {took:.1f} s after the broker stopped\n{live.describe(6000)}"
    # the run that lost its broker
    assert rc == 1, info
    assert took < bound, f"not bounded by --delivery-timeout + --timeout + 10 s = {bound} s: {info}"
    assert "Traceback" not in live.text, info
    s = summary(live.text)
    assert s["failed"] + s["unconfirmed"] > 0, info
    assert s["sent"] == s["delivered"] + s["failed"] + s["unconfirmed"], f"the summary does not add up: {s}\n{info}"
    errors = _ERROR.findall(live.text)
    assert len(errors) == 1, f"expected one '{PROG}: error:' line\n{info}"
    assert re.search(r"could not be delivered|not confirmed", errors[0]), info
    assert live.lines[-1][1] == errors[0], f"the error is not the last line\n{info}"
    # Nothing twice and per-key order intact in what did reach the broker.  A message whose ack was
    # lost as the broker shut down counts as failed but may be stored, hence the range.
    # Read until at least what was delivered is in (right after a restart, some partitions take a
    # few seconds to get a leader, longer than a quiet spell that would end a read of unknown size).
    msgs = read_back(kafka, prefix, s["delivered"], timeout=60)
    check_exactly_once(msgs, s["delivered"], s["delivered"] + s["failed"] + s["unconfirmed"], info=info)
    print(f"exit {rc} {took:.1f} s after the stop; summary {s}; on the broker {len(msgs):,}; error: {errors[0]}")
    # the cold starts
    for script, run in cold.items():
        assert run.seconds < 12, f"{script} took {run.seconds:.1f} s with the broker down:\n{run.describe()}"
        line = assert_clean_error(run, 1, f"cannot reach Kafka at {kafka.bootstrap}")
        print(f"{script}: exit 1 after {run.seconds:.1f} s: {line}")
