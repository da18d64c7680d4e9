"""Hostile users files: malformed and adversarial files thrown at every script that reads one.

cdr_generator.py -u FILE, kafka_producer.py --users-file FILE --dry-run and
export_users_to_kafka.py --users-file FILE --dry-run must all answer a bad file with exit code 2 and
exactly one line on stderr that names the users file, never a traceback, and without a byte of
output: no CDR file (not even a half-written one), no message on stdout.  Files that are odd but
valid (a BOM, CRLF line endings, JSON Lines, pretty-printed, extra fields) must be accepted.

The property-based part calls each script's ``main(argv)`` in-process with stdout and stderr swapped
for strict UTF-8 streams (as a real pipe is), so a few hundred files take seconds; a table of cases
runs the real scripts as subprocesses to check exit codes and stderr end to end.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from running import Result, assert_clean_error, call_main, run_many, run_script
from telco_cdr.constants import Exit
from telco_cdr.users import generate_users

START, END = "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"
SCRIPTS = ("cdr_generator.py", "kafka_producer.py", "export_users_to_kafka.py")

# The fields read_users needs (README: "each user needs user_id, msisdn, ..."), spelled out here
# rather than imported, so a field quietly dropped from the check fails these tests.
REQUIRED = ("user_id", "msisdn", "imsi", "imei", "mcc", "mnc", "status", "plan_type", "home_cell_id", "home_tac")
STRING_FIELDS = tuple(f for f in REQUIRED if f != "home_tac")

BASE = list(generate_users(20, 42))
ACTIVE = [i for i, u in enumerate(BASE) if u["status"] == "active"]
assert len(ACTIVE) >= 2, "the base users need active users for the mutations to be the only fault"

HUGE_X = "x" * 10_000_000          # a 10 MB string
HUGE_DIGITS = "9" * 10_000_000     # 10 MB of digits: passes a digits-only test, fails every length
RAW = "@@RAW-LITERAL@@"            # placeholder replaced by a raw JSON literal after dumping
RAW_LITERALS = ("1" + "0" * 400, "-1" + "0" * 400, "1e400", "-1e400", "NaN", "Infinity", "-Infinity",
                "0." + "0" * 400 + "1")

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example, HealthCheck.filter_too_much])


# ---------------------------------------------------------------- running the scripts in-process

def script_args(script: str, users_path, out_dir: Path) -> list:
    if script == "cdr_generator.py":
        return ["-u", users_path, "-o", out_dir / "cdrs.json", "--count", 5, "--start", START, "--end", END]
    if script == "kafka_producer.py":
        return ["--users-file", users_path, "--dry-run", "--max-count", 5, "--rate", "max"]
    return ["--users-file", users_path, "--dry-run"]


class Workdir:
    """A folder for the files of the examples, and a fresh empty output folder per call."""

    def __init__(self, base: Path):
        self.base = base
        self.n = 0

    def file(self, data: bytes, name: str = "users.json") -> Path:
        path = self.base / name
        path.write_bytes(data)
        return path

    def out_dir(self) -> Path:
        self.n += 1
        d = self.base / f"out{self.n}"
        d.mkdir()
        return d


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Workdir:
    return Workdir(tmp_path_factory.mktemp("hostile_users"))


def assert_rejected(res: Result, out_dir: Path, *must_contain: str) -> str:
    """Exit 2, one ``prog: error: ...`` line naming the users file (and ``must_contain``), no
    traceback, nothing written."""
    info = res.describe()
    line = assert_clean_error(res, Exit.USAGE)
    assert "users file" in line or "--users-file" in line, f"the error does not name the users file:\n{info}"
    for text in must_contain:
        assert text in line, f"{text!r} not in the error line:\n{info}"
    assert res.stdout == "", f"something was written to stdout before the error:\n{info}"
    assert sorted(os.listdir(out_dir)) == [], f"output left behind: {os.listdir(out_dir)}\n{info}"
    return line


def check_rejected_by_all(work: Workdir, path, *must_contain: str) -> None:
    for script in SCRIPTS:
        out = work.out_dir()
        res = call_main(script, script_args(script, path, out))
        assert_rejected(res, out, *must_contain)


def dump(users: list, fmt: str = "json", ensure_ascii: bool = True, raw: str | None = None) -> bytes:
    if fmt == "json":
        text = json.dumps(users, ensure_ascii=ensure_ascii)
    else:
        text = "\n".join(json.dumps(u, ensure_ascii=ensure_ascii) for u in users) + "\n"
    if raw is not None:
        assert text.count(json.dumps(RAW)) == 1
        text = text.replace(json.dumps(RAW), raw)
    return text.encode("utf-8")


def copy_users() -> list[dict]:
    return [dict(u) for u in BASE]


# ---------------------------------------------------------------- strategies

def _no_match(pattern: str):
    return lambda s: re.fullmatch(pattern, s) is None


def non_strings():
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )


def bad_value(field: str):
    """Values that break the README's shape of ``field`` (``RAW`` stands for a raw JSON literal)."""
    huge = st.sampled_from([HUGE_X, HUGE_DIGITS])
    raw = st.just(RAW)
    if field == "home_tac":  # an integer 0-65535
        return st.one_of(
            st.none(), st.booleans(), st.floats(), st.text(max_size=8), st.integers(max_value=-1),
            st.integers(min_value=65536), st.lists(st.integers(0, 65535), min_size=1, max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(1108.0), huge, raw)
    if field == "user_id":  # a non-empty printable string (at most 64 characters)
        invalid = st.one_of(st.just(""), st.text(st.sampled_from("\x00\n\t\x1b\x7f\u2028"), min_size=1, max_size=4),
                            st.text(min_size=65, max_size=70).filter(str.isprintable))
    elif field in ("status", "plan_type"):
        allowed = {"status": ("active", "suspended"), "plan_type": ("prepaid", "postpaid")}[field]
        invalid = st.one_of(st.text(max_size=12).filter(lambda s: s not in allowed),
                            st.sampled_from([a.upper() for a in allowed] + [a.title() for a in allowed]
                                            + [f" {a}" for a in allowed] + [f"{a}\n" for a in allowed]))
    elif field == "home_cell_id":  # MCC+MNC digits and 7 upper-case hex digits
        invalid = st.one_of(st.text(max_size=16).filter(_no_match(r"[0-9]{5,6}[0-9A-F]{7}")),
                            st.just(BASE[0]["home_cell_id"].lower() + "g"), st.just("31026000ab12c"))
    else:  # digit strings of a given length
        lengths = {"msisdn": range(8, 16), "imsi": (15,), "imei": (15,), "mcc": (3,), "mnc": (2, 3)}[field]
        digits = st.text("0123456789", max_size=24).filter(lambda s: len(s) not in lengths)
        not_digits = st.text(min_size=1, max_size=16).filter(_no_match(r"[0-9]+"))
        options = [digits, not_digits, st.sampled_from(["١٢٣٤٥٦٧٨٩٠١٢٣٤٥", "３１０２６０１２３４５６７８９"])]
        if field == "msisdn":
            options.append(st.text("0123456789", min_size=9, max_size=14).map(lambda s: "0" + s))
        invalid = st.one_of(*options)
    return st.one_of(non_strings(), invalid, huge, raw)


formats = st.sampled_from(["json", "jsonl"])


@st.composite
def wrong_type_files(draw):
    idx = draw(st.integers(0, len(BASE) - 1))
    field = draw(st.sampled_from(REQUIRED))
    value = draw(bad_value(field))
    users = copy_users()
    users[idx][field] = value
    raw = draw(st.sampled_from(RAW_LITERALS)) if value == RAW else None
    return dump(users, draw(formats), raw=raw), idx, field


@st.composite
def missing_field_files(draw):
    idx = draw(st.integers(0, len(BASE) - 1))
    gone = draw(st.sets(st.sampled_from(REQUIRED), min_size=1))
    users = copy_users()
    for f in gone:
        del users[idx][f]
    return dump(users, draw(formats)), idx, gone


@st.composite
def duplicate_files(draw):
    field = draw(st.sampled_from(["user_id", "msisdn", "imsi"]))
    i, j = draw(st.lists(st.integers(0, len(BASE) - 1), min_size=2, max_size=2, unique=True))
    users = copy_users()
    users[j][field] = users[i][field]
    if field == "imsi":  # keep the IMSI consistent with its MCC-MNC: the duplicate is the only fault
        users[j]["mcc"], users[j]["mnc"] = users[i]["mcc"], users[i]["mnc"]
    return dump(users, draw(formats)), max(i, j), field


INVALID_UTF8 = [bytes([b]) for b in [*range(0x80, 0xC0), 0xC0, 0xC1, *range(0xF5, 0x100)]] + \
               [b"\xe2\x82", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc3\x28"]


@st.composite
def non_utf8_files(draw):
    data = bytearray(dump(BASE, draw(formats)))  # ASCII: any sequence spliced in between is a fault
    # distinct positions, spliced from the right: every splice stays between ASCII bytes, so two
    # of them never join into one valid character
    positions = draw(st.lists(st.integers(0, len(data)), min_size=1, max_size=3, unique=True))
    for pos in sorted(positions, reverse=True):
        data[pos:pos] = draw(st.sampled_from(INVALID_UTF8))
    return bytes(data)


@st.composite
def truncated_files(draw):
    fmt = draw(formats)
    data = dump(BASE, fmt, ensure_ascii=draw(st.booleans()))
    if fmt == "json":
        data = data.rstrip()
    cut = draw(st.integers(0, len(data) - 1))
    head = data[:cut]
    if fmt == "jsonl":  # a cut at the end of a line leaves a valid, shorter file
        assume(not head.rstrip().endswith(b"}"))
    return head


@st.composite
def deeply_nested_files(draw):
    depth = draw(st.sampled_from([100_000, 200_000, 1_000_000]) | st.integers(50_000, 300_000))
    kind = draw(st.sampled_from(["open-array", "balanced-array", "open-object", "balanced-object",
                                 "in-required-field", "in-extra-field", "jsonl-line"]))
    if kind == "open-array":
        return ("[" * depth).encode()
    if kind == "balanced-array":
        return ("[" * depth + "]" * depth).encode()
    if kind == "open-object":
        return ('{"a":' * depth).encode()
    if kind == "balanced-object":
        return ('{"a":' * depth + "1" + "}" * depth).encode()
    users = copy_users()
    deep = "[" * depth + "]" * depth
    if kind == "in-required-field":
        users[draw(st.integers(0, len(users) - 1))][draw(st.sampled_from(REQUIRED))] = RAW
        return dump(users, draw(formats), raw=deep)
    if kind == "in-extra-field":
        users[draw(st.integers(0, len(users) - 1))]["extra"] = RAW
        return dump(users, draw(formats), raw=deep)
    lines = [json.dumps(u) for u in BASE]
    lines.insert(draw(st.integers(0, len(lines))), '{"user_id": ' + deep + "}")
    return "\n".join(lines).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@st.composite
def wrong_shape_files(draw):
    """Files that are not a list of user records at all."""
    kind = draw(st.sampled_from(["empty", "whitespace", "scalar", "object", "empty-array", "array-of-non-objects",
                                 "any-json", "garbage", "text", "all-suspended"]))
    if kind == "empty":
        return b""
    if kind == "whitespace":
        return draw(st.text(st.sampled_from(" \t\r\n\x0b\x0c\ufeff\u00a0\u2028\u3000"), max_size=50)).encode()
    if kind == "scalar":
        return json.dumps(draw(st.none() | st.booleans() | st.integers() | st.floats() | st.text())).encode()
    if kind == "object":  # an object that is not a user: e.g. {"users": [...]}
        obj = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "user_id"), json_values, max_size=4))
        if draw(st.booleans()):
            obj[draw(st.sampled_from(["users", "data", "items"]))] = BASE
        return json.dumps(obj, indent=draw(st.sampled_from([None, 2]))).encode()
    if kind == "empty-array":
        return draw(st.sampled_from([b"[]", b"[ ]", b"\n[\n]\n", b"\xef\xbb\xbf[]"]))
    if kind == "array-of-non-objects":
        items = draw(st.lists(st.none() | st.booleans() | st.integers() | st.floats() | st.text()
                              | st.lists(st.integers(), max_size=2), min_size=1, max_size=5))
        return json.dumps(items).encode()
    if kind == "any-json":
        return json.dumps(draw(json_values)).encode()
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=4096))
    if kind == "text":
        return draw(st.text(min_size=1, max_size=500)).encode("utf-8")
    users = copy_users()
    for u in users:
        u["status"] = "suspended"
    return dump(users, draw(formats))


