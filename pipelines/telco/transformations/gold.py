"""Gold: the silver tables joined with silver_users for the analyses of the mission: usage by
plan type, activity across CDR types for the same user, per-user aggregates across services, and
behaviour over time (hourly series per plan type and per cell); voice calls carried by IMS with
their S-CSCF records (they share an ICID)."""

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
from telco_cdr.spark import fields


def _silver(t):
    return spark.read.table(f"silver_{t}")


def _usage(t):
    """One row per CDR: user_id, cdr_type, start and end time, seconds and bytes."""
    df = _silver(t)
    seconds = F.col("duration_seconds") if "duration_seconds" in fields(t) else F.lit(0)
    data_bytes = F.col("uplink_bytes") + F.col("downlink_bytes") if t == "data" else F.lit(0)
    return df.select("user_id", F.lit(t).alias("cdr_type"), "start_time", "end_time", "cell_id",
                     seconds.cast("bigint").alias("seconds"), data_bytes.cast("bigint").alias("bytes"))


def _all_usage():
    out = _usage(CDR_TYPES[0])
    for t in CDR_TYPES[1:]:
        out = out.unionByName(_usage(t))
    return out


@dp.materialized_view(name="gold_customer_360", comment="One row per user: plan, and usage across every service")
def gold_customer_360():
    u = _all_usage()
    per_user = u.groupBy("user_id").agg(
        F.sum(F.when(F.col("cdr_type") == "voice", 1).otherwise(0)).alias("voice_calls"),
        F.sum(F.when(F.col("cdr_type") == "voice", F.col("seconds")).otherwise(0)).alias("voice_seconds"),
        F.sum(F.when(F.col("cdr_type") == "sms", 1).otherwise(0)).alias("sms_count"),
        F.sum("bytes").alias("data_bytes"),
        F.sum(F.when(F.col("cdr_type") == "voip", 1).otherwise(0)).alias("voip_calls"),
        F.sum(F.when(F.col("cdr_type") == "ims", 1).otherwise(0)).alias("ims_sessions"),
        F.min("start_time").alias("first_event_time"),
        F.max("end_time").alias("last_event_time"))
    users = spark.read.table("silver_users").select("user_id", "plan_id", "plan_type", "segment")
    counts = ["voice_calls", "voice_seconds", "sms_count", "data_bytes", "voip_calls", "ims_sessions"]
    return (users.join(per_user, "user_id", "left")
            .select("user_id", "plan_id", "plan_type", "segment",
                    *[F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c) for c in counts],
                    "first_event_time", "last_event_time"))


@dp.materialized_view(name="gold_usage_by_plan_hourly",
                      comment="Per plan type, hour (UTC, of start_time) and CDR type: records, seconds, bytes")
def gold_usage_by_plan_hourly():
    users = spark.read.table("silver_users").select("user_id", "plan_type")
    u = _all_usage().join(F.broadcast(users), "user_id")
    return (u.groupBy("plan_type", F.date_trunc("hour", "start_time").alias("hour"), "cdr_type")
            .agg(F.count(F.lit(1)).alias("records"), F.sum("seconds").alias("seconds"), F.sum("bytes").alias("bytes")))


@dp.materialized_view(name="gold_cell_hourly",
                      comment="Per cell and hour (UTC, of start_time): voice calls, dropped or failed calls, "
                              "data bytes")
def gold_cell_hourly():
    voice = _silver("voice").select(
        "cell_id", "start_time", F.lit(1).alias("calls"),
        F.col("call_result").isin("dropped", "failed").cast("int").alias("dropped_or_failed"),
        F.lit(0).cast("bigint").alias("data_bytes"))
    data = _silver("data").select(
        "cell_id", "start_time", F.lit(0).alias("calls"), F.lit(0).alias("dropped_or_failed"),
        (F.col("uplink_bytes") + F.col("downlink_bytes")).alias("data_bytes"))
    both = voice.unionByName(data)
    return (both.groupBy("cell_id", F.date_trunc("hour", "start_time").alias("hour"))
            .agg(F.sum("calls").cast("bigint").alias("calls"),
                 F.sum("dropped_or_failed").cast("bigint").alias("dropped_or_failed_calls"),
                 F.sum("data_bytes").cast("bigint").alias("data_bytes")))


@dp.materialized_view(name="gold_calls_with_ims",
                      comment="Each voice record of an IMS-carried call (icid set) with the S-CSCF records of its ICID")
def gold_calls_with_ims():
    ims = (_silver("ims")
           .groupBy("icid")
           .agg(F.sort_array(F.collect_list(F.struct("start_time", "cdr_id", "sip_method", "role_of_node",
                                                     "ims_service", "sip_status_code", "duration_seconds",
                                                     "node_address"))).alias("ims_records")))
    voice = _silver("voice").where(F.col("icid").isNotNull()).select(
        "icid", "cdr_id", "user_id", "call_direction", "voice_technology", "start_time", "end_time",
        "duration_seconds", "call_result")
    return (voice.join(ims, "icid", "left")
            .withColumn("ims_record_count", F.coalesce(F.size("ims_records"), F.lit(0))))
