#!/usr/bin/env python3
"""Bench of the downstream pipeline: CDRs per second from the first message produced to the last gold
row, and the peak memory of the whole process tree (PSS summed; RSS summed beside it), for --count
CDRs (default 1,000,000).

    python bench/bench_pipeline.py [--count N] [--users N] [--runs R] [--bootstrap-servers HOST:PORT]

Each run: users to telco-users (not timed), then, timed, kafka_producer.py --rate max --max-count N and
pipelines/run_local.py over fresh topics (a topic prefix per run) into fresh storage.  The clock runs
from the producer's start (before its first message) to the end of the pipeline's update (its last gold
table committed; the row counts printed after that are not in it).  Without --bootstrap-servers a
broker of its own is started with scripts/local-kafka.sh (a temporary state folder, free ports) and
stopped at the end; its memory is reported apart.  Where the time goes is printed too: producing, Spark
start-up, the definitions and each flow of the update (from the pipeline's events).

Targets (issue 13): at least 25,000 CDRs/s and under 4 GB on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE, TARGET_BYTES = 25_000, 4 * 1024**3


def proc_stats() -> tuple[dict[int, list[int]], dict[int, tuple[str, list[str]]]]:
    """Every process's children by pid, and its name and /proc/PID/stat fields after the name (field 3
    on: ``fields[1]`` is the parent, ``fields[11:13]`` user and system ticks, ``fields[21]`` RSS pages)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[str, list[str]]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                head, tail = fh.read().rsplit(")", 1)
            fields = tail.split()
            ppid = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
        stats[int(d)] = (head.split("(", 1)[-1], fields)
    return children, stats


def _rss_tree(pid: int, skip=(), parts: dict | None = None) -> int:
    """RSS in bytes of ``pid`` and all its descendants, less the trees of the ``skip`` pids among them
    (a pid that is not in the tree takes nothing off: the broker, started by setsid, is not); ``parts``,
    if given, gets each counted process's name and RSS by pid."""
    children, stats = proc_stats()
    rss = {p: int(f[21]) * os.sysconf("SC_PAGE_SIZE") for p, (_, f) in stats.items()}
    names = {p: n for p, (n, _) in stats.items()}
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        if p in skip:
            continue
        total += rss.get(p, 0)
        if parts is not None and rss.get(p):
            parts[p] = (names.get(p, "?"), rss[p])
        todo.extend(children.get(p, []))
    return total


def _pss(pid: int) -> int:
    """Proportional set size of ``pid`` in bytes (0 if it is gone): pages shared with other processes
    count in part, so a tree's sum counts each page once."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


class PeakRss(threading.Thread):
    """Samples the memory of this process's tree (minus ``exclude`` pids' trees) every 0.2 s: the sum of
    RSS and the sum of PSS.  They differ when a process forks: the JVM forks a shell for each ``chmod``
    of a checkpoint or log file (Hadoop without its native library), and until that child execs it
    shares the JVM's pages, which RSS counts twice (a sampled fork put a second 1.1 GB "JVM" in the sum)."""

    def __init__(self, exclude=()):
        super().__init__(daemon=True)
        self.exclude, self.peak, self.peak_pss, self._halt = list(exclude), 0, 0, threading.Event()
        self.at_peak: list[tuple[str, int]] = []  # the largest processes when the RSS peak was seen

    def run(self):
        me = os.getpid()
        while not self._halt.is_set():
            parts: dict = {}
            now = _rss_tree(me, skip=self.exclude, parts=parts)
            if now > self.peak:
                self.peak, self.at_peak = now, sorted(parts.values(), key=lambda nr: -nr[1])[:3]
            self.peak_pss = max(self.peak_pss, sum(_pss(p) for p in parts))
            self._halt.wait(0.2)

    def stop(self):
        self._halt.set()
        self.join()
        return self.peak


def _free_ports(n=3):
    ports = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in ports:
            ports.append(p)
    return ports