# ---------------------------------------------------------------- properties: rejected

@FAST
@given(case=wrong_type_files())
def test_wrong_type_or_shape_of_a_required_field(work, case):
    data, idx, field = case
    check_rejected_by_all(work, work.file(data), f"user #{idx + 1}", repr(field))


@FAST
@given(case=missing_field_files())
def test_missing_required_fields(work, case):
    data, idx, gone = case
    for script in SCRIPTS:
        out = work.out_dir()
        line = assert_rejected(call_main(script, script_args(script, work.file(data), out)), out,
                               f"user #{idx + 1}", "lacks the field")
        assert any(repr(f) in line for f in gone), line


@FAST
@given(case=duplicate_files())
def test_duplicate_identifiers(work, case):
    data, second, field = case
    check_rejected_by_all(work, work.file(data), field, "more than once", f"user #{second + 1}")


@FAST
@given(data=non_utf8_files())
def test_non_utf8_bytes_spliced_in(work, data):
    check_rejected_by_all(work, work.file(data), "UTF-8")


@FAST
@given(data=truncated_files())
def test_truncated_at_a_random_byte(work, data):
    check_rejected_by_all(work, work.file(data))


@settings(FAST, max_examples=25)
@given(data=deeply_nested_files())
def test_deeply_nested_json(work, data):
    check_rejected_by_all(work, work.file(data))


