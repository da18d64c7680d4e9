#!/usr/bin/env python3
"""CDRs/s of ``cdr_generator.py --spark`` on local[1] and local[2] (one run each), beside the
single-process Parquet run of the same flags: each the real script as a subprocess, its own summary
line's figures (Spark's start apart), and the machine's load average, which on two shared cores
matters more than anything here.  Needs requirements-spark.txt.

    python bench/bench_spark_generation.py                     # 1,000,000 CDRs of 1,000 users
    python bench/bench_spark_generation.py --count 200000 --masters 'local[2]'
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z", "--seed", "42"]
SPARK_LINE = re.compile(r"wrote ([\d,]+) CDRs .*?; ([\d.]+) s \(([\d.]+) s reading the users and starting Spark\), "
                        r"([\d,]+) CDRs/s once started")


def run(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"bench_spark_generation.py: {' '.join(cmd[1:3])} ... failed:\n{proc.stderr[-2000:]}")
    return wall, proc.stderr


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1_000_000, help="CDRs per run (default: 1,000,000)")
    p.add_argument("--num-users", type=int, default=1000, help="users of the users file (default: 1000)")
    p.add_argument("--masters", default="local[1],local[2]", help="Spark masters, one run each")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    try:
        users = tmp / "users.json"
        run([sys.executable, str(ROOT / "user_generator.py"), "--num-users", str(args.num_users), "--output",
             str(users)])
        common = ["--users-file", str(users), "--count", str(args.count), *WINDOW, "--format", "parquet"]
        wall, _ = run([sys.executable, str(ROOT / "cdr_generator.py"), *common, "--output-dir", str(tmp / "one")])
        print(f"one process (no Spark): {args.count:,} CDRs in {wall:.1f} s, {args.count / wall:,.0f} CDRs/s "
              f"(load average {os.getloadavg()[0]:.1f})")
        for master in args.masters.split(","):
            wall, err = run([sys.executable, str(ROOT / "cdr_generator.py"), "--spark", master, *common,
                             "--output-dir", str(tmp / master.replace("[", "_").replace("]", ""))])
            m = SPARK_LINE.search(err)
            if not m:
                sys.exit(f"bench_spark_generation.py: no summary line from --spark {master}:\n{err[-2000:]}")
            print(f"--spark {master}: {m.group(1)} CDRs in {wall:.1f} s in all ({m.group(3)} s reading the users and "
                  f"starting Spark), {m.group(4)} CDRs/s once started (load average {os.getloadavg()[0]:.1f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
