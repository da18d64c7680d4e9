"""The tests' own Kafka broker leaves the user's alone: the session runs an instance of its own (a
state folder in a fresh temporary folder, free ports), never local-kafka.sh's default instance nor
the one the caller's TELCO_KAFKA_* variables name, and it stops that instance and deletes its
folder when the session ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from kafka_broker import SCRIPT_DEFAULT_DIR, SCRIPT_DEFAULT_PORTS, free_ports, users_instance_settings
from running import ROOT, SCRIPT_ENV_VARS


def require_own_instance(kafka) -> None:
    if not kafka.controllable:
        pytest.skip("the tests use an external broker (KAFKA_BOOTSTRAP_SERVERS), not an instance of their own")


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (from /proc: its socket inodes in LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def is_listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def broker_alive(pid: int, state_dir: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"{state_dir}/server.properties".encode() in cmdline


def test_the_session_broker_is_an_instance_of_its_own(kafka):
    require_own_instance(kafka)
    user_state, user_ports = users_instance_settings()  # what a plain `local-kafka.sh start` would use
    state = os.path.realpath(kafka.state_dir)
    assert state != user_state and state != os.path.realpath(SCRIPT_DEFAULT_DIR), state
    root = Path(state).parent
    assert root.parent == Path(os.path.realpath(tempfile.gettempdir())) and root.name.startswith("telco-test-kafka-"), \
        f"the state folder {state} is not in a temporary folder of the session's own"
    assert len(set(kafka.ports)) == 3 and not set(kafka.ports) & (user_ports | set(SCRIPT_DEFAULT_PORTS)), \
        (kafka.ports, user_ports)
    # local-kafka.sh is pointed at this instance by every variable that picks one
    env = kafka.instance_env
    assert (env["TELCO_KAFKA_DIR"], env["TELCO_KAFKA_PLAIN_PORT"], env["TELCO_KAFKA_SASL_PORT"],
            env["TELCO_KAFKA_CONTROLLER_PORT"]) == (kafka.state_dir, *map(str, kafka.ports))
    # The broker the tests talk to is the process that runs from this folder and listens on these ports.
    pid = int(Path(state, "broker.pid").read_text())
    assert broker_alive(pid, kafka.state_dir), f"pid {pid} is not the broker of {state}"
    assert set(kafka.ports) <= listening_ports(pid), (kafka.ports, listening_ports(pid))
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": kafka.bootstrap}).list_topics(timeout=15)
    meta = dict(line.split("=", 1) for line in Path(state, "data", "meta.properties").read_text().splitlines()
                if "=" in line and not line.startswith("#"))
    assert md.cluster_id == meta["cluster.id"], "the broker on the bootstrap port is not the one of the state folder"
    assert [(b.host, b.port) for b in md.brokers.values()] == [("127.0.0.1", kafka.ports[0])]


class CountingListener:
    """A TCP listener on 127.0.0.1:``port`` that accepts and counts connections: a stand-in for the
    user's broker, to prove that nothing of a test session connects to it."""

    def __init__(self, port: int):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.accepted = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()


@pytest.mark.kafka
def test_a_session_leaves_no_broker_and_no_folder_and_never_touches_the_users(tmp_path):
    """A whole pytest session (tests/probe_broker_session.py) whose environment names a "user's"
    broker (TELCO_KAFKA_DIR and the three ports, with a listener on each port): its broker is another
    one, nothing connects to the user's ports, the user's folder is untouched, and after the session
    its broker is gone, its ports are free and its folder is deleted."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("with KAFKA_BOOTSTRAP_SERVERS a session starts no broker of its own")
    users_dir = tmp_path / "users-kafka"
    users_dir.mkdir()
    (users_dir / "server.properties").write_text("# the user's own local-kafka.sh instance\n")
    users_ports = free_ports(3)
    listeners = [CountingListener(p) for p in users_ports]
    record = tmp_path / "probe.json"
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_ENV_VARS}
    env.update({"TELCO_KAFKA_DIR": str(users_dir), "TELCO_KAFKA_PLAIN_PORT": str(users_ports[0]),
                "TELCO_KAFKA_SASL_PORT": str(users_ports[1]), "TELCO_KAFKA_CONTROLLER_PORT": str(users_ports[2]),
                "TELCO_TEST_PROBE_OUT": str(record)})
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/probe_broker_session.py"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=420)
    finally:
        for listener in listeners:
            listener.close()
    info = f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}"
    assert proc.returncode == 0 and "1 passed" in proc.stdout, info
    seen = json.loads(record.read_text())
    state = seen["state_dir"]
    # Another broker than the user's ...
    assert os.path.realpath(state) != os.path.realpath(users_dir), info
    assert not set(seen["ports"]) & (set(users_ports) | set(SCRIPT_DEFAULT_PORTS)), (seen, users_ports)
    assert [x.accepted for x in listeners] == [0, 0, 0], f"the session connected to the user's ports\n{info}"
    assert sorted(os.listdir(users_dir)) == ["server.properties"], os.listdir(users_dir)
    assert not Path(f"{users_dir}.lock").exists(), "local-kafka.sh was run on the user's folder"
    # ... and after the session: no process, no listener, no folder.
    assert not broker_alive(seen["pid"], state), f"the session's broker (pid {seen['pid']}) still runs"
    assert not [p for p in seen["ports"] if is_listening(p)], seen["ports"]
    assert not Path(state).exists() and not Path(state).parent.exists(), f"{Path(state).parent} is left behind"


# ---------------------------------------------------------------- the kafka marker

def test_a_test_that_uses_the_broker_is_marked_kafka(kafka, request):
    assert request.node.get_closest_marker("kafka") is not None


def test_a_test_without_the_broker_is_not_marked_kafka(request):
    assert request.node.get_closest_marker("kafka") is None


def collected(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.strip() for line in proc.stdout.splitlines() if "::" in line}


def test_not_kafka_leaves_out_every_test_that_needs_the_broker():
    """Through a module fixture (cdr_run), through kafka_sasl, and directly: all selected by
    ``-m kafka`` (so left out by ``-m "not kafka"``); tests of the same files that need no broker
    are not."""
    files = ["tests/test_kafka_producer.py", "tests/test_hostile_config.py", "tests/test_kafka_errors.py"]
    everything = collected(*files)
    only = collected("-m", "kafka", *files)
    assert only and only < everything
    needs_broker = ["tests/test_kafka_producer.py::test_broker_holds_exactly_max_count",
                    "tests/test_kafka_producer.py::test_users_file_cdrs_match_its_users",
                    "tests/test_hostile_config.py::test_local_brokers_client_sasl_properties_work[kafka_producer.py]",
                    "tests/test_kafka_errors.py::test_missing_topic_suggests_create_topics"]
    no_broker = ["tests/test_hostile_config.py::test_subprocess_spot_checks",
                 "tests/test_kafka_errors.py::test_no_broker_given"]
    assert set(needs_broker) <= only, sorted(set(needs_broker) - only)
    assert set(no_broker) <= everything - only, sorted(set(no_broker) & only)