@settings(FAST, max_examples=60)
@given(data=wrong_shape_files())
def test_not_a_list_of_users(work, data):
    check_rejected_by_all(work, work.file(data))


@pytest.mark.parametrize("field", STRING_FIELDS + ("home_tac",))
@pytest.mark.parametrize("value", ["10MB-x", "10MB-digits", "10**400"])
def test_gigantic_values(work, field, value):
    users = copy_users()
    users[3][field] = {"10MB-x": HUGE_X, "10MB-digits": HUGE_DIGITS, "10**400": RAW}[value]
    data = dump(users, raw="1" + "0" * 400 if value == "10**400" else None)
    check_rejected_by_all(work, work.file(data), "user #4", repr(field))


def test_imsi_not_under_its_mcc_mnc(work):
    users = copy_users()
    u = users[5]
    u["mcc"] = "999" if u["mcc"] != "999" else "998"
    check_rejected_by_all(work, work.file(dump(users)), "user #6", "imsi")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", 5, ["Europe/Berlin"]],
                         ids=["unknown", "path", "empty", "number", "list"])
def test_time_zone_that_is_not_an_iana_zone(work, zone):
    users = copy_users()
    users[2]["time_zone"] = zone
    check_rejected_by_all(work, work.file(dump(users)), "user #3", "'time_zone'")


