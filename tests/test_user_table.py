"""Users a column at a time: the columnar reader gives the careful reader's table for every file it
takes, leaves every other file to it (the same table, or the same one-line error), and the text of a
large base's users made a chunk at a time gives the same records as made once."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from running import call_main
from telco_cdr import cdrs, user_table
from telco_cdr.errors import UserError
from telco_cdr.identifiers import COUNTRIES
from telco_cdr.user_table import UserTable, load_users
from telco_cdr.users import generate_users, read_users

WINDOW = ["--start", "2026-11-01T00:00:00Z", "--end", "2026-11-08T00:00:00Z"]


@pytest.fixture(autouse=True)
def columnar_for_any_size(monkeypatch):
    """The columnar reader takes files from COLUMNAR_FROM bytes up; here, files of any size."""
    monkeypatch.setattr(user_table, "COLUMNAR_FROM", 0)


def assert_same_table(a: UserTable, b: UserTable) -> None:
    for name, want in vars(b).items():
        got = getattr(a, name)
        if isinstance(want, list):
            assert got == want, name
        else:
            assert got.dtype == want.dtype and np.array_equal(got, want), name


def careful(path) -> UserTable:
    return UserTable.from_records(read_users(str(path)))


@pytest.mark.parametrize("name, countries, seed", [
    ("users.json", ["US"], 1), ("users.jsonl", ["GB", "DE"], 2), ("users.json.gz", COUNTRIES, 3),
    ("users.jsonl.zst", ["FR", "IN"], 4), ("users.parquet", COUNTRIES, 5)])
def test_the_columnar_reader_takes_the_generators_files_and_gives_the_careful_readers_table(tmp_path, name,
                                                                                           countries, seed):
    path = tmp_path / name
    res = call_main("user_generator.py", ["-n", 1500, "--seed", seed, *sum((["--country", c] for c in countries), []),
                                          "-o", path])
    assert res.returncode == 0, res.describe()
    fast = user_table._columnar(str(path), None)
    assert fast is not None, "left to the careful reader"
    assert fast.n == 1500 and len(set(fast.plmn_keys)) > 1
    assert_same_table(fast, careful(path))


def lines(users) -> list[str]:
    return [json.dumps(u, ensure_ascii=False) for u in users]


USERS = list(generate_users(40, seed=9, countries=["US", "DE"]))


@pytest.mark.parametrize("text", [
    "\ufeff[\n" + ",\n".join(lines(USERS)) + "\n]\n",  # a byte order mark
    "[\r\n" + ",\r\n".join(lines(USERS)) + "\r\n]\r\n",  # CRLF
    "[" + ", ".join(lines(USERS)) + "]",  # one line
    json.dumps(USERS, indent=2),  # pretty-printed
    "\n".join(lines(USERS[:20])) + "\n\n  \n" + "\n".join(lines(USERS[20:])),  # blank lines
    "\n".join(lines(USERS)).replace('"home_tac"', '"extra": {"a": [1, {"b": 2}]}, "home_tac"'),  # nested values
    "\n".join(lines(USERS)).replace('"first_name": "', '"first_name": "\\u00e9'),  # \u escapes
    "\n".join(lines(USERS)).replace('"home_city": "', '"home_city": null, "x": "'),  # a null home_city
    "\n".join(lines(USERS)).replace('"time_zone": "America/New_York", ', ''),  # zones from the city
])
def test_odd_but_valid_files_give_the_careful_readers_table(tmp_path, text):
    path = tmp_path / "users.json"
    path.write_text(text, encoding="utf-8")
    assert_same_table(load_users(str(path)), careful(path))


@pytest.mark.parametrize("text", [
    "\n".join(lines(USERS[:2])) + " " + "\n".join(lines(USERS[2:])),  # two users on one line
    "[\n" + ",\n".join(lines(USERS)) + "\n" + lines(USERS)[0] + "\n]\n",  # a comma missing in the array
    "[\n" + ",\n".join(lines(USERS)) + ",\n]\n",  # a comma too many
    "[\n" + ",\n".join(lines(USERS)) + "\n",  # no closing bracket
    "\n".join(lines(USERS)).replace('"last_name": "', '"last_name": "a\u2028b'),  # a line break of str.splitlines
    "\n".join(lines(USERS)).replace('"home_tac": 1', '"home_tac": 1.0'),  # 1.0 is not an integer
    "\n".join(lines(USERS)).replace('"time_zone": "America/New_York"', '"time_zone": ""'),  # not a zone
    "\n".join(lines(USERS)).replace('"imsi": "3', '"imsi": "9'),  # IMSIs not of their MCC+MNC
    "\n".join(lines(USERS + USERS[:1])),  # a user twice
    "\n".join(lines(USERS)).replace('"extra"', '"x"') + "\n" + '{"extra": ' + "[" * 5000 + "]" * 5000 + "}",
])
def test_faulty_files_are_refused_with_the_careful_readers_line(tmp_path, text):
    path = tmp_path / "users.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as careful_error:
        read_users(str(path))
    with pytest.raises(UserError) as error:
        load_users(str(path))
    assert str(error.value) == str(careful_error.value)


def test_bytes_that_are_not_utf8_in_a_field_no_run_reads_are_refused(tmp_path):
    path = tmp_path / "users.jsonl.gz"
    text = "\n".join(lines(USERS)).encode().replace(b'"first_name": "', b'"first_name": "\xff', 1)
    path.write_bytes(gzip.compress(text))
    with pytest.raises(UserError, match="not UTF-8"):
        load_users(str(path))


def test_a_truncated_compressed_file_is_refused(tmp_path):
    path = tmp_path / "users.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(lines(USERS)).encode())[:-30])
    with pytest.raises(UserError, match="gzip"):
        load_users(str(path))


@pytest.mark.parametrize("extra", [[], ["--anomalies", "sim_swap=3,sim_box=1,wangiri=1", "--label-anomalies",
                                        "--faults", "orphan_user=0.01,duplicate=0.01", "--ledger", "LEDGER"],
                                   ["--format", "csv"]])
def test_a_chunks_own_users_text_gives_the_records_of_every_users_text(tmp_path, monkeypatch, extra):
    """A base over TEXT_TABLES_UP_TO users has each chunk make its own users' text; forced here for a
    small base, the bytes (and the ledger) are those of the text made once."""
    users = tmp_path / "users.json"
    assert call_main("user_generator.py", ["-n", 3000, "--seed", 8, "--country", "US", "--country", "IN",
                                           "-o", users]).returncode == 0
    out, suffix = {}, ".csv" if "csv" in extra else ".jsonl"
    for mode, limit in (("once", cdrs.TEXT_TABLES_UP_TO), ("chunk", 0)):
        monkeypatch.setattr(cdrs, "TEXT_TABLES_UP_TO", limit)
        args = [a.replace("LEDGER", str(tmp_path / f"{mode}.ledger")) for a in extra]
        res = call_main("cdr_generator.py", ["-u", users, "-c", 20000, "--seed", 5, *WINDOW, "-j", 1,
                                             "-o", tmp_path / f"{mode}{suffix}", *args])
        assert res.returncode == 0, res.describe()
        out[mode] = (tmp_path / f"{mode}{suffix}").read_bytes()
    assert out["chunk"] == out["once"]
    if extra and extra[0] == "--anomalies":
        assert (tmp_path / "chunk.ledger").read_bytes() == (tmp_path / "once.ledger").read_bytes()
        assert b'"sim_swap"' in out["once"]


def test_a_base_worked_on_a_block_at_a_time_gives_the_same_records(tmp_path, monkeypatch):
    """Contacts and the choice of bearer chains are made a block of users at a time for a large base;
    with tiny blocks, a run's bytes are those of one block."""
    from telco_cdr import bearers, traffic

    users = tmp_path / "users.json"
    assert call_main("user_generator.py", ["-n", 2000, "--seed", 4, "--country", "US", "--country", "GB",
                                           "-o", users]).returncode == 0
    out = {}
    for mode, rows, pairs in (("whole", traffic.ROWS_A_BLOCK, bearers.PAIRS_A_BLOCK), ("blocks", 7, 5)):
        monkeypatch.setattr(traffic, "ROWS_A_BLOCK", rows)
        monkeypatch.setattr(bearers, "PAIRS_A_BLOCK", pairs)
        res = call_main("cdr_generator.py", ["-u", users, "-c", 15000, "--seed", 3, *WINDOW, "-j", 1,
                                             "-o", tmp_path / f"{mode}.jsonl"])
        assert res.returncode == 0, res.describe()
        out[mode] = (tmp_path / f"{mode}.jsonl").read_bytes()
    assert out["blocks"] == out["whole"]
    assert out["whole"].count(b'"cdr_type":"data"') > 1000


