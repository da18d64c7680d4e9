"""Hostile flag values: every flag of every script with values it cannot take.

Each bad value must end the run with exit code 2 and exactly one ``prog: error: ...`` line on
stderr that names the flag, without a traceback and before anything is written or sent: the Kafka
scripts get ``-b 127.0.0.1:1`` (nothing listens there), so a value that slips through to the
connection shows up as exit 1 instead of 2.

The table runs in-process through each script's ``main(argv)`` (stdout and stderr swapped for strict
UTF-8 streams); a sample runs as real subprocesses; a property-based test throws out-of-range and
non-numeric values at every numeric flag; one test uses the real broker to check that a bad
--country/--operator is refused before export_users_to_kafka.py touches Kafka.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kafka_data import unique_prefix
from running import Result, assert_clean_error, call_main, run_many, run_script
from telco_cdr.constants import Exit
from telco_cdr.users import generate_users

SECRET = "S3cr3t-XYZ-987"
NOWHERE = "127.0.0.1:1"


# ---------------------------------------------------------------- running main() in-process

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile_flags")
    users = d / "users.json"
    users.write_text(json.dumps(list(generate_users(20, 42))))
    (d / "a-folder").mkdir()
    (d / "a-file").write_text("not a folder\n")
    return d


class Files:
    """Placeholders in the table, resolved against the module's tmp folder."""
    USERS, FOLDER, FILE = "<users>", "<folder>", "<file>"


def resolve(args, d: Path) -> list[str]:
    return [str({Files.USERS: d / "users.json", Files.FOLDER: d / "a-folder", Files.FILE: d / "a-file"}
                .get(a, a)) for a in args]


def base_args(script: str, out: Path) -> list:
    """Good arguments that the case's arguments follow (argparse: the last value of a flag wins)."""
    return {
        "user_generator.py": ["-o", out / "users.json", "-n", 10],
        "cdr_generator.py": ["-u", Files.USERS, "-o", out / "cdrs.json", "--count", 5],
        "kafka_producer.py": ["-b", NOWHERE, "--timeout", 1, "--max-count", 5, "--num-users", 20,
                              "--stats-interval", 0],
        "export_users_to_kafka.py": ["-b", NOWHERE, "--timeout", 1, "--num-users", 20, "--stats-interval", 0],
    }[script]


def assert_flag_error(res: Result, named, out: Path | None = None) -> str:
    info = res.describe()
    line = assert_clean_error(res, Exit.USAGE, *named)
    assert res.stdout == "", f"output on stdout:\n{info}"
    if out is not None:
        assert os.listdir(out) == [], f"files left behind: {os.listdir(out)}\n{info}"
    assert SECRET not in res.stdout + res.stderr, info
    return line


# ---------------------------------------------------------------- the table

CASES: list[tuple[str, list, tuple]] = []  # (script, args, texts the error line must name)


def bad(scripts, flag, values, named=None, extra=()):
    for script in ([scripts] if isinstance(scripts, str) else scripts):
        for v in values:
            CASES.append((script, [*extra, flag, v], tuple(named or (flag,))))


def case(scripts, args, *named):
    for script in ([scripts] if isinstance(scripts, str) else scripts):
        CASES.append((script, list(args), named))


U, C, K, E = "user_generator.py", "cdr_generator.py", "kafka_producer.py", "export_users_to_kafka.py"
ALL, GEN, KAFKA = (U, C, K, E), (U, K, E), (K, E)
INT_JUNK = ["abc", "1.5", "", "nan", "inf", "1e3", "0x10", "١٢x"]
FLOAT_JUNK = ["abc", "", "nan", "inf", "-inf", "1,5", "0x"]

# users (user_generator.py, and the Kafka scripts without --users-file)
bad(GEN, "--num-users", ["-1", "0", "50000001", str(10**12), *INT_JUNK])
bad(GEN, "-n", ["0"], named=["--num-users"])
bad(GEN, "--seed", ["-1", str(2**63), str(10**30), "abc", "1.5", "", "nan"])
bad(GEN, "--country", ["XX", "", "U S", "usa", "ZZ"])
bad(GEN, "--operator", ["nosuch", "", "999-99", "Vodafone", "310-2600"])
case(GEN, ["--operator", "234-15", "--country", "US"], "--operator")
bad(U, "--format", ["xml", "csv", "", "JSON"])
bad(U, "--output", ["", Files.FOLDER, "/nonexistent-dir/users.json", f"{Files.FILE}/users.json"], named=["output"])

