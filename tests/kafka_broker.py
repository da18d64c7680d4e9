"""Pytest plugin: a real Kafka broker for the streaming tests, and the means to stop and start it.

The ``kafka`` session fixture uses the broker named by KAFKA_BOOTSTRAP_SERVERS if that is set
(plaintext; SASL_SSL only if TELCO_KAFKA_SASL_BOOTSTRAP, TELCO_KAFKA_USER, TELCO_KAFKA_PASSWORD and
TELCO_KAFKA_CA are set too); the tests never stop or restart such a broker.  Otherwise the session
runs its OWN broker through scripts/local-kafka.sh: a state folder in a fresh temporary folder and
free ports picked at start (never local-kafka.sh's defaults, nor the ports and folder the caller's
TELCO_KAFKA_* variables name), stopped and deleted when the session ends.  A broker the user started
with ``scripts/local-kafka.sh start`` is never stopped, reused or filled by the tests.  A broker that
cannot be had FAILS the tests that need it: a missing broker must never count as a pass.

No mock anywhere: the scripts run as subprocesses (running.py) and the broker is read with a real consumer
(kafka_data.py).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCAL_KAFKA = ROOT / "scripts" / "local-kafka.sh"
START_TIMEOUT_S = 240  # a first start fetches the broker's jars with Maven
# What local-kafka.sh uses when no TELCO_KAFKA_* variable says otherwise.
SCRIPT_DEFAULT_DIR = "/tmp/telco-local-kafka"
SCRIPT_DEFAULT_PORTS = (19092, 19093, 19094)
# The variables that pick a local-kafka.sh instance (its folder, ports and credentials): the test
# instance sets every one of them itself and never inherits the caller's.
INSTANCE_VARS = ("TELCO_KAFKA_DIR", "TELCO_KAFKA_PLAIN_PORT", "TELCO_KAFKA_SASL_PORT",
                 "TELCO_KAFKA_CONTROLLER_PORT", "TELCO_KAFKA_USER", "TELCO_KAFKA_PASSWORD")
PORT_VARS = INSTANCE_VARS[1:4]
# Ports other local brokers commonly take (local-kafka.sh's defaults and the 9092 families of Kafka
# images and examples): the test instance keeps off them even when they are free right now.
AVOID_PORTS = frozenset(p for base in (9092, 19092, 29092, 39092, 49092) for p in range(base, base + 3))
TEST_USER, TEST_PASSWORD = "telco", "telco-secret"


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap: str                 # PLAINTEXT host:port
    sasl_bootstrap: str | None     # SASL_SSL host:port
    user: str | None
    password: str | None
    ca: str | None                 # CA certificate (PEM) the SASL_SSL listener's certificate chains to
    properties: str | None         # librdkafka properties file for the SASL_SSL listener (PLAIN)
    sasl_missing: str | None = None  # why SASL tests cannot run, if they cannot
    # The test instance only (None for an external broker): its state folder, ports (plain, SASL_SSL,
    # controller) and the TELCO_KAFKA_* settings that make local-kafka.sh act on it.
    state_dir: str | None = None
    ports: tuple = ()
    instance_env: dict | None = field(default=None, compare=False)

    @property
    def has_sasl(self) -> bool:
        return self.sasl_missing is None

    @property
    def controllable(self) -> bool:
        """True for the session's own instance, which tests may stop and start."""
        return self.instance_env is not None

    def control(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``bash scripts/local-kafka.sh args`` for this instance (never for the user's broker)."""
        assert self.controllable, "an external broker is not the tests' to stop or start"
        return _sh(*args, env=self.instance_env, timeout=timeout)


def instance_environment(state_dir: str, ports: tuple, base: dict | None = None) -> dict[str, str]:
    """The environment for local-kafka.sh acting on the instance in ``state_dir`` on ``ports``:
    the caller's environment (jar cache, Java, heap) without any variable that picks an instance."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in INSTANCE_VARS}
    env.update({"TELCO_KAFKA_DIR": state_dir, "TELCO_KAFKA_PLAIN_PORT": str(ports[0]),
                "TELCO_KAFKA_SASL_PORT": str(ports[1]), "TELCO_KAFKA_CONTROLLER_PORT": str(ports[2]),
                "TELCO_KAFKA_USER": TEST_USER, "TELCO_KAFKA_PASSWORD": TEST_PASSWORD})
    return env


def _sh(*args: str, env: dict, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["bash", str(LOCAL_KAFKA), *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr or b"").decode("utf-8", "replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(e.cmd, -1, out, err + f"\n(timed out after {timeout:g} s)")


def users_instance_settings(environ: dict | None = None) -> tuple[str, set[int]]:
    """The state folder and ports a plain ``scripts/local-kafka.sh start`` in this environment would
    use: the user's own broker, which the tests must leave alone."""
    environ = os.environ if environ is None else environ
    state = os.path.realpath(environ.get("TELCO_KAFKA_DIR") or SCRIPT_DEFAULT_DIR)
    ports = set(SCRIPT_DEFAULT_PORTS)
    for var, default in zip(PORT_VARS, SCRIPT_DEFAULT_PORTS):
        value = environ.get(var, "")
        ports.add(int(value) if value.isdigit() else default)
    return state, ports


def free_ports(n: int = 3, avoid=(), rng=None) -> tuple[int, ...]:
    """``n`` distinct ports on 127.0.0.1 that nothing is bound to now, below the kernel's ephemeral
    range (so no outgoing connection takes one while the broker is down for a restart), and none of
    ``avoid`` or AVOID_PORTS."""
    rng = rng or random.Random()
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    candidates = [p for p in range(20000, max(low, 20100)) if p not in AVOID_PORTS and p not in set(avoid)]
    rng.shuffle(candidates)
    chosen: list[int] = []
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        chosen.append(port)
        if len(chosen) == n:
            return tuple(chosen)
    raise RuntimeError(f"no {n} free ports on 127.0.0.1")


@contextmanager
def own_broker(environ: dict | None = None):
    """Start a broker of our own with local-kafka.sh (its own state folder and ports), yield it as a
    KafkaBroker, and stop it and delete its folder afterwards, however the body ends."""
    environ = dict(os.environ if environ is None else environ)
    user_state, user_ports = users_instance_settings(environ)
    root = tempfile.mkdtemp(prefix="telco-test-kafka-")
    state_dir = os.path.join(root, "state")  # local-kafka.sh puts its lock file beside it, in root
    env = None
    try:
        failures = []
        for _ in range(3):  # another process may take a port between the pick and the start
            ports = free_ports(3, avoid=user_ports)
            env = instance_environment(state_dir, ports, environ)
            start = _sh("start", env=env, timeout=START_TIMEOUT_S)
            if start.returncode == 0:
                break
            failures.append(f"exit {start.returncode}:\n{start.stdout}\n{start.stderr}")
            _sh("stop", env=env, timeout=90)
            shutil.rmtree(state_dir, ignore_errors=True)
            if "already in use" not in start.stderr:
                break
        else:
            start = None
        if start is None or start.returncode != 0:
            pytest.fail("cannot start the tests' own Kafka broker (bash scripts/local-kafka.sh start with "
                        f"TELCO_KAFKA_DIR={state_dir}):\n" + "\n".join(failures), pytrace=False)
        assert os.path.realpath(state_dir) != user_state and not user_ports & set(ports), (state_dir, ports)
        host = "127.0.0.1"
        broker = KafkaBroker(f"{host}:{ports[0]}", f"{host}:{ports[1]}", TEST_USER, TEST_PASSWORD,
                             os.path.join(state_dir, "ca.pem"), os.path.join(state_dir, "client-sasl.properties"),
                             state_dir=state_dir, ports=ports, instance_env=env)
        missing = [p for p in (broker.ca, broker.properties) if not os.path.isfile(p)]
        if missing:
            pytest.fail(f"the tests' Kafka broker runs but {', '.join(missing)} is missing", pytrace=False)
        why = _check_reachable(broker.bootstrap)
        if why:
            pytest.fail(f"the tests' Kafka broker at {broker.bootstrap} started but does not answer: {why}",
                        pytrace=False)
        yield broker
    finally:
        if env is not None:
            stop = _sh("stop", env=env, timeout=90)
            if stop.returncode != 0:
                print(f"local-kafka.sh stop of the tests' broker failed ({stop.returncode}): "
                      f"{stop.stdout}{stop.stderr}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)


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


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    """The broker the streaming tests talk to (see the module docstring)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield _external_broker(tmp_path_factory.mktemp("kafka"))
        return
    with own_broker() as broker:
        yield broker


@pytest.fixture
def kafka_sasl(kafka):
    """The broker, for tests of its SASL_SSL listener; skipped (with the reason) only when an external
    broker was given without SASL details."""
    if not kafka.has_sasl:
        pytest.skip(kafka.sasl_missing)
    return kafka


# ---------------------------------------------------------------- stopping and starting the test instance

RESTART_TIMEOUT_S = 150  # `start` normally takes 5-15 s, ~18 s after a SIGKILL; leave room on a slow box


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
