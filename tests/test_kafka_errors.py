"""Failures end in bounded time with one clear line on stderr, the right exit code, no traceback and
no secret: an unreachable broker, a missing topic, bad flag values, bad properties files."""

from __future__ import annotations

import pytest

from kafka_data import cdr_topics, consume_all, create_args, unique_prefix
from running import Result, assert_clean_error, call_main, run_script

SECRET = "Sup3r-S3cret-4711"


def in_process(capfd, script: str, *args) -> Result:
    """``script``'s main() in this process, for an error caught before any connection is tried: the
    process itself is not what such a test is about (test_unreachable_broker here, and the spot checks
    of test_hostile_flags.py and test_hostile_config.py, run the scripts as processes).  Nothing may
    reach the real stdout or stderr past Python's (where librdkafka would write)."""
    res = call_main(script, args)
    out, err = capfd.readouterr()
    assert out == err == "", f"written to the file descriptors, not to sys.stdout/sys.stderr: {out!r} {err!r}"
    return res


@pytest.mark.parametrize("create", [False, True], ids=["no-create", "create-topics"])
@pytest.mark.parametrize("script", ["kafka_producer.py", "export_users_to_kafka.py"])
def test_unreachable_broker(script, create):
    args = ["-b", "127.0.0.1:1", "--timeout", 3, "--max-count", 10] if script == "kafka_producer.py" else \
        ["-b", "127.0.0.1:1", "--timeout", 3, "--num-users", 10]
    if create:
        args += create_args(unique_prefix())
    run = run_script(script, *args, timeout=60)
    assert run.seconds < 10, f"took {run.seconds:.1f} s:\n{run.describe()}"
    assert_clean_error(run, 1, "127.0.0.1:1")


def test_missing_topic_suggests_create_topics(kafka):
    prefix = unique_prefix()
    run = run_script("kafka_producer.py", "-b", kafka.bootstrap, "--topic-prefix", prefix, "--max-count", 10,
                     "--timeout", 10, timeout=60)
    assert run.seconds < 15, run.describe()
    line = assert_clean_error(run, 1, "--create-topics", "does not exist")
    assert prefix + "telco-" in line, line
    # auto topic creation is off: nothing was made behind our back
    assert consume_all(kafka.bootstrap, cdr_topics(prefix).values(), None, grace=0.3) == []


def test_missing_users_topic_suggests_create_topics(kafka):
    prefix = unique_prefix()
    run = run_script("export_users_to_kafka.py", "-b", kafka.bootstrap, "--topic-prefix", prefix,
                     "--num-users", 10, "--timeout", 10, timeout=60)
    assert run.seconds < 15, run.describe()
    line = assert_clean_error(run, 1, "--create-topics")
    assert prefix + "telco-users" in line, line


BAD_FLAGS = {
    "rate-negative": (["--rate", "-1"], ["--rate"]),
    "rate-not-a-number": (["--rate", "abc"], ["--rate", "abc"]),
    "rate-inf": (["--rate", "inf"], ["--rate"]),
    "max-count-negative": (["--max-count", "-5"], ["--max-count"]),
    "timeout-nan": (["--timeout", "nan"], ["--timeout"]),
    "interval-zero": (["--interval", "0"], ["--interval"]),
    "rate-and-interval": (["--rate", "5", "--interval", "1"], ["--interval"]),
    "sasl-mechanism": (["--sasl-mechanism", "KERBEROS-ISH", "--sasl-username", "u", "--sasl-password", SECRET],
                       ["--sasl-mechanism", "KERBEROS-ISH"]),
    "security-protocol": (["--security-protocol", "bogus"], ["--security-protocol", "bogus"]),
    "username-without-password": (["--sasl-username", "u"], ["password"]),
    "ca-not-a-file": (["--ssl-ca-location", "/nonexistent/ca.pem", "--sasl-username", "u", "--sasl-password", SECRET],
                      ["--ssl-ca-location"]),
}


@pytest.mark.parametrize("case", list(BAD_FLAGS))
def test_bad_flag_values(capfd, case):
    extra, named = BAD_FLAGS[case]
    # -b points nowhere: a bad value must be caught before any connection is tried
    run = in_process(capfd, "kafka_producer.py", "-b", "127.0.0.1:1", "--max-count", 5, "--num-users", 10, *extra)
    assert run.seconds < 10, run.describe()
    assert_clean_error(run, 2, *named, secrets=[SECRET])


@pytest.mark.parametrize("flag,value", [("--rate", "-1"), ("--timeout", "nan"), ("--security-protocol", "bogus")])
def test_bad_flag_values_export_users(capfd, flag, value):
    run = in_process(capfd, "export_users_to_kafka.py", "-b", "127.0.0.1:1", "--num-users", 10, flag, value)
    assert_clean_error(run, 2, flag)


PROPERTIES = {
    # name: (file text, %s standing for the secret, or None for a missing file; what the error names)
    "missing": (None, ["--config-file", "not found"]),
    "line-without-equals": ("bootstrap.servers=127.0.0.1:1\nsasl.username=u\nsasl.password=%s\n"
                            "this line has no separator\n", ["line 4", "'this'"]),  # Java: a space separates
    "secret-alone-on-a-line": ("bootstrap.servers=127.0.0.1:1\n%s\n", ["line 2"]),
    "duplicated-key": ("bootstrap.servers=127.0.0.1:1\nsasl.username=u\nsasl.password=%s\nsasl.password=%s-2\n",
                       ["sasl.password", "twice"]),
    "empty-value": ("bootstrap.servers=127.0.0.1:1\nsasl.username=u\nsasl.password=\n", ["sasl.password"]),
    "unknown-key": ("bootstrap.servers=127.0.0.1:1\nsecurity.protocol=SASL_PLAINTEXT\nsasl.username=u\n"
                    "sasl.password=%s\nfoo.bar=1\n", ["foo.bar"]),
}


@pytest.mark.parametrize("create", [False, True], ids=["no-create", "create-topics"])
@pytest.mark.parametrize("case", list(PROPERTIES))
def test_bad_config_file(capfd, tmp_path, case, create):
    text, named = PROPERTIES[case]
    path = tmp_path / "client.properties"
    if text is not None:
        path.write_text(text.replace("%s", SECRET))
    extra = create_args(unique_prefix()) if create else []
    run = in_process(capfd, "kafka_producer.py", "--config-file", path, "--max-count", 5, "--num-users", 10,
                     "--timeout", 3, *extra)
    assert run.seconds < 10, run.describe()
    assert_clean_error(run, 2, *named, secrets=[SECRET])


def test_no_broker_given(capfd):
    run = in_process(capfd, "kafka_producer.py", "--max-count", 5, "--num-users", 10)
    assert_clean_error(run, 2, "--bootstrap-servers", "--dry-run")
