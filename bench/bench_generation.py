#!/usr/bin/env python3
"""Benchmark of the generators: CDRs/s (one process, several workers, against a naive baseline),
peak memory, and the time to make a million users.  See bench/README.md.

Every figure is the median of --runs runs of the real scripts, each started as a subprocess and
timed by wall clock (interpreter start and reading the users file included).  The rate runs are
interleaved (ours, naive, ours with workers, then again) so that a machine that gets busier or
quieter during the benchmark shifts all of them alike and the ratios stay fair.

    python bench/bench_generation.py            # full run, a few minutes
    python bench/bench_generation.py --quick    # smoke check, well under a minute
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
USER_GEN = ROOT / "user_generator.py"
CDR_GEN = ROOT / "cdr_generator.py"
NAIVE = BENCH / "naive_reference.py"
# A fixed week, so every run (and every machine) draws the same records.
WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z"]
SEED = ["--seed", "42"]
BENCH_USERS = 10_000  # users of the CDR runs

# Targets (see bench/README.md).
TARGET_RATE = 300_000  # CDRs/s in one process
TARGET_VS_NAIVE = 20.0  # ours / naive (Faker)
TARGET_SPEEDUP = 1.7  # "about 1.8x" with 2 workers on 2 free cores; PASS from 1.7x
TARGET_RSS_MB = 200.0
TARGET_RSS_GROWTH = 0.15  # "flat": the big run needs at most 15 % more memory than the small one
TARGET_USERS_S_PER_M = 20.0  # seconds per million users
TARGET_FAULTS_COST = 1.10  # issue 12: faults at 1 % of the records at most 10 % slower (CPU seconds)
# 1 % of the records spoiled, spread over the seven kinds of --faults
FAULTS_1PCT = ["--faults", "duplicate=0.0015,late=0.0015,malformed=0.0014,missing_field=0.0014,orphan_user=0.0014,"
               "bad_value=0.0014,schema_drift=0.0014", "--ledger", "ledger.jsonl"]
# --anomalies: an incident of each kind (two cell outages), with their ledger
ANOMALIES = ["--anomalies", "sim_box=1,wangiri=1,irsf=1,sim_swap=1,cell_outage=2,data_spike=1", "--ledger",
             "truth.jsonl"]


class BenchError(Exception):
    pass


def generator_sources() -> list[Path]:
    """The two scripts and the telco_cdr modules they import, directly or not (found with ast,
    so edits to modules they do not use, e.g. the Kafka ones, do not count)."""
    seen: dict[Path, None] = {}
    todo = [USER_GEN, CDR_GEN]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen[path] = None
        try:
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and path.parent.name == "telco_cdr":
                    base = node.module or ""
                    names = [base] if base else [a.name for a in node.names]
                elif node.level == 0 and (node.module or "").startswith("telco_cdr."):
                    names = [node.module.split(".", 1)[1]]
                elif node.level == 0 and node.module == "telco_cdr":
                    names = [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name.split(".", 1)[1] for a in node.names if a.name.startswith("telco_cdr.")]
            todo += [ROOT / "telco_cdr" / (n.replace(".", "/") + ".py") for n in names]
    return sorted(seen)


def code_fingerprint() -> str:
    """A hash of the generator code, to notice it changing under a running benchmark."""
    h = hashlib.sha1()
    for path in generator_sources():
        try:
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
        except OSError:
            pass
    return h.hexdigest()[:10]


CODE_SEEN: list[tuple[str, str]] = []  # (fingerprint, first run that saw it)


def note_code(label: str) -> None:
    fp = code_fingerprint()
    if not CODE_SEEN or CODE_SEEN[-1][0] != fp:
        CODE_SEEN.append((fp, label))
        if len(CODE_SEEN) > 1:
            log(f"  WARNING: the generator code changed before {label}")


def fmt_n(n: int) -> str:
    return f"{n:,}"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# The children's environment: Python's compiled modules kept (in the bench's folder, see main), as an
# installed package's are; with PYTHONDONTWRITEBYTECODE set (as on some machines) every run would
# compile this project's modules again (some 0.17 s a run), while Faker's come compiled from pip.
CHILD_ENV: dict[str, str] = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_child(cmd: list[str], cwd: str) -> tuple[float, float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, CPU seconds user + system), the last
    two of it and its waited-for children (workers)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                             env=CHILD_ENV)
        try:
            _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage, not all children's
        except BaseException:
            p.kill()
            p.wait()
            raise
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace").strip().splitlines()[-15:]
            raise BenchError(f"exit code {p.returncode}: {' '.join(cmd)}\n    " + "\n    ".join(tail))
    rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, rss_mb, usage.ru_utime + usage.ru_stime


class Measure:
    """Repeated runs of one command that writes ``output``: wall times, peak RSS, bytes per record."""

    def __init__(self, label: str, cmd: list[str], cwd: str, output: str, count: int, unit: str = "records"):
        self.label, self.cmd, self.cwd, self.output, self.count, self.unit = label, cmd, cwd, output, count, unit
        self.walls: list[float] = []
        self.rss: list[float] = []
        self.cpu: list[float] = []
        self.bytes_per_record: float | None = None

    def once(self, check_lines: bool = False) -> None:
        note_code(f"{self.label} run {len(self.walls) + 1}")
        wall, rss, cpu = run_child(self.cmd, self.cwd)
        self.walls.append(wall)
        self.rss.append(rss)
        self.cpu.append(cpu)
        path = os.path.join(self.cwd, self.output)
        if self.bytes_per_record is None and os.path.exists(path):
            size = os.path.getsize(path)
            self.bytes_per_record = size / max(self.count, 1)
            if check_lines:  # outside the timing: the file must hold the records asked for
                with open(path, "rb") as fh:
                    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b""))
                if lines != self.count:
                    raise BenchError(f"{self.label}: asked for {fmt_n(self.count)} records, "
                                     f"file has {fmt_n(lines)} lines")
        if os.path.exists(path):
            os.remove(path)
        log(f"  {self.label}: run {len(self.walls)}: {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB")

    @property
    def seconds(self) -> float:
        return statistics.median(self.walls)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def spread(self) -> str:
        """Range of the runs around the median, in percent (how noisy the machine was)."""
        if len(self.walls) < 2:
            return "1 run"
        return f"+-{50 * (max(self.walls) - min(self.walls)) / self.seconds:.0f}%"


def machine_info() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    mem = ""
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GB RAM"
    except (ValueError, OSError, AttributeError):
        pass
    versions = []
    for pkg in ("numpy", "faker"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} missing")
    lines = [
        f"machine : {cpu}; {cores} cores ({usable} usable){mem}; {platform.system()} {platform.release()}",
        f"python  : {platform.python_implementation()} {platform.python_version()}; {', '.join(versions)}",
        f"load    : {load()} (1/5/15 min) at start",
    ]
    git = git_state()
    lines.append(f"code    : {git + '; ' if git else ''}sources {code_fingerprint()}")
    return lines


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def git_state() -> str:
    """The commit measured and whether the generator code differs from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        sources = [str(p.relative_to(ROOT)) for p in generator_sources()]
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--", *sources],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return ""
    if not head:
        return ""
    changed = [ln[3:] for ln in dirty if ln.strip()]
    return f"git {head}" + (f" + uncommitted changes in {', '.join(changed)}" if changed else " (clean)")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