@pytest.mark.parametrize("digits", [4301, 5000, 100_000])
def test_integer_literal_beyond_pythons_digit_limit(work, digits):
    """An integer literal longer than Python's int-from-string limit (4300 digits) makes json.loads
    raise a plain ValueError, not a JSONDecodeError."""
    users = copy_users()
    users[0]["home_tac"] = RAW
    check_rejected_by_all(work, work.file(dump(users, raw="1" + "0" * (digits - 1))))


@pytest.mark.parametrize("where", ["extra-field", "non-required-field", "extra-key"])
def test_lone_surrogate_escape(work, where):
    """``"\\ud800"`` is valid JSON text but no Unicode character: it cannot be written as UTF-8.
    Either reject the file (exit 2, one line) or get past it; never a traceback."""
    users = copy_users()
    if where == "extra-field":
        users[0]["nickname"] = "\ud800"
    elif where == "non-required-field":
        users[0]["first_name"] = "Ann\udfff"
    else:
        users[0]["\ud83d"] = 1
    path = work.file(dump(users))
    for script in SCRIPTS:
        out = work.out_dir()
        res = call_main(script, script_args(script, path, out))
        info = res.describe()
        assert res.escaped is None, info
        assert "Traceback" not in res.stderr, info
        assert res.returncode in (0, 2), info
        if res.returncode == 2:
            assert_rejected(res, out)
        else:
            assert len(res.stderr_lines) == 1, info
            res.stdout.encode("utf-8")  # what was written is real UTF-8


