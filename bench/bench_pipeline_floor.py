#!/usr/bin/env python3
"""The floor under bench_pipeline.py: how fast this machine can do the pipeline's first steps alone
(bronze, then silver), for --count CDRs (default 1,000,000), with no Declarative Pipeline around them.

    python bench/bench_pipeline_floor.py [--count N] [--runs R] [--tmp DIR]

Issue 13 asks for 25,000 CDRs/s from the first message produced to the last gold row.  This bench
asks what the least work of the pipeline costs here: produce the CDRs (kafka_producer.py --rate max, as
bench_pipeline.py does), then, in one plain Structured Streaming session (classic pyspark, local[2],
one query per CDR topic, trigger availableNow, Delta out), four steps each over all of them:

  raw     Kafka to Delta: key, value, topic, partition, offset, timestamp (no parsing);
  parsed  the same plus the value parsed with the contract's Spark schema (from_json);
  bronze  the same plus the contract's rules (telco_cdr.spark.rule_column): what bronze_<type> is;
  silver  bronze, and in the same pass (each micro-batch cached, then written twice) the records
          that meet the contract as typed rows to a second table: the least a silver table costs
          (no de-duplication, no join to the users).

The quarantine, the four gold tables and the pipeline's own planning come after these, so the
pipeline cannot use fewer CPU seconds than "producing + silver" (nor, drained after producing as
bench_pipeline.py does, less wall clock).  It prints each step's CDRs/s and CPU seconds
(the Spark JVM's, from /proc), the median of --runs, and both budgets of the target: wall clock
(count / 25,000 s) and CPU (2 cores for that long).  A broker of its own is started with
scripts/local-kafka.sh (temporary state folder, free ports) and stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "pipelines"))

from bench_pipeline import TARGET_RATE, OwnBroker, _run, proc_stats  # noqa: E402

KINDS = ("voice", "data", "sms", "voip", "ims")
STEPS = ("raw", "parsed", "bronze", "silver")
TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid``'s living descendants, not of ``pid`` itself."""
    children, stats = proc_stats()
    total, todo = 0.0, list(children.get(pid, []))
    while todo:
        p = todo.pop()
        if p in stats:
            total += (int(stats[p][1][11]) + int(stats[p][1][12])) / TICK
        todo.extend(children.get(p, []))
    return total


def _produce(bootstrap: str, users_file: str, prefix: str, count: int) -> tuple[float, float]:
    """kafka_producer.py --rate max: (wall seconds, CPU seconds)."""
    _run(["export_users_to_kafka.py", "-b", bootstrap, "--users-file", users_file, "--topic-prefix", prefix,
          "--create-topics", "--partitions", "2", "--stats-interval", 0])
    before = os.times()
    t0 = time.monotonic()
    _run(["kafka_producer.py", "-b", bootstrap, "--users-file", users_file, "--seed", 7, "--rate", "max",
          "--max-count", count, "--topic-prefix", prefix, "--create-topics", "--partitions", "2",
          "--stats-interval", 0])
    after = os.times()
    return time.monotonic() - t0, (after.children_user - before.children_user) + (after.children_system
                                                                                    - before.children_system)