# cdr_generator.py
bad(C, "--count", ["-1", str(10**11 + 1), str(10**30), "abc", "1.5", "", "nan", "inf"])
bad(C, "--workers", ["0", "-1", "65", str(10**6), "abc", "1.5", ""])
bad(C, "-j", ["0"], named=["--workers"])
bad(C, "--seed", ["-1", str(2**63), "abc"])
bad(C, "--format", ["xml", "", "JSONL", "PARQUET", "avro"])
for flag in ("--start", "--end"):
    bad(C, flag, ["yesterday", "2026-13-01", "2026-02-30", "   ", "2026-11-01T25:00", "2026-11-01T00:00:00+25:00",
                  "now", "1730419200"])
    bad(C, flag, [""])  # an empty value is a mistake, not "the default"
case(C, ["--start", "2026-11-02", "--end", "2026-11-01"], "--start", "--end")
case(C, ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-01T00:00:00Z"], "--start", "--end")
case(C, ["--start", "2026-11-01T02:00:00+02:00", "--end", "2026-11-01T00:00:00Z"], "--start", "--end")
case(C, ["--start", "1969-12-31", "--end", "1970-01-02"], "--start")
# at the ends of the calendar: no OverflowError when the window is worked out
case(C, ["--start", "0001-01-01T00:00:00+01:00", "--end", "2020-01-01"], "--start")
case(C, ["--start", "9999-12-31"], "--start")
case(C, ["--end", "0001-01-01"], "--end")
case(C, ["--start", "2020-01-01", "--end", "9999-12-31T23:00:00-05:00"], "--end")
bad(C, "--weights", ["voice", "voice=", "voice=abc", "voice=-1", "voice=nan", "voice=inf", "voice=1e400", "fax=1",
                     "voice=0", "", ",", "voice=1;data=2", "voice=0,data=0", "=1", "voice==1"])
bad(C, "-w", ["fax=1"], named=["--weights"])
bad(C, "--output-dir", [Files.FILE, ""])
bad(C, "--output", ["", Files.FOLDER, "/nonexistent-dir/cdrs.json"], named=["output"])
bad(C, "--users-file", [""], named=["--users-file"])
bad(C, "--faults", ["fax=0.1", "late=2", "late=-1", "late=nan", "late", "", "late=0.7,duplicate=0.7"])
case(C, ["--ledger", "ledger.jsonl"], "--ledger", "--faults")
case(C, ["--faults", "malformed=0.1"], "--faults", "malformed")  # base_args write a JSON array
bad(K, "--faults", ["fax=0.1", "late=2", "late", "", "late=0.7,duplicate=0.7"])
case(K, ["--ledger", "ledger.jsonl"], "--ledger", "--faults")

# kafka_producer.py and export_users_to_kafka.py
bad(K, "--weights", ["voice=abc", "fax=1", "voice=0", ""])
bad(KAFKA, "--rate", ["0", "-1", "1e30", *FLOAT_JUNK])
bad(K, "--interval", ["0", "-1", "86401", *FLOAT_JUNK])
bad(K, "--interval", ["1e-320", "5e-324"])  # 1/interval overflows to inf
case(K, ["--rate", "5", "--interval", "1"], "--interval")
bad(KAFKA, "--timeout", ["0", "-1", "3601", *FLOAT_JUNK])
bad(KAFKA, "--delivery-timeout", ["0", "1", "86401", "nan", "abc"])
bad(KAFKA, "--partitions", ["-2", "10001", str(10**9), "abc", "1.5"])
bad(KAFKA, "--replication-factor", ["-2", "101", "abc"])
bad(KAFKA, "--partitions", ["0"], extra=["--create-topics"])           # a topic cannot have 0 partitions
bad(KAFKA, "--replication-factor", ["0"], extra=["--create-topics"])   # nor 0 replicas
bad(KAFKA, "--max-count", ["-1", "abc", "1.5", ""])
bad(KAFKA, "--duration", ["0", "-1", *FLOAT_JUNK])
bad(KAFKA, "--stats-interval", ["-1", "3601", *FLOAT_JUNK])
bad(KAFKA, "--security-protocol", ["bogus", "", "TLS", "SASL"])
bad(KAFKA, "--sasl-mechanism", ["MD5", "GSSAPI", "OAUTHBEARER", ""], extra=["--sasl-username", "u", "--sasl-password", SECRET])
bad(KAFKA, "--sasl-mechanism", ["MD5"])
bad(KAFKA, "--sasl-username", [""])
bad(KAFKA, "--sasl-password", [""], extra=["--sasl-username", "u"])
case(KAFKA, ["--sasl-username", "u"], "--sasl-password")
case(KAFKA, ["--sasl-password", SECRET], "--sasl-username")
case(KAFKA, ["--security-protocol", "SASL_SSL"], "--sasl-username")
bad(KAFKA, "--ssl-ca-location", ["/nonexistent/ca.pem", Files.FOLDER, ""])
bad(KAFKA, "--bootstrap-servers", ["", "   "])
bad(KAFKA, "-b", [""], named=["--bootstrap-servers"])
bad(KAFKA, "--topic", [""])
bad(KAFKA, "--config-file", ["", Files.FOLDER, "/nonexistent/client.properties"])

# unknown flags and malformed command lines, every script
for script in ALL:
    case(script, ["--bogus"], "--bogus")
    case(script, ["--bogus=1"], "--bogus")
    case(script, ["extra-positional"], "extra-positional")
    case(script, ["-Z"], "-Z")
case(C, ["--count"], "--count")                 # no value
case(U, ["--num-users"], "--num-users")
case(KAFKA, ["--dry-run=yes"], "--dry-run")
case(KAFKA, ["--create-topics=1"], "--create-topics")
case(E, ["--interval", "1"], "--interval")       # kafka_producer.py's flag, not this one's
case(E, ["--weights", "voice=1"], "--weights")
case(C, ["--rate", "5"], "--rate")
case(U, ["--users-file", Files.USERS], "--users-file")

# an output's name says what it is: a format or compression we do not write, or no format at all,
# is refused (not filled with JSON)
for name in ("x.orc", "x.xlsx", "x.avro", "x.tsv", "x.xml", "x.AVRO.gz", "x.pq"):
    case((U, C), ["--output", name], "--output", "." + name.split(".")[1].lower(), "not written")
for name in ("x.parquet.gz", "x.PARQUET.zst"):  # Parquet compresses its columns, not the file
    case((U, C), ["--output", name], "--output", "." + name.split(".")[-1].lower(), "parquet compresses its columns")
for name in ("x.txt", "cdrs", "x.dat", "x.gz"):
    case((U, C), ["--output", name], "--output", "cannot tell the format", "--format")
for name in ("x.jsonl.bz2", "x.json.zip", "x.csv.xz", "x.json.lz4"):
    case(C, ["--output", name], "--output", "." + name.split(".")[-1] + " compression")
case(U, ["--output", "u.csv"], "--output", ".csv", "json, jsonl")
case(U, ["--output", "u.csv.gz"], "--output", ".csv", "json, jsonl")
case(C, ["--compression", "gzip"], "--compression", ".gz")              # base_args give -o cdrs.json
case(C, ["--compression", "zstd", "--output", "x.jsonl.gz"], "--compression", ".zst")
bad(C, "--compression", ["bz2", "", "GZIP", "none"])

# abbreviations are unknown flags, never a guess (argparse would take --num-user for --num-users)
def _long_flags(script: str) -> list[tuple[str, bool]]:
    import importlib

    parser = importlib.import_module(script[:-3]).build_parser()
    return [(s, a.nargs == 0) for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"]


for script in ALL:
    flags = _long_flags(script)
    names = {f for f, _ in flags}
    for flag, takes_no_value in flags:
        for cut in (1, 3):
            abbrev = flag[:-cut]
            if len(abbrev) > 3 and abbrev not in names:
                case(script, [abbrev] if takes_no_value else [abbrev, "10"], abbrev)
                break
case(C, ["--num-user", "10"], "--num-user")  # the example, on a script that has no --num-users
case(GEN, ["--num-user", "10"], "--num-user")
# a flag that would be ignored is an error, not a silent no-op
case(C, ["--output-dir", "landing"], "--output", "--output-dir")  # base_args give --output
case(K, ["--users-file", Files.USERS], "--num-users", "--users-file")  # base_args give --num-users
case(E, ["--users-file", Files.USERS], "--num-users", "--users-file")


def _case_id(c) -> str:
    script, args, _ = c
    return f"{script[:-3]} {' '.join(repr(a) if a in ('', '   ') else a for a in args)}"[:90]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("script,args,named", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_flag(files, tmp_path, monkeypatch, script, args, named):
    out = tmp_path / "out"
    out.mkdir()
    # run from a folder of our own: a relative or empty path must not land anything in the repo
    # (or, through a temporary file 'beside' an empty name, in the folder above the current one)
    cwd = tmp_path / "above" / "cwd"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    res = call_main(script, resolve([*base_args(script, out), *args], files))
    assert_flag_error(res, named, out)
    assert os.listdir(cwd) == [] and os.listdir(cwd.parent) == ["cwd"], \
        f"files left behind: {os.listdir(cwd)} in the current folder, {os.listdir(cwd.parent)} above it"


@pytest.mark.parametrize("script", ALL)
def test_the_base_arguments_alone_are_good(files, tmp_path, script):
    """The control: without a bad flag the same command line gets past the flags (the file scripts
    finish, the Kafka scripts get as far as the unreachable broker: exit 1), so the exit 2 of every
    case above comes from its bad value."""
    out = tmp_path / "out"
    out.mkdir()
    res = call_main(script, resolve(base_args(script, out), files))
    info = res.describe()
    assert res.escaped is None, info
    if script in KAFKA:
        assert res.returncode == 1 and "cannot reach Kafka at 127.0.0.1:1" in res.stderr, info
    else:
        assert res.returncode == 0 and len(os.listdir(out)) == 1, info


@pytest.mark.parametrize("script,flag,value", [(s, f, v) for s in KAFKA for f, v in
                                               (("--num-users", "20"), ("--country", "GB"), ("--operator", "234-15"))]
                         + [(E, "--seed", "7")])
def test_users_flags_beside_users_file_are_refused(files, tmp_path, script, flag, value):
    """--users-file gives the users, so the flags that make users would be ignored: refused, each
    one named.  (kafka_producer.py's --seed seeds the CDRs too; see the next test.)"""
    out = tmp_path / "out"
    out.mkdir()
    res = call_main(script, resolve(["-b", NOWHERE, "--timeout", 1, "--max-count", 5, "--stats-interval", 0,
                                     "--users-file", Files.USERS, flag, value], files)
                    if script == K else
                    resolve(["-b", NOWHERE, "--timeout", 1, "--stats-interval", 0, "--users-file", Files.USERS,
                             flag, value], files))
    line = assert_flag_error(res, [flag, "--users-file", "ignored"], out)
    assert line.count("--") == 2, line  # only the two flags at odds, no others


def test_users_file_with_seed_and_the_defaults_are_fine(files, tmp_path):
    """kafka_producer.py --users-file F --seed S: the seed seeds the CDRs, so it is no error (the run
    gets past the flags, to the unreachable broker); without --users-file the defaults still hold."""
    res = call_main(K, resolve(["-b", NOWHERE, "--timeout", 1, "--max-count", 5, "--stats-interval", 0,
                                "--users-file", Files.USERS, "--seed", 7], files))
    assert res.returncode == 1 and "cannot reach Kafka at 127.0.0.1:1" in res.stderr, res.describe()
    res = call_main(E, ["--dry-run", "--stats-interval", 0])
    assert res.returncode == 0, res.describe()
    values = [json.loads(line)["value"] for line in res.stdout.splitlines()]
    assert values == list(generate_users(1000, 42))  # the documented --num-users 1000, --seed 42


# ---------------------------------------------------------------- property: numeric flags

# (scripts, flag, kind, lowest good value, highest good value, low bound inclusive) - from the README
# and --help; the upper bounds of the Kafka flags are taken as "absurd" where no limit is documented.
NUMERIC = [
    (GEN, "--num-users", int, 1, 50_000_000, True),
    (ALL, "--seed", int, 0, 2**63 - 1, True),
    ((C,), "--count", int, 0, 10**11, True),
    ((C,), "--workers", int, 1, 64, True),
    ((K,), "--rate", float, 0, 1e7, False),
    ((K,), "--interval", float, 0, 86400, False),
    (KAFKA, "--timeout", float, 0, 3600, False),
    (KAFKA, "--duration", float, 0, 1e9, False),
    (KAFKA, "--stats-interval", float, 0, 3600, True),
    (KAFKA, "--partitions", int, -1, 10_000, True),
    (KAFKA, "--replication-factor", int, -1, 100, True),
    (KAFKA, "--max-count", int, 0, None, True),
]
NUMERIC_FLAGS = [(s, flag, kind, lo, hi, inc) for scripts, flag, kind, lo, hi, inc in NUMERIC for s in scripts]


def _parses(text: str, kind) -> bool:
    try:
        kind(text.replace("_", "") if kind is int else text)
        return True
    except ValueError:
        return False


@st.composite
def bad_numbers(draw):
    script, flag, kind, lo, hi, inclusive = draw(st.sampled_from(NUMERIC_FLAGS))
    how = draw(st.sampled_from(["below", "above", "junk", "nonfinite"] if kind is float else ["below", "above", "junk"]))
    if how == "junk":
        text = draw(st.text(max_size=12).filter(lambda t: not _parses(t, kind)))
    elif how == "nonfinite":
        text = draw(st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "+inf"]))
    elif kind is int:
        if how == "below":
            v = draw(st.integers(max_value=lo - 1))
        else:
            if hi is None:
                how, v = "below", draw(st.integers(max_value=lo - 1))
            else:
                v = draw(st.integers(min_value=hi + 1))
        text = draw(st.sampled_from([str(v), f"{v:_}", f"+{v}" if v >= 0 else str(v), f" {v} "]))
    else:
        if how == "below":  # below the range; 0 itself too where the range starts above it
            v = draw(st.floats(max_value=lo, allow_nan=False, allow_infinity=False)
                     .filter(lambda x: x < lo or (x == lo and not inclusive)))
        else:
            v = draw(st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False))
        text = draw(st.sampled_from([repr(v), f"{v:e}", f"{v:.20g}"]))
        if float(text) != v:  # formatting must not move the value back into range
            text = repr(v)
    return script, flag, text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(case=bad_numbers())
