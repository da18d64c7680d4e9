"""Output: byte-for-byte determinism (formats, seeds, workers, --output-dir), atomic files,
and memory that stays flat however many records are written."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

import helpers
from running import Result, call_main, run_script
from telco_cdr.constants import CHUNK_RECORDS, Exit
from telco_cdr.errors import UserError
from telco_cdr.output import AtomicFile, atomic_outputs

TYPES = ("voice", "data", "sms", "voip", "ims")


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    return helpers.write_users(tmp_path_factory.mktemp("out_users") / "users.json", 1500, seed=31,
                               countries=["US", "GB", "DE", "FR", "IN"])


def _cdrs(users, out, count=6000, seed=9, *extra):
    return helpers.write_cdrs(users, out, count, seed, helpers.WEEK_START, helpers.WEEK_END, *extra)


def _generate(*args) -> Result:
    """cdr_generator.py's main() in this process (its --workers are forked from this one), which must
    succeed: for the tests of what is written, not of how a process starts or ends."""
    res = call_main("cdr_generator.py", args)
    assert res.returncode == 0 and res.escaped is None, res.describe()
    return res


# ---------------------------------------------------------------- determinism

@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_same_seed_gives_identical_bytes(tmp_path, users, fmt):
    a = _cdrs(users, tmp_path / f"a.{fmt}")
    b = _cdrs(users, tmp_path / f"b.{fmt}")
    assert a.read_bytes() == b.read_bytes()
    assert len(helpers.load_records(a)) == 6000


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_different_seed_gives_different_records(tmp_path, users, fmt):
    a = helpers.load_records(_cdrs(users, tmp_path / f"a.{fmt}", 3000, 1))
    b = helpers.load_records(_cdrs(users, tmp_path / f"b.{fmt}", 3000, 2))
    assert len(a) == len(b) == 3000
    same = sum(x == y for x, y in zip(a, b))
    assert same == 0
    assert {r["cdr_id"] for r in a}.isdisjoint({r["cdr_id"] for r in b})
    assert len({r["start_time"] for r in a} & {r["start_time"] for r in b}) < 30


def test_formats_carry_the_same_records(tmp_path, users):
    """JSON array, JSON Lines and CSV of the same run hold the same values."""
    js = helpers.load_records(_cdrs(users, tmp_path / "c.json"))
    jl = helpers.load_records(_cdrs(users, tmp_path / "c.jsonl"))
    assert js == jl
    rows = helpers.load_records(_cdrs(users, tmp_path / "c.csv"))
    assert len(rows) == len(jl)
    for rec, row in zip(jl, rows):
        for key, value in rec.items():
            cell = row[key]
            if value is None:
                assert cell == "", (key, rec["cdr_id"])
            elif isinstance(value, bool):
                assert cell == json.dumps(value), (key, rec["cdr_id"])  # true / false
            elif not isinstance(value, (int, float)):
                assert cell == str(value), (key, rec["cdr_id"])
            else:
                assert math.isclose(float(cell), value), (key, rec["cdr_id"])
        # and the other types' columns are empty
        assert all(row[k] == "" for k in row if k not in rec), rec["cdr_id"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_output_dir_is_the_single_file_split_by_type(tmp_path, users, fmt):
    single = helpers.load_records(_cdrs(users, tmp_path / "all.jsonl", 5000))
    d = tmp_path / "landing"
    rc = helpers.cdr_main("-u", users, "-c", 5000, "--seed", 9, "--start", helpers.WEEK_START,
                          "--end", helpers.WEEK_END, "--output-dir", d, "--format", fmt)
    assert rc == 0
    assert helpers.listing(d) == sorted(f"{t}.{fmt}" for t in TYPES)
    union = []
    for t in TYPES:
        part = helpers.load_records(d / f"{t}.{fmt}")
        assert all(r["cdr_type"] == t for r in part)
        starts = [r["start_time"] for r in part]
        assert starts == sorted(starts), t  # each file is in event-time order too
        union += part
    key = lambda r: r["cdr_id"]  # noqa: E731
    if fmt == "csv":  # CSV cells are text; compare them with the JSON values as text
        single = [{k: "" if v is None else json.dumps(v) if isinstance(v, bool) else str(v) for k, v in r.items()}
                  for r in single]
        for r in union:
            for k, v in r.items():
                if k in ("jitter_ms", "packet_loss_pct", "mos", "charge_amount"):
                    r[k] = str(float(v))
    assert sorted(union, key=key) == sorted(single, key=key)


def test_output_dir_defaults_to_jsonl(tmp_path, users):
    assert helpers.cdr_main("-u", users, "-c", 200, "--output-dir", tmp_path / "d") == 0
    assert helpers.listing(tmp_path / "d") == sorted(f"{t}.jsonl" for t in TYPES)


def test_workers_do_not_change_the_bytes(tmp_path, users):
    # 40,000 records are five chunks of batch.CHUNK_RECORDS (8,192): workers 2 and 3 take uneven shares.
    count = 40_000
    assert count > 2 * CHUNK_RECORDS
    for w in (1, 2, 3):
        _generate("-u", users, "-c", count, "--seed", 4, "--start", helpers.WEEK_START, "--end", helpers.WEEK_END,
                  "-o", tmp_path / f"w{w}.jsonl", "--workers", w)
    one = (tmp_path / "w1.jsonl").read_bytes()
    assert one.count(b"\n") == count
    assert (tmp_path / "w2.jsonl").read_bytes() == one
    assert (tmp_path / "w3.jsonl").read_bytes() == one


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("count, weights", [(20_000, "voice=1,sms=1,ims=0.01"), (9_000, None), (0, None)])
def test_workers_do_not_change_the_bytes_of_any_output(tmp_path, users, fmt, count, weights):
    """Every format, one file or a folder of per-type files (some empty), more workers than chunks."""
    extra = ["--weights", weights] if weights else []
    others = (3,)  # uneven shares of 3 chunks; more workers than chunks where there are 2 or none
    for w in (1, *others):
        common = ["-u", users, "-c", count, "--seed", 8, "--start", helpers.WEEK_START, "--end", helpers.WEEK_END,
                  "--format", fmt, "--workers", w, *extra]
        _generate(*common, "-o", tmp_path / f"w{w}.{fmt}")
        _generate(*common, "--output-dir", tmp_path / f"d{w}")
    one = (tmp_path / f"w1.{fmt}").read_bytes()
    records = helpers.load_records(tmp_path / f"w1.{fmt}")
    assert len(records) == count
    for w in others:
        assert (tmp_path / f"w{w}.{fmt}").read_bytes() == one, f"--workers {w}"
        for t in TYPES:
            assert (tmp_path / f"d{w}" / f"{t}.{fmt}").read_bytes() == (tmp_path / "d1" / f"{t}.{fmt}").read_bytes()
    by_type = Counter(r["cdr_type"] for r in records)
    for t in TYPES:
        assert len(helpers.load_records(tmp_path / "d1" / f"{t}.{fmt}")) == by_type.get(t, 0)


def test_start_time_non_decreasing_across_chunks(tmp_path, users):
    out = _cdrs(users, tmp_path / "c.jsonl", 40_000, 6)
    starts = [json.loads(line)["start_time"] for line in out.read_text().splitlines()]
    assert len(starts) == 40_000 and starts == sorted(starts)


@pytest.mark.parametrize("fmt, expect", [("json", []), ("jsonl", None), ("csv", None)])
def test_zero_count_gives_a_valid_empty_file(tmp_path, users, fmt, expect):
    out = tmp_path / f"empty.{fmt}"
    assert helpers.cdr_main("-u", users, "-c", 0, "-o", out) == 0
    text = out.read_text()
    if fmt == "json":
        assert json.loads(text) == []
    elif fmt == "jsonl":
        assert text.strip() == ""
    else:
        lines = text.splitlines()
        assert len(lines) == 1 and lines[0].startswith("cdr_id,")


def test_small_counts_and_a_single_active_user(tmp_path, users):
    base = json.loads(users.read_text())
    one = [dict(u, status="suspended") for u in base[:20]]
    one[4]["status"] = "active"
    path = tmp_path / "one.json"
    path.write_text(json.dumps(one))
    out = tmp_path / "c.jsonl"
    helpers.write_cdrs(path, out, 500, 2)
    recs = helpers.load_records(out)
    assert len(recs) == 500 and {r["user_id"] for r in recs} == {one[4]["user_id"]}
    for r in recs:
        if r["cdr_type"] == "voice":
            assert r["calling_number"] != r["called_number"]


# ---------------------------------------------------------------- atomic files

def test_atomic_file_appears_only_on_commit(tmp_path):
    path = tmp_path / "f.bin"
    f = AtomicFile(str(path))
    f.write(b"hello")
    assert not path.exists()
    f.commit()
    assert path.read_bytes() == b"hello"
    assert helpers.listing(tmp_path) == ["f.bin"]
    assert (path.stat().st_mode & 0o777) == 0o644


def test_atomic_file_abort_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    f = AtomicFile(str(path))
    f.write(b"new")
    f.abort()
    assert path.read_bytes() == b"old" and helpers.listing(tmp_path) == ["f.bin"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_removes_what_killed_runs_left_and_nothing_else(tmp_path):
    from telco_cdr.output import _HOST

    target = tmp_path / "cdrs.jsonl"
    dead, live = _dead_pid(), os.getppid()
    stale = tmp_path / f".cdrs.jsonl.{_HOST}.{dead}.k3j9.part"
    kept = {
        "live": tmp_path / f".cdrs.jsonl.{_HOST}.{live}.a1b2.part",  # a run still writing
        "other host": tmp_path / f".cdrs.jsonl.another-host.{dead}.c3d4.part",
        "other file": tmp_path / f".users.json.{_HOST}.{dead}.e5f6.part",
        "0.1.0 name": tmp_path / ".cdrs.jsonl.x8f2k1.part",
    }
    for p in (stale, *kept.values()):
        p.write_bytes(b"half a file")
    with atomic_outputs([str(target)]) as (out,):
        out.write(b"whole\n")
    assert target.read_bytes() == b"whole\n"
    assert not stale.exists()
    for why, p in kept.items():
        assert p.exists(), why


def test_atomic_outputs_all_or_nothing(tmp_path):
    paths = [str(tmp_path / n) for n in ("a", "b")]
    with pytest.raises(RuntimeError):
        with atomic_outputs(paths) as outs:
            for o in outs:
                o.write(b"x")
            raise RuntimeError("boom")
    assert helpers.listing(tmp_path) == []
    with atomic_outputs(paths) as outs:
        for o in outs:
            o.write(b"y")
    assert helpers.listing(tmp_path) == ["a", "b"]


@pytest.mark.parametrize("make", ["dir", "missing-folder"])
def test_atomic_file_refuses_bad_paths(tmp_path, make):
    path = tmp_path if make == "dir" else tmp_path / "nope" / "f"
    with pytest.raises(UserError, match=str(path)):
        AtomicFile(str(path))


def _args(users, out, count, seed=3):
    return ["-u", str(users), "-c", str(count), "--seed", str(seed), "--start", helpers.WEEK_START,
            "--end", helpers.WEEK_END, "-o", str(out), "--format", "jsonl"]


# A fresh interpreter that runs cdr_generator.main and prints its own peak RSS (KiB on Linux).
MAXRSS = ("import resource, sys; import cdr_generator; rc = cdr_generator.main(sys.argv[1:]); "
          "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)")


def _run_measured(args) -> int:
    proc = subprocess.run([sys.executable, "-c", MAXRSS, *args], cwd=helpers.ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.fixture(scope="module")
def reference_300k(tmp_path_factory, users):
    """An uninterrupted run of 300,000 CDRs, and its peak RSS in KiB."""
    out = tmp_path_factory.mktemp("ref") / "ref.jsonl"
    rss = _run_measured(_args(users, out, 300_000))
    return out, rss


# The tests of reference_300k, and those of plain_files, each run in one pytest-xdist process, which
# makes the fixture once.
@pytest.mark.xdist_group("output-300k")
def test_memory_stays_flat(tmp_path, users, reference_300k):
    _, small = reference_300k
    big = _run_measured(_args(users, tmp_path / "big.jsonl", 1_200_000))
    assert (tmp_path / "big.jsonl").stat().st_size > 3 * reference_300k[0].stat().st_size
    assert big - small < 30 * 1024, f"peak RSS {small} KiB for 300k, {big} KiB for 1.2M"


@pytest.mark.xdist_group("output-300k")
def test_killed_run_leaves_no_file_and_rerun_is_complete(tmp_path, users, reference_300k):
    ref, _ = reference_300k
    out = tmp_path / "cdrs.jsonl"
    proc = subprocess.Popen([sys.executable, str(helpers.ROOT / "cdr_generator.py"), *_args(users, out, 300_000)],
                            cwd=helpers.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        # Wait until it is busy writing (a temporary file with data in it), then kill it.
        while time.monotonic() < deadline and proc.poll() is None:
            parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
            if parts and parts[0].stat().st_size > 0:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed; raise the count"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not out.exists()
    assert all(p.name.startswith(".cdrs.jsonl.") and p.name.endswith(".part") for p in tmp_path.iterdir())
    rerun = subprocess.run([sys.executable, str(helpers.ROOT / "cdr_generator.py"), *_args(users, out, 300_000)],
                           cwd=helpers.ROOT, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert helpers.sha256(out) == helpers.sha256(ref)


@pytest.mark.parametrize("workers, to_group", [(1, False), (2, False), (2, True), (3, True)],
                         ids=["w1", "w2", "w2-group", "w3-group"])
def test_interrupted_run_exits_130_and_cleans_up(tmp_path, users, workers, to_group):
    """Ctrl+C: to the process alone, or (as a terminal does) to its whole process group."""
    out = tmp_path / "cdrs.jsonl"
    out.write_text("keep me\n")
    proc = subprocess.Popen([sys.executable, str(helpers.ROOT / "cdr_generator.py"), *_args(users, out, 2_000_000),
                             "--workers", str(workers)],
                            cwd=helpers.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if any(p.name.endswith(".part") and p.stat().st_size > 0 for p in tmp_path.iterdir()):
                break
            time.sleep(0.02)
        assert proc.poll() is None
        kids = [int(x) for x in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
        assert len(kids) == workers - 1
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.2)
    assert [k for k in kids if os.path.exists(f"/proc/{k}") and "Z" not in open(f"/proc/{k}/stat").read().split()[2]] == []
    assert proc.returncode == Exit.INTERRUPTED, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert out.read_text() == "keep me\n"
    assert helpers.listing(tmp_path) == ["cdrs.jsonl"]  # the temporary file is gone too


def test_summary_counts_add_up_over_output_dir(tmp_path, users):
    d = tmp_path / "d"
    assert helpers.cdr_main("-u", users, "-c", 3000, "--output-dir", d, "--format", "json") == 0
    total = Counter()
    for t in TYPES:
        total[t] = len(json.loads((d / f"{t}.json").read_text()))
    assert sum(total.values()) == 3000


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_user_ids_that_need_escaping_survive_every_format(tmp_path, users, fmt):
    base = json.loads(users.read_text(encoding="utf-8"))[:40]
    odd = ['A,"B"', "Zoë 1", "back\\slash", "semi;colon", "dash-and.dot", "'quote'"]
    for u, uid in zip(base, odd):
        u["status"] = "active"
        u["user_id"] = uid
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(base, ensure_ascii=False), encoding="utf-8")
    out = helpers.write_cdrs(path, tmp_path / f"c.{fmt}", 3000, 8)
    recs = helpers.load_records(out)
    by_id = {u["user_id"]: u for u in base}
    assert len(recs) == 3000
    for r in recs:
        assert r["user_id"] in by_id, r["user_id"]
        assert r["msisdn"] == by_id[r["user_id"]]["msisdn"]
    assert set(odd) & {r["user_id"] for r in recs}


def test_users_with_only_the_required_fields(tmp_path, users):
    keep = ("user_id", "msisdn", "imsi", "imei", "mcc", "mnc", "status", "plan_type", "home_cell_id", "home_tac")
    base = [{k: u[k] for k in keep} for u in json.loads(users.read_text(encoding="utf-8"))[:200]]
    path = tmp_path / "minimal.jsonl"
    path.write_text("\n".join(json.dumps(u) for u in base) + "\n", encoding="utf-8")
    recs = helpers.load_records(helpers.write_cdrs(path, tmp_path / "c.jsonl", 2000, 8))
    by_id = {u["user_id"]: u for u in base}
    assert len(recs) == 2000
    assert all(r["imsi"] == by_id[r["user_id"]]["imsi"] and by_id[r["user_id"]]["status"] == "active"
               for r in recs)


# ---------------------------------------------------------------- writes that fail half-way

def _limited(limit: int):
    """A child process whose files cannot grow past ``limit`` bytes (EFBIG, as a full disk
    would give ENOSPC), with SIGXFSZ ignored so that the write fails instead of killing it."""
    import resource

    def setup():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return setup


@pytest.mark.parametrize("limit", [1_000, 20_000_000])  # fails in the first chunk, or chunks later
@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("where", ["file", "dir"])
def test_a_write_that_fails_gives_one_line_and_leaves_nothing(tmp_path, users, workers, where, limit):
    out = ["--output", str(tmp_path / "c.jsonl")] if where == "file" else ["--output-dir", str(tmp_path / "d")]
    proc = subprocess.run([sys.executable, str(helpers.ROOT / "cdr_generator.py"), "-u", str(users), "-c", "100000",
                           "--format", "jsonl", "--workers", str(workers), *out],
                          capture_output=True, text=True, timeout=120, preexec_fn=_limited(limit))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("cdr_generator.py: error: cannot write output") and "too large" in lines[0], lines
    assert str(tmp_path) in lines[0]
    left = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert left == [], left


@pytest.mark.parametrize("workers", [1, 2])
def test_stdout_that_is_full_gives_one_line(users, workers):
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, str(helpers.ROOT / "cdr_generator.py"), "-u", str(users),
                               "-c", "100000", "--format", "jsonl", "--workers", str(workers), "-o", "-"],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == "cdr_generator.py: error: cannot write stdout: No space left on device"


def test_a_worker_that_dies_ends_the_run_with_one_line(tmp_path, users):
    out = tmp_path / "c.jsonl"
    proc = subprocess.Popen([sys.executable, str(helpers.ROOT / "cdr_generator.py"), "-u", str(users),
                             "-c", "3000000", "--format", "jsonl", "--workers", "2", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    kids = []
    while not kids and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            kids = [int(x) for x in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
            kids = [k for k in kids if b"cdr_generator.py" in open(f"/proc/{k}/cmdline", "rb").read()]  # a worker (forked)
        except OSError:
            kids = []
    assert kids, "no worker process appeared"
    time.sleep(0.5)
    os.kill(kids[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert err.strip().splitlines() == ["cdr_generator.py: error: a worker process ended unexpectedly (exit code -9)"]
    assert [p.name for p in tmp_path.iterdir()] == []


# ---------------------------------------------------------------- compressed files

def _decompress(path) -> bytes:
    data = open(path, "rb").read()
    if str(path).endswith(".gz"):
        import gzip
        import zlib

        # gzip.decompress reads every member; check by hand too that the members cover the file
        out, rest = [], data
        while rest:
            d = zlib.decompressobj(31)
            out.append(d.decompress(rest))
            assert d.eof, f"{path}: a gzip member ends early"
            rest = d.unused_data
        assert b"".join(out) == gzip.decompress(data)
        return b"".join(out)
    import zstandard

    out, rest = [], data
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        out.append(d.decompress(rest))
        assert d.eof, f"{path}: a zstd frame ends early"
        rest = d.unused_data
    return b"".join(out)


COMPRESSIONS = [".gz", pytest.param(".zst", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("zstandard") is None, reason="zstandard is not installed"))]


COMPRESSED_COUNT = 17_000  # 3 chunks of 8,192 records


def _compressed_common(users):
    return ["-u", users, "-c", COMPRESSED_COUNT, "--seed", 12, "--start", helpers.WEEK_START, "--end", helpers.WEEK_END]


def _dir_args(users, workers):
    return [*_compressed_common(users), "--weights", "voice=1,sms=1,ims=0.001,voip=0", "--format", "csv", "-j", workers]


@pytest.fixture(scope="module")
def plain_files(tmp_path_factory, users):
    """The uncompressed files the compressed ones must hold: one per format, and a folder of per-type
    CSV files (some empty), written once for both compressions."""
    d = tmp_path_factory.mktemp("plain")
    for fmt in ("json", "jsonl", "csv"):
        _generate(*_compressed_common(users), "-o", d / f"p1.{fmt}", "-j", 1)
    _generate(*_dir_args(users, 1), "--output-dir", d / "dp1")
    return d


@pytest.mark.xdist_group("output-plain")
@pytest.mark.parametrize("suffix", COMPRESSIONS)
def test_compressed_file_is_the_plain_file_compressed_for_any_workers(tmp_path, users, plain_files, suffix):
    """cdrs.<fmt>.gz / .zst hold exactly the bytes of cdrs.<fmt>, for 1 and 3 workers (the members
    each worker compressed make one stream), and the compressed bytes do not depend on --workers.
    Over 3 chunks of 8,192 records, with per-type files (--compression) too, some of them empty."""
    codec = {".gz": "gzip", ".zst": "zstd"}[suffix]
    for w in (1, 3):
        for fmt in ("json", "jsonl", "csv"):
            _generate(*_compressed_common(users), "-o", tmp_path / f"c{w}.{fmt}{suffix}", "-j", w)
        _generate(*_dir_args(users, w), "--output-dir", tmp_path / f"dc{w}", "--compression", codec)
    for fmt in ("json", "jsonl", "csv"):
        plain = (plain_files / f"p1.{fmt}").read_bytes()
        packed = (tmp_path / f"c1.{fmt}{suffix}").read_bytes()
        assert (tmp_path / f"c3.{fmt}{suffix}").read_bytes() == packed, f"{fmt}{suffix}: other bytes with 3 workers"
        assert len(packed) < len(plain) / 3, (fmt, len(packed), len(plain))
        assert _decompress(tmp_path / f"c1.{fmt}{suffix}") == plain, fmt
        assert len(helpers.parse_records(plain.decode(), fmt)) == COMPRESSED_COUNT
    assert helpers.listing(tmp_path / "dc1") == sorted(f"{t}.csv{suffix}" for t in TYPES)
    for t in TYPES:
        plain = (plain_files / "dp1" / f"{t}.csv").read_bytes()
        assert (tmp_path / "dc3" / f"{t}.csv{suffix}").read_bytes() == (tmp_path / "dc1" / f"{t}.csv{suffix}").read_bytes()
        assert _decompress(tmp_path / "dc1" / f"{t}.csv{suffix}") == plain, t
    assert (plain_files / "dp1" / "voip.csv").read_text().count("\n") == 1  # an empty type: its header only


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_empty_compressed_files_are_valid(tmp_path, users, fmt):
    plain, packed = tmp_path / f"e.{fmt}", tmp_path / f"e.{fmt}.gz"
    for out in (plain, packed):
        assert helpers.cdr_main("-u", users, "-c", 0, "-o", out) == 0
    assert _decompress(packed) == plain.read_bytes()
    proc = subprocess.run(["gzip", "-t", str(packed)], capture_output=True)  # the real tool agrees
    assert proc.returncode == 0, proc.stderr


def test_compressed_stdout(users):
    args = ["-u", users, "-c", 9000, "--seed", 3, "--start", helpers.WEEK_START, "--end", helpers.WEEK_END, "-o", "-"]
    plain = run_script("cdr_generator.py", *args)
    packed = run_script("cdr_generator.py", *args, "--compression", "gzip", "--workers", 2)
    assert plain.returncode == packed.returncode == 0, (plain.stderr, packed.stderr)
    import gzip

    assert gzip.decompress(packed.stdout_bytes) == plain.stdout_bytes
    assert len(helpers.parse_records(plain.stdout, "jsonl")) == 9000  # stdout: JSON Lines by default


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_compressed_users_file_round_trip(tmp_path, fmt):
    """user_generator.py writes users.<fmt>.gz / .zst, and a users file compressed so reads as the
    plain one: the same CDRs, byte for byte."""
    suffixes = [".gz"] + ([".zst"] if __import__("importlib").util.find_spec("zstandard") else [])
    plain = helpers.write_users(tmp_path / f"u.{fmt}", 700, seed=8)
    cdrs = helpers.write_cdrs(plain, tmp_path / "from-plain.jsonl", 3000)
    for suffix in suffixes:
        packed = helpers.write_users(tmp_path / f"u.{fmt}{suffix}", 700, seed=8)
        assert _decompress(packed) == plain.read_bytes(), suffix
        assert helpers.write_cdrs(packed, tmp_path / f"from{suffix}.jsonl", 3000).read_bytes() == cdrs.read_bytes()


@pytest.mark.parametrize("where", ["file", "dir"])
@pytest.mark.parametrize("workers", [1, 3])
def test_a_compressed_write_that_fails_leaves_nothing(tmp_path, users, workers, where):
    out = ["--output", str(tmp_path / "c.jsonl.gz")] if where == "file" else \
        ["--output-dir", str(tmp_path / "d"), "--compression", "gzip"]
    proc = subprocess.run([sys.executable, str(helpers.ROOT / "cdr_generator.py"), "-u", str(users), "-c", "100000",
                           "--workers", str(workers), *out],
                          capture_output=True, text=True, timeout=120, preexec_fn=_limited(2_000_000))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("cdr_generator.py: error: cannot write output") and "too large" in lines[0], lines
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_without_the_zstandard_package_zst_is_one_line(tmp_path, users, monkeypatch):
    """zstd is optional: without the package, writing or reading .zst is one line, exit 2."""
    from running import assert_clean_error, call_main

    monkeypatch.setitem(sys.modules, "zstandard", None)  # import zstandard raises ImportError
    res = call_main("cdr_generator.py", ["-u", users, "-c", 10, "-o", tmp_path / "c.jsonl.zst"])
    assert "zstandard" in assert_clean_error(res, 2) and list(tmp_path.iterdir()) == []
    res = call_main("user_generator.py", ["-n", 10, "-o", tmp_path / "u.json.zst"])
    assert "zstandard" in assert_clean_error(res, 2) and list(tmp_path.iterdir()) == []
    zst = tmp_path / "u.json.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 20)  # a zstd magic number
    res = call_main("cdr_generator.py", ["-u", zst, "-c", 10, "-o", tmp_path / "c.jsonl"])
    line = assert_clean_error(res, 2)
    assert "zstandard" in line and str(zst) in line and not (tmp_path / "c.jsonl").exists()


# ---------------------------------------------------------------- saying what is happening

class _Terminal(__import__("io").StringIO):
    def isatty(self):
        return True


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _drawn(stream) -> list[str]:
    """The lines a terminal shows, one per redraw (each starts with a carriage return)."""
    return [part.rstrip() for part in stream.getvalue().split("\r") if part.strip()]


def test_progress_shows_records_bytes_rate_and_time_left():
    from telco_cdr.output import Progress

    term, clock = _Terminal(), _Clock()
    p = Progress(5000, "CDRs", stream=term, clock=clock)
    clock.t += 3.0  # reading the users
    p.begin()
    clock.t += 2.0
    p.update(1000, 1_500_000)
    assert _drawn(term) == ["1,000/5,000 CDRs (20%), 1.5 MB, 500/s, 8 s left"]
    clock.t += 0.1  # too soon: not redrawn
    p.update(1100, 1_600_000)
    assert len(_drawn(term)) == 1
    clock.t += 0.4
    p.update(4000, 6_000_000_000)
    assert _drawn(term)[-1] == "4,000/5,000 CDRs (80%), 6.0 GB, 1,600/s, 1 s left"
    p.done()
    assert term.getvalue().endswith("\r" + " " * len("4,000/5,000 CDRs (80%), 6.0 GB, 1,600/s, 1 s left") + "\r")
    assert p.read_seconds == 3.0 and p.seconds == 5.5  # the run's time counts the reading


def test_progress_of_reading_and_of_the_steps_before_writing():
    from telco_cdr.output import Progress

    term, clock = _Terminal(), _Clock()
    p = Progress(10, "CDRs", stream=term, clock=clock)
    clock.t += 2.0
    p.reading(50_000_000, 200_000_000)
    p.phase("parsing 200.0 MB of users")  # shown at once, however soon
    assert _drawn(term) == ["reading users: 50.0 MB of 200.0 MB (25%), 25.0 MB/s, 6 s left",
                            "parsing 200.0 MB of users ..."]
    long = Progress(10**9, "CDRs", stream=term, clock=clock)
    long.begin()
    clock.t += 10
    long.update(1_000_000, 612_300_000)
    assert _drawn(term)[-1] == "1,000,000/1,000,000,000 CDRs (0%), 612.3 MB, 100,000/s, 2 h 46 min left"


def test_progress_is_silent_off_a_terminal():
    import io

    from telco_cdr.output import Progress

    out = io.StringIO()
    p = Progress(10, "CDRs", stream=out)
    p.reading(1, 2)
    p.phase("parsing")
    p.update(5, 100)
    p.done()
    assert out.getvalue() == ""


def test_counts_agree_in_number():
    from telco_cdr.text import duration, plural, size

    assert [plural(n, "CDR") for n in (0, 1, 2, 1000)] == ["0 CDRs", "1 CDR", "2 CDRs", "1,000 CDRs"]
    assert plural(1, "message") == "1 message" and plural(-1, "user") == "-1 users"
    assert [size(n) for n in (1, 999, 1000, 612_345_678, 3_060_000_000, 999_960)] == \
        ["1 byte", "999 bytes", "1.0 kB", "612.3 MB", "3.1 GB", "1.0 MB"]
    assert [duration(s) for s in (0.4, 59.6, 125, 3725)] == ["0 s", "1 min 00 s", "2 min 05 s", "1 h 02 min"]


def _summary(stderr: str, prog: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(f"{prog}: wrote ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("name", ["c.jsonl", "c.csv.gz", "-"])
def test_summary_gives_the_size_written(tmp_path, users, name):
    from telco_cdr.text import size

    args = ["-u", users, "-c", 12_000, "-o", name if name == "-" else tmp_path / name, "--workers", 2]
    # to stdout: a process of its own, whose workers write to its file descriptor 1
    proc = run_script("cdr_generator.py", *args) if name == "-" else _generate(*args)
    assert proc.returncode == 0, proc.stderr
    written = len(proc.stdout_bytes) if name == "-" else os.path.getsize(tmp_path / name)
    line = _summary(proc.stderr, "cdr_generator.py")
    assert f"wrote 12,000 CDRs ({size(written)}) to " in line, line
    assert ("(csv, gzip)" in line) == name.endswith(".gz"), line


def test_summary_of_one_record_and_of_one_user(tmp_path, users):
    from telco_cdr.text import size

    one = _generate("-u", users, "-c", 1, "-o", tmp_path / "one.jsonl")
    assert f"wrote 1 CDR ({size(os.path.getsize(tmp_path / 'one.jsonl'))}) to " in one.stderr, one.stderr
    assert "reading and modelling 1,500 users" in one.stderr, one.stderr
    u = call_main("user_generator.py", ["-n", 1, "-o", tmp_path / "u.json.gz"])
    assert u.returncode == 0, u.describe()
    assert f"wrote 1 user ({size(os.path.getsize(tmp_path / 'u.json.gz'))}) to " in u.stderr, u.stderr


def test_summary_time_counts_reading_the_users(tmp_path):
    """The time of the summary is the run's: reading and modelling a large users file is in it (it
    was once reported as 0.0 s, the clock starting after the reading)."""
    import re

    big = helpers.write_users(tmp_path / "big.jsonl", 40_000, seed=2)
    t0 = time.monotonic()
    proc = _generate("-u", big, "-c", 0, "-o", tmp_path / "none.jsonl")
    wall = time.monotonic() - t0
    m = re.search(r"; ([\d.]+) s \(([\d.]+) s reading and modelling 40,000 users\)", proc.stderr)
    assert m, proc.stderr
    total, reading = float(m.group(1)), float(m.group(2))
    assert total >= reading >= 0.2, proc.stderr
    assert total >= 0.5 * wall, f"the summary says {total} s of a {wall:.1f} s run\n{proc.stderr}"


@pytest.mark.parametrize("workers", [1, 3])
def test_progress_on_a_real_terminal(tmp_path, workers):
    """cdr_generator.py with stderr on a terminal (a pty): reading, the steps before writing, then
    records, bytes, rate and time left; the line is cleared before the summary."""
    import pty

    users = helpers.write_users(tmp_path / "u.json", 3000, seed=5)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(helpers.ROOT / "cdr_generator.py"), "-u", str(users),
                             "-c", "200000", "-o", str(tmp_path / "c.jsonl.gz"), "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=slave, cwd=helpers.ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    os.close(master)
    text = b"".join(chunks).decode()
    shown = [part.strip() for part in text.split("\r") if part.strip()]
    import re

    assert any(s.startswith("reading users: ") for s in shown), shown
    assert "parsing" in text and "checking 3,000 users" in text and "modelling the traffic of 3,000 users" in text
    drawn = [s for s in shown if re.fullmatch(r"[\d,]+/200,000 CDRs \(\d+%\), [\d.]+ (kB|MB), [\d,]+/s, .+ left", s)]
    assert drawn, shown
    assert shown[-1].startswith("cdr_generator.py: wrote 200,000 CDRs"), shown[-1]
