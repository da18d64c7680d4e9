#!/usr/bin/env python3
"""This checkout's cdr_generator.py against another commit's, in the same run: CDRs/s (wall clock)
and CPU seconds per million CDRs, each the median of --runs interleaved runs, and whether both
wrote the same bytes.  A change that must keep generation as fast (and the output the same) is
measured with it.

    python bench/bench_versions.py --ref a176f1a            # 0.2.0 against this checkout
    python bench/bench_versions.py --ref HEAD~3 --runs 5 --format csv
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z", "--seed", "42"]


def export(ref: str, into: Path) -> Path:
    """The files of commit ``ref`` (git archive: no checkout, no network)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, usage.ru_utime + usage.ru_stime


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", required=True, help="the commit to compare with (e.g. a176f1a, HEAD~1)")
    p.add_argument("--count", type=int, default=1_000_000, help="CDRs per run (default: 1,000,000)")
    p.add_argument("--users", type=int, default=10_000, help="users of the runs (default: 10,000)")
    p.add_argument("--runs", type=int, default=5, help="runs of each (default: 5)")
    p.add_argument("--format", default="jsonl", choices=("json", "jsonl", "csv"))
    p.add_argument("--tmp", help="folder for the files (default: a temporary one; /dev/shm keeps the disk out)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-versions-") as tmp:
        tmp = Path(tmp)
        other = export(args.ref, Path(tempfile.mkdtemp(dir=tmp, prefix="ref-")))
        users = tmp / "users.json"
        subprocess.run([sys.executable, str(ROOT / "user_generator.py"), "-n", str(args.users), "-o", str(users)],
                       check=True, capture_output=True)
        sides = {"this checkout": ROOT, f"ref {args.ref}": other}
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        outs = {name: tmp / f"out-{i}.{args.format}" for i, name in enumerate(sides)}
        # Each side's modules compiled once, before the timed runs, as an installed package's are:
        # with PYTHONDONTWRITEBYTECODE set (as on some machines) every run would compile them all
        # again, some 0.15 s a run for this checkout, which is not the generator's time.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        cmds = {name: [sys.executable, str(code / "cdr_generator.py"), "-u", str(users), "-c", str(args.count),
                       "-o", str(outs[name]), "--format", args.format, *WINDOW] for name, code in sides.items()}
        for name in sides:
            timed(cmds[name][:5] + ["1000"] + cmds[name][6:], env)  # the warm-up: compiles, not timed
        for run in range(args.runs):
            for name in (sides if run % 2 == 0 else reversed(list(sides))):
                figures[name].append(timed(cmds[name], env))
        same = sha(outs["this checkout"]) == sha(outs[f"ref {args.ref}"])
    print(f"{args.count:,} CDRs ({args.format}) from {args.users:,} users, median of {args.runs} interleaved runs")
    med = {}
    for name, runs in figures.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        med[name] = (wall, cpu)
        print(f"  {name:>24}: {args.count / wall:>9,.0f} CDRs/s, {cpu / args.count * 1e6:5.2f} CPU s per million "
              f"(runs: {', '.join(f'{w:.2f}' for w, _ in runs)} s)")
    (w0, c0), (w1, c1) = med.values()
    print(f"  this checkout / ref: {w1 / w0:.3f}x the speed (wall), {c1 / c0:.3f}x the speed (CPU)")
    print(f"  same bytes: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