class OwnBroker:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="bench-pipeline-kafka-")
        ports = _free_ports()
        self.env = {**os.environ, "TELCO_KAFKA_DIR": os.path.join(self.root, "state"),
                    "TELCO_KAFKA_PLAIN_PORT": str(ports[0]), "TELCO_KAFKA_SASL_PORT": str(ports[1]),
                    "TELCO_KAFKA_CONTROLLER_PORT": str(ports[2])}
        self.bootstrap = f"127.0.0.1:{ports[0]}"

    def __enter__(self):
        res = subprocess.run(["bash", str(ROOT / "scripts" / "local-kafka.sh"), "start"], env=self.env,
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"bench_pipeline.py: error: cannot start a broker: {res.stderr.strip()[-300:]}")
        return self

    def pid(self) -> int | None:
        try:
            return int(Path(self.env["TELCO_KAFKA_DIR"], "broker.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc):
        subprocess.run(["bash", str(ROOT / "scripts" / "local-kafka.sh"), "stop"], env=self.env,
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, *map(str, cmd)], cwd=ROOT, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"bench_pipeline.py: error: {' '.join(map(str, cmd[:1]))} exit {res.returncode}:\n"
                         f"{res.stderr[-2000:]}")
    return res


_EVENT = re.compile(r"^run_local\.py: (\d\d:\d\d:\d\d) Flow spark_catalog\.default\.(\w+) (is RUNNING|has COMPLETED)")


def one_run(bootstrap: str, count: int, users_file: str, work: Path, broker_pid: int | None) -> dict:
    prefix = f"b{uuid.uuid4().hex[:6]}."
    _run(["export_users_to_kafka.py", "-b", bootstrap, "--users-file", users_file, "--topic-prefix", prefix,
          "--create-topics", "--partitions", "2", "--stats-interval", 0])
    storage = work / f"lake-{prefix.rstrip('.')}"
    load_before = os.getloadavg()[0]
    peak = PeakRss(exclude=[broker_pid] if broker_pid else [])
    peak.start()
    t0 = time.monotonic()
    _run(["kafka_producer.py", "-b", bootstrap, "--users-file", users_file, "--seed", 7, "--rate", "max",
          "--max-count", count, "--topic-prefix", prefix, "--create-topics", "--partitions", "2",
          "--stats-interval", 0])
    t_produced = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "pipelines" / "run_local.py"), "-b", bootstrap, "--storage",
                             str(storage), "--topic-prefix", prefix, "-v"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    marks, flows, err_lines = {}, {}, []

    def read_err():
        for line in proc.stderr:
            err_lines.append(line)
            now = time.monotonic()
            if "starting Spark" in line:
                marks["spark_start"] = now
            elif "Spark started" in line:
                marks["spark_up"] = now
            elif "Run is COMPLETED" in line:
                marks["update_done"] = now
            m = _EVENT.match(line)
            if m:
                flows.setdefault(m.group(2), {})["start" if "RUNNING" in m.group(3) else "end"] = now
                marks.setdefault("first_flow", now)
    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join()
    t_exit = time.monotonic()
    rss = peak.stop()
    pss = peak.peak_pss
    if proc.returncode != 0 or "update_done" not in marks:
        raise SystemExit("bench_pipeline.py: error: run_local.py failed:\n" + "".join(err_lines[-30:]))
    counts = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
    silver = sum(int(counts[f"silver_{t}"]) for t in ("voice", "data", "sms", "voip", "ims"))
    wall = marks["update_done"] - t0
    shutil.rmtree(storage, ignore_errors=True)
    return {"wall": wall, "rate": count / wall, "rss": rss, "pss": pss, "produce": t_produced - t0,
            "to_spark": marks["spark_start"] - t_produced, "spark_up": marks["spark_up"] - marks["spark_start"],
            "definitions": marks["first_flow"] - marks["spark_up"],
            "update": marks["update_done"] - marks["first_flow"],
            "after": t_exit - marks["update_done"], "silver": silver,
            # the 1-minute load average before and after: on a shared 2-core machine, a figure means little without it
            "load": (load_before, os.getloadavg()[0]), "at_peak": peak.at_peak,
            "flows": {k: v.get("end", 0) - v.get("start", 0) for k, v in flows.items()}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="bench_pipeline.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000, help="CDRs per run (default: 1,000,000)")
    p.add_argument("--users", type=int, default=10_000, help="users (default: 10,000)")
    p.add_argument("--runs", type=int, default=1, help="runs; the median is reported (default: 1)")
    p.add_argument("--bootstrap-servers", "-b", help="a running broker (default: start one of our own)")
    p.add_argument("--tmp", default=None, help="folder for the users file and the tables (default: a temporary one)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=args.tmp))
    try:
        users_file = str(work / "users.json")
        _run(["user_generator.py", "--num-users", args.users, "--seed", 7, "--output", users_file])
        broker = None if args.bootstrap_servers else OwnBroker().__enter__()
        try:
            bootstrap = args.bootstrap_servers or broker.bootstrap
            results = []
            for i in range(args.runs):
                r = one_run(bootstrap, args.count, users_file, work, broker.pid() if broker else None)
                results.append(r)
                print(f"run {i + 1}: {r['rate']:,.0f} CDRs/s ({args.count:,} CDRs in {r['wall']:.1f} s), peak memory "
                      f"{r['pss'] / 1024**3:.2f} GB (PSS; RSS summed {r['rss'] / 1024**3:.2f} GB); producing "
                      f"{r['produce']:.1f} s, Spark start-up "
                      f"{r['spark_up']:.1f} s (+{r['to_spark']:.1f} s before it), definitions and planning "
                      f"{r['definitions']:.1f} s, update {r['update']:.1f} s; {r['silver']:,} CDRs in silver; "
                      f"load average {r['load'][0]:.1f} before, {r['load'][1]:.1f} after",
                      flush=True)
                print("  at the RSS peak: " + ", ".join(f"{n} {b / 1024**3:.2f} GB" for n, b in r["at_peak"]),
                      flush=True)
                slow = sorted(r["flows"].items(), key=lambda kv: -kv[1])
                print("  flows (s, running at once, so they overlap): "
                      + ", ".join(f"{k} {v:.1f}" for k, v in slow), flush=True)
            broker_rss = _rss_tree(broker.pid()) if broker and broker.pid() else None
        finally:
            if broker:
                broker.__exit__(None, None, None)
        rate = statistics.median(r["rate"] for r in results)
        rss = statistics.median(r["rss"] for r in results)
        pss = statistics.median(r["pss"] for r in results)
        print(f"median of {len(results)}: {rate:,.0f} CDRs/s (target >= {TARGET_RATE:,}: "
              f"{'met' if rate >= TARGET_RATE else 'NOT met'}), peak memory {pss / 1024**3:.2f} GB PSS (target < 4 GB: "
              f"{'met' if pss < TARGET_BYTES else 'NOT met'}; RSS summed {rss / 1024**3:.2f} GB)"
              + (f"; the broker, apart: {broker_rss / 1024**3:.2f} GB" if broker_rss else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