@settings(FAST, max_examples=30)
@given(name=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"), min_size=1,
                    max_size=40))
def test_path_that_does_not_exist(work, name):
    path = work.base / "missing" / name
    check_rejected_by_all(work, path, "not found")


@pytest.mark.parametrize("kind", ["directory", "empty-string", "dev-null", "broken-symlink", "dangling-parent",
                                  "newline-in-name"])
def test_paths_that_are_not_users_files(work, kind):
    if kind == "directory":
        path = work.base / "a-folder"
        path.mkdir(exist_ok=True)
        expect = ["directory"]
    elif kind == "empty-string":
        path, expect = "", []
    elif kind == "dev-null":
        path, expect = os.devnull, ["empty"]
    elif kind == "broken-symlink":
        path = work.base / "dangling-link"
        if not path.is_symlink():
            path.symlink_to(work.base / "nowhere.json")
        expect = ["not found"]
    elif kind == "dangling-parent":
        path, expect = work.base / "users.json" / "users.json", []  # a file used as a folder
        work.file(dump(BASE))
    else:
        path, expect = work.base / "no\nsuch\rfile.json", ["not found"]
    check_rejected_by_all(work, path, *expect)


def test_file_without_read_permission(work):
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading the file")
    path = work.file(dump(BASE), "secret-users.json")
    path.chmod(0)
    try:
        check_rejected_by_all(work, path, "cannot be read")
    finally:
        path.chmod(0o644)


# ---------------------------------------------------------------- odd but valid files: accepted

@st.composite
def odd_valid_files(draw):
    users = copy_users()
    if draw(st.booleans()):  # extra fields of any JSON type are carried, not rejected
        for u in users:
            u["loyalty"] = {"tier": "gold", "points": [1, 2.5, None, True]}
    if draw(st.booleans()):  # any key order
        order = draw(st.permutations(list(users[0])))
        users = [{k: u[k] for k in order} for u in users]
    fmt = draw(formats)
    ensure_ascii = draw(st.booleans())
    if fmt == "json":
        text = json.dumps(users, ensure_ascii=ensure_ascii, indent=draw(st.sampled_from([None, 0, 1, 4, "\t"])),
                          separators=draw(st.sampled_from([None, (",", ":"), (" , ", " : ")])))
    else:
        blank = draw(st.sampled_from(["", "\n", "\n  \n", "\t\n"]))
        text = ("\n" + blank).join(json.dumps(u, ensure_ascii=ensure_ascii) for u in users)
    text = draw(st.sampled_from(["", "\n", "  \n\n", " \t"])) + text + draw(st.sampled_from(["", "\n", "\n\n  \t\n"]))
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text.encode("utf-8"), users


