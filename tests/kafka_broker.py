"""Pytest plugin: a real Kafka broker for the streaming tests, and helpers to run the producing
scripts against it and to read back what the broker holds.

The ``kafka`` session fixture uses the broker named by KAFKA_BOOTSTRAP_SERVERS if that is set
(plaintext; SASL_SSL only if TELCO_KAFKA_SASL_BOOTSTRAP, TELCO_KAFKA_USER, TELCO_KAFKA_PASSWORD and
TELCO_KAFKA_CA are set too), else the local broker of scripts/local-kafka.sh, which it starts if
needed and stops at the end only if it started it.  A broker that cannot be had FAILS the tests
that need it: a missing broker must never count as a pass.

No mock anywhere: the scripts run as subprocesses and the broker is read with a real consumer.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from telco_cdr.constants import CDR_TYPES

ROOT = Path(__file__).resolve().parents[1]
LOCAL_KAFKA = ROOT / "scripts" / "local-kafka.sh"
START_TIMEOUT_S = 240  # a first start fetches the broker's jars with Maven
# The variables the scripts read: never inherited by a script under test, only given on purpose.
SCRIPT_ENV_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD")


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap: str                 # PLAINTEXT host:port
    sasl_bootstrap: str | None     # SASL_SSL host:port
    user: str | None
    password: str | None
    ca: str | None                 # CA certificate (PEM) the SASL_SSL listener's certificate chains to
    properties: str | None         # librdkafka properties file for the SASL_SSL listener (PLAIN)
    started_here: bool = False
    sasl_missing: str | None = None  # why SASL tests cannot run, if they cannot

    @property
    def has_sasl(self) -> bool:
        return self.sasl_missing is None


def _sh(*args: str, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["bash", str(LOCAL_KAFKA), *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(e.cmd, -1, out, err + f"\n(timed out after {timeout:g} s)")


def _script_env_values() -> dict[str, str]:
    """The ``export K=V`` lines of ``local-kafka.sh env`` (honours TELCO_KAFKA_* overrides)."""
    proc = _sh("env", timeout=30)
    values = {}
    for line in proc.stdout.splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            k, v = parts[1].split("=", 1)
            values[k] = v
    return values


def _check_reachable(bootstrap: str, timeout: float = 15.0) -> str | None:
    """None if a client gets metadata from ``bootstrap`` within ``timeout``; else why not."""
    from confluent_kafka.admin import AdminClient

    quiet = logging.getLogger("kafka_broker.rdkafka")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": quiet})
    try:
        admin.list_topics(timeout=timeout)
        return None
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return f"{type(e).__name__}: {e}"


def _external_broker(tmp_dir: Path) -> KafkaBroker:
    plain = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    why = _check_reachable(plain)
    if why:
        pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={plain} is set but that broker does not answer: {why}", pytrace=False)
    sasl = {k: os.environ.get(k) for k in ("TELCO_KAFKA_SASL_BOOTSTRAP", "TELCO_KAFKA_USER",
                                           "TELCO_KAFKA_PASSWORD", "TELCO_KAFKA_CA")}
    unset = [k for k, v in sasl.items() if not v]
    if unset:
        return KafkaBroker(plain, None, None, None, None, None,
                           sasl_missing=f"external broker KAFKA_BOOTSTRAP_SERVERS={plain} without SASL_SSL "
                                        f"details: set {', '.join(unset)} to run the SASL tests")
    props = tmp_dir / "client-sasl.properties"
    props.write_text(f"bootstrap.servers={sasl['TELCO_KAFKA_SASL_BOOTSTRAP']}\nsecurity.protocol=SASL_SSL\n"
                     f"sasl.mechanisms=PLAIN\nsasl.username={sasl['TELCO_KAFKA_USER']}\n"
                     f"sasl.password={sasl['TELCO_KAFKA_PASSWORD']}\nssl.ca.location={sasl['TELCO_KAFKA_CA']}\n")
    return KafkaBroker(plain, sasl["TELCO_KAFKA_SASL_BOOTSTRAP"], sasl["TELCO_KAFKA_USER"],
                       sasl["TELCO_KAFKA_PASSWORD"], sasl["TELCO_KAFKA_CA"], str(props))


def _local_broker() -> KafkaBroker:
    started = False
    status = _sh("status", timeout=60)
    if status.returncode != 0:
        start = _sh("start", timeout=START_TIMEOUT_S)
        started = True
        if start.returncode != 0:
            pytest.fail(f"cannot start the local Kafka broker (bash scripts/local-kafka.sh start, exit "
                        f"{start.returncode}):\n{start.stdout}\n{start.stderr}", pytrace=False)
        status = _sh("status", timeout=60)
        if status.returncode != 0:
            pytest.fail(f"the local Kafka broker started but is not healthy (status exit {status.returncode}):\n"
                        f"{status.stdout}\n{status.stderr}\n--- start said:\n{start.stdout}\n{start.stderr}",
                        pytrace=False)
    env = _script_env_values()
    ca = env.get("TELCO_KAFKA_CA", "/tmp/telco-local-kafka/ca.pem")
    props = str(Path(ca).parent / "client-sasl.properties")
    broker = KafkaBroker(env.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
                         env.get("TELCO_KAFKA_SASL_BOOTSTRAP", "127.0.0.1:19093"),
                         env.get("TELCO_KAFKA_USER", "telco"), env.get("TELCO_KAFKA_PASSWORD", "telco-secret"),
                         ca, props, started_here=started)
    missing = [p for p in (broker.ca, broker.properties) if not os.path.isfile(p)]
    if missing:
        pytest.fail(f"the local Kafka broker runs but {', '.join(missing)} is missing", pytrace=False)
    why = _check_reachable(broker.bootstrap)
    if why:
        pytest.fail(f"local Kafka at {broker.bootstrap} is said to be healthy but does not answer: {why}",
                    pytrace=False)
    return broker


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """The broker the streaming tests talk to (see the module docstring)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield _external_broker(tmp_path_factory.mktemp("kafka"))
        return
    broker = _local_broker()
    try:
        yield broker
    finally:
        if broker.started_here:
            stop = _sh("stop", timeout=90)
            if stop.returncode != 0:
                print(f"local-kafka.sh stop failed ({stop.returncode}): {stop.stdout}{stop.stderr}", file=sys.stderr)


