"""cdr_generator.py as a command: help, the summary line, bad input, a closed stdout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

import cdr_generator
import helpers
from running import call_main, run_script

SCRIPT = "cdr_generator.py"
FLAGS = ["--users-file", "-u", "--count", "-c", "--output", "-o", "--output-dir", "--format", "--seed",
         "--start", "--end", "--weights", "--workers"]
SENTINEL = "an earlier run's output\n"


@pytest.fixture(scope="module")
def good_users(tmp_path_factory):
    return helpers.write_users(tmp_path_factory.mktemp("cli_users") / "users.json", 200, seed=4)


# ---------------------------------------------------------------- help and summary

def test_help_lists_examples_and_every_flag():
    proc = run_script(SCRIPT, "--help")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    out = proc.stdout
    assert re.search(r"^examples:", out, re.M | re.I)
    declared = {s for a in cdr_generator.build_parser()._actions for s in a.option_strings}
    assert set(FLAGS) <= declared
    for flag in declared:
        assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", out), flag


def _summary_counts(line: str) -> dict:
    return {t: int(n.replace(",", "")) for t, n in re.findall(r"\b(voice|data|sms|voip|ims) ([\d,]+)", line)}


def test_summary_line_names_counts_per_type_and_seed(tmp_path, good_users):
    out = tmp_path / "c.jsonl"
    proc = run_script(SCRIPT, "-u", good_users, "-c", 5000, "--seed", 123, "-o", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    actual = Counter(c["cdr_type"] for c in helpers.load_records(out))
    assert _summary_counts(lines[0]) == {t: actual.get(t, 0) for t in ("voice", "data", "sms", "voip", "ims")}
    assert re.search(r"\b5,?000 CDRs\b", lines[0]) and re.search(r"\bseed 123\b", lines[0]), lines[0]
    assert str(out) in lines[0]


def test_summary_line_with_output_dir(tmp_path, good_users):
    proc = run_script(SCRIPT, "-u", good_users, "-c", 800, "--seed", 5, "--output-dir", tmp_path / "d")
    assert proc.returncode == 0, proc.stderr
    counts = _summary_counts(proc.stderr)
    for t, n in counts.items():
        assert len(helpers.load_records(tmp_path / "d" / f"{t}.jsonl")) == n
    assert sum(counts.values()) == 800 and "seed 5" in proc.stderr


# ---------------------------------------------------------------- bad input

def _users_variant(src, dst, change):
    users = json.loads(src.read_text(encoding="utf-8"))
    change(users)
    dst.write_text(json.dumps(users), encoding="utf-8")


def _drop_imsi(users):
    del users[7]["imsi"]


def _msisdn_number(users):
    users[3]["msisdn"] = int(users[3]["msisdn"])


def _home_tac_text(users):
    users[0]["home_tac"] = str(users[0]["home_tac"])


def _dup_id(users):
    users[9]["user_id"] = users[2]["user_id"]


def _all_suspended(users):
    for u in users:
        u["status"] = "suspended"


def _users_file(kind: str, folder, good):
    """Make a bad users file of ``kind`` in ``folder``; return its path."""
    p = folder / "users.json"
    if kind == "missing":
        return folder / "no-such-users.json"
    if kind == "directory":
        (folder / "users.d").mkdir()
        return folder / "users.d"
    raw = good.read_bytes()
    content = {
        "empty": b"",
        "whitespace": b"  \n\n",
        "truncated": raw[: len(raw) // 2],
        "malformed": b'[{"user_id": "U1",, }]',
        "object": b'{"users": []}',
        "object-pretty": b'{\n  "users": []\n}\n',
        "non-utf8": b'[{"user_id": "U\xff\xfe"}]',
        "jsonl-bad-line": b'{"user_id": "U1"}\n{oops\n',
        "array-of-numbers": b"[1, 2, 3]",
        "empty-array": b"[]",
    }.get(kind)
    if content is not None:
        p.write_bytes(content)
        return p
    change = {"no-imsi": _drop_imsi, "msisdn-number": _msisdn_number, "home-tac-text": _home_tac_text,
              "duplicate-user-id": _dup_id, "all-suspended": _all_suspended}[kind]
    _users_variant(good, p, change)
    return p


USERS_CASES = ["missing", "directory", "empty", "whitespace", "truncated", "malformed", "object", "object-pretty",
               "non-utf8", "jsonl-bad-line", "array-of-numbers", "empty-array", "no-imsi", "msisdn-number",
               "home-tac-text", "duplicate-user-id", "all-suspended"]
FLAG_CASES = {
    "weights-negative": (["--weights", "voice=-1,data=1"], "--weights"),
    "weights-unknown-type": (["--weights", "voice=1,fax=1"], "--weights"),
    "weights-sum-zero": (["--weights", "voice=0,data=0"], "--weights"),
    "weights-not-a-number": (["--weights", "voice=lots"], "--weights"),
    "count-negative": (["--count", "-1"], "--count"),
    "count-not-a-number": (["--count", "abc"], "--count"),
    "start-unparsable": (["--start", "yesterday-ish"], "--start"),
    "end-unparsable": (["--end", "2026-13-45"], "--end"),
    "start-after-end": (["--start", "2026-11-05T00:00:00Z", "--end", "2026-11-01T00:00:00Z"], "--start"),
    "workers-zero": (["--workers", "0"], "--workers"),
    "format-unknown": (["--format", "xml"], "--format"),
    "seed-negative": (["--seed", "-3"], "--seed"),
    "unknown-flag": (["--colour"], "--colour"),
}
OUTPUT_CASES = ["output-in-missing-folder", "output-is-a-directory", "output-dir-is-a-file"]
# Every case with no output file beforehand; one case per stage that can fail (flag parsing, --weights,
# the time window, reading the users file, checking its records) also over an existing output file.
EXISTING = ["truncated", "non-utf8", "duplicate-user-id", "all-suspended", "weights-negative", "count-negative",
            "start-after-end", "workers-zero"]
ALL_CASES = [(c, "fresh") for c in USERS_CASES + list(FLAG_CASES) + OUTPUT_CASES] + \
            [("output-dir-with-missing-users", "fresh")] + [(c, "existing") for c in EXISTING]


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory, good_users):
    """Every bad-input case run once, in this process (main() as the script calls it); results by
    (case, variant)."""
    jobs, info = {}, {}
    for case, variant in ALL_CASES:
        folder = tmp_path_factory.mktemp(f"bad-{case}-{variant}")
        out = folder / "cdrs.json"
        users = good_users
        if case in USERS_CASES:
            users = _users_file(case, folder, good_users)
            args, expect = ["--users-file", users, "--output", out], str(users)
        elif case in FLAG_CASES:
            flag_args, expect = FLAG_CASES[case]
            args = ["--users-file", users, "--output", out, *flag_args]
        elif case == "output-in-missing-folder":
            out = folder / "missing" / "cdrs.json"
            args, expect = ["--users-file", users, "--output", out], str(out)
        elif case == "output-is-a-directory":
            out = folder / "out.d"
            out.mkdir()
            args, expect = ["--users-file", users, "--output", out], str(out)
        elif case == "output-dir-is-a-file":
            out = folder / "landing"
            out.write_text(SENTINEL)
            args, expect = ["--users-file", users, "--output-dir", out], str(out)
        else:  # output-dir-with-missing-users
            out = folder / "landing"
            missing = folder / "nope.json"
            args, expect = ["--users-file", missing, "--output-dir", out], str(missing)
        if variant == "existing":
            out.write_text(SENTINEL)
        before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
        jobs[(case, variant)] = (SCRIPT, ["--count", 50, *args], {})
        info[(case, variant)] = (folder, out, expect, before)
    results = {key: call_main(script, args) for key, (script, args, _) in jobs.items()}  # in-process: fast
    return {k: (results[k], *info[k]) for k in jobs}


@pytest.mark.parametrize("case, variant", ALL_CASES, ids=[f"{c}-{v}" for c, v in ALL_CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(bad_runs, case, variant):
    proc, folder, out, expect, before = bad_runs[(case, variant)]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert expect in lines[0], f"the error should name {expect!r}: {lines[0]}"
    assert lines[0].startswith(f"{SCRIPT}: ")
    assert proc.stdout == ""
    if variant == "existing":
        assert out.read_text() == SENTINEL
    # Nothing new beside the inputs: no output, no temporary file, no folder.
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before


# ---------------------------------------------------------------- a reader that goes away

@pytest.mark.parametrize("workers", [1, 2])
def test_stdout_closed_by_head_is_quiet(tmp_path, good_users, workers):
    err = tmp_path / "gen.err"
    cmd = (f"set +o pipefail; '{sys.executable}' {SCRIPT} -u '{good_users}' --count 200000 -o - --format jsonl "
           f"--workers {workers} 2>'{err}' | head -1; echo \"status=${{PIPESTATUS[0]}}\"")
    proc = subprocess.run(["bash", "-c", cmd], cwd=helpers.ROOT, capture_output=True, text=True, timeout=120)
    first, _, rest = proc.stdout.partition("\n")
    assert json.loads(first)["cdr_type"]  # head got one whole record
    assert rest.strip() == "status=0", proc.stdout[-200:]
    assert err.read_text() == "", err.read_text()


def test_run_from_another_folder_with_relative_paths(tmp_path, good_users):
    shutil.copy(good_users, tmp_path / "users.json")
    proc = run_script(SCRIPT, "--count", 30, cwd=tmp_path)  # the defaults: users.json -> cdrs.json
    assert proc.returncode == 0, proc.stderr
    assert len(helpers.load_records(tmp_path / "cdrs.json")) == 30


@pytest.mark.parametrize("field", ["msisdn", "imsi"])
def test_duplicate_subscriber_numbers_are_rejected(tmp_path, good_users, field):
    # Two subscribers cannot share an MSISDN or an IMSI; if they did, a CDR's counterparty number
    # (and its MT twin) would join to two users.
    users = json.loads(good_users.read_text(encoding="utf-8"))
    a = users[3]
    b = next(u for u in users[4:] if (u["mcc"], u["mnc"]) == (a["mcc"], a["mnc"]))  # same PLMN
    b[field] = a[field]
    path = tmp_path / "users.json"
    path.write_text(json.dumps(users), encoding="utf-8")
    out = tmp_path / "cdrs.json"
    proc = call_main(SCRIPT, ["-u", path, "-c", 50, "-o", out])
    assert proc.escaped is None and proc.returncode == 2, proc.describe()
    assert len(proc.stderr.splitlines()) == 1 and str(path) in proc.stderr and field in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("content", ['{"users": []}', '{\n  "users": [\n  ]\n}\n'], ids=["compact", "pretty"])
def test_json_object_users_file_is_told_an_array_is_expected(tmp_path, content):
    path = tmp_path / "users.json"
    path.write_text(content)
    proc = call_main(SCRIPT, ["-u", path, "-c", 5, "-o", tmp_path / "c.json"])
    assert proc.escaped is None and proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    # The file is valid JSON; the fault is that it is an object, not an array of users.
    assert "array" in proc.stderr, proc.stderr


# ---------------------------------------------------------------- the time window

def _times(path):
    return [helpers.iso_ms(r["start_time"]) for r in helpers.load_records(path)]


def test_window_defaults_to_one_day_from_start_or_to_end(tmp_path, good_users):
    day = 86_400_000
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert helpers.cdr_main("-u", good_users, "-c", 2000, "--start", "2026-03-01T00:00:00Z", "-o", a) == 0
    lo = helpers.iso_ms("2026-03-01T00:00:00Z")
    t = _times(a)
    assert min(t) >= lo and max(t) < lo + day and max(t) - min(t) > day * 0.9
    assert helpers.cdr_main("-u", good_users, "-c", 2000, "--end", "2026-03-01T00:00:00Z", "-o", b) == 0
    t = _times(b)
    assert min(t) >= lo - day and max(t) < lo and max(t) - min(t) > day * 0.9


def test_window_offsets_and_dates_mean_the_same_instants(tmp_path, good_users):
    outs = []
    for i, (start, end) in enumerate([("2026-11-02T05:00:00Z", "2026-11-03T05:00:00Z"),
                                      ("2026-11-02T00:00:00-05:00", "2026-11-03T06:00:00+01:00"),
                                      ("2026-11-02T05:00:00", "2026-11-03T05:00:00+00:00")]):
        out = tmp_path / f"{i}.jsonl"
        assert helpers.cdr_main("-u", good_users, "-c", 500, "--start", start, "--end", end, "-o", out) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_readme_exit_code_table_is_the_one_the_scripts_use():
    from telco_cdr.constants import Exit

    readme = (helpers.ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", table, re.M)}
    assert documented == {int(e) for e in Exit}, (documented, list(Exit))


def test_readme_examples_write_only_ignored_files_and_state_the_default_pace():
    """Every file a README example writes is in .gitignore (so a first try leaves `git status`
    clean), the set-up commands are the ones that work, and the Kafka table states the default pace
    the code has."""
    from telco_cdr.constants import DEFAULT_INTERVAL_S

    readme = (helpers.ROOT / "README.md").read_text(encoding="utf-8")
    blocks = "\n".join(re.findall(r"```sh\n(.*?)```", readme, re.S))
    outputs = set(re.findall(r"--output(?:-dir)? (\S+)", blocks)) - {"-"}
    assert {"users.jsonl", "eu_users.json", "cdrs.jsonl", "cdrs.jsonl.gz", "landing/"} <= outputs, outputs
    outputs |= {"users.json", "cdrs.json", "landing/voice.jsonl", "users.jsonl.gz", "cdrs.csv.zst"}
    proc = subprocess.run(["git", "check-ignore", "--no-index", "-v", *sorted(outputs)], cwd=helpers.ROOT,
                          capture_output=True, text=True)
    ignored = {line.split("\t")[-1] for line in proc.stdout.splitlines()}
    assert ignored == outputs, f"not in .gitignore: {sorted(outputs - ignored)}"
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    for command in ("python3 -m venv .venv && . .venv/bin/activate",
                    "pip install -r requirements.txt && python user_generator.py && python cdr_generator.py",
                    "pip install -r requirements-dev.txt && python -m pytest -q"):
        assert command in setup, command
    rate_row = next(line for line in readme.splitlines() if line.startswith("| `--rate N"))
    assert f"one message every {DEFAULT_INTERVAL_S:g} s" in rate_row and "`max`" in rate_row, rate_row
