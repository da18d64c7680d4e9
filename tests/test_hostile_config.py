"""Hostile --config-file for kafka_producer.py and export_users_to_kafka.py.

A bad properties file ends the run with exit code 2 and one ``prog: error: ...`` line that names the
offending key (or line), with or without --create-topics (which talks to Kafka through another
client first), and the password written in the file never appears in stdout or stderr.  Odd but
valid files (CRLF, a BOM, comments, ``key: value``) get past the parsing.  A Java-style
client.properties (sasl.jaas.config, sasl.mechanism, client.dns.lookup) and the local broker's own
client-sasl.properties deliver to the real broker's SASL_SSL listener.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafka_data import cdr_topics, consume_all, precreate, summary, unique_prefix
from running import Result, assert_clean_error, call_main, run_many, run_script

SECRET = "S3cr3t-XYZ-987"
NOWHERE = "127.0.0.1:1"
SCRIPTS = ("kafka_producer.py", "export_users_to_kafka.py")
GOOD = f"bootstrap.servers={NOWHERE}\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\nsasl.username=telco\n" \
       f"sasl.password={SECRET}\n"


def run_args(script: str, config, create: bool) -> list:
    args = ["--config-file", config, "--num-users", 20, "--timeout", 0.3, "--stats-interval", 0]
    if script == "kafka_producer.py":
        args += ["--max-count", 5]
    if create:
        args += ["--create-topics", "--topic-prefix", "hostile-config."]
    return args


def assert_no_secret(res: Result, secret: str = SECRET) -> None:
    assert secret not in res.stdout and secret not in res.stderr, f"the password leaked:\n{res.describe()}"
    # nor a recognisable piece of it
    for piece in (secret[:8], secret[-8:]):
        assert piece not in res.stderr, f"part of the password leaked:\n{res.describe()}"


def assert_config_error(res: Result, *named: str) -> str:
    line = assert_clean_error(res, 2, *named, secrets=[SECRET])
    assert res.stdout == "", res.describe()
    assert_no_secret(res)
    return line


# name: (file content: str, bytes, or a marker; texts the error must name)
BAD = {
    "unknown-key": (GOOD + "foo.bar=1\n", ["foo.bar"]),
    "unknown-key-holding-the-secret": (GOOD + f"foo.bar={SECRET}\n", ["foo.bar"]),
    "unknown-key-java-only": (GOOD + "sasl.login.callback.handler.class=x.Y\n", ["sasl.login.callback.handler.class"]),
    "duplicated-key": (GOOD + f"bootstrap.servers={NOWHERE}\n", ["bootstrap.servers", "twice"]),
    "duplicated-password": (GOOD + f"sasl.password={SECRET}-2\n", ["sasl.password", "twice"]),
    "empty-value": (GOOD + "linger.ms=\n", ["linger.ms"]),
    "empty-password": (GOOD.replace(f"sasl.password={SECRET}", "sasl.password=   "), ["sasl.password"]),
    "line-without-equals": (GOOD + "this line has no separator\n", ["line 6"]),
    "secret-alone-on-a-line": (GOOD + f"{SECRET}\n", ["line 6"]),
    "empty-key": (GOOD + f"={SECRET}\n", ["line 6"]),
    "invalid-value-linger.ms": (GOOD + "linger.ms=soon\n", ["linger.ms"]),
    "invalid-value-acks": (GOOD + "acks=most\n", ["acks"]),
    "invalid-value-enable.idempotence": (GOOD + "enable.idempotence=perhaps\n", ["enable.idempotence"]),
    "security.protocol": (GOOD.replace("security.protocol=SASL_SSL", "security.protocol=bogus"), ["security", "bogus"]),
    "sasl.mechanism-java-key": (GOOD.replace("sasl.mechanisms=PLAIN", "sasl.mechanism=MD5"), ["mechanism", "MD5"]),
    "ssl.ca.location-missing": (GOOD + "ssl.ca.location=/nonexistent/ca.pem\n", ["/nonexistent/ca.pem"]),
    "jaas-without-password": (
        f"bootstrap.servers={NOWHERE}\nsasl.mechanism=PLAIN\nsasl.jaas.config=org.apache.kafka.common.security.plain."
        "PlainLoginModule required username='telco';\n", ["password"]),
    "username-without-password": (f"bootstrap.servers={NOWHERE}\nsasl.username=telco\n", ["password"]),
    "no-bootstrap": (GOOD.replace(f"bootstrap.servers={NOWHERE}\n", ""), ["bootstrap.servers"]),
    "only-comments": ("# nothing here\n! nor here\n", ["bootstrap.servers"]),
    "empty-file": ("", ["bootstrap.servers"]),
    "non-utf8": (GOOD.encode() + b"client.id=caf\xe9\n", ["UTF-8", "--config-file"]),
    "non-utf8-in-the-password": (GOOD.replace(SECRET, SECRET + "\udcff").encode("utf-8", "surrogateescape"),
                                 ["UTF-8"]),
    "binary-garbage": (bytes(range(256)) + SECRET.encode(), ["--config-file"]),
    "directory": ("<directory>", ["--config-file", "directory"]),
    "missing": ("<missing>", ["--config-file", "not found"]),
}


def materialize(tmp: Path, content) -> Path:
    if content == "<directory>":
        d = tmp / "client.properties.d"
        d.mkdir(exist_ok=True)
        return d
    if content == "<missing>":
        return tmp / "nope" / "client.properties"
    path = tmp / "client.properties"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


@pytest.mark.timeout(120)
@pytest.mark.parametrize("create", [False, True], ids=["plain", "create-topics"])
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("name", list(BAD))
def test_bad_config_file(tmp_path, name, script, create):
    content, named = BAD[name]
    path = materialize(tmp_path, content)
    assert_config_error(call_main(script, run_args(script, path, create)), *named)


# A Java properties file may separate key and value by whitespace; a password with ':' in it then
# made the key 'sasl.password S3cr3t...' for this parser.  Whatever it makes of the line, the
# password must stay out of the output.
JAVA_SEPARATORS = {
    "whitespace-separator-colon-in-password": f"bootstrap.servers={NOWHERE}\nsasl.username=telco\n"
                                              f"sasl.password {SECRET}:tail\n",
    "whitespace-separator-colon-in-password-no-user": f"bootstrap.servers={NOWHERE}\nsasl.password {SECRET}:tail\n",
    "whitespace-separator": f"bootstrap.servers={NOWHERE}\nsasl.username=telco\nsasl.password {SECRET}\n",
    "tab-separator-colon": f"bootstrap.servers={NOWHERE}\nsasl.username=telco\nsasl.password\t{SECRET}:x\n",
    "tab-separator-colon-no-user": f"bootstrap.servers={NOWHERE}\nsasl.password\t{SECRET}:x\n",
}


@pytest.mark.parametrize("create", [False, True], ids=["plain", "create-topics"])
@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("name", list(JAVA_SEPARATORS))
def test_java_separators_never_show_the_password(tmp_path, name, script, create):
    res = call_main(script, run_args(script, materialize(tmp_path, JAVA_SEPARATORS[name]), create))
    info = res.describe()
    assert res.escaped is None and "Traceback" not in res.stderr, info
    assert res.returncode in (1, 2) and len(res.stderr_lines) == 1, info  # refused (2), or read and the broker is away (1)
    assert_no_secret(res)
    if res.returncode == 2:
        assert re.search(r"line \d|sasl[.-]password", res.stderr_lines[0]), info


# Valid but odd: the file is read, so the run gets as far as the (absent) broker.
ODD_GOOD = {
    "crlf": GOOD.replace("\n", "\r\n"),
    "bom": "\ufeff" + GOOD,
    "bom-crlf": "\ufeff" + GOOD.replace("\n", "\r\n"),
    "comments-and-blank-lines": "# Confluent Cloud\n! old style comment\n\n   \n" + GOOD.replace("\n", "\n\n"),
    "spaces-around-equals": GOOD.replace("=", " = "),
    "colon-separator": GOOD.replace("=", ": "),
    "no-final-newline": GOOD.rstrip("\n"),
    "ignored-java-keys": GOOD + "client.dns.lookup=use_all_dns_ips\nschema.registry.url=https://sr.invalid\n"
                                "basic.auth.credentials.source=USER_INFO\nbasic.auth.user.info=k:v\n",
    "value-with-equals": GOOD.replace(f"sasl.password={SECRET}", f"sasl.password={SECRET}==x=") + "client.id=a=b\n",
}


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("name", list(ODD_GOOD))
def test_odd_but_valid_files_are_read(tmp_path, name, script):
    res = call_main(script, run_args(script, materialize(tmp_path, ODD_GOOD[name]), False))
    info = res.describe()
    assert res.escaped is None, info
    assert res.returncode == 1, f"the file should have been read and the unreachable broker reported:\n{info}"
    assert len(res.stderr_lines) == 1 and f"cannot reach Kafka at {NOWHERE}" in res.stderr, info
    assert_no_secret(res)


def test_subprocess_spot_checks(tmp_path):
    """A few of the cases above, as the real scripts run them."""
    jobs, named = {}, {}
    for i, (name, script, create) in enumerate([
            ("unknown-key", "kafka_producer.py", True), ("unknown-key-holding-the-secret", "export_users_to_kafka.py", False),
            ("duplicated-password", "kafka_producer.py", False), ("non-utf8", "export_users_to_kafka.py", True),
            ("directory", "kafka_producer.py", False), ("missing", "export_users_to_kafka.py", False)]):
        d = tmp_path / f"case{i}"
        d.mkdir()
        content, named[i] = BAD[name]
        jobs[i] = (script, run_args(script, materialize(d, content), create), {"timeout": 60})
    for i, res in run_many(jobs, parallel=3).items():
        assert_config_error(res, *named[i])


# ---------------------------------------------------------------- files that work, against the real broker


def _deliver(kafka, script: str, config: Path, count: int = 20):
    prefix = unique_prefix()
    topics = list(cdr_topics(prefix).values()) if script == "kafka_producer.py" else [prefix + "telco-users"]
    precreate(kafka.bootstrap, topics)
    limit = ["--max-count", count, "--rate", "max", "--num-users", 50] if script == "kafka_producer.py" else \
        ["--num-users", count]
    run = run_script(script, "--config-file", config, "--topic-prefix", prefix, *limit, "--stats-interval", 0,
                     "--timeout", 20, timeout=120)
    info = run.describe()
    assert run.returncode == 0, info
    assert "Traceback" not in run.stderr, info
    assert f"connected to {kafka.sasl_bootstrap} (SASL_SSL)" in run.stderr, info
    s = summary(run.stderr)
    assert (s["delivered"], s["failed"], s["unconfirmed"]) == (count, 0, 0), info
    msgs = consume_all(kafka.bootstrap, topics, count, timeout=30, grace=0.5)
    assert len(msgs) == count, f"the broker holds {len(msgs)} messages, not {count}\n{info}"
    assert kafka.password not in run.stdout + run.stderr, f"the password leaked:\n{info}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_java_style_client_properties_work(kafka_sasl, tmp_path, script):
    k = kafka_sasl
    path = tmp_path / "client.properties"
    path.write_text(
        "# Required connection configs for Kafka producer, consumer, and admin\n"
        f"bootstrap.servers={k.sasl_bootstrap}\n"
        "security.protocol=SASL_SSL\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f"username='{k.user}' password='{k.password}';\n"
        "sasl.mechanism=PLAIN\n"
        "# Required for correctness in Apache Kafka clients prior to 2.6\n"
        "client.dns.lookup=use_all_dns_ips\n"
        f"ssl.ca.location={k.ca}\n")
    _deliver(k, script, path)


@pytest.mark.parametrize("script", SCRIPTS)
def test_local_brokers_client_sasl_properties_work(kafka_sasl, script):
    _deliver(kafka_sasl, script, Path(kafka_sasl.properties))
