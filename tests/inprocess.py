"""Running a script's main(argv) in-process with strict UTF-8 stdout/stderr (as a real pipe has),
and the other plumbing the hostile-input and secrets tests share."""

from __future__ import annotations

import importlib
import io
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass

import pytest

KAFKA_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD")


@dataclass
class Result:
    script: str
    argv: list
    rc: int | None
    stdout: str
    stderr: str
    escaped: str | None = None  # the traceback of an exception that got out of main()

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in re.split(r"\r\n|\n|\r", self.stderr) if line.strip()]

    def describe(self) -> str:
        return (f"$ {self.script} {' '.join(map(repr, self.argv))}\nexit {self.rc}\n--- escaped:\n{self.escaped}\n"
                f"--- stderr:\n{self.stderr[-3000:]}\n--- stdout:\n{self.stdout[:500]}")


def one_error_line(res: Result) -> str:
    """The run failed as a user error should: exit 2, exactly one ``prog: error: ...`` line on
    stderr, no traceback, no exception out of main().  Returns the line."""
    info = res.describe()
    assert res.escaped is None, f"an exception escaped main():\n{info}"
    assert res.rc == 2, info
    assert "Traceback" not in res.stderr, info
    lines = res.stderr_lines
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{info}"
    assert lines[0].startswith(f"{res.script}: error: "), info
    return lines[0]


def _stream(errors="strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def call_main(script: str, argv) -> Result:
    """``<script>.main(argv)`` with stdout and stderr captured; nothing may escape it."""
    module = importlib.import_module(script[:-3])
    argv = [str(a) for a in argv]
    out, err = _stream(), _stream("backslashreplace")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    rc, escaped = None, None
    try:
        rc = module.main(argv)
    except BaseException:  # noqa: BLE001
        escaped = traceback.format_exc()
    finally:
        sys.stdout, sys.stderr = saved
    return Result(script, argv, rc, out.buffer.getvalue().decode("utf-8", "replace"),
                  err.buffer.getvalue().decode("utf-8", "replace"), escaped)


@pytest.fixture(scope="module")
def no_kafka_env():
    """The scripts read KAFKA_* variables: none of the caller's may leak into these runs."""
    saved = {k: os.environ.pop(k) for k in KAFKA_ENV if k in os.environ}
    yield
    os.environ.update(saved)


def precreate(bootstrap: str, topics) -> None:
    """Create ``topics`` (3 partitions) and wait until the broker's metadata shows them with leaders,
    so that tests about something else do not lean on --create-topics."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = list(topics)
    for fut in admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=1) for t in topics]).values():
        fut.result(timeout=30)
    deadline = time.monotonic() + 30
    while True:
        md = admin.list_topics(timeout=10).topics
        if all(t in md and md[t].error is None and md[t].partitions
               and all(p.leader >= 0 for p in md[t].partitions.values()) for t in topics):
            return
        assert time.monotonic() < deadline, f"topics {topics} not ready after 30 s"
        time.sleep(0.1)
