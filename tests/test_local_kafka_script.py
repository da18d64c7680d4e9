"""scripts/local-kafka.sh as a command: --help explains every command and setting, and the
``topics`` and ``consume`` commands tell what the tests' own broker holds."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

import pytest

from kafka_broker import LOCAL_KAFKA, instance_environment
from kafka_data import precreate, unique_prefix
from running import ROOT

SCRIPT = LOCAL_KAFKA.read_text()


def sh(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(LOCAL_KAFKA), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def commands_of_the_script() -> list[str]:
    """The commands the script's dispatch (its last ``case``) accepts."""
    dispatch = SCRIPT[SCRIPT.rindex('case "${1:-}" in'):]
    return re.findall(r"^\s{4}([a-z][a-z |-]*)\)", dispatch, re.M)


# ---------------------------------------------------------------- help (no broker)

@pytest.mark.parametrize("flag", ["--help", "help", "-h"])
def test_help_names_every_command_and_every_setting(flag, tmp_path):
    ports = ("23451", "23452", "23453")
    env = instance_environment(str(tmp_path / "state"), ports)
    proc = sh(flag, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    text = proc.stdout
    commands = [c for group in commands_of_the_script() for c in group.split(" | ")]
    assert {"start", "stop", "status", "clean", "env", "topics", "consume", "help"} <= set(commands), commands
    for command in commands:
        assert re.search(rf"^\s+{re.escape(command)}\b", text, re.M) or command in ("--help", "-h"), \
            f"--help does not explain {command!r}"
    assert re.search(r"^\s+consume TOPIC \[N\]", text, re.M)
    # every variable the script reads, and what is in effect
    variables = set(re.findall(r"\$\{(TELCO_KAFKA_[A-Z_]+):", SCRIPT)) | {"JAVA_HOME"}
    assert len(variables) >= 10, variables
    for var in sorted(variables):
        assert re.search(rf"^\s+{var}\s", text, re.M), f"--help does not explain {var}"
    for port in ports:
        assert f"(now {port})" in text, port
    state = os.path.realpath(tmp_path / "state")
    assert f"State folder: {state}" in text and f"{state}/ca.pem" in text and f"{state}/client-sasl.properties" in text
    assert "telco-secret" in text and "Jar cache: " in text and "Exit codes:" in text


def test_an_unknown_command_is_a_usage_error():
    proc = sh("frobnicate")
    assert proc.returncode == 2 and proc.stdout == "", proc
    assert "local-kafka: error: unknown command 'frobnicate'" in proc.stderr and "--help" in proc.stderr


@pytest.mark.parametrize("args", [["topics"], ["consume", "some-topic"]])
def test_topics_and_consume_need_a_running_broker(args):
    """A state folder with no broker in it: exit 3 and one line, before any Java starts."""
    with tempfile.TemporaryDirectory() as d:
        proc = sh(*args, env=instance_environment(os.path.join(d, "state"), ("23454", "23455", "23456")), timeout=30)
    assert proc.returncode == 3, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("local-kafka: error: the broker of") and "start" in lines[0], lines


@pytest.mark.parametrize("n", ["0", "-1", "ten", "1.5"])
def test_consume_refuses_a_bad_count(n):
    proc = sh("consume", "some-topic", n, timeout=30)
    assert proc.returncode == 2 and "N must be a whole number" in proc.stderr, proc


# ---------------------------------------------------------------- topics and consume, on the tests' broker

def require_own_instance(kafka) -> None:
    if not kafka.controllable:
        pytest.skip("local-kafka.sh commands act on the tests' own broker instance, not an external one")


@pytest.fixture(scope="module")
def filled(kafka):
    """A topic of 3 partitions holding 25 keyed messages (and one without a key), and an empty one
    of 2 partitions; their names hold a dot, as prefixed names do."""
    require_own_instance(kafka)
    from confluent_kafka import Producer

    prefix = unique_prefix()
    full, empty = f"{prefix}script-full", f"{prefix}script-empty"
    precreate(kafka.bootstrap, [full])
    precreate(kafka.bootstrap, [empty], partitions=2)
    p = Producer({"bootstrap.servers": kafka.bootstrap})
    sent = {(f"key-{i}", f'{{"n": {i}, "text": "a value with spaces"}}') for i in range(25)}
    for key, value in sorted(sent):
        p.produce(full, key=key, value=value)
    p.produce(full, value="no key")
    assert p.flush(30) == 0
    return {"full": full, "empty": empty, "sent": sent | {("null", "no key")}}


def test_topics_lists_partitions_and_messages(kafka, filled):
    proc = kafka.control("topics")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["TOPIC", "PARTITIONS", "MESSAGES"], lines[:1]
    rows = {f[0]: (int(f[1]), int(f[2])) for f in (line.split() for line in lines[1:])}
    assert rows[filled["full"]] == (3, 26), rows
    assert rows[filled["empty"]] == (2, 0), rows
    assert not [t for t in rows if t.startswith("__")], "internal topics listed"


def consumed(proc) -> list[tuple]:
    out = []
    for line in proc.stdout.splitlines():
        m = re.fullmatch(r"Partition:(\d+)\tOffset:(\d+)\t([^\t]*)\t(.*)", line)
        assert m, f"not a Partition/Offset/key/value line: {line!r}"
        out.append((int(m[1]), int(m[2]), m[3], m[4]))
    return out


def test_consume_prints_the_first_n_messages_with_key_and_value(kafka, filled):
    proc = kafka.control("consume", filled["full"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    msgs = consumed(proc)
    assert len(msgs) == 10, proc.stdout  # the default
    assert {(k, v) for _, _, k, v in msgs} <= filled["sent"]
    assert len({(p, o) for p, o, *_ in msgs}) == 10 and all(0 <= p < 3 for p, *_ in msgs)
    assert f"printed 10 of the 26 messages of {filled['full']}" in proc.stderr, proc.stderr


def test_consume_more_than_the_topic_holds_prints_them_all(kafka, filled):
    proc = kafka.control("consume", filled["full"], "100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    msgs = consumed(proc)
    assert sorted((k, v) for _, _, k, v in msgs) == sorted(filled["sent"])


def test_consume_an_empty_or_missing_topic(kafka, filled):
    proc = kafka.control("consume", filled["empty"])
    assert (proc.returncode, proc.stdout) == (0, ""), proc
    assert f"topic {filled['empty']} is empty" in proc.stderr
    proc = kafka.control("consume", filled["full"] + "-nope")
    assert proc.returncode == 1 and proc.stdout == "", proc
    assert proc.stderr.strip() == (f"local-kafka: error: topic {filled['full']}-nope does not exist (list the topics "
                                   f"with: {LOCAL_KAFKA} topics)"), proc.stderr
