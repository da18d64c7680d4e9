"""The settings of the downstream pipeline (pipelines/telco/), shared by its definitions and by
pipelines/run_local.py: configuration alone decides whether it runs here or on Databricks.

Every setting is a key of the pipeline's ``configuration`` (the spec's locally, the bundle's on
Databricks), read with ``spark.conf.get``:

| key | meaning |
|---|---|
| ``telco.kafka.bootstrap_servers`` | the brokers (required) |
| ``telco.kafka.security_protocol`` | PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL |
| ``telco.kafka.sasl_mechanism`` | PLAIN (default), SCRAM-SHA-256, SCRAM-SHA-512 |
| ``telco.kafka.sasl_username``, ``telco.kafka.sasl_password`` | the credentials, given directly (local runs) |
| ``telco.kafka.secret_scope``, ``.username_key``, ``.password_key`` | or from a Databricks secret scope |
| ``telco.kafka.login_module`` | the JAAS login module class (Databricks: ``kafkashaded.`` before it) |
| ``telco.kafka.ssl_ca_location`` | a CA certificate (PEM) to trust |
| ``telco.kafka.starting_offsets`` | ``earliest`` (default) or ``latest``: where a first run starts |
| ``telco.kafka.max_offsets_per_trigger`` | cap a micro-batch (default: none, one batch per run) |
| ``telco.topic_prefix`` | put before each topic name, as the producers' --topic-prefix |
"""

from __future__ import annotations

from .constants import CDR_TOPICS, CDR_TYPES, USERS_TOPIC

PREFIX = "telco."
LOGIN_MODULES = {"PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
                 "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
                 "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule"}
TOPICS = {"users": USERS_TOPIC, **{t: CDR_TOPICS[t] for t in CDR_TYPES}}
KINDS = ("users",) + CDR_TYPES


def _jaas_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def kafka_options(get, topic: str, secret=None) -> dict[str, str]:
    """The options of Spark's Kafka source for ``topic``, from the pipeline's configuration
    (``get(key, default)``); ``secret(scope, key)`` reads a secret scope (Databricks' dbutils)."""
    bootstrap = get("telco.kafka.bootstrap_servers", None)
    if not bootstrap:
        raise ValueError("the pipeline's configuration has no telco.kafka.bootstrap_servers")
    opts = {"kafka.bootstrap.servers": bootstrap, "subscribe": get("telco.topic_prefix", "") + topic,
            "startingOffsets": get("telco.kafka.starting_offsets", "earliest"),
            "failOnDataLoss": "false"}
    cap = get("telco.kafka.max_offsets_per_trigger", None)
    if cap:
        opts["maxOffsetsPerTrigger"] = cap
    proto = (get("telco.kafka.security_protocol", None) or "PLAINTEXT").upper()
    opts["kafka.security.protocol"] = proto
    if proto.startswith("SASL"):
        user, password = get("telco.kafka.sasl_username", None), get("telco.kafka.sasl_password", None)
        scope = get("telco.kafka.secret_scope", None)
        if scope:
            if secret is None:
                raise ValueError("telco.kafka.secret_scope is set but there is no secret reader (dbutils)")
            user = secret(scope, get("telco.kafka.username_key", "kafka-api-key"))
            password = secret(scope, get("telco.kafka.password_key", "kafka-api-secret"))
        if not user or not password:
            raise ValueError(f"security protocol {proto} needs telco.kafka.sasl_username and "
                             "telco.kafka.sasl_password (or telco.kafka.secret_scope)")
        mech = (get("telco.kafka.sasl_mechanism", None) or "PLAIN").upper()
        module = get("telco.kafka.login_module", None) or LOGIN_MODULES[mech]
        opts["kafka.sasl.mechanism"] = mech
        opts["kafka.sasl.jaas.config"] = (f'{module} required username="{_jaas_quote(user)}" '
                                          f'password="{_jaas_quote(password)}";')
    ca = get("telco.kafka.ssl_ca_location", None)
    if ca:
        opts["kafka.ssl.truststore.type"] = "PEM"
        opts["kafka.ssl.truststore.location"] = ca
    return opts


def configuration_from(librdkafka: dict) -> dict[str, str]:
    """The pipeline's ``telco.kafka.*`` configuration from a librdkafka client configuration, as
    telco_cdr.kafka.settings_from makes it from the producers' flags, environment and --config-file."""
    out = {"telco.kafka.bootstrap_servers": str(librdkafka["bootstrap.servers"]),
           "telco.kafka.security_protocol": str(librdkafka.get("security.protocol", "PLAINTEXT"))}
    for key, conf_key in (("sasl.mechanisms", "sasl_mechanism"), ("sasl.username", "sasl_username"),
                          ("sasl.password", "sasl_password"), ("ssl.ca.location", "ssl_ca_location")):
        if librdkafka.get(key):
            out[f"telco.kafka.{conf_key}"] = str(librdkafka[key])
    return out
