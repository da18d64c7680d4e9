"""A cdr_generator.py run (500,000 CDRs, ~300 MB of JSON Lines) killed while it writes.

SIGKILL mid-write (--workers 1 and 2): nothing appears at the output path (with --output-dir: no
type file), the worker processes go away with the parent, and a rerun with the same flags and seed
writes the whole file, byte-identical (sha256) to an uninterrupted run to another path.
SIGTERM mid-write: the run ends non-zero (143), without a traceback, and leaves nothing behind:
no file at the output path, no partial file beside it.

No broker.  The moment of each kill is random (how many bytes are written, 16-200 MB); the random
seed is printed.  Files are large, so each test removes its outputs at the end.
"""

from __future__ import annotations

import glob
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import ROOT, write_users
from running import Result, run_script
from telco_cdr.constants import Exit

COUNT = 500_000
TYPES = ("voice", "data", "sms", "voip", "ims")
SEED = random.randrange(2**32)
RNG = random.Random(SEED)
MB = 1 << 20


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(8 * MB), b""):
            h.update(block)
    return h.hexdigest()


def gen_args(users: Path, workers: int, *out: str) -> list[str]:
    return ["--users-file", str(users), "--count", str(COUNT), "--seed", "7", "--start", "2026-11-01T00:00:00Z",
            "--end", "2026-11-08T00:00:00Z", "--format", "jsonl", "--workers", str(workers), *out]


def run_gen(args: list[str], timeout: float = 240) -> Result:
    return run_script("cdr_generator.py", *args, timeout=timeout)


def descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for f in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                kids = [int(x) for x in open(f).read().split()]
            except OSError:
                continue
            for k in kids:
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            state = next((line.split()[1] for line in fh if line.startswith("State:")), "?")
        return state != "Z"
    except OSError:
        return False


def hidden_parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part"))


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


