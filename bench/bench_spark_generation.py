#!/usr/bin/env python3
"""Issue 14's figures for ``cdr_generator.py --spark``, in one run: CDRs/s on local[1] and local[2]
(once Spark is up), the scaling ratio between them, our CDRs/s per core on Spark against the
single-process run of the same flags, and dbldatagen (Databricks Labs' Spark data generator) writing a
comparable table of 20 columns to Parquet on the same masters, side by side.  Each figure comes from the
real script (or dbldatagen) in a process of its own, started afresh, as a user runs it; each line
gives the machine's load average and the CPU time the run's processes took (JVM and Python workers,
sampled from /proc), which on two shared cores matters more than anything here.  Each round also
measures the machine's ceiling for the work: the two halves of the run's chunks (what local[2]'s two
tasks build) written by two plain processes without Spark, one after the other and side by side.  With ``--rounds``
the runs repeat (in turn, so that neighbours in time are compared) and the medians are quoted.
Needs requirements-spark.txt and dbldatagen (pip install dbldatagen==0.4.0.post1: no dependencies of
its own; measured with that version).

    python bench/bench_spark_generation.py                     # 1,000,000 CDRs of 1,000 users, once
    python bench/bench_spark_generation.py --rounds 3          # medians of three rounds
    python bench/bench_spark_generation.py --count 200000 --masters 'local[2]' --no-dbldatagen
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z", "--seed", "42"]
SPARK_LINE = re.compile(r"wrote ([\d,]+) CDRs .*?; ([\d.]+) s \(([\d.]+) s reading the users and starting Spark\), "
                        r"([\d,]+) CDRs/s once started")
ONE_LINE = re.compile(r"wrote ([\d,]+) CDRs .*?; ([\d.]+) s \(([\d.]+) s reading and modelling [\d,]+ users?\), "
                      r"([\d,]+) CDRs/s")
DBL_LINE = re.compile(r"dbldatagen: ([\d,]+) rows .*?([\d,]+) rows/s once started")
TARGET_SCALING, TARGET_PER_CORE = 1.7, 0.60


class TreeCpu:
    """The CPU seconds of a process and its descendants (the JVM, its Python workers), sampled from /proc
    every 0.1 s while it runs (a process that ends between samples loses its last tenth of a second);
    None where there is no /proc."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pid: int):
        self.pid, self.seen, self.stop = pid, {}, threading.Event()
        self.ok = os.path.isdir("/proc/self")
        self.thread = threading.Thread(target=self._run, daemon=True)
        if self.ok:
            self.thread.start()

    def _sample(self) -> None:
        kids, cpu = {}, {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            rest = text[text.rindex(")") + 2:].split()
            kids.setdefault(int(rest[1]), []).append(int(d))
            cpu[int(d)] = (int(rest[11]) + int(rest[12])) / self.TICK
        todo = [self.pid]
        while todo:
            p = todo.pop()
            if p in cpu:
                self.seen[p] = cpu[p]
            todo += kids.get(p, [])

    def _run(self) -> None:
        while not self.stop.is_set():
            self._sample()
            self.stop.wait(0.1)

    def total(self) -> float | None:
        self.stop.set()
        if not self.ok:
            return None
        self.thread.join()
        return sum(self.seen.values())


def summary(cmd: list[str], out: Path, line, what: str):
    """Run ``cmd`` (run), remove its output folder ``out``, and find its summary ``line`` in its stderr:
    (wall seconds, CPU seconds, the match); exit with its stderr's end when there is none."""
    wall, err, cpu = run(cmd)
    shutil.rmtree(out, ignore_errors=True)
    m = line.search(err)
    if not m:
        sys.exit(f"bench_spark_generation.py: no summary line from {what}:\n{err[-2000:]}")
    return wall, cpu, m


def run(cmd: list[str]) -> tuple[float, str, float | None]:
    """Run ``cmd``; its wall time, stderr and the CPU seconds of its process tree."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cpu = TreeCpu(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    used = cpu.total()
    if proc.returncode != 0:
        sys.exit(f"bench_spark_generation.py: {' '.join(cmd[1:4])} ... failed:\n{err[-3000:]}")
    return wall, out + err, used


def load() -> float:
    return os.getloadavg()[0]


def cores(cpu: float | None, wall: float) -> str:
    return f", {cpu:.0f} CPU s = {cpu / wall:.2f} cores" if cpu is not None else ""


# ---------------------------------------------------------------- dbldatagen's side

def dbldatagen_table(spark, rows: int, partitions: int):
    """A CDR-like table of 20 columns by dbldatagen: ids, strings from lists, times, integers, doubles."""
    import dbldatagen as dg

    return (dg.DataGenerator(spark, name="cdrs", rows=rows, partitions=partitions, randomSeed=42,
                             randomSeedMethod="hash_fieldname")
            .withColumn("cdr_id", "string", format="cdr-%012d", baseColumn="id")
            .withColumn("cdr_type", "string", values=["voice", "data", "sms", "voip", "ims"],
                        weights=[40, 30, 15, 10, 5], random=True)
            .withColumn("record_type", "string", values=["MOC", "MTC", "SGSN", "SMS-MO", "SMS-MT"], random=True)
            .withColumn("start_time", "timestamp", begin="2026-11-01 00:00:00", end="2026-11-07 23:59:59",
                        interval="1 second", random=True)
            .withColumn("duration_seconds", "bigint", minValue=0, maxValue=3600, random=True)
            .withColumn("end_time", "timestamp", expr="start_time + make_interval(0, 0, 0, 0, 0, 0, duration_seconds)",
                        baseColumn=["start_time", "duration_seconds"])
            .withColumn("user_id", "string", format="user-%08d", minValue=1, maxValue=1000, random=True)
            .withColumn("msisdn_n", "bigint", minValue=2000000000, maxValue=9999999999, random=True, omit=True)
            .withColumn("msisdn", "string", expr="concat('1', cast(msisdn_n as string))", baseColumn="msisdn_n")
            .withColumn("imsi", "string", format="310260%09d", minValue=0, maxValue=999999999, random=True)
            .withColumn("imei_n", "bigint", minValue=0, maxValue=9999999999999, random=True, omit=True)
            .withColumn("imei", "string", expr="concat('35', lpad(cast(imei_n as string), 13, '0'))",
                        baseColumn="imei_n")
            .withColumn("cell_mcc", "string", values=["310", "234", "262", "208", "404"], random=True)
            .withColumn("cell_mnc", "string", values=["260", "410", "480", "15", "10"], random=True)
            .withColumn("cell_id", "string", format="%07x", minValue=0, maxValue=268435455, random=True)
            .withColumn("rat_type", "string", values=["NR", "EUTRAN", "UTRAN", "GERAN"], random=True)
            .withColumn("tracking_area_code", "bigint", minValue=1, maxValue=65535, random=True)
            .withColumn("ms_time_zone", "string", values=["-05:00", "+00:00", "+01:00", "+05:30"], random=True)
            .withColumn("call_direction", "string", values=["MO", "MT"], random=True)
            .withColumn("release_cause_code", "bigint", values=[16, 17, 18, 19, 21, 31], random=True)
            .withColumn("charge_amount", "double", minValue=0.0, maxValue=25.0, step=0.0001, random=True)
            .withColumn("data_volume_mb", "double", minValue=0.0, maxValue=2048.0, step=0.001, random=True)
            .build())


def dbldatagen_main(master: str, rows: int, out: str) -> int:
    """One dbldatagen run as --spark runs: a session by telco_cdr.spark_generation.session (the same
    settings), tasks as our run would cut the same count, times as TIMESTAMP_MILLIS, Parquet snappy."""
    sys.path.insert(0, str(ROOT))
    from telco_cdr.constants import CHUNK_RECORDS
    from telco_cdr.spark_generation import CHUNKS_PER_TASK, session

    t0 = time.monotonic()
    spark, _ = session(master, "dbldatagen")
    t1 = time.monotonic()
    partitions = max(spark.sparkContext.defaultParallelism, -(-rows // (CHUNK_RECORDS * CHUNKS_PER_TASK)))
    df = dbldatagen_table(spark, rows, partitions)
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MILLIS")
    df.write.mode("error").option("compression", "snappy").parquet(out)
    t2 = time.monotonic()
    written = spark.read.parquet(out).count()
    spark.stop()
    if written != rows or len(df.columns) != 20:
        sys.exit(f"dbldatagen wrote {written:,} rows of {len(df.columns)} columns, not {rows:,} of 20")
    print(f"dbldatagen: {rows:,} rows of 20 columns; {t2 - t0:.1f} s ({t1 - t0:.1f} s starting Spark), "
          f"{rows / (t2 - t1):,.0f} rows/s once started", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- the rounds

def number(text: str) -> float:
    return float(text.replace(",", ""))


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


# ---------------------------------------------------------------- the machine's ceiling, without Spark

def tasks_main(users: str, count: int, lo: int, hi: int, out: str) -> int:
    """One plain process doing what a --spark task does for chunks [lo, hi) (spark_generation's
    _write_parts, the same job and files), timed from its first chunk: prints its seconds."""
    sys.path.insert(0, str(ROOT))
    from telco_cdr import spark_generation as sg

    class Given:  # a broadcast variable's stand-in
        value = sg.make_spec(users, count, 42, WINDOW[1], WINDOW[3])

    sg._job_of(Given.value)  # the users modelled first, as the session's warm-up does
    for t in sg.CDR_TYPES:
        os.makedirs(os.path.join(out, t), exist_ok=True)
    t0 = time.perf_counter()
    list(sg._write_parts(Given, out, None, range(lo, hi)))
    print(f"{time.perf_counter() - t0:.3f}")
    return 0


def ceiling(users: Path, count: int, tmp: Path) -> float:
    """What two cores give this work without Spark: the two halves of a run's chunks (what local[2]'s two
    tasks build) one after the other in one process each, then side by side; the sum of the first two
    times over the longer of the second two."""
    sys.path.insert(0, str(ROOT))
    from telco_cdr.spark_generation import n_chunks

    n = n_chunks(count)
    halves = [(0, n // 2), (n // 2, n)]

    def cmd(k: int, lo: int, hi: int) -> list[str]:
        return [sys.executable, __file__, "--tasks-run", str(users), str(count), str(lo), str(hi), str(tmp / f"t{k}")]

    alone = [float(subprocess.run(cmd(k, lo, hi), capture_output=True, text=True, check=True).stdout)
             for k, (lo, hi) in enumerate(halves)]
    procs = [subprocess.Popen(cmd(k, lo, hi), stdout=subprocess.PIPE, text=True) for k, (lo, hi) in enumerate(halves)]
    beside = [float(p.communicate()[0]) for p in procs]
    for k in range(2):
        shutil.rmtree(tmp / f"t{k}", ignore_errors=True)
    return sum(alone) / max(beside)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--dbldatagen-run":  # a run of its own (as the script's)
        return dbldatagen_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    if len(sys.argv) == 7 and sys.argv[1] == "--tasks-run":  # the ceiling's processes
        return tasks_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1_000_000,
                   help="CDRs (and dbldatagen rows) per run (default: 1,000,000)")
    p.add_argument("--num-users", type=int, default=1000, help="users of the users file (default: 1000)")
    p.add_argument("--masters", default="local[1],local[2]", help="Spark masters, a run each a round; the first two "
                   "give the scaling ratio (default: local[1],local[2])")
    p.add_argument("--rounds", type=int, default=1, help="rounds of every run; medians quoted (default: 1)")
    p.add_argument("--no-dbldatagen", action="store_true", help="leave dbldatagen out")
    args = p.parse_args()
    masters = args.masters.split(",")
    slots = {m: int(m[6:-1]) if re.fullmatch(r"local\[\d+\]", m) else None for m in masters}
    if not args.no_dbldatagen:
        try:
            import dbldatagen  # noqa: F401
        except ImportError:
            sys.exit("bench_spark_generation.py: needs dbldatagen (pip install dbldatagen), or give --no-dbldatagen")
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    one, ours, dbl, ceilings = [], {m: [] for m in masters}, {m: [] for m in masters}, []
    try:
        users = tmp / "users.json"
        run([sys.executable, str(ROOT / "user_generator.py"), "--num-users", str(args.num_users), "--output",
             str(users)])
        common = ["--users-file", str(users), "--count", str(args.count), *WINDOW, "--format", "parquet"]
        print(f"{args.count:,} CDRs of {args.num_users:,} users a run, {args.rounds} round(s), {os.cpu_count()} cores")
        for r in range(args.rounds):
            print(f"round {r + 1}:")
            wall, err, cpu = run([sys.executable, str(ROOT / "cdr_generator.py"), *common, "--output-dir",
                                  str(tmp / "one")])
            shutil.rmtree(tmp / "one")
            m = ONE_LINE.search(err)
            if not m:
                sys.exit(f"bench_spark_generation.py: no summary line from the single-process run:\n{err[-2000:]}")
            # the run's own rate without its reading of the users, as --spark's "once started"
            rate = args.count / max(args.count / number(m.group(4)) - float(m.group(3)), 1e-9)
            one.append(rate)
            print(f"  one process (no Spark, 1 core): {rate:,.0f} CDRs/s after reading the users "
                  f"({wall:.1f} s in all{cores(cpu, wall)}; load average {load():.1f})")
            for master in masters:
                out = tmp / f"ours-{len(ours[master])}"
                wall, cpu, m = summary([sys.executable, str(ROOT / "cdr_generator.py"), "--spark", master, *common,
                                        "--output-dir", str(out)], out, SPARK_LINE, f"--spark {master}")
                ours[master].append(number(m.group(4)))
                print(f"  --spark {master}: {m.group(4)} CDRs/s once started ({wall:.1f} s in all, "
                      f"{m.group(3)} s reading the users and starting Spark{cores(cpu, wall)}; load average "
                      f"{load():.1f})")
                if args.no_dbldatagen:
                    continue
                out = tmp / f"dbl-{len(dbl[master])}"
                wall, cpu, m = summary([sys.executable, __file__, "--dbldatagen-run", master, str(args.count),
                                        str(out)], out, DBL_LINE, f"dbldatagen on {master}")
                dbl[master].append(number(m.group(2)))
                print(f"  dbldatagen {master}: {m.group(2)} rows/s once started ({wall:.1f} s in all{cores(cpu, wall)};"
                      f" load average {load():.1f})")
            ceilings.append(ceiling(users, args.count, tmp))
            print(f"  without Spark, the two tasks' chunks in two plain processes side by side: {ceilings[-1]:.2f}x "
                  f"one after the other (load average {load():.1f})")
        report(args, masters, slots, one, ours, dbl, ceilings)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def report(args, masters, slots, one, ours, dbl, ceilings) -> None:
    what = "median of the rounds" if args.rounds > 1 else "one round"
    print(f"\nsummary ({what}; load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}):")
    single = median(one)
    print(f"  one process: {single:,.0f} CDRs/s")
    print(f"  {'master':<12}{'ours CDRs/s':>14}{'dbldatagen rows/s':>20}{'ours per core / one process':>30}")
    for master in masters:
        n = slots[master]
        per_core = f"{median(ours[master]) / n / single:.0%}" if n else "-"
        theirs = f"{median(dbl[master]):,.0f}" if dbl[master] else "-"
        print(f"  {master:<12}{median(ours[master]):>14,.0f}{theirs:>20}{per_core:>30}")
    if len(masters) >= 2 and slots[masters[0]] and slots[masters[1]]:
        a, b = masters[:2]
        # the ratio of each round's pair (neighbours in time), then their median
        ratio = median([y / x for x, y in zip(ours[a], ours[b])])
        line = f"  scaling {b} / {a}: ours {ratio:.2f}x (target {TARGET_SCALING}x)"
        if dbl[a] and dbl[b]:
            line += f", dbldatagen {median([y / x for x, y in zip(dbl[a], dbl[b])]):.2f}x"
        print(line + f"; the machine's ceiling for this work (two plain processes): {median(ceilings):.2f}x")
        best = max(median(ours[m]) / slots[m] / single for m in masters if slots[m])
        print(f"  per core: best {best:.0%} of the single process (target {TARGET_PER_CORE:.0%})")


if __name__ == "__main__":
    sys.exit(main())