def test_numeric_flags_refuse_out_of_range_and_junk(files, tmp_path_factory, case):
    script, flag, text = case
    out = tmp_path_factory.mktemp("num")
    res = call_main(script, resolve([*base_args(script, out), flag, text], files))
    assert_flag_error(res, [flag], out)


@pytest.mark.parametrize("script,flag,value", [
    (K, "--rate", "inf\n"), (K, "--rate", "-1\n"), (K, "--timeout", "nan\r\n"), (E, "--stats-interval", "-1\n"),
    (U, "--seed", "-1\n"), (C, "--seed", f"{2**63}\n"), (C, "--count", "-1\n"), (C, "--start", "2026-13-01\n"),
    (C, "--weights", "voice=-1\n"), (U, "--country", "X\nX"),
], ids=lambda v: repr(v) if isinstance(v, str) and not v.endswith(".py") else None)
def test_a_value_with_a_line_break_still_gives_one_line(files, tmp_path, script, flag, value):
    """The error quotes the value it refuses; a line break inside must not split the line."""
    out = tmp_path / "out"
    out.mkdir()
    res = call_main(script, resolve([*base_args(script, out), flag, value], files))
    assert_flag_error(res, [flag], out)


# ---------------------------------------------------------------- the real scripts, as subprocesses