class Killed:
    """A generator run stopped by a signal once ``min_bytes`` were written to its temporary file."""

    def __init__(self, args: list[str], folder: Path, sig: signal.Signals, min_bytes: int):
        self.folder, self.sig, self.min_bytes = folder, sig, min_bytes
        self.errfile = folder.parent / f"{folder.name}.stderr"
        t0 = time.monotonic()
        with open(self.errfile, "w") as err:
            proc = subprocess.Popen([sys.executable, "cdr_generator.py", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=err)
        kids: set[int] = set()
        try:
            while True:
                kids |= descendants(proc.pid)
                written = sum(p.stat().st_size for p in hidden_parts(folder) if p.exists())
                if written >= min_bytes:
                    break
                assert proc.poll() is None, f"the run ended (exit {proc.returncode}) before {min_bytes / MB:.0f} MB " \
                                            f"were written:\n{self.errfile.read_text()}"
                assert time.monotonic() - t0 < 120, f"{min_bytes / MB:.0f} MB not written within 120 s"
                time.sleep(0.02)
            self.written = written
            self.after_s = time.monotonic() - t0
            proc.send_signal(sig)
            t1 = time.monotonic()
            self.returncode = proc.wait(timeout=30)
            self.exit_s = time.monotonic() - t1
            # Workers must not outlive the parent (they hold the job and the open output files).
            deadline = time.monotonic() + 15
            while any(running(k) for k in kids) and time.monotonic() < deadline:
                time.sleep(0.1)
            self.orphans = sorted(k for k in kids if running(k))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for k in kids:  # only our own run's processes, by id
                if running(k):
                    try:
                        os.kill(k, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        self.workers = sorted(kids)
        self.stderr = self.errfile.read_text(encoding="utf-8", errors="replace")
        self.parts = hidden_parts(folder)

    def describe(self) -> str:
        return (f"{self.sig.name} after {self.after_s:.1f} s, {self.written / MB:.0f} MB written (target "
                f"{self.min_bytes / MB:.0f} MB); exit {self.returncode} {self.exit_s:.2f} s later; workers "
                f"{self.workers}, orphans {self.orphans}; left: parts {[p.name for p in self.parts]}; "
                f"visible {visible(self.folder)}\n--- stderr:\n{self.stderr[-3000:]}")

    def clean(self) -> None:
        """Remove what the killed run left (its temporary files)."""
        for p in self.parts:
            p.unlink(missing_ok=True)


def kill_point() -> int:
    return int(RNG.uniform(16, 200) * MB)


@pytest.fixture(scope="module")
def users(tmp_path_factory) -> Path:
    return write_users(tmp_path_factory.mktemp("fault-files") / "users.json", 2000, seed=3)


@pytest.fixture(scope="module")
def reference(users, tmp_path_factory):
    """An uninterrupted run: (sha256, size) of its file."""
    out = tmp_path_factory.mktemp("fault-files-ref") / "ref.jsonl"
    proc = run_gen(gen_args(users, 2, "--output", str(out)))
    assert proc.returncode == 0, proc.stderr
    try:
        yield sha256(out), out.stat().st_size
    finally:
        out.unlink(missing_ok=True)


# The tests of one module-scoped run (reference, each sigterm_run) are run by one pytest-xdist process,
# which makes the run once.
@pytest.mark.xdist_group("fault-files-reference")
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_write_leaves_nothing_and_rerun_is_identical(users, reference, tmp_path, workers):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "cdrs.jsonl"
    args = gen_args(users, workers, "--output", str(out))
    k = Killed(args, folder, signal.SIGKILL, kill_point())
    info = f"[random seed {SEED}] " + k.describe()
    print(info.split("\n--- stderr")[0])
    try:
        assert k.returncode == -signal.SIGKILL, info
        assert not out.exists(), f"a file appeared at the output path after SIGKILL\n{info}"
        assert visible(folder) == [], info
        assert not k.orphans, f"worker processes outlived the killed parent\n{info}"
        assert k.parts, f"no temporary file: was the run killed mid-write?\n{info}"
        # A SIGKILL cannot be cleaned up after: the temporary file stays until the rerun removes it.
        rerun = run_gen(args)
        assert rerun.returncode == 0, rerun.stderr
        assert f"wrote {COUNT:,} CDRs" in rerun.stderr, rerun.stderr
        ref_sha, ref_size = reference
        assert out.stat().st_size == ref_size, f"{out.stat().st_size} bytes after the rerun, {ref_size} uninterrupted"
        assert sha256(out) == ref_sha, "the rerun's file differs from an uninterrupted run's"
        assert visible(folder) == ["cdrs.jsonl"], visible(folder)
        assert hidden_parts(folder) == [], "the rerun left the killed run's temporary file"
    finally:
        out.unlink(missing_ok=True)
        k.clean()


def test_sigkill_mid_write_output_dir_leaves_no_type_file(users, tmp_path):
    folder = tmp_path / "landing"
    args = gen_args(users, 2, "--output-dir", str(folder))
    folder.mkdir()
    k = Killed(args, folder, signal.SIGKILL, kill_point())
    info = f"[random seed {SEED}] " + k.describe()
    print(info.split("\n--- stderr")[0])
    try:
        assert k.returncode == -signal.SIGKILL, info
        assert [t for t in TYPES if (folder / f"{t}.jsonl").exists()] == [], info
        assert visible(folder) == [], info
        assert not k.orphans, f"worker processes outlived the killed parent\n{info}"
        assert {p.name.split(".")[1] for p in k.parts} == set(TYPES), f"not killed mid-write?\n{info}"
    finally:
        k.clean()


@pytest.fixture(scope="module", params=[pytest.param(w, id=f"workers-{w}", marks=pytest.mark.xdist_group(f"fault-files-sigterm-{w}"))
                                        for w in (1, 2)])
def sigterm_run(request, users, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"fault-files-term-{request.param}")
    out = folder / "cdrs.jsonl"
    k = Killed(gen_args(users, request.param, "--output", str(out)), folder, signal.SIGTERM, kill_point())
    print(f"[random seed {SEED}] " + k.describe().split("\n--- stderr")[0])
    try:
        yield k, out
    finally:
        out.unlink(missing_ok=True)
        k.clean()


def test_sigterm_mid_write_fails_without_output(sigterm_run):
    k, out = sigterm_run
    info = f"[random seed {SEED}] " + k.describe()
    assert k.returncode != 0, info
    assert k.exit_s < 10, info
    assert not out.exists(), f"a file appeared at the output path after SIGTERM\n{info}"
    assert visible(k.folder) == [], info
    assert not k.orphans, f"worker processes outlived the terminated parent\n{info}"


def test_sigterm_mid_write_exits_cleanly(sigterm_run):
    k, _ = sigterm_run
    info = f"[random seed {SEED}] " + k.describe()
    assert "Traceback" not in k.stderr, info
    assert k.parts == [], f"SIGTERM left a partial file\n{info}"


def test_user_generator_sigterm_leaves_nothing(tmp_path):
    """user_generator.py takes the same clean path on SIGTERM: exit 143, one line, no file, no .part."""
    import signal as _signal
    import subprocess as _sp
    import sys as _sys
    import time as _time

    out = tmp_path / "users.json"
    proc = _sp.Popen([_sys.executable, "user_generator.py", "--num-users", "3000000", "-o", str(out)],
                     stderr=_sp.PIPE, text=True)
    deadline = _time.monotonic() + 60
    while _time.monotonic() < deadline and not any(p.name.endswith(".part") for p in tmp_path.iterdir()):
        _time.sleep(0.05)
    assert any(p.name.endswith(".part") for p in tmp_path.iterdir()), "the run never started writing"
    proc.send_signal(_signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == Exit.TERMINATED, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith("terminated"), err
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
