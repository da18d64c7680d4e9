"""The JSON Schemas (derived from telco_cdr.contract) against the code's tables, and against the real
output of generate_users and cdr_generator.py (json, jsonl, csv, --output-dir)."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import cdr_generator
import helpers
import user_generator
from telco_cdr import bearers, cdrs, radio
from telco_cdr.constants import CDR_TYPES
from telco_cdr.contract import COMMON_FIELDS, CSV_COLUMNS, RECORDS
from telco_cdr.identifiers import COUNTRIES, OPERATORS
from telco_cdr.users import PLANS, generate_users

SCHEMA_DIR = Path(cdrs.__file__).parent / "schemas"
NAMES = ("user",) + CDR_TYPES
START, END = "2026-11-02T05:00:00Z", "2026-11-09T05:00:00Z"  # a week


def _load(name: str) -> dict:
    with open(SCHEMA_DIR / f"{name}.schema.json", encoding="utf-8") as fh:
        return json.load(fh)


SCHEMAS = {name: _load(name) for name in NAMES}
VALIDATORS = {name: helpers.schema_validator(schema) for name, schema in SCHEMAS.items()}  # jsonschema's, quicker


def fields_of(name: str) -> list[str]:
    """The fields the contract describes for record ``name``, in output order."""
    return list(RECORDS[name].names)


def assert_all_valid(name: str, records, where: str) -> None:
    records = list(records)
    assert records, f"{where}: no {name} records to check"
    bad = []
    for i, rec in enumerate(records):
        for err in VALIDATORS[name].iter_errors(rec):
            bad.append(f"#{i} {'/'.join(map(str, err.absolute_path)) or '(record)'}: {err.message}")
    assert not bad, f"{where}: {len(bad)} schema errors in {len(records)} {name} records, e.g.\n" + "\n".join(bad[:10])


def _types(prop: dict) -> set:
    t = prop["type"]
    return {t} if isinstance(t, str) else set(t)


def csv_record(row: dict, cdr_type: str) -> dict:
    """A CSV row as the record its type's schema describes: numbers converted where the schema
    says integer/number/boolean, an empty cell null where the field may be null, and the columns of
    other CDR types (which must be blank) left out."""
    props = SCHEMAS[cdr_type]["properties"]
    rec = {}
    for name, cell in row.items():
        if name not in props:
            assert cell == "", f"{cdr_type} row has {cell!r} in {name}, a column of another type"
            continue
        types = _types(props[name])
        if cell == "" and "null" in types:
            rec[name] = None
        elif "integer" in types:
            rec[name] = int(cell)
        elif "number" in types:
            rec[name] = float(cell)
        elif "boolean" in types:
            rec[name] = {"true": True, "false": False}[cell]  # JSON's words, nothing else
        else:
            rec[name] = cell
    return rec


def read_records(path: Path, fmt: str, cdr_type: str | None = None) -> list[dict]:
    """Records of one output file: all types, or only ``cdr_type`` (a file of --output-dir).
    CSV rows are converted with csv_record by their cdr_type column."""
    with open(path, encoding="utf-8", newline="") as fh:
        if fmt == "json":
            return json.load(fh)
        if fmt == "jsonl":
            return [json.loads(line) for line in fh if line.strip()]
        reader = csv.DictReader(fh)
        rows = list(reader)
    want = fields_of(cdr_type) if cdr_type else list(CSV_COLUMNS)
    assert reader.fieldnames == want, f"{path.name}: CSV header {reader.fieldnames}"
    return [csv_record(row, row["cdr_type"]) for row in rows]


# ---------------------------------------------------------------- the schema files themselves

@pytest.mark.parametrize("name", NAMES)
def test_schema_is_a_closed_draft_2020_12_schema(name):
    schema = SCHEMAS[name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    # every field is required but the optional label of --label-anomalies, the last property of a CDR
    optional = ["anomaly"] if name != "user" else []
    assert schema["required"] + optional == list(schema["properties"])
    for field, prop in schema["properties"].items():
        assert prop.get("type"), f"{name}.{field} has no type"
        assert len(prop.get("description", "")) > 10, f"{name}.{field} has no description"


@pytest.mark.parametrize("name", NAMES)
def test_required_fields_are_the_fields_the_code_writes(name, samples):
    # Order too: it is the CSV column order and the order of keys in JSON output.
    assert SCHEMAS[name]["required"] == list(samples[name]) == fields_of(name)


def test_common_cdr_fields_are_the_same_in_every_cdr_schema():
    def shape(prop):
        return {k: v for k, v in prop.items() if k != "description"}

    for field in COMMON_FIELDS:
        if field in ("cdr_type", "record_type"):
            continue
        shapes = {t: shape(SCHEMAS[t]["properties"][field]) for t in CDR_TYPES}
        assert all(s == shapes["voice"] for s in shapes.values()), f"{field} differs: {shapes}"
    for t in CDR_TYPES:
        assert SCHEMAS[t]["properties"]["cdr_type"]["const"] == t


def _enum(name, field):
    prop = SCHEMAS[name]["properties"][field]
    return set(prop["enum"]) if "enum" in prop else {prop["const"]}


def test_enums_are_the_code_tables():
    assert _enum("user", "operator") == {op.name for op in OPERATORS}
    assert _enum("user", "mcc") == {op.mcc for op in OPERATORS}
    assert _enum("user", "mnc") == {op.mnc for op in OPERATORS}
    assert _enum("user", "country") == set(COUNTRIES)
    assert _enum("user", "plan_id") == {p.plan_id for p in PLANS}
    assert _enum("user", "plan_name") == {p.plan_name for p in PLANS}
    for t, pair in zip(CDR_TYPES, cdrs.RECORD_TYPES):
        assert _enum(t, "record_type") == set(pair)
    assert _enum("voice", "call_result") == {o[0] for o in cdrs.VOICE_OUTCOMES}
    assert _enum("voice", "cause_for_termination") == {o[2] for o in cdrs.VOICE_OUTCOMES}
    assert _enum("voice", "release_cause_code") == {o[3] for o in cdrs.VOICE_OUTCOMES}
    assert _enum("voice", "release_cause") == {o[4] for o in cdrs.VOICE_OUTCOMES}
    assert _enum("data", "apn") == set(bearers.APNS)
    assert _enum("data", "cause_for_record_closing") == set(bearers.RECORD_CLOSING)
    for t in CDR_TYPES:
        assert _enum(t, "rat_type") == set(radio.RATS)
    assert _enum("voice", "voice_technology") == set(radio.VOICE_TECHNOLOGIES)
    assert _enum("sms", "delivery_status") == {r[0] for r in cdrs.SMS_RESULTS}
    assert _enum("voip", "codec") == {c[0] for c in cdrs.CODECS}
    assert _enum("ims", "sip_method") == {m for m, _, _ in cdrs.IMS_METHODS}
    assert _enum("ims", "sip_status_code") == {c for rows in cdrs.IMS_STATUS.values() for c, _ in rows}
    assert _enum("ims", "ims_service") == {s for rows in cdrs.IMS_SERVICES.values() for s, _ in rows}


# ---------------------------------------------------------------- users

@pytest.mark.parametrize("countries", [["US"], ["GB"], ["DE"], ["FR"], ["IN"], list(COUNTRIES)],
                         ids=lambda c: "+".join(c))
@pytest.mark.parametrize("seed", [1, 42])
def test_generated_users_match_the_schema(countries, seed):
    users = list(generate_users(150, seed=seed, countries=countries))
    assert {u["country"] for u in users} == set(countries)
    assert_all_valid("user", users, f"generate_users(seed={seed}, countries={countries})")


# ---------------------------------------------------------------- CDRs

@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    """Users of all five countries, written by user_generator.py (whose output is checked too)."""
    path = tmp_path_factory.mktemp("users") / "users.jsonl"
    args = ["--num-users", "300", "--seed", "7", "--output", str(path)]
    for c in COUNTRIES:
        args += ["--country", c]
    assert user_generator.main(args) == 0
    assert_all_valid("user", read_records(path, "jsonl"), "user_generator.py output")
    return path


def run_cdrs(users_file, seed: int, count: int, *out_args) -> None:
    argv = ["--users-file", str(users_file), "--count", str(count), "--seed", str(seed),
            "--start", START, "--end", END, *out_args]
    assert cdr_generator.main(argv) == 0, f"cdr_generator.main({argv}) failed"


@pytest.mark.parametrize("fmt, seed", [("json", 1), ("jsonl", 2), ("csv", 3)])
def test_cdr_file_matches_the_schemas(users_file, tmp_path, fmt, seed):
    out = tmp_path / f"cdrs.{fmt}"
    run_cdrs(users_file, seed, 3000, "--output", str(out), "--format", fmt)
    records = read_records(out, fmt)
    assert len(records) == 3000
    by_type = {t: [r for r in records if r.get("cdr_type") == t] for t in CDR_TYPES}
    assert sum(map(len, by_type.values())) == len(records), "records of an unknown cdr_type"
    for t, recs in by_type.items():
        assert_all_valid(t, recs, f"{out.name} (seed {seed})")


@pytest.mark.parametrize("fmt, seed", [("jsonl", 4), ("csv", 5), ("json", 6)])
def test_output_dir_files_match_their_types_schema(users_file, tmp_path, fmt, seed):
    out = tmp_path / "landing"
    run_cdrs(users_file, seed, 2500, "--output-dir", str(out), "--format", fmt)
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.{fmt}" for t in CDR_TYPES)
    total = 0
    for t in CDR_TYPES:
        records = read_records(out / f"{t}.{fmt}", fmt, t)
        assert_all_valid(t, records, f"--output-dir {t}.{fmt} (seed {seed})")  # cdr_type is const per schema
        total += len(records)
    assert total == 2500


# ---------------------------------------------------------------- the schemas are not vacuous

@pytest.fixture(scope="module")
def samples(users_file, tmp_path_factory):
    """One valid record of each kind."""
    out = tmp_path_factory.mktemp("samples") / "cdrs.jsonl"
    run_cdrs(users_file, 8, 400, "--output", str(out))
    records = read_records(out, "jsonl")
    found = {"user": next(generate_users(1, seed=1))}
    for t in CDR_TYPES:
        found[t] = next(r for r in records if r["cdr_type"] == t)
    return found


def _busy_but_answered(r):
    r.update(call_result="busy", cause_for_termination="unsuccessfulCallAttempt", release_cause_code=17,
             release_cause="user busy", duration_seconds=0, answer_time=r["start_time"])


def _register_terminating(r):
    dom = r["node_address"].split(".", 1)[1]
    r.update(sip_method="REGISTER", sip_status_code=200, ims_service="VoLTE", duration_seconds=0,
             access_network="3GPP-E-UTRAN-FDD", calling_party_uri=f"sip:+{r['msisdn']}@{dom}",
             called_party_uri=f"sip:{dom}", role_of_node="terminating")


# (record kind, what is broken, the field the schema must blame, the change)
BROKEN = [
    ("user", "14-digit IMSI", "imsi", lambda r: r.update(imsi=r["imsi"][:14])),
    ("user", "IMSI of another operator", "imsi", lambda r: r.update(imsi="99999" + r["imsi"][5:])),
    ("user", "MSISDN with a leading 0", "msisdn", lambda r: r.update(msisdn="0" + r["msisdn"][1:])),
    ("user", "unknown status", "status", lambda r: r.update(status="churned")),
    ("user", "plan name of another plan", "plan_name", lambda r: r.update(
        plan_id="PRE-10", plan_type="prepaid", segment="consumer", plan_name="Unlimited Plus")),
    ("user", "TAC as a string", "home_tac", lambda r: r.update(home_tac=str(r["home_tac"]))),
    ("user", "missing field", "iccid", lambda r: r.pop("iccid")),
    ("user", "extra field", "email", lambda r: r.update(email="a@b.c")),
    ("voice", "negative duration", "duration_seconds", lambda r: r.update(duration_seconds=-1)),
    ("voice", "busy call with an answer time", "answer_time", _busy_but_answered),
    ("voice", "MO direction on an MT record", "record_type", lambda r: r.update(
        call_direction="MO", record_type="mtCallRecord")),
    ("voice", "timestamp without milliseconds", "start_time", lambda r: r.update(
        start_time=r["start_time"][:19] + "Z")),
    ("voice", "cdr_type of another schema", "cdr_type", lambda r: r.update(cdr_type="sms")),
    ("data", "charging id beyond 32 bits", "charging_id", lambda r: r.update(charging_id=2**32)),
    ("data", "unknown RAT", "rat_type", lambda r: r.update(rat_type="LTE")),
    ("data", "bytes as a string", "uplink_bytes", lambda r: r.update(uplink_bytes=str(r["uplink_bytes"]))),
    ("sms", "161 characters", "message_length", lambda r: r.update(message_length=161)),
    ("sms", "UCS-2 over 70 characters", "message_length", lambda r: r.update(encoding="UCS-2", message_length=71)),
    ("sms", "SMSC without '+'", "smsc_address", lambda r: r.update(smsc_address=r["smsc_address"][1:])),
    ("voip", "MOS above 4.5", "mos", lambda r: r.update(mos=4.6)),
    ("voip", "URI without user=phone", "caller_uri", lambda r: r.update(caller_uri=r["caller_uri"].split(";")[0])),
    ("ims", "terminating REGISTER", "role_of_node", _register_terminating),
    ("ims", "unknown SIP method", "sip_method", lambda r: r.update(sip_method="PUBLISH")),
    ("ims", "null ICID", "icid", lambda r: r.update(icid=None)),
]


@pytest.mark.parametrize("name, what, field, change", BROKEN, ids=[f"{b[0]}: {b[1]}" for b in BROKEN])
def test_a_broken_record_fails_on_the_broken_field(samples, name, what, field, change):
    good = samples[name]
    assert_all_valid(name, [good], "the sample")
    bad = copy.deepcopy(good)
    change(bad)
    errors = list(VALIDATORS[name].iter_errors(bad))
    assert errors, f"{name} with {what} passed the schema"
    blamed = {e.path[0] if e.path else None for e in errors}
    assert field in blamed or any(repr(field) in e.message for e in errors), [e.message for e in errors]


# ---------------------------------------------------------------- the quicker validator

def test_the_quicker_validator_finds_jsonschemas_own_errors(users_file, samples, tmp_path):
    """helpers.schema_validator, which checks the many records here and in test_faults.py, finds the
    errors of jsonschema's Draft202012Validator, one for one, in the same order: on records spoiled
    every way --faults spoils them and on the broken records above, each checked twice (the second
    time with the values it has seen remembered)."""
    from jsonschema import Draft202012Validator

    out = tmp_path / "spoiled.jsonl"
    run_cdrs(users_file, 9, 500, "--output", str(out), "--faults",
             "duplicate=0.05,late=0.05,missing_field=0.1,orphan_user=0.05,bad_value=0.2,schema_drift=0.1")
    cases = [(r["cdr_type"], r) for r in read_records(out, "jsonl") if r.get("cdr_type") in CDR_TYPES]
    for name, _, _, change in BROKEN:
        bad = copy.deepcopy(samples[name])
        change(bad)
        cases.append((name, bad))
    plain = {name: Draft202012Validator(schema) for name, schema in SCHEMAS.items()}

    def errors(validator, rec) -> list:
        return [(e.validator, list(e.absolute_path), list(e.absolute_schema_path), e.message)
                for e in validator.iter_errors(rec)]

    spoiled = 0
    for _ in range(2):
        for name, rec in cases:
            want = errors(plain[name], rec)
            assert errors(VALIDATORS[name], rec) == want, (name, rec)
            spoiled += bool(want)
    assert spoiled > 2 * 150, f"only {spoiled // 2} of {len(cases)} records have errors"
