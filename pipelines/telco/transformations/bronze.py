"""Bronze: one streaming table per topic, the Kafka messages as they came (key, value, topic,
partition, offset, Kafka timestamp, ingest time), and each message parsed ONCE here with the
contract's Spark schema: ``record`` (the parsed struct) and ``rule`` (null, or the first rule of
the contract it breaks, telco_cdr.spark).  Silver and the quarantine filter these columns; none
parses again."""

import os
import sys

from pyspark import pipelines as dp
from pyspark.sql import functions as F

# The repository's root, for telco_cdr: two folders up from here, or telco.source_root (the bundle's files on
# Databricks, where a definition file may have no __file__).
_ROOT = spark.conf.get("telco.source_root", None) or os.path.abspath(os.path.join(globals().get("__file__", "."), "../../../.."))  # noqa: E501
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from telco_cdr import spark as quality
from telco_cdr.pipeline_settings import KINDS, TOPICS, kafka_options


def _secret_reader():
    try:
        from pyspark.dbutils import DBUtils  # Databricks only
    except ImportError:
        return None
    dbutils = DBUtils(spark)
    return lambda scope, key: dbutils.secrets.get(scope=scope, key=key)


def _conf(key, default=None):
    return spark.conf.get(key, default)


def _bronze(kind: str):
    contract_kind = "user" if kind == "users" else kind
    schema = quality.parse_schema(contract_kind)
    options = kafka_options(_conf, TOPICS[kind], _secret_reader())

    # Delta's file statistics only on the Kafka columns: statistics of every field of record cost time on
    # each write, and bronze is read by offset and rule, not searched
    @dp.table(name=f"bronze_{kind}", comment=f"Kafka topic {TOPICS[kind]} as it came, parsed once (record, rule)",
              table_properties={"delta.dataSkippingNumIndexedCols": "6"})
    def bronze():
        raw = (spark.readStream.format("kafka").options(**options).load()
               .select("key", "value", "topic", "partition", "offset", F.col("timestamp").alias("kafka_timestamp"),
                       F.current_timestamp().alias("ingest_time")))
        # key and value stay the bytes that came (a spoiled message need not be UTF-8)
        parsed = raw.withColumn("record", F.from_json(F.col("value").cast("string"), schema, quality.JSON_OPTIONS))
        return parsed.withColumn("rule", quality.rule_column(F.col("record"), contract_kind))


for _kind in KINDS:
    _bronze(_kind)
