"""user_generator.py as a command: help, summary, default seed, stdout, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

import helpers
import user_generator
from running import call_main, run_script
from telco_cdr.constants import DEFAULT_SEED
from telco_cdr.users import generate_users

SCRIPT = "user_generator.py"
FLAGS = ["--num-users", "-n", "--seed", "--country", "--operator", "--output", "-o", "--format"]


def test_help_lists_examples_and_every_flag():
    proc = run_script(SCRIPT, "--help")
    assert proc.returncode == 0
    out = proc.stdout
    assert re.search(r"^examples:", out, re.M | re.I)
    declared = {s for a in user_generator.build_parser()._actions for s in a.option_strings}
    assert set(FLAGS) <= declared
    for flag in declared:
        assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", out), flag
    assert "Traceback" not in proc.stderr


def test_summary_line_names_count_and_seed(tmp_path):
    out = tmp_path / "u.json"
    proc = run_script(SCRIPT, "-n", 1234, "--seed", 99, "-o", out)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert re.search(r"\b1,?234 users\b", lines[0]), lines[0]
    assert re.search(r"\bseed 99\b", lines[0]), lines[0]
    assert str(out) in lines[0]
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 1234


def test_default_seed_is_fixed(tmp_path):
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    for path in (a, b):
        proc = run_script(SCRIPT, "-n", 300, "-o", path)
        assert proc.returncode == 0, proc.stderr
    assert a.read_bytes() == b.read_bytes()
    proc = run_script(SCRIPT, "-n", 300, "--seed", DEFAULT_SEED, "-o", c)
    assert proc.returncode == 0 and c.read_bytes() == a.read_bytes()
    assert json.loads(a.read_bytes()) == list(generate_users(300))


def test_same_seed_byte_identical_and_other_seed_differs(tmp_path):
    paths = [tmp_path / f"{i}.jsonl" for i in range(3)]
    for path, seed in zip(paths, (7, 7, 8)):
        assert helpers.users_main("-n", 500, "--seed", seed, "--country", "FR", "--country", "IN", "-o", path) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_output_dash_writes_to_stdout(tmp_path, fmt):
    proc = run_script(SCRIPT, "-n", 60, "--seed", 3, "--output", "-", "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert helpers.parse_records(proc.stdout, fmt) == list(generate_users(60, seed=3))
    assert list(tmp_path.iterdir()) == []  # nothing written to the working folder
    assert "stdout" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_stdout_closed_early_is_quiet(tmp_path):
    err = tmp_path / "gen.err"
    cmd = (f"set +o pipefail; '{sys.executable}' {SCRIPT} -n 300000 -o - --format jsonl 2>'{err}' | head -1; "
           "echo \"status=${PIPESTATUS[0]}\"")
    proc = subprocess.run(["bash", "-c", cmd], cwd=helpers.ROOT, capture_output=True, text=True, timeout=120)
    first, _, rest = proc.stdout.partition("\n")
    assert json.loads(first)["user_id"]  # head got one whole record
    assert rest.strip() == "status=0", proc.stdout[-200:]
    assert err.read_text() == "", err.read_text()


# Bad input in-process (main()): test_hostile_flags.py's spot checks run user_generator.py's bad flags
# as processes.

def _bad(tmp_path, *args, expect: str):
    out = tmp_path / "out.json"
    out.write_text("previous content")
    proc = call_main(SCRIPT, [*args, *(() if "-o" in args else ("-o", out))])
    assert proc.escaped is None, proc.describe()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert expect in lines[0], lines[0]
    assert proc.stdout == ""
    assert out.read_text() == "previous content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temp file left either


@pytest.mark.parametrize("args, expect", [
    (("--num-users", "0"), "--num-users"),
    (("--num-users", "abc"), "--num-users"),
    (("--num-users", "-5"), "--num-users"),
    (("--seed", "-1"), "--seed"),
    (("--seed", "x"), "--seed"),
    (("--country", "XX"), "--country"),
    (("--operator", "999-99"), "--operator"),
    (("--country", "US", "--operator", "234-15"), "--operator"),
    (("--format", "xml"), "--format"),
    (("--bogus",), "--bogus"),
], ids=["num-users-0", "num-users-abc", "num-users-negative", "seed-negative", "seed-text", "country-unknown",
        "operator-unknown", "operator-outside-country", "format-unknown", "unknown-flag"])
def test_bad_flag_is_one_line_exit_2(tmp_path, args, expect):
    _bad(tmp_path, *args, expect=expect)


def test_output_in_missing_folder(tmp_path):
    target = tmp_path / "missing" / "u.json"
    proc = call_main(SCRIPT, ["-n", 5, "-o", target])
    assert proc.escaped is None and proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr and str(target) in proc.stderr
    assert not (tmp_path / "missing").exists()


def test_output_is_a_directory(tmp_path):
    proc = call_main(SCRIPT, ["-n", 5, "-o", tmp_path])
    assert proc.escaped is None and proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr and str(tmp_path) in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_stdout_is_json_lines_by_default(tmp_path):
    proc = run_script(SCRIPT, "-n", 40, "--seed", 3, "--output", "-", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [json.loads(line) for line in lines] == list(generate_users(40, seed=3))
    assert "(jsonl)" in proc.stderr
