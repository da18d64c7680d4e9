"""Silver: the records that meet their contract, typed (times are TIMESTAMPs), de-duplicated by
``cdr_id`` and joined to a known user; ``silver_users`` is the current record of each user; the
quarantine holds every message that failed a rule, with where it was on Kafka and the rule.

Rules, in order: the contract's (``unparsable``, ``schema:<field>``, ``rule:<field>``, decided in
bronze), then ``duplicate`` (a ``cdr_id`` already seen at an earlier offset: the first is kept),
then ``unknown_user`` (no such ``user_id`` in silver_users).  So a silver table's rows are its
bronze rows minus its quarantined ones."""

import os
import sys

# The repository's root, for telco_cdr: two folders up from here, or telco.source_root (the bundle's files on
# Databricks, where a definition file may have no __file__).
_ROOT = spark.conf.get("telco.source_root", None) or os.path.abspath(os.path.join(globals().get("__file__", "."), "../../../.."))  # noqa: E501
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pyspark import pipelines as dp
from pyspark.sql import functions as F

from telco_cdr.constants import CDR_TYPES
from telco_cdr.spark import DUPLICATE, UNKNOWN_USER, fields


@dp.materialized_view(name="silver_users", comment="The current record of each user_id (the last valid message)")
def silver_users():
    valid = spark.read.table("bronze_users").where(F.col("rule").isNull())
    latest = valid.groupBy(F.col("record.user_id").alias("_uid")).agg(
        F.max_by(F.struct("record", "kafka_timestamp"), F.struct("partition", "offset")).alias("_last"))
    return latest.select(*[F.col(f"_last.record.{f}").alias(f) for f in fields("user")],
                         F.col("_last.kafka_timestamp").alias("updated_at"))


BRONZE_COLUMNS = ("key", "value", "topic", "partition", "offset", "kafka_timestamp", "ingest_time", "record", "rule")


def _checked(t: str):
    """bronze_<t>'s rows that meet the contract, with ``_dup``: true for a later copy of a cdr_id (the
    first by partition and offset is kept).  Duplicates are rare, so only their cdr_ids are grouped
    and broadcast; no row is sorted."""
    b = spark.read.table(f"bronze_{t}")
    valid = b.where(F.col("rule").isNull()).withColumn("cdr_id", F.col("record.cdr_id"))
    seen = (valid.groupBy("cdr_id").agg(F.count(F.lit(1)).alias("_n"), F.min(F.struct("partition", "offset"))
                                        .alias("_first"))
            .where(F.col("_n") > 1).select("cdr_id", "_first"))
    # (Spark Connect's drop() and dropDuplicates() analyse their input when a pipeline registers them,
    # before the tables exist: columns are chosen with select() instead.)
    return (valid.join(F.broadcast(seen), "cdr_id", "left")
            .select(*BRONZE_COLUMNS, "cdr_id", F.coalesce(F.struct("partition", "offset") != F.col("_first"),
                                                            F.lit(False)).alias("_dup")))


def _silver(t: str):
    @dp.materialized_view(name=f"silver_{t}",
                          comment=f"{t} CDRs that meet the contract, de-duplicated by cdr_id, of known users")
    def silver():
        users = spark.read.table("silver_users").select("user_id")
        first = _checked(t).where(~F.col("_dup"))
        return (first.select(*[F.col(f"record.{f}").alias(f) for f in fields(t)],
                             F.col("partition").alias("kafka_partition"), F.col("offset").alias("kafka_offset"))
                .join(F.broadcast(users), "user_id", "left_semi"))


for _t in CDR_TYPES:
    _silver(_t)


@dp.materialized_view(name="quarantine", comment="Every message that failed a rule: where it was on Kafka, "
                                                 "its cdr_id where readable, the rule, and the message itself")
def quarantine():
    users = spark.read.table("silver_users").select("user_id", F.lit(True).alias("_known"))
    parts = []
    cols = ["topic", "partition", "offset", "kafka_timestamp", "key", "value"]
    b = spark.read.table("bronze_users")
    parts.append(b.where(F.col("rule").isNotNull()).select(
        *cols, F.lit(None).cast("string").alias("cdr_id"), F.col("record.user_id").alias("user_id"), "rule"))
    for t in CDR_TYPES:
        b = spark.read.table(f"bronze_{t}")
        parts.append(b.where(F.col("rule").isNotNull()).select(
            *cols, F.col("record.cdr_id").alias("cdr_id"), F.col("record.user_id").alias("user_id"), "rule"))
        # a duplicate or a record of an unknown user is whole: its bytes stay in bronze (at its topic,
        # partition and offset), and reading every value of bronze again to copy a few would cost more
        # one pass over the valid rows of the type decides both rules (a duplicate first, then an unknown user)
        ok = (_checked(t).select(*cols[:4], "cdr_id", F.col("record.user_id").alias("user_id"), "_dup")
              .join(F.broadcast(users), "user_id", "left"))
        rule = F.when(F.col("_dup"), F.lit(DUPLICATE)).when(F.col("_known").isNull(), F.lit(UNKNOWN_USER))
        parts.append(ok.select(*cols[:4], F.lit(None).cast("binary").alias("key"),
                               F.lit(None).cast("binary").alias("value"), "cdr_id", "user_id", rule.alias("rule"))
                     .where(F.col("rule").isNotNull()))
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out
