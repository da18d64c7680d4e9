#!/usr/bin/env python3
"""Telco-size subscriber bases (issue 14, item 1): for each size, the seconds and peak memory of
``user_generator.py`` writing the users, and of ``cdr_generator.py`` and ``kafka_producer.py --dry-run``
starting on that file (reading, checking and modelling every user, then 1,000 CDRs).  One run each,
the real scripts as subprocesses; peak memory is each child's own ``ru_maxrss``.  Targets (10,000,000
users, JSON and Parquet): start within 60 s and at most 3 GB.

    python bench/bench_users.py                                 # 1,000,000 and 10,000,000 users, JSON + Parquet
    python bench/bench_users.py --sizes 1000000 --formats json --tmp /dev/shm
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z", "--seed", "42"]
START_S, START_MB = 60.0, 3 * 1024  # the targets of starting on 10,000,000 users


def measured(cmd: list[str], stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process; its stderr's last lines on failure."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=err)
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:
            p.kill()
            p.wait()
            raise
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            sys.exit(f"failed: {' '.join(cmd)}\n" + err.read().decode("utf-8", "replace")[-2000:])
    return wall, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="users, comma-separated")
    ap.add_argument("--formats", default="json,parquet", help="users file formats: json, jsonl, parquet")
    ap.add_argument("--tmp", default=None, help="where the files go (default: the system's temporary folder)")
    args = ap.parse_args(argv)
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="bench_users_", dir=args.tmp))
    rows = []
    try:
        for n in [int(s) for s in args.sizes.split(",")]:
            for fmt in args.formats.split(","):
                users = work / f"users_{n}.{fmt}"
                print(f"{n:,} users, {fmt}: writing ...", file=sys.stderr, flush=True)
                write = measured([py, "user_generator.py", "-n", str(n), "--seed", "1", "-o", str(users)])
                size_mb = users.stat().st_size / 1e6
                print(f"  wrote {size_mb:,.0f} MB in {write[0]:.1f} s; starting on it ...", file=sys.stderr, flush=True)
                cdr = measured([py, "cdr_generator.py", "-u", str(users), "-c", "1000", *WINDOW,
                                "-o", str(work / "cdrs.jsonl")])
                stream = measured([py, "kafka_producer.py", "--dry-run", "--rate", "max", "--max-count", "1000",
                                   "--users-file", str(users), "--seed", "42"])
                rows.append((n, fmt, size_mb, write, cdr, stream))
                users.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(f"Telco-size subscriber bases (one run each; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    print(f"{'users':>12} {'format':>8} {'file MB':>9} | {'write s':>8} {'MB':>6} | {'cdr_generator start s':>22} "
          f"{'MB':>6} | {'kafka_producer start s':>23} {'MB':>6} | target")
    for n, fmt, size_mb, write, cdr, stream in rows:
        verdict = "-"
        if n >= 10_000_000:
            ok = all(s <= START_S and mb <= START_MB for s, mb in (cdr, stream))
            verdict = f"{'PASS' if ok else 'FAIL'} (<= {START_S:.0f} s, <= {START_MB / 1024:.0f} GB)"
        print(f"{n:>12,} {fmt:>8} {size_mb:>9,.0f} | {write[0]:>8.1f} {write[1]:>6.0f} | {cdr[0]:>22.1f} {cdr[1]:>6.0f}"
              f" | {stream[0]:>23.1f} {stream[1]:>6.0f} | {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
