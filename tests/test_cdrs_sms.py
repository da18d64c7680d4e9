"""SMS in 2026 (issue 11, item 1): long texts sent as concatenated segments (3GPP TS 23.040
§9.2.3.24.1: 160 GSM-7 or 70 UCS-2 characters in one SMS, else segments of 153 or 67), and
application-to-person messages from short codes and alphanumeric senders, most of the SMS
(telco-reference.md "The network of 2026").  Measured on generated files of several countries and
seeds, and on a stream (kafka_producer.py --dry-run)."""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict

import phonenumbers
import pytest

import helpers
from fault_reader import VALIDATORS
from running import call_main

RUNS = [
    helpers.one_process(("gb_us", ["GB", "US"], 51, 9, "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"), "sms"),
    helpers.one_process(("de_fr_in", ["DE", "FR", "IN"], 52, 10, "2026-05-04T00:00:00Z", "2026-05-11T00:00:00Z"),
                        "sms"),
]
USERS, CDRS = 2500, 80_000
# Written here from the standards, apart from the generator: one SMS, and a segment after the UDH.
SINGLE = {"GSM-7": 160, "UCS-2": 70}
SEGMENT = {"GSM-7": 153, "UCS-2": 67}
# A2P senders by country: US common short codes (CTIA, 5-6 digits; no alphanumeric senders); GB, DE
# and FR alphanumeric senders (TS 23.040 TP-OA: at most 11 characters) or 5-digit short codes; IN TRAI
# DLT headers: the access provider's letter, its licensed service area's, a dash, six characters (TRAI's
# codes, after the TCCCPR 2018 and TRAI's direction of 10 December 2008; C, F and Q name no area).
PROVIDERS, AREAS = "ABCDEHIJLMPQRSTUVWY", "ABDEGHIJKLMNOPRSTVWXYZ"
ALNUM = r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}|[0-9]{5}"
SENDER = {"US": r"[0-9]{5,6}", "GB": ALNUM, "DE": ALNUM, "FR": ALNUM,
          "IN": rf"[{PROVIDERS}][{AREAS}]-[A-Z0-9]{{6}}"}


@pytest.fixture(scope="module", params=RUNS)
def run(request, tmp_path_factory):
    return helpers.run_data_set(tmp_path_factory, "sms", request.param, USERS, CDRS)


def messages(sms: list) -> list[list]:
    """The messages of SMS records (in output order): per user, a record of segment 1 opens a
    message and the user's next SMS records are its other segments.  Fails where a segment is not
    where its number says it is."""
    per_user = defaultdict(list)
    for c in sms:
        per_user[c["user_id"]].append(c)
    out = []
    for recs in per_user.values():
        i = 0
        while i < len(recs):
            first = recs[i]
            count = first["segment_count"]
            assert first["segment_number"] == 1, first
            msg = recs[i:i + count]
            assert [c["segment_number"] for c in msg] == list(range(1, count + 1)), [c["cdr_id"] for c in msg]
            out.append(msg)
            i += count
    return out


def _ms(c, key="start_time"):
    return helpers.iso_ms(c[key])


def test_segments_of_a_message_are_consecutive_records_of_one_party_within_seconds(run):
    msgs = messages(run.of_type("sms"))
    long = [m for m in msgs if len(m) > 1]
    assert len(long) > 100, len(long)
    for m in long:
        first = m[0]
        for c in m:
            assert c["segment_count"] == len(m), c
            for k in ("msisdn", "sender_number", "receiver_number", "direction", "encoding", "counterparty_type",
                      "counterparty_network", "delivery_status", "cell_id"):
                assert c[k] == first[k], (k, first["cdr_id"], c["cdr_id"])
        starts = [_ms(c) for c in m]
        assert starts == sorted(starts), [c["cdr_id"] for c in m]
        assert starts[-1] - starts[0] <= 1000 * (len(m) - 1), [c["start_time"] for c in m]
    # and most are a few hundred ms apart, not at the same instant
    gaps = [_ms(b) - _ms(a) for m in long for a, b in zip(m, m[1:])]
    assert sum(50 <= g <= 1000 for g in gaps) > 0.95 * len(gaps)


def test_segment_lengths_follow_the_concatenation_rules(run):
    for m in messages(run.of_type("sms")):
        enc = m[0]["encoding"]
        lengths = [c["message_length"] for c in m]
        if len(m) == 1:
            assert 1 <= lengths[0] <= SINGLE[enc], m[0]
        else:
            assert lengths[:-1] == [SEGMENT[enc]] * (len(m) - 1), (m[0]["cdr_id"], lengths)
            assert 1 <= lengths[-1] <= SEGMENT[enc], (m[0]["cdr_id"], lengths)


def test_a_few_gsm7_texts_and_more_ucs2_texts_need_several_segments(run):
    msgs = messages(run.of_type("sms"))
    by_enc = defaultdict(list)
    for m in msgs:
        by_enc[m[0]["encoding"]].append(len(m) > 1)
    assert len(by_enc["UCS-2"]) > 300, {k: len(v) for k, v in by_enc.items()}
    gsm = sum(by_enc["GSM-7"]) / len(by_enc["GSM-7"])
    ucs2 = sum(by_enc["UCS-2"]) / len(by_enc["UCS-2"])
    assert 0.01 <= gsm <= 0.10, gsm
    assert 0.10 <= ucs2 <= 0.40 and ucs2 > 2 * gsm, (gsm, ucs2)
    assert max(len(m) for m in msgs) >= 4  # a tail of long texts