SPOT = [
    (U, ["--num-users", "0"], ["--num-users"]),
    (U, ["--country", "XX"], ["--country"]),
    (C, ["--count", str(10**30)], ["--count"]),
    (C, ["--workers", str(10**6)], ["--workers"]),
    (C, ["--start", "2026-11-02", "--end", "2026-11-01"], ["--start"]),
    (C, ["--weights", "voice=abc"], ["--weights"]),
    (C, ["--format", "xml"], ["--format"]),
    (K, ["--rate", "nan"], ["--rate"]),
    (K, ["--interval", "0"], ["--interval"]),
    (K, ["--security-protocol", "bogus"], ["--security-protocol"]),
    (K, ["--sasl-mechanism", "MD5", "--sasl-username", "u", "--sasl-password", SECRET], ["--sasl-mechanism"]),
    (E, ["--partitions", str(10**9)], ["--partitions"]),
    (E, ["--timeout", "0"], ["--timeout"]),
    (E, ["--bogus"], ["--bogus"]),
]


def test_subprocess_spot_checks(files, tmp_path):
    jobs, cases = {}, {}
    for i, (script, args, named) in enumerate(SPOT):
        out = tmp_path / f"out{i}"
        out.mkdir()
        jobs[i] = (script, resolve([*base_args(script, out), *args], files), {"timeout": 60})
        cases[i] = (named, out)
    for i, res in run_many(jobs, parallel=3).items():
        assert_flag_error(res, *cases[i])


# ---------------------------------------------------------------- bad --country / --operator with a real broker

def _topic_exists(bootstrap: str, topic: str) -> bool:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15)
    return topic in md.topics and md.topics[topic].error is None


@pytest.mark.parametrize("args,named", [(["--country", "XX"], "--country"), (["--operator", "nosuch"], "--operator"),
                                        (["--operator", "234-15", "--country", "US"], "--operator")],
                         ids=["country", "operator", "operator-not-in-country"])
def test_export_refuses_bad_users_flags_before_touching_kafka(kafka, args, named):
    prefix = unique_prefix()
    res = run_script("export_users_to_kafka.py", "-b", kafka.bootstrap, "--topic-prefix", prefix, "--create-topics",
                     "--num-users", 20, "--timeout", 10, "--stats-interval", 0, *args, timeout=60)
    assert_flag_error(res, [named])
    assert not _topic_exists(kafka.bootstrap, prefix + "telco-users"), \
        "the topic was created although the flags were bad"
