"""User generation: determinism, the record shape, plausible shares, and reading a users file back."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import helpers
from telco_cdr.contract import USER
from telco_cdr.identifiers import CITIES, COUNTRIES
from telco_cdr.users import PLANS, generate_users, read_users


def test_same_arguments_give_identical_users():
    a = list(generate_users(2000, seed=77, countries=["GB", "IN"]))
    b = list(generate_users(2000, seed=77, countries=["GB", "IN"]))
    assert a == b


def test_different_seed_gives_different_users():
    a = list(generate_users(500, seed=1))
    b = list(generate_users(500, seed=2))
    # Not just a reshuffle: hardly any identifier may coincide.
    for key in ("msisdn", "imsi", "imei", "iccid"):
        assert len({u[key] for u in a} & {u[key] for u in b}) < 5, key


def test_different_country_gives_different_users():
    a = list(generate_users(200, seed=1, countries=["US"]))
    b = list(generate_users(200, seed=1, countries=["DE"]))
    assert {u["country"] for u in a} == {"US"} and {u["country"] for u in b} == {"DE"}


def test_count_is_exact():
    for n in (1, 2, 7, 1000):
        assert len(list(generate_users(n, seed=5))) == n


def test_field_set_and_order(tmp_path):
    for fmt in ("json", "jsonl"):
        path = helpers.write_users(tmp_path / f"u.{fmt}", 300, seed=4, countries=list(COUNTRIES))
        for rec in helpers.load_records(path):
            assert tuple(rec) == USER.names


def test_plan_fields_are_consistent_with_the_plan_table():
    plans = {p.plan_id: p for p in PLANS}
    for u in generate_users(3000, seed=6, countries=list(COUNTRIES)):
        p = plans[u["plan_id"]]
        assert (u["plan_name"], u["plan_type"], u["segment"]) == (p.plan_name, p.plan_type, p.segment)
        assert u["status"] in ("active", "suspended")
        city = next(c for c in CITIES if c.name == u["home_city"])
        assert (city.country, city.region) == (u["country"], u["home_region"])
        assert u["first_name"].strip() and u["last_name"].strip()


def test_suspended_share_is_plausible():
    users = list(generate_users(20_000, seed=13, countries=list(COUNTRIES)))
    status = Counter(u["status"] for u in users)
    share = status["suspended"] / len(users)
    assert 0.01 < share < 0.10, share  # a few percent of lines are barred, not a third, not none
    for country in COUNTRIES:
        here = [u for u in users if u["country"] == country]
        assert {u["status"] for u in here} == {"active", "suspended"}, country


def test_countries_are_evenly_spread_and_big_cities_have_more_users():
    users = list(generate_users(10_000, seed=14, countries=list(COUNTRIES)))
    per_country = Counter(u["country"] for u in users)
    for c in COUNTRIES:
        assert abs(per_country[c] / len(users) - 0.2) < 0.03, per_country
    us = Counter(u["home_city"] for u in users if u["country"] == "US")
    assert us["New York"] > 3 * us["Miami"]


def test_default_country_is_us():
    assert {u["country"] for u in generate_users(100)} == {"US"}


@pytest.mark.parametrize("name, fmt", [("users.json", "json"), ("users.jsonl", "jsonl"),
                                       ("users.ndjson", "jsonl"), ("USERS.JSONL", "jsonl")])
def test_format_follows_the_file_extension(tmp_path, name, fmt):
    path = tmp_path / name
    assert helpers.users_main("-n", 50, "--seed", 3, "-o", path) == 0
    text = path.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert isinstance(data, list) and len(data) == 50
    else:
        lines = text.splitlines()
        assert len(lines) == 50 and all(isinstance(json.loads(line), dict) for line in lines)
        data = [json.loads(line) for line in lines]
    assert data == list(generate_users(50, seed=3))


def test_a_name_that_tells_no_format_needs_format(tmp_path):
    """users.txt could hold anything: not silently JSON, but an error that asks for --format."""
    from running import assert_clean_error, call_main

    path = tmp_path / "users.txt"
    line = assert_clean_error(call_main("user_generator.py", ["-n", 20, "-o", path]), 2)
    assert "cannot tell the format" in line and "--format" in line and not path.exists()
    assert helpers.users_main("-n", 20, "--format", "jsonl", "-o", path) == 0
    assert len(path.read_text(encoding="utf-8").splitlines()) == 20


def test_format_flag_overrides_the_extension(tmp_path):
    path = tmp_path / "users.json"
    assert helpers.users_main("-n", 20, "--format", "jsonl", "-o", path) == 0
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20 and all(json.loads(line)["user_id"] for line in lines)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_read_users_round_trips_a_generated_file(tmp_path, fmt):
    path = helpers.write_users(tmp_path / f"u.{fmt}", 400, seed=21, countries=list(COUNTRIES))
    assert read_users(str(path)) == list(generate_users(400, seed=21, countries=list(COUNTRIES)))


def test_non_ascii_names_survive_as_utf8(tmp_path):
    path = helpers.write_users(tmp_path / "u.json", 2000, seed=2, countries=["DE", "FR"])
    raw = path.read_bytes()
    raw.decode("utf-8")  # strict
    users = json.loads(raw)
    assert any(not (u["first_name"] + u["last_name"]).isascii() for u in users)
    assert any(not u["home_city"].isascii() for u in users)  # München, Köln, Île-de-France ...


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_read_users_accepts_a_byte_order_mark(tmp_path, fmt):
    # Editors on Windows save UTF-8 with a BOM; read_users strips it for a JSON array, and
    # JSON Lines should be read the same way.
    users = list(generate_users(30, seed=2))
    text = json.dumps(users) if fmt == "json" else "\n".join(json.dumps(u) for u in users) + "\n"
    path = tmp_path / f"users.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_users(str(path)) == users


def test_read_users_accepts_crlf_json_lines(tmp_path):
    users = list(generate_users(30, seed=2))
    path = tmp_path / "users.jsonl"
    path.write_bytes("\r\n".join(json.dumps(u) for u in users).encode() + b"\r\n")
    assert read_users(str(path)) == users