@pytest.mark.parametrize("margin", [4.0, 0.01], ids=["first-pairs", "past-the-first-pairs"])
def test_the_first_pairs_give_the_records_of_sorting_every_pair(tmp_path, monkeypatch, margin):
    """A file's bearer chains come from the pairs with the smallest keys: sorted alone (and all of
    them once the file needs more) they give the bytes of sorting every pair."""
    from telco_cdr import bearers

    users = tmp_path / "users.json"
    assert call_main("user_generator.py", ["-n", 3000, "--seed", 6, "-o", users]).returncode == 0
    monkeypatch.setattr(bearers, "BLOCK_PARTIALS", 3000)  # small blocks: a file of many
    monkeypatch.setattr(bearers, "FIRST_PAIRS_MIN", 0)
    monkeypatch.setattr(bearers, "FIRST_PAIRS_MARGIN", margin)
    made = []
    real = bearers._FirstPairs._make
    monkeypatch.setattr(bearers._FirstPairs, "_make", lambda self, order, complete: made.append(len(order)) or
                        real(self, order, complete))
    out = {}
    for mode, first in (("sorted", False), ("first", True)):
        monkeypatch.setattr(bearers, "FIRST_PAIRS", first)
        made.clear()
        res = call_main("cdr_generator.py", ["-u", users, "-c", 20000, "--seed", 2, *WINDOW, "-j", 1,
                                             "-o", tmp_path / f"{mode}.jsonl"])
        assert res.returncode == 0, res.describe()
        out[mode] = ((tmp_path / f"{mode}.jsonl").read_bytes(), list(made))
    assert out["first"][0] == out["sorted"][0]
    everyone = out["sorted"][1][0]
    assert out["first"][1][0] < everyone  # the first pairs alone at first
    assert (out["first"][1][-1] == everyone) == (margin < 1)  # and every pair only when the file needs them


def test_without_device_flags_a_user_has_its_tacs():
    """A user without device_4g / device_volte gets its IMEI's TAC's flags (DEVICES), True for a TAC not
    there; a user with them keeps its own."""
    from telco_cdr.identifiers import DEVICES
    from telco_cdr.traffic import build_population

    users = [dict(u) for u in generate_users(400, seed=12, countries=["US", "IN"])]
    for i, u in enumerate(users):
        if i % 2:
            del u["device_4g"], u["device_volte"]
        if i % 10 == 1:
            u["imei"] = "99999999" + u["imei"][8:]  # a TAC not in DEVICES
    pop = build_population(users, 12)
    by_tac = {t: d for d in DEVICES for t in d.tacs}
    for i, u in enumerate(users):
        device = by_tac.get(u["imei"][:8])
        lte = u["device_4g"] if "device_4g" in u else (device.lte if device else True)
        volte = u["device_volte"] if "device_volte" in u else (device.volte if device else True)
        assert pop.radio.lte[i] == lte and pop.radio.volte[i] == (volte and lte), i
    assert not all(pop.radio.lte[1::2]) or not all(pop.radio.volte[1::2])  # some TAC says no