def test_most_messages_are_from_applications_all_mt_in_the_countrys_formats(run):
    msgs = messages(run.of_type("sms"))
    a2p = [m[0] for m in msgs if m[0]["counterparty_type"] == "short_code"]
    assert 0.50 <= len(a2p) / len(msgs) <= 0.70, len(a2p) / len(msgs)
    senders = defaultdict(Counter)
    for c in a2p:
        country = run.by_id[c["user_id"]]["country"]
        assert c["direction"] == "MT" and c["record_type"] == "mtSMSRecord", c
        assert c["receiver_number"] == c["msisdn"] and c["counterparty_network"] is None, c
        assert re.fullmatch(SENDER[country], c["sender_number"]), (country, c["sender_number"])
        assert c["sender_number"] not in run.by_msisdn
        senders[country][c["sender_number"]] += 1
    assert set(senders) == {u["country"] for u in run.users}
    for country, seen in senders.items():
        assert len(seen) >= 5, (country, seen)  # banks, passwords, parcels ... not one sender
        assert seen.most_common(1)[0][1] < 0.5 * sum(seen.values()), (country, seen)
    if "GB" in senders:  # GB has both kinds
        assert any(s.isdigit() for s in senders["GB"]) and any(not s.isdigit() for s in senders["GB"])
    if "IN" in senders:  # a business sends through its access provider: one prefix or two per header
        prefixes = defaultdict(set)
        for s in senders["IN"]:
            prefixes[s[3:]].add(s[:2])
        assert len(prefixes) >= 5 and max(map(len, prefixes.values())) <= 2, dict(prefixes)


def test_person_to_person_messages_are_between_e164_numbers(run):
    p2p = [c for c in run.of_type("sms") if c["counterparty_type"] != "short_code"]
    assert len(p2p) > 1000
    mo = sum(c["direction"] == "MO" for c in p2p) / len(p2p)
    assert 0.3 <= mo <= 0.7, mo  # persons send and receive alike
    checked = set()
    for c in p2p:
        for num in (c["sender_number"], c["receiver_number"]):
            if num in checked or num in run.by_msisdn:
                continue
            checked.add(num)
            assert phonenumbers.is_valid_number(phonenumbers.parse("+" + num)), (num, c["cdr_id"])
    assert len(checked) > 200


def test_the_schemas_hold_the_new_records(run):
    sms = run.of_type("sms")
    picked = [c for c in sms if c["segment_count"] > 1][:300] + [c for c in sms if c["counterparty_type"] ==
                                                                 "short_code"][:300] + sms[:300]
    for c in picked:
        errors = [e.message for e in VALIDATORS["sms"].iter_errors(c)]
        assert not errors, (c, errors)
    broken = dict(picked[0], segment_number=0)
    assert list(VALIDATORS["sms"].iter_errors(broken))
    person = next(c for c in sms if c["counterparty_type"] == "mobile")
    assert list(VALIDATORS["sms"].iter_errors(dict(person, sender_number="VERIFY", direction="MT")))


def test_the_same_seed_makes_the_same_bytes(tmp_path):
    users = helpers.write_users(tmp_path / "users.json", 800, seed=7, countries=["IN", "GB"])
    a = helpers.write_cdrs(users, tmp_path / "a.jsonl", 20_000, 3)
    b = helpers.write_cdrs(users, tmp_path / "b.jsonl", 20_000, 3)
    c = helpers.write_cdrs(users, tmp_path / "c.jsonl", 20_000, 4)
    assert helpers.sha256(a) == helpers.sha256(b) != helpers.sha256(c)
    recs = helpers.load_records(a)
    assert any(r.get("segment_count", 1) > 1 for r in recs)


def test_a_streams_messages_are_whole_and_in_the_order_they_close(tmp_path, monkeypatch):
    """A stream (records sent once they end): a message's segments are consecutive records of its user
    there too, and the records close in order; the same seed sends the same records (the wall clock
    stopped, as tests/test_delivery.py stops it)."""
    monkeypatch.setattr(time, "time", lambda: helpers.iso_ms("2026-11-04T12:00:00.000Z") / 1000)
    users = helpers.write_users(tmp_path / "users.jsonl", 1000, seed=33, countries=("IN", "US", "FR"))

    def stream():
        res = call_main("kafka_producer.py", ["--dry-run", "-u", users, "--seed", 12, "--rate", "max",
                                              "--max-count", 30_000, "--delivery-delay", 0])
        assert res.returncode == 0 and res.escaped is None, res.describe()
        return res.stdout

    out = stream()
    assert out == stream()
    values = [json.loads(line)["value"] for line in out.splitlines()]
    ends = [_ms(v, "end_time") for v in values]
    assert ends == sorted(ends)
    msgs = messages([v for v in values if v["cdr_type"] == "sms"])
    long = [m for m in msgs if len(m) > 1]
    assert len(long) > 20
    for m in long:
        assert len({(c["sender_number"], c["receiver_number"], c["encoding"]) for c in m}) == 1
        starts = [_ms(c) for c in m]
        assert starts == sorted(starts) and starts[-1] - starts[0] <= 1000 * (len(m) - 1), starts
