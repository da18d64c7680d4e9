"""SASL_SSL against the real broker: credentials from flags, the environment or a properties file;
PLAIN and SCRAM; a wrong password fails fast with one line that never shows it."""

from __future__ import annotations

import uuid

import pytest

from kafka_data import cdr_topics, consume_all, create_args, summary, unique_prefix
from running import assert_clean_error, run_script

COUNT = 100


def sasl_consumer_conf(k, mechanism="PLAIN") -> dict:
    return {"security.protocol": "SASL_SSL", "sasl.mechanisms": mechanism, "sasl.username": k.user,
            "sasl.password": k.password, "ssl.ca.location": k.ca}


def credentials(k, source: str, password: str, tmp_path) -> tuple[list, dict]:
    """Arguments and environment that give ``password`` (and the rest) by ``source``."""
    if source == "flags":
        return ["-b", k.sasl_bootstrap, "--sasl-username", k.user, "--sasl-password", password,
                "--ssl-ca-location", k.ca], {}
    if source == "env":
        return ["--ssl-ca-location", k.ca], {"KAFKA_BOOTSTRAP_SERVERS": k.sasl_bootstrap,
                                             "KAFKA_SASL_USERNAME": k.user, "KAFKA_SASL_PASSWORD": password}
    if source == "file":
        path = tmp_path / "client.properties"
        path.write_text(f"# like Confluent Cloud's client.properties\nbootstrap.servers={k.sasl_bootstrap}\n"
                        f"security.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\nsasl.username={k.user}\n"
                        f"sasl.password={password}\nssl.ca.location={k.ca}\n")
        return ["--config-file", path], {}
    raise ValueError(source)


def check_delivered(k, run, prefix, count=COUNT, topics=None, mechanism="PLAIN"):
    info = run.describe()
    assert run.returncode == 0, info
    assert "Traceback" not in run.stderr, info
    assert f"connected to {k.sasl_bootstrap} (SASL_SSL)" in run.stderr, info
    assert k.password not in run.stdout and k.password not in run.stderr, f"the password leaked:\n{info}"
    s = summary(run.stderr)
    assert (s["delivered"], s["failed"], s["unconfirmed"]) == (count, 0, 0), info
    msgs = consume_all(k.sasl_bootstrap, topics or cdr_topics(prefix).values(), count, timeout=60,
                       conf=sasl_consumer_conf(k, mechanism))
    assert len(msgs) == count, f"the broker holds {len(msgs)} messages, not {count}"
    assert all(key == v["user_id"] for _, key, v, *_ in msgs)


@pytest.mark.parametrize("source", ["flags", "env", "file"])
def test_right_credentials_deliver(kafka_sasl, tmp_path, source):
    k = kafka_sasl
    prefix = unique_prefix()
    args, env = credentials(k, source, k.password, tmp_path)
    run = run_script("kafka_producer.py", *args, *create_args(prefix), "--max-count", COUNT, "--rate", "max", "--num-users", 100,
                     "--stats-interval", 0, env=env)
    check_delivered(k, run, prefix)


def test_properties_file_of_the_local_broker(kafka_sasl):
    """The client-sasl.properties that scripts/local-kafka.sh writes (or the fixture's equivalent)."""
    k = kafka_sasl
    prefix = unique_prefix()
    run = run_script("kafka_producer.py", "--config-file", k.properties, *create_args(prefix), "--max-count", COUNT,
                     "--rate", "max", "--num-users", 100, "--stats-interval", 0)
    check_delivered(k, run, prefix)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram(kafka_sasl, tmp_path, mechanism):
    k = kafka_sasl
    prefix = unique_prefix()
    args, _ = credentials(k, "flags", k.password, tmp_path)
    run = run_script("kafka_producer.py", *args, "--sasl-mechanism", mechanism, *create_args(prefix),
                     "--max-count", COUNT, "--rate", "max", "--num-users", 100, "--stats-interval", 0)
    check_delivered(k, run, prefix, mechanism=mechanism)


def test_java_style_properties(kafka_sasl, tmp_path):
    """A Java client.properties: sasl.jaas.config and sasl.mechanism, plus keys librdkafka has no use for."""
    k = kafka_sasl
    path = tmp_path / "java.properties"
    path.write_text(
        f"bootstrap.servers={k.sasl_bootstrap}\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-256\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f"username='{k.user}' password='{k.password}';\n"
        f"ssl.ca.location={k.ca}\nclient.dns.lookup=use_all_dns_ips\nschema.registry.url=https://sr.invalid\n")
    prefix = unique_prefix()
    run = run_script("kafka_producer.py", "--config-file", path, *create_args(prefix), "--max-count", COUNT,
                     "--rate", "max", "--num-users", 100, "--stats-interval", 0)
    check_delivered(k, run, prefix, mechanism="SCRAM-SHA-256")


def test_export_users_over_sasl(kafka_sasl):
    k = kafka_sasl
    prefix = unique_prefix()
    run = run_script("export_users_to_kafka.py", "--config-file", k.properties, *create_args(prefix),
                     "--num-users", 50, "--stats-interval", 0)
    check_delivered(k, run, prefix, count=50, topics=[prefix + "telco-users"])


@pytest.mark.parametrize("create", [True, False], ids=["create-topics", "existing-topics"])
@pytest.mark.parametrize("source", ["flags", "env", "file"])
def test_wrong_password_fails_fast_and_quietly(kafka_sasl, tmp_path, source, create):
    k = kafka_sasl
    wrong = f"Wr0ng-{uuid.uuid4().hex[:12]}"
    prefix = unique_prefix()
    args, env = credentials(k, source, wrong, tmp_path)
    topic_args = create_args(prefix) if create else ["--topic-prefix", prefix]
    run = run_script("kafka_producer.py", *args, *topic_args, "--max-count", COUNT, "--rate", "max", "--num-users", 100,
                     "--timeout", 10, env=env, timeout=60)
    assert run.seconds < 20, f"took {run.seconds:.1f} s to fail:\n{run.describe()}"
    assert_clean_error(run, 1, "authentication failed", secrets=[wrong])
    # nothing reached the broker
    assert consume_all(k.bootstrap, cdr_topics(prefix).values(), None, grace=0.5) == []


def test_wrong_scram_password(kafka_sasl, tmp_path):
    k = kafka_sasl
    wrong = f"Wr0ng-{uuid.uuid4().hex[:12]}"
    args, _ = credentials(k, "flags", wrong, tmp_path)
    run = run_script("kafka_producer.py", *args, "--sasl-mechanism", "SCRAM-SHA-512", *create_args(unique_prefix()),
                     "--max-count", COUNT, "--timeout", 10, timeout=60)
    assert run.seconds < 20, run.describe()
    assert_clean_error(run, 1, "authentication failed", secrets=[wrong])


def test_wrong_password_export_users(kafka_sasl, tmp_path):
    k = kafka_sasl
    wrong = f"Wr0ng-{uuid.uuid4().hex[:12]}"
    args, env = credentials(k, "env", wrong, tmp_path)
    run = run_script("export_users_to_kafka.py", *args, *create_args(unique_prefix()), "--num-users", 10,
                     "--timeout", 10, env=env, timeout=60)
    assert run.seconds < 20, run.describe()
    assert_clean_error(run, 1, "authentication failed", secrets=[wrong])
