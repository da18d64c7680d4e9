"""Issue 4, faults of the broker: it goes away in the middle of a run and comes back, it stays away
past --delivery-timeout, it is away before the run starts.

A real broker (scripts/local-kafka.sh) is stopped and started here, so these tests must run
serially (as pytest does here) and each one restores the broker in a ``finally`` and waits until
``local-kafka.sh status`` says it is healthy again before the next test runs.  What the broker
holds afterwards is read back with a real consumer and checked for exactly-once: no duplicated
cdr_id, the count the summary gives, and per-key order intact in every partition.

The helpers here (broker control, live stderr, exactly-once checks) are shared with
test_fault_signals.py.
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from kafka_broker import (assert_clean_error, cdr_topics, consume_all, create_args,
                          high_watermarks, run_script, start_script, summary, unique_prefix)

PROG = "kafka_producer.py"
RESTART_TIMEOUT_S = 150  # `start` normally takes 5-15 s, ~18 s after a SIGKILL; leave room on a slow box


# ---------------------------------------------------------------- controlling the broker

def wait_healthy(kafka, timeout: float = RESTART_TIMEOUT_S) -> None:
    """Until ``local-kafka.sh status`` of the test instance exits 0, or fail."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = kafka.control("status", timeout=60)
        if last.returncode == 0:
            return
        time.sleep(1)
    pytest.fail(f"the test broker is not healthy {timeout:g} s after a restart: status exit "
                f"{last.returncode if last else '?'}\n{last.stdout if last else ''}{last.stderr if last else ''}")


def restore_broker(kafka) -> float:
    """Start the test instance again (``start`` waits until it answers) and wait for ``status`` 0;
    the seconds it took.  Tries ``start`` twice before giving up."""
    t0 = time.monotonic()
    for _ in range(2):
        if kafka.control("start", timeout=RESTART_TIMEOUT_S).returncode == 0:
            break
    wait_healthy(kafka)
    return time.monotonic() - t0


@dataclass
class Outage:
    stopped_at: float = 0.0  # monotonic time the `stop` command returned
    restarted_at: float | None = None  # ... and the `start` command (broker answering again)
    restart_s: float | None = None


def require_local_broker(kafka) -> None:
    if not kafka.controllable:
        pytest.skip("an external broker (KAFKA_BOOTSTRAP_SERVERS) cannot be stopped and started by the tests")


@contextmanager
def broker_down(kafka):
    """Stop the test instance for the body of the ``with`` (data kept); start it again however the
    body ends, and wait until it is healthy, so the tests after this one find it as they expect."""
    require_local_broker(kafka)
    outage = Outage()
    try:
        stop = kafka.control("stop", timeout=90)
        assert stop.returncode == 0, f"local-kafka.sh stop failed ({stop.returncode}):\n{stop.stdout}{stop.stderr}"
        outage.stopped_at = time.monotonic()
        status = kafka.control("status", timeout=60)
        assert status.returncode != 0, f"the broker still answers after `stop`:\n{status.stdout}"
        yield outage
    finally:
        outage.restart_s = restore_broker(kafka)
        outage.restarted_at = time.monotonic()


# ---------------------------------------------------------------- a running producer's stderr, live

_STATS = re.compile(r"^kafka_producer\.py: (\d+)s sent ([\d,]+) delivered ([\d,]+) failed ([\d,]+) in flight ([\d,]+) "
                    r"rate [\d,]+/s(?:, BROKER DOWN for (\d+) s)?")


def _num(text: str) -> int:
    return int(text.replace(",", ""))


@dataclass
class Stat:
    t: float  # monotonic time the line was read
    sent: int
    delivered: int
    failed: int
    in_flight: int
    down_s: int | None  # "BROKER DOWN for N s", if shown


class LiveStderr:
    """Reads a running script's stderr on a thread, keeping each line with the time it came."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def stats(self, since: float = 0.0) -> list[Stat]:
        out = []
        for t, line in list(self.lines):
            m = _STATS.match(line)
            if m and t >= since:
                out.append(Stat(t, _num(m[2]), _num(m[3]), _num(m[4]), _num(m[5]),
                                int(m[6]) if m[6] is not None else None))
        return out

    def describe(self, tail: int = 4000) -> str:
        return f"--- stderr so far (exit {self.proc.poll()}):\n{self.text[-tail:]}"

    def wait_for(self, cond, timeout: float, what: str, must_live: bool = True):
        """Poll ``cond()`` until it is truthy (its value is returned); fail after ``timeout`` or if the
        process ends first (when ``must_live``)."""
        deadline = time.monotonic() + timeout
        while True:
            value = cond()
            if value:
                return value
            if must_live and self.proc.poll() is not None:
                time.sleep(0.3)  # let the reader take the last lines
                pytest.fail(f"the producer ended (exit {self.proc.returncode}) while waiting for {what}\n"
                            f"{self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:g} s\n{self.describe()}")
            time.sleep(0.1)

    def finish(self, timeout: float) -> int:
        """Wait for the exit (kill and fail after ``timeout``); the exit code."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._thread.join(5)
            pytest.fail(f"the producer was still running {timeout:g} s later; killed\n{self.describe()}")
        self._thread.join(10)
        return rc


def kill_if_running(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- what the broker holds

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


# ---------------------------------------------------------------- the tests

def test_broker_restart_mid_run_loses_nothing(kafka):
    """1a.  At 2000/s the broker stops for ~25-35 s (stop, 15 s down, start) and comes back: the
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
    """1b.  The broker stops and stays down past --delivery-timeout 8: the producer gives up in
    bounded time with exit 1, a summary and one clear error line, no traceback.
    1c.  In the same downtime, a run that starts with the broker down ends with exit 1 within ~10 s
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
            # 1c, while the broker is still down: both scripts at once, to share the downtime.
            with ThreadPoolExecutor(2) as pool:
                cold = {script: pool.submit(run_script, script, "-b", kafka.bootstrap, "--timeout", 5, *extra,
                                            timeout=60)
                        for script, extra in (("kafka_producer.py", ["--max-count", 10]),
                                              ("export_users_to_kafka.py", ["--num-users", 10]))}
                cold = {k: f.result() for k, f in cold.items()}
    finally:
        kill_if_running(proc)
    info = f"exit {rc} {took:.1f} s after the broker stopped\n{live.describe(6000)}"
    # 1b
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
    # 1c
    for script, run in cold.items():
        assert run.seconds < 12, f"{script} took {run.seconds:.1f} s with the broker down:\n{run.describe()}"
        line = assert_clean_error(run, 1, f"cannot reach Kafka at {kafka.bootstrap}")
        print(f"{script}: exit 1 after {run.seconds:.1f} s: {line}")