SPIN = "x = 0\nfor i in range(12_000_000):\n    x += i\n"


def parallel_ceiling(workers: int) -> float:
    """How much faster ``workers`` CPU-bound processes get through their work than one, on this
    machine now: the most that --workers can give.  (On a shared VM, two vCPUs are often worth
    less than two cores.)"""
    def timed(n: int) -> float:
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
        for p in procs:
            p.wait()
        return time.perf_counter() - t
    one = timed(1)
    return workers * one / timed(workers)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark user_generator.py and cdr_generator.py (see bench/README.md).")
    p.add_argument("--quick", action="store_true",
                   help="small counts and one run: a smoke check in well under a minute")
    p.add_argument("--runs", type=int, help="runs per figure; each figure is their median (default 3, 1 with --quick)")
    p.add_argument("--count", type=int, help="CDRs of the rate runs (default 1,000,000; 100,000 with --quick)")
    p.add_argument("--naive-count", type=int, help="records of the naive baseline (default 50,000; 5,000 with --quick)")
    p.add_argument("--rss-count", type=int,
                   help="CDRs of the large memory run (default 5,000,000; 500,000 with --quick)")
    p.add_argument("--num-users", type=int,
                   help="users of the user_generator.py runs (default 1,000,000; 100,000 with --quick)")
    p.add_argument("--workers", type=int, default=2, help="workers of the parallel run (default 2)")
    p.add_argument("--skip-users", action="store_true", help="leave out the user_generator.py runs")
    p.add_argument("--tmp", metavar="DIR", help="where the temporary output folder goes (default: the system's "
                   "temp folder; /dev/shm keeps the disk out of the figures)")
    a = p.parse_args(argv)
    quick = a.quick
    runs = a.runs or (1 if quick else 3)
    count = a.count or (100_000 if quick else 1_000_000)
    naive_count = a.naive_count or (5_000 if quick else 50_000)
    rss_count = a.rss_count or (500_000 if quick else 5_000_000)
    num_users = a.num_users or (100_000 if quick else 1_000_000)
    if min(runs, count, naive_count, rss_count, num_users, a.workers) < 1:
        p.error("counts, --runs and --workers must be at least 1")
    if a.tmp and not os.path.isdir(a.tmp):
        p.error(f"--tmp {a.tmp!r} is not a folder")

    py = sys.executable
    for line in machine_info():
        print(line)
    print(f"output  : {os.path.abspath(a.tmp or tempfile.gettempdir())}")
    print(f"runs    : each figure is the median of {runs} run(s) by wall clock of the script as a subprocess"
          + ("; --quick: small counts, startup weighs more, rates read low; a smoke check only" if quick else ""))
    print(flush=True)

    try:
        tmp = tempfile.mkdtemp(prefix="telco-bench-", dir=a.tmp)
    except OSError as e:
        p.error(f"--tmp {a.tmp!r}: {e.strerror}")
    t_start = time.perf_counter()
    CHILD_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")

    def terminated(signum, frame):  # SIGTERM cleans up like Ctrl+C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    try:
        note_code("the start")
        log(f"making {fmt_n(BENCH_USERS)} users in {tmp}")
        run_child([py, str(USER_GEN), "--num-users", str(BENCH_USERS), *SEED, "--output", "users.json"], tmp)

        def cdr_cmd(n: int, workers: int) -> list[str]:
            return [py, str(CDR_GEN), "--users-file", "users.json", "--count", str(n), "--format", "jsonl",
                    "--output", "cdrs.jsonl", "--workers", str(workers), *SEED, *WINDOW]

        def naive_cmd(stdlib: bool) -> list[str]:
            return [py, str(NAIVE), "--users-file", "users.json", "--count", str(naive_count),
                    "--output", "naive.jsonl", *SEED] + (["--stdlib"] if stdlib else [])

        log("warming up: each script once, untimed (its modules compiled)")
        run_child(cdr_cmd(1000, 1), tmp)
        run_child(naive_cmd(False)[:5] + ["100"] + naive_cmd(False)[6:], tmp)
        ours = Measure(f"cdr_generator.py {fmt_n(count)} w1", cdr_cmd(count, 1), tmp, "cdrs.jsonl", count)
        faulty = Measure(f"... --faults 1 %, {fmt_n(count)} w1", cdr_cmd(count, 1) + FAULTS_1PCT, tmp, "cdrs.jsonl",
                         count)
        planted = Measure(f"... --anomalies, {fmt_n(count)} w1", cdr_cmd(count, 1) + ANOMALIES, tmp, "cdrs.jsonl",
                          count)
        serial = Measure("cdr_generator.py --count 0 (start-up)", cdr_cmd(0, 1), tmp, "cdrs.jsonl", 0)
        naive = Measure(f"naive (Faker) {fmt_n(naive_count)}", naive_cmd(False), tmp, "naive.jsonl", naive_count)
        naive_std = Measure(f"naive (stdlib) {fmt_n(naive_count)}", naive_cmd(True), tmp, "naive.jsonl", naive_count)
        par = Measure(f"cdr_generator.py {fmt_n(count)} w{a.workers}", cdr_cmd(count, a.workers), tmp, "cdrs.jsonl",
                      count)
        big = Measure(f"cdr_generator.py {fmt_n(rss_count)} w1", cdr_cmd(rss_count, 1), tmp, "cdrs.jsonl", rss_count)
        users = {fmt: Measure(f"user_generator.py {fmt_n(num_users)} {fmt}",
                              [py, str(USER_GEN), "--num-users", str(num_users), *SEED, "--output", f"u.{fmt}"],
                              tmp, f"u.{fmt}", num_users, "users")
                 for fmt in ("jsonl", "json")}

        log("rates (interleaved rounds)")
        ceilings = []
        for r in range(runs):
            # the runs with --faults and --anomalies right after the plain one they are compared with,
            # so that each round's ratio is of neighbours in time (a machine whose speed drifts)
            ours.once(check_lines=(r == 0))
            faulty.once()  # not its lines: the resends are lines too
            planted.once(check_lines=(r == 0))
            for m in (naive, naive_std, par, serial):
                m.once(check_lines=(r == 0))
            ceilings.append(parallel_ceiling(a.workers))
            log(f"  machine's ceiling for {a.workers} processes: run {r + 1}: {ceilings[-1]:.2f}x")
        log("memory, large run")
        for r in range(runs):
            big.once(check_lines=(r == 0))
        startup = Measure(f"cdr_generator.py --count 0, {fmt_n(num_users)} users",
                          [py, str(CDR_GEN), "--users-file", "big_users.json", "--count", "0", "--output", "none.jsonl",
                           *SEED, *WINDOW], tmp, "none.jsonl", num_users, "users")
        if not a.skip_users:
            log("users")
            for r in range(runs):
                for m in users.values():
                    m.once(check_lines=(r == 0 and m.output.endswith("jsonl")))
            log(f"start-up of cdr_generator.py with {fmt_n(num_users)} users")
            run_child([py, str(USER_GEN), "--num-users", str(num_users), *SEED, "--output", "big_users.json"], tmp)
            for _ in range(runs):
                startup.once()
    except BenchError as e:
        print(f"bench_generation.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench_generation.py: interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ------------------------------------------------------------------ figures
    vs_naive = ours.rate / naive.rate
    vs_std = ours.rate / naive_std.rate
    speedup = par.rate / ours.rate
    ceiling = statistics.median(ceilings)
    # A single process overlaps its writes with building records (a writer thread), so it already
    # keeps more than one core busy; 2 workers can at best add what is left of the ceiling.
    ours_cores = statistics.median(c / w for c, w in zip(ours.cpu, ours.walls))
    par_cpu_ratio = statistics.median(par.cpu) / statistics.median(ours.cpu)
    # The best the workers can do with the CPU they used: the start-up (a --count 0 run) alone on
    # one core, the rest spread evenly over the workers.
    startup_s = serial.seconds
    best_par_s = startup_s + max(statistics.median(par.cpu) - startup_s, 0) / a.workers
    bound = ours.seconds / best_par_s
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    rss_small, rss_big = max(ours.rss), max(big.rss)
    growth = rss_big / rss_small - 1
    users_target = TARGET_USERS_S_PER_M * num_users / 1e6
    # each round's ratio to the plain run just before it, the median of the rounds
    faults_cost = statistics.median(f / o for f, o in zip(faulty.cpu, ours.cpu))
    anomalies_cost = statistics.median(p / o for p, o in zip(planted.cpu, ours.cpu))

    rows = [  # (figure, value, spread, target, status)
        (f"CDRs/s, 1 process, {fmt_n(count)} -> jsonl", f"{ours.rate:,.0f}/s", ours.spread,
         f">= {fmt_n(TARGET_RATE)}/s", verdict(ours.rate >= TARGET_RATE)),
        (f"naive baseline (Faker), {fmt_n(naive_count)}", f"{naive.rate:,.0f}/s", naive.spread, "", ""),
        ("ours / naive (Faker)", f"{vs_naive:.1f}x", "", f">= {TARGET_VS_NAIVE:g}x",
         verdict(vs_naive >= TARGET_VS_NAIVE)),
        (f"naive baseline (stdlib), {fmt_n(naive_count)}", f"{naive_std.rate:,.0f}/s", naive_std.spread, "", ""),
        ("ours / naive (stdlib)", f"{vs_std:.1f}x", "", "(info)", ""),
        ("--faults at 1 % / without, CPU-s", f"{faults_cost:.3f}", "",
         f"<= {TARGET_FAULTS_COST:g} (wall: {faulty.seconds / ours.seconds:.3f})",
         verdict(faults_cost <= TARGET_FAULTS_COST)),
        ("--anomalies (8 incidents) / without, CPU-s", f"{anomalies_cost:.3f}", "",
         f"(info) (wall: {planted.seconds / ours.seconds:.3f})", ""),
        (f"CDRs/s, {a.workers} workers, {fmt_n(count)}", f"{par.rate:,.0f}/s", par.spread, "", ""),
        (f"{a.workers} workers / 1 process", f"{speedup:.2f}x", "",
         f"~1.8x (>= {TARGET_SPEEDUP:g}x)" if a.workers == 2 else "(info)",
         verdict(None if usable < a.workers or a.workers != 2 else speedup >= TARGET_SPEEDUP)),
        (f"machine's ceiling, {a.workers} CPU-bound processes / 1", f"{ceiling:.2f}x", "", "(same run)", ""),
        (f"{a.workers} workers / that ceiling", f"{100 * speedup / ceiling:.0f}%", "", "(info)", ""),
        ("cores that 1 process keeps busy (CPU-s / s)", f"{ours_cores:.2f}", "", "(info: its writer thread)", ""),
        (f"CPU-s of {a.workers} workers / of 1 process", f"{par_cpu_ratio:.2f}", "", "(info: 1.00 = no overhead)", ""),
        ("start-up before any work is shared (--count 0)", f"{startup_s:.2f} s", serial.spread, "(info)", ""),
        (f"best {a.workers}-worker time for that CPU and start-up", f"{best_par_s:.2f} s", "",
         f"(info: measured {par.seconds:.2f} s)", ""),
        (f"best {a.workers} workers / 1 process it allows", f"{bound:.2f}x", "", "(info)", ""),
        (f"peak RSS, {fmt_n(count)} CDRs", f"{rss_small:.0f} MB", "", f"< {TARGET_RSS_MB:g} MB",
         verdict(rss_small < TARGET_RSS_MB)),
        (f"peak RSS, {fmt_n(rss_count)} CDRs", f"{rss_big:.0f} MB", "", f"< {TARGET_RSS_MB:g} MB",
         verdict(rss_big < TARGET_RSS_MB)),
        (f"RSS growth {fmt_n(count)} -> {fmt_n(rss_count)}", f"{100 * growth:+.0f}%", "",
         f"flat (<= +{100 * TARGET_RSS_GROWTH:.0f}%)", verdict(growth <= TARGET_RSS_GROWTH)),
        (f"CDRs/s, 1 process, {fmt_n(rss_count)}", f"{big.rate:,.0f}/s", big.spread, "(info)", ""),
    ]
    if not a.skip_users:
        for fmt, m in users.items():
            rows.append((f"{fmt_n(num_users)} users -> {fmt}", f"{m.seconds:.1f} s", m.spread,
                         f"< {users_target:g} s", verdict(m.seconds < users_target)))
        rows.append((f"cdr_generator.py start-up, {fmt_n(num_users)} users", f"{startup.seconds:.1f} s", startup.spread,
                     "(info: reads and checks the users, --count 0)", ""))

    print("details")
    for m in (ours, faulty, planted, naive, naive_std, par, serial, big,
              *([] if a.skip_users else [*users.values(), startup])):
        walls = ", ".join(f"{w:.2f}" for w in m.walls)
        size = f", {m.bytes_per_record:.0f} B/record" if m.bytes_per_record else ""
        cpu = statistics.median(m.cpu)
        print(f"  {m.label:<34} median {m.seconds:7.2f} s [{walls}]  {m.count / m.seconds:>10,.0f} {m.unit}/s"
              f"; CPU {cpu:.2f} s = {m.count / max(cpu, 1e-9):,.0f} per CPU-s; peak RSS {max(m.rss):.0f} MB{size}")
    print(f"  load at end: {load()}; benchmark took {time.perf_counter() - t_start:.0f} s")
    note_code("the end")
    if len(CODE_SEEN) > 1:
        print("  WARNING: the generator code changed during the benchmark, so its figures mix versions: "
              + "; ".join(f"{fp} from {label}" for fp, label in CODE_SEEN) + ". Run it again.")
    if usable < a.workers:
        print(f"  note: only {usable} usable cores, so the {a.workers}-worker figure is not judged")
    print()

    heads = ("figure", "value", "spread", "target", "status")
    widths = [max(len(str(r[i])) for r in (heads, *rows)) for i in range(len(heads))]

    def line(r):
        return "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()

    print(line(heads))
    print(line(tuple("-" * w for w in widths)))
    for r in rows:
        print(line(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