@pytest.fixture
def kafka_sasl(kafka):
    """The broker, for tests of its SASL_SSL listener; skipped (with the reason) only when an external
    broker was given without SASL details."""
    if not kafka.has_sasl:
        pytest.skip(kafka.sasl_missing)
    return kafka


# ---------------------------------------------------------------- running the scripts

def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


def cdr_topics(prefix: str) -> dict[str, str]:
    """Topic name by CDR type."""
    return {t: f"{prefix}telco-{t}-cdrs" for t in CDR_TYPES}


def create_args(prefix: str) -> list[str]:
    return ["--topic-prefix", prefix, "--create-topics", "--partitions", "3", "--replication-factor", "1"]


def script_env(extra: dict | None = None) -> dict[str, str]:
    """This process's environment without the KAFKA_* variables the scripts read, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_ENV_VARS}
    env.update(extra or {})
    return env


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        return (f"$ {' '.join(map(str, self.args))}\nexit {self.returncode} after {self.seconds:.1f} s\n"
                f"--- stderr:\n{self.stderr[-4000:]}\n--- stdout (tail):\n{self.stdout[-1500:]}")


def run_script(script: str, *args, env: dict | None = None, timeout: float = 120) -> Run:
    """``python <script> args`` from the repo root, with a clean environment plus ``env``."""
    cmd = [sys.executable, script, *map(str, args)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout, env=script_env(env))
    return Run(cmd, proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
               time.monotonic() - t0)


def start_script(script: str, *args, env: dict | None = None) -> subprocess.Popen:
    """Start ``python <script> args`` in the background, SIGINT/SIGTERM at their defaults (as from a
    terminal), stdout discarded, stderr captured as text."""
    def defaults():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return subprocess.Popen([sys.executable, script, *map(str, args)], cwd=ROOT, env=script_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=defaults)


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


def assert_clean_error(run: Run, code: int, *must_contain: str, secrets=()) -> str:
    """The run failed with ``code``, stderr is exactly one ``<prog>: error: ...`` line holding every
    ``must_contain`` (case-insensitive), no traceback, and no secret anywhere in the output."""
    info = run.describe()
    assert run.returncode == code, info
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, info
    lines = run.stderr_lines
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{info}"
    prog = Path(str(run.args[1])).name
    assert lines[0].startswith(f"{prog}: error: "), info
    for text in must_contain:
        assert text.lower() in lines[0].lower(), f"{text!r} not in the error line:\n{info}"
    for s in secrets:
        assert s not in run.stdout and s not in run.stderr, f"a secret leaked into the output:\n{info}"
    return lines[0]


# ---------------------------------------------------------------- reading the broker

def consume_all(bootstrap: str, topics, expected: int | None, timeout: float = 30.0, grace: float = 1.5,
                conf: dict | None = None, raw: bool = False) -> list[tuple]:
    """Every message of ``topics`` from the beginning, as (topic, key, value-dict, partition, offset,
    timestamp-ms) tuples.  Reads until ``expected`` messages are in (or ``timeout``), then ``grace``
    seconds more to catch extras and duplicates.  With ``expected`` None, reads until nothing came for
    ``grace`` seconds.  Topics that do not exist hold nothing.  ``raw``: values as the bytes on the
    broker, not parsed (several times faster for hundreds of thousands of messages)."""
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
        c.assign(parts)
        deadline = time.monotonic() + timeout
        done_at = None  # when the expected count was reached
        last_msg = time.monotonic()
        while True:
            now = time.monotonic()
            if expected is not None:
                if done_at is None and len(out) >= expected:
                    done_at = now
                if done_at is not None and now - done_at >= grace:
                    break
                if done_at is None and now >= deadline:
                    break
            elif now - last_msg >= grace or now >= deadline:
                break
            for m in c.consume(num_messages=5000, timeout=0.2):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise AssertionError(f"consumer error: {m.error()}")
                key = m.key().decode("utf-8") if m.key() is not None else None
                out.append((m.topic(), key, m.value() if raw else json.loads(m.value()), m.partition(), m.offset(),
                            m.timestamp()[1]))
                last_msg = time.monotonic()
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
