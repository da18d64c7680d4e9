#!/usr/bin/env python3
"""Benchmark: CDRs/s that one kafka_producer.py process generates AND gets delivered (acks=all,
idempotent) to the local Apache Kafka broker, against the raw ceiling of the same client sending
pre-serialised messages of the same size in the same run; and the producer's memory over time.

    python bench/bench_kafka.py            # 3 runs of 500,000 messages, medians
    python bench/bench_kafka.py --quick    # 1 run of 100,000

It starts the broker with scripts/local-kafka.sh if none runs (and stops it again), or uses
KAFKA_BOOTSTRAP_SERVERS.  The broker shares the machine's cores with the producer, so compare
the ratio, which both sides of the same run share.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

RAW = r"""
import sys, time, json
import confluent_kafka as ck
sys.path.insert(0, sys.argv[1])
from telco_cdr.kafka import PRODUCER_DEFAULTS
bootstrap, prefix, n, sample = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
msgs = [json.loads(line) for line in open(sample)]
msgs = [(prefix + m["topic"], m["key"], json.dumps(m["value"], separators=(",", ":")).encode()) for m in msgs]
conf = dict(PRODUCER_DEFAULTS); conf["bootstrap.servers"] = bootstrap; conf["message.timeout.ms"] = 120000
p = ck.Producer(conf)
done = [0]
def cb(err, msg):
    if err is None: done[0] += 1
m = len(msgs)
t = time.monotonic()
for i in range(n):
    topic, key, value = msgs[i % m]
    while True:
        try:
            p.produce(topic, value, key, on_delivery=cb); break
        except BufferError:
            p.poll(0.05)
    if i % 1000 == 999: p.poll(0)
p.flush(120)
dt = time.monotonic() - t
import resource
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"delivered": done[0], "seconds": dt, "rss_mb": rss_mb}))
"""


def broker(keep: bool):
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"], False
    script = os.path.join(ROOT, "scripts", "local-kafka.sh")
    if subprocess.run(["bash", script, "status"], capture_output=True).returncode == 0:
        return "127.0.0.1:19092", False
    subprocess.run(["bash", script, "start"], check=True, capture_output=True)
    return "127.0.0.1:19092", not keep


def ours(bootstrap: str, prefix: str, n: int) -> dict:
    """One kafka_producer.py run; its wall time from its own summary, its peak RSS sampled."""
    cmd = [sys.executable, os.path.join(ROOT, "kafka_producer.py"), "-b", bootstrap, "--max-count", str(n),
           "--rate", "max", "--topic-prefix", prefix, "--stats-interval", "0", "--num-users", "10000"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    samples = []
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                rss = int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1)) / 1024
            samples.append((time.monotonic(), rss))
        except (OSError, AttributeError):
            pass
        time.sleep(0.2)
    err = proc.stderr.read()
    if proc.returncode != 0:
        raise SystemExit(f"kafka_producer.py failed: {err}")
    m = re.search(r"; ([\d.]+) s, ([\d,]+) delivered/s", err)
    total = re.search(r"total: sent ([\d,]+), delivered ([\d,]+)", err)
    delivered = int(total.group(2).replace(",", ""))
    if delivered != n:
        raise SystemExit(f"kafka_producer.py delivered {delivered}, not {n}")
    rss = [r for _, r in samples] or [0.0]
    half = len(rss) // 2
    return {"rate": float(m.group(2).replace(",", "")), "rss_peak": max(rss),
            "rss_first_half": max(rss[:half] or rss), "rss_second_half": max(rss[half:] or rss)}


def raw(bootstrap: str, prefix: str, n: int, sample: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RAW, ROOT, bootstrap, prefix, str(n), sample],
                         capture_output=True, text=True, check=True)
    import json
    d = json.loads(out.stdout)
    if d["delivered"] != n:
        raise SystemExit(f"raw producer delivered {d['delivered']}, not {n}")
    return {"rate": n / d["seconds"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep-broker", action="store_true", help="leave a broker this script started running")
    args = ap.parse_args()
    if args.quick:
        args.count, args.runs = 100_000, 1
    bootstrap, started = broker(args.keep_broker)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; broker {bootstrap}"
          f"{' (started here)' if started else ''}; {args.count:,} messages x {args.runs} runs")
    try:
        subprocess.run([sys.executable, os.path.join(ROOT, "kafka_producer.py"), "-b", bootstrap, "--create-topics",
                        "--partitions", "3", "--replication-factor", "1", "--topic-prefix", prefix, "--max-count", "1",
                        "--stats-interval", "0"], check=True, capture_output=True, cwd=ROOT)
        with tempfile.TemporaryDirectory() as tmp:
            sample = os.path.join(tmp, "sample.jsonl")
            with open(sample, "w") as fh:
                subprocess.run([sys.executable, os.path.join(ROOT, "kafka_producer.py"), "--dry-run", "--max-count",
                                "20000", "--num-users", "10000"], check=True, stdout=fh, stderr=subprocess.DEVNULL)
            import json
            with open(sample) as fh:
                values = [json.dumps(json.loads(line)["value"], separators=(",", ":")) for line in fh]
            size = sum(map(len, values)) / len(values)
            ours_runs, raw_runs, ratios = [], [], []
            for i in range(args.runs):
                o = ours(bootstrap, prefix, args.count)
                r = raw(bootstrap, prefix, args.count, sample)
                ours_runs.append(o)
                raw_runs.append(r)
                ratios.append(o["rate"] / r["rate"])
                print(f"  run {i + 1}: kafka_producer.py {o['rate']:,.0f} CDRs/s delivered, raw client "
                      f"{r['rate']:,.0f} msg/s, ratio {o['rate'] / r['rate']:.2f}, peak RSS {o['rss_peak']:.0f} MB")
    finally:
        if started:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "local-kafka.sh"), "stop"], capture_output=True)
    med = statistics.median
    rate = med([o["rate"] for o in ours_runs])
    ceiling = med([r["rate"] for r in raw_runs])
    ratio = med(ratios)
    first = med([o["rss_first_half"] for o in ours_runs])
    second = med([o["rss_second_half"] for o in ours_runs])
    print()
    print(f"{'figure':<46}{'median':>14}  target")
    rows = [
        ("kafka_producer.py CDRs/s delivered (acks=all)", f"{rate:,.0f}", ">= 100,000", rate >= 100_000),
        (f"raw client msg/s ({size:.0f}-byte messages)", f"{ceiling:,.0f}", "", None),
        ("ratio ours / raw (per run, median)", f"{ratio:.2f}", ">= 0.50", ratio >= 0.5),
        ("peak RSS, first half of the run (MB)", f"{first:.0f}", "", None),
        ("peak RSS, second half of the run (MB)", f"{second:.0f}", "flat", second <= first * 1.1 + 10),
    ]
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{name:<46}{value:>14}  {target} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