def _session(jars: list[str]):
    from pyspark.sql import SparkSession

    os.environ.pop("SPARK_REMOTE", None)
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    spark = (SparkSession.builder.master("local[2]").appName("bench_pipeline_floor")
             .config("spark.jars", ",".join(jars))
             .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
             .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
             # the settings run_local.py gives the pipeline's session
             .config("spark.driver.memory", "1536m").config("spark.sql.shuffle.partitions", "2")
             .config("spark.databricks.delta.snapshotPartitions", "2").config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _step(spark, step: str, bootstrap: str, prefix: str, out: Path) -> tuple[float, float, int]:
    """One step over the five CDR topics, one query each, at once: (wall s, JVM CPU s, rows written)."""
    from pyspark.sql import functions as F

    from telco_cdr import spark as quality

    cpu0, t0 = _tree_cpu(os.getpid()), time.monotonic()
    queries = []
    for kind in KINDS:
        df = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", bootstrap)
              .option("subscribe", f"{prefix}telco-{kind}-cdrs").option("startingOffsets", "earliest").load()
              .select("key", "value", "topic", "partition", "offset", "timestamp"))
        if step != "raw":
            df = df.withColumn("record", F.from_json(F.col("value").cast("string"), quality.parse_schema(kind),
                                                     quality.JSON_OPTIONS))
        if step in ("bronze", "silver"):
            df = df.withColumn("rule", quality.rule_column(F.col("record"), kind))
        writer = df.writeStream.option("checkpointLocation", str(out / kind / "_checkpoint"))
        if step == "silver":
            def both(batch, _, kind=kind):
                batch.persist()
                batch.write.format("delta").mode("append").save(str(out / kind))
                (batch.where(F.col("rule").isNull()).select("record.*").drop(quality.CORRUPT)
                 .write.format("delta").mode("append").save(str(out / f"{kind}_silver")))
                batch.unpersist()
            writer = writer.foreachBatch(both)
        else:
            writer = writer.format("delta").option("path", str(out / kind))
        queries.append(writer.trigger(availableNow=True).start())
    for q in queries:
        q.awaitTermination()
    wall, cpu = time.monotonic() - t0, _tree_cpu(os.getpid()) - cpu0
    rows = sum(spark.read.format("delta").load(str(out / kind)).count() for kind in KINDS)
    return wall, cpu, rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench_pipeline_floor.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000, help="CDRs (default: 1,000,000)")
    p.add_argument("--users", type=int, default=10_000, help="users (default: 10,000)")
    p.add_argument("--runs", type=int, default=3, help="runs of each step; medians are reported (default: 3)")
    p.add_argument("--tmp", default=None, help="folder for the users file and the tables (default: a temporary one)")
    args = p.parse_args(argv)

    from run_local import check_python_packages, jars

    check_python_packages()
    work = Path(tempfile.mkdtemp(prefix="bench-floor-", dir=args.tmp))
    broker = None
    try:
        users_file = str(work / "users.json")
        _run(["user_generator.py", "--num-users", args.users, "--seed", 7, "--output", users_file])
        broker = OwnBroker().__enter__()
        prefix = f"f{uuid.uuid4().hex[:6]}."
        produce_wall, produce_cpu = _produce(broker.bootstrap, users_file, prefix, args.count)
        print(f"producing: {args.count:,} CDRs in {produce_wall:.1f} s ({args.count / produce_wall:,.0f} CDRs/s), "
              f"{produce_cpu:.1f} CPU s; load average {os.getloadavg()[0]:.1f}", flush=True)
        spark = _session(jars())
        results: dict[str, list[tuple[float, float]]] = {s: [] for s in STEPS}
        try:
            for r in range(args.runs):
                for step in STEPS:  # interleaved, so a busier machine slows every step alike
                    out = work / f"{step}-{r}"
                    wall, cpu, rows = _step(spark, step, broker.bootstrap, prefix, out)
                    if rows != args.count:
                        raise SystemExit(f"bench_pipeline_floor.py: error: {step} wrote {rows:,} rows, not "
                                         f"{args.count:,}")
                    shutil.rmtree(out, ignore_errors=True)
                    results[step].append((wall, cpu))
                    print(f"run {r + 1}, {step}: {args.count / wall:,.0f} CDRs/s ({wall:.1f} s, {cpu:.1f} CPU s); "
                          f"load average {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            spark.stop()
        budget = args.count / TARGET_RATE
        print(f"\nmedians of {args.runs} (the first run's steps include the JVM's warm-up):")
        for step in STEPS:
            wall = statistics.median(w for w, _ in results[step])
            cpu = statistics.median(c for _, c in results[step])
            print(f"  {step:7s} {args.count / wall:9,.0f} CDRs/s  {wall:6.1f} s  {cpu:6.1f} CPU s")
        wall = statistics.median(w for w, _ in results["silver"])
        cpu = statistics.median(c for _, c in results["silver"])
        floor = args.count / (produce_wall + wall)
        print(f"target {TARGET_RATE:,} CDRs/s: {budget:.1f} s of wall clock, {2 * budget:.1f} CPU s on 2 cores, for "
              f"everything from the first message produced to the last gold row")
        print(f"producing + bronze and silver alone: {produce_wall + wall:.1f} s ({floor:,.0f} CDRs/s), "
              f"{produce_cpu + cpu:.1f} CPU s ({(produce_cpu + cpu) / (2 * budget):.0%} of the CPU budget); "
              f"left for de-duplication, the users' join, the quarantine, gold and planning: "
              f"{budget - produce_wall - wall:.1f} s, {2 * budget - produce_cpu - cpu:.1f} CPU s")
    finally:
        if broker:
            broker.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
