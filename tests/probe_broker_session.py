"""Not collected by the suite (the name does not start with ``test_``): test_kafka_test_broker.py runs
this file in a pytest session of its own, to see what a session leaves behind.  The test uses the
session's broker as the real tests do (a topic, a message) and writes down which broker that was."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kafka_data import high_watermarks, precreate, unique_prefix


def test_record_the_session_broker(kafka):
    from confluent_kafka import Producer

    topic = unique_prefix() + "probe"
    precreate(kafka.bootstrap, [topic])
    p = Producer({"bootstrap.servers": kafka.bootstrap})
    p.produce(topic, key=b"k", value=b"v")
    assert p.flush(30) == 0
    assert high_watermarks(kafka.bootstrap, [topic]) == {topic: 1}
    pid = int(Path(kafka.state_dir, "broker.pid").read_text())
    Path(os.environ["TELCO_TEST_PROBE_OUT"]).write_text(json.dumps(
        {"state_dir": kafka.state_dir, "pid": pid, "ports": list(kafka.ports), "bootstrap": kafka.bootstrap}))
