"""The pipeline's settings (telco_cdr/pipeline_settings.py) without Spark: Spark's Kafka options from
the configuration, the configuration from the producers' client settings, and the local spec and the
Databricks bundle naming the same pipeline files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from telco_cdr.kafka import settings_from
from telco_cdr.pipeline_settings import TOPICS, configuration_from, kafka_options

ROOT = Path(__file__).resolve().parents[1]


def test_plaintext_options():
    conf = {"telco.kafka.bootstrap_servers": "h:1", "telco.topic_prefix": "dev."}
    opts = kafka_options(conf.get, TOPICS["voice"])
    assert opts["kafka.bootstrap.servers"] == "h:1"
    assert opts["subscribe"] == "dev.telco-voice-cdrs"
    assert opts["startingOffsets"] == "earliest"
    assert opts["kafka.security.protocol"] == "PLAINTEXT"
    assert not any("sasl" in k for k in opts)


def test_sasl_ssl_from_the_producers_flags_environment_and_file(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    props = tmp_path / "client.properties"
    props.write_text("bootstrap.servers=pkc.example:9092\nsasl.username=KEY\n")
    settings = settings_from(config_file=str(props), ssl_ca_location=str(ca),
                             environ={"KAFKA_SASL_PASSWORD": 'se"cret'})
    conf = configuration_from(settings.conf)
    assert conf["telco.kafka.security_protocol"] == "SASL_SSL"
    opts = kafka_options(conf.get, TOPICS["users"])
    assert opts["kafka.bootstrap.servers"] == "pkc.example:9092"
    assert opts["kafka.sasl.mechanism"] == "PLAIN"
    assert opts["kafka.sasl.jaas.config"] == ('org.apache.kafka.common.security.plain.PlainLoginModule required '
                                              'username="KEY" password="se\\"cret";')
    assert opts["kafka.ssl.truststore.type"] == "PEM" and opts["kafka.ssl.truststore.location"] == str(ca)


def test_databricks_secret_scope_and_shaded_module():
    conf = {"telco.kafka.bootstrap_servers": "h:1", "telco.kafka.security_protocol": "SASL_SSL",
            "telco.kafka.secret_scope": "telco-kafka",
            "telco.kafka.login_module": "kafkashaded.org.apache.kafka.common.security.plain.PlainLoginModule"}
    secrets = {("telco-kafka", "kafka-api-key"): "K", ("telco-kafka", "kafka-api-secret"): "S"}
    opts = kafka_options(conf.get, TOPICS["ims"], lambda scope, key: secrets[(scope, key)])
    assert opts["kafka.sasl.jaas.config"].startswith("kafkashaded.org.apache.kafka.common.security.plain")
    assert 'username="K" password="S"' in opts["kafka.sasl.jaas.config"]


def test_missing_settings_are_named():
    with pytest.raises(ValueError, match="bootstrap_servers"):
        kafka_options({}.get, "t")
    with pytest.raises(ValueError, match="sasl_username"):
        kafka_options({"telco.kafka.bootstrap_servers": "h:1", "telco.kafka.security_protocol": "SASL_SSL"}.get, "t")


def test_the_spec_and_the_bundle_deploy_the_same_files():
    spec = yaml.safe_load((ROOT / "pipelines" / "telco" / "spark-pipeline.yml").read_text())
    bundle = yaml.safe_load((ROOT / "databricks.yml").read_text())
    [local] = [lib["glob"]["include"] for lib in spec["libraries"]]
    [pipeline] = bundle["resources"]["pipelines"].values()
    [remote] = [lib["glob"]["include"] for lib in pipeline["libraries"]]
    assert remote == "${workspace.file_path}/pipelines/telco/" + local
    assert set(bundle["sync"]["include"]) >= {"telco_cdr/**", "pipelines/telco/**"}
    keys = set(pipeline["configuration"])
    assert {"telco.kafka.bootstrap_servers", "telco.kafka.secret_scope", "telco.kafka.login_module"} <= keys
    assert (ROOT / "pipelines" / "telco" / "transformations").is_dir()