def assert_accepted(work: Workdir, path, users: list[dict]) -> None:
    ids = {u["user_id"] for u in users}
    for script in SCRIPTS:
        out = work.out_dir()
        res = call_main(script, script_args(script, path, out))
        info = res.describe()
        assert res.escaped is None, info
        assert res.returncode == 0, info
        assert len(res.stderr_lines) == 1 and "error" not in res.stderr, info
        if script == "cdr_generator.py":
            cdrs = json.loads((out / "cdrs.json").read_text(encoding="utf-8"))
            assert len(cdrs) == 5 and all(c["user_id"] in ids for c in cdrs), info
        else:
            msgs = [json.loads(line) for line in res.stdout.splitlines()]
            if script == "kafka_producer.py":
                assert len(msgs) == 5 and all(m["key"] in ids for m in msgs), info
            else:  # every user, exactly as in the file (extra fields too)
                assert [m["value"] for m in msgs] == users, info
                assert [m["key"] for m in msgs] == [u["user_id"] for u in users], info


@settings(FAST, max_examples=12)  # each example runs all three scripts: the named cases below cover the rest
@given(case=odd_valid_files())
def test_odd_but_valid_files_are_accepted(work, case):
    data, users = case
    assert_accepted(work, work.file(data), users)


@pytest.mark.parametrize("kind", ["bom", "crlf", "bom-crlf", "jsonl", "jsonl-crlf", "jsonl-bom", "one-user-jsonl",
                                  "non-ascii"])
def test_named_odd_but_valid_files(work, kind):
    users = copy_users()
    if kind == "one-user-jsonl":
        users = [users[ACTIVE[0]]]
    if kind == "non-ascii":
        users[0]["first_name"], users[0]["home_city"] = "Zoë 😀", "Köln"
    if kind.startswith("jsonl") or kind == "one-user-jsonl":
        text = "\n".join(json.dumps(u) for u in users) + "\n"
    else:
        text = json.dumps(users, indent=2, ensure_ascii=False)
    if "crlf" in kind:
        text = text.replace("\n", "\r\n")
    if "bom" in kind:
        text = "\ufeff" + text
    assert_accepted(work, work.file(text.encode("utf-8")), users)


# ---------------------------------------------------------------- compressed users files

def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("kind, named", [
    ("gzip-truncated", "gzip"), ("gzip-unknown-method", "gzip"), ("gzip-magic-only", "gzip"),
    ("gzip-then-junk", "gzip"), ("gzip-bad-crc", "gzip"), ("gzip-of-bad-json", "not valid JSON"),
    ("gzip-of-non-utf8", "UTF-8"), ("gzip-of-nothing", "empty"),
    ("zstd-truncated", "zstd"), ("zstd-corrupt", "zstd"), ("zstd-of-bad-json", "not valid JSON")])
def test_corrupt_compressed_users_files(work, kind, named):
    """A users file compressed with gzip or zstd (known by its first bytes) is read as the plain one;
    a corrupt one is one line that names the file, like any bad users file."""
    good = dump(BASE)
    data = {
        "gzip-truncated": lambda: _gzip(good)[:-100],
        "gzip-unknown-method": lambda: b"\x1f\x8b\x63" + _gzip(good)[3:],
        "gzip-magic-only": lambda: b"\x1f\x8b",
        "gzip-then-junk": lambda: _gzip(good) + b"junk after the member",
        "gzip-bad-crc": lambda: _gzip(good)[:-8] + b"\0\0\0\0" + _gzip(good)[-4:],
        "gzip-of-bad-json": lambda: _gzip(b'[{"user_id": "U1",, }]'),
        "gzip-of-non-utf8": lambda: _gzip(b'[{"user_id": "U\xff"}]'),
        "gzip-of-nothing": lambda: _gzip(b""),
        "zstd-truncated": lambda: _zstd(good)[:-50],
        "zstd-corrupt": lambda: _zstd(good)[:20] + b"\xff" * 40 + _zstd(good)[60:],
        "zstd-of-bad-json": lambda: _zstd(b"[1, 2,"),
    }[kind]()
    check_rejected_by_all(work, work.file(data, "users.json.gz"), named)


@pytest.mark.parametrize("compress", ["gzip", "zstd", "gzip-members"])
def test_compressed_users_files_are_accepted(work, compress):
    users = copy_users()
    text = "\n".join(json.dumps(u) for u in users).encode()
    data = {"gzip": lambda: _gzip(text), "zstd": lambda: _zstd(text),
            "gzip-members": lambda: _gzip(text[:1000]) + _gzip(text[1000:])}[compress]()
    assert_accepted(work, work.file(data, "users.jsonl.gz"), users)


# ---------------------------------------------------------------- the real scripts, as subprocesses

def _subprocess_cases(base: Path) -> dict[str, tuple[Path | str, str | None]]:
    """name -> (path, text the error must hold besides 'users file')."""
    base.mkdir(parents=True, exist_ok=True)
    users = copy_users()
    users[2]["home_tac"] = RAW
    files = {
        "truncated": (dump(BASE)[:777], None),
        "non-utf8": (dump(BASE)[:500] + b"\xff\xfe" + dump(BASE)[500:], "UTF-8"),
        "nested-100000": (b"[" * 100_000, "nested"),
        "int-10**400": (dump(users, raw="1" + "0" * 400), "home_tac"),
        "int-10**5000": (dump(users, raw="1" + "0" * 5000), None),
    }
    cases: dict[str, tuple] = {}
    for name, (data, expect) in files.items():
        path = base / f"{name}.json"
        path.write_bytes(data)
        cases[name] = (path, expect)
    (base / "a-folder").mkdir(exist_ok=True)
    cases["directory"] = (base / "a-folder", "directory")
    cases["does-not-exist"] = (base / "nope" / "users.json", "not found")
    return cases


def test_subprocess_spot_checks(tmp_path):
    cases = _subprocess_cases(tmp_path / "files")
    jobs, outs = {}, {}
    for name, (path, expect) in cases.items():
        for script in SCRIPTS:
            out = tmp_path / f"out-{name}-{script}"
            out.mkdir()
            jobs[(name, script)] = (script, script_args(script, path, out), {"timeout": 120})
            outs[(name, script)] = (out, expect)
    failures = []
    for (name, script), res in run_many(jobs).items():
        out, expect = outs[(name, script)]
        lines = res.stderr_lines
        problems = []
        if res.returncode != 2:
            problems.append(f"exit {res.returncode}")
        if "Traceback" in res.stderr:
            problems.append("traceback")
        if len(lines) != 1:
            problems.append(f"{len(lines)} stderr lines")
        elif not (lines[0].startswith(f"{script}: error: ") and "users file" in lines[0]
                  and (expect is None or expect in lines[0])):
            problems.append(f"error line {lines[0][:200]!r} (want 'users file'{f' and {expect!r}' if expect else ''})")
        if res.stdout:
            problems.append(f"{len(res.stdout)} characters on stdout")
        if os.listdir(out):
            problems.append(f"left {os.listdir(out)}")
        if problems:
            failures.append(f"{name} / {script}: {'; '.join(problems)}\n    {res.stderr.strip().splitlines()[-1:]}")
    assert not failures, "\n".join(failures)


def test_subprocess_output_dir_not_made_for_a_bad_users_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[{")
    target = tmp_path / "landing"
    res = run_script("cdr_generator.py", "-u", bad, "--output-dir", target, "--count", 5, timeout=120)
    assert res.returncode == 2 and len(res.stderr_lines) == 1 and "users file" in res.stderr, res.stderr
    assert not target.exists(), "--output-dir was made although the users file is bad"
