"""An independent reader of spoiled output, for the tests of --faults: it reads CDRs with json/csv
and the JSON Schemas (jsonschema) only, never the generator's code, and says what is wrong with
each record: a line that does not parse, a cdr_id seen before, a schema error, an end before the
start, a user who is not in the users file, or a record that ends an hour or more before it
arrives."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime
from pathlib import Path

import helpers

SCHEMAS = Path(__file__).resolve().parents[1] / "telco_cdr" / "schemas"
TYPES = ("voice", "data", "sms", "voip", "ims")
KINDS = ("duplicate", "late", "malformed", "missing_field", "orphan_user", "bad_value", "schema_drift")
HOUR_MS, LATE_MAX_MS = 3_600_000, 6 * 3_600_000  # the README's range of a late record's delay
VALIDATORS = {t: helpers.schema_validator(json.loads((SCHEMAS / f"{t}.schema.json").read_text())) for t in TYPES}


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Users:
    def __init__(self, path: Path):
        users = helpers.load_records(path)
        self.by_id = {u["user_id"]: u for u in users}
        self.msisdn = {u["msisdn"] for u in users}
        self.imsi = {u["imsi"] for u in users}
        self.imei = {u["imei"] for u in users}


def _typed(schema: dict, cells: dict) -> tuple[dict, list[str]]:
    """A CSV row's cells as JSON values by the schema's types: an empty cell is null where the
    field may be null, else absent.  Returns the record and the cells that are not numbers (or
    booleans) where numbers (booleans) belong."""
    rec, bad = {}, []
    for name, prop in schema["properties"].items():
        cell = cells.get(name, "")
        types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        if cell == "":
            if "null" in types:
                rec[name] = None
            continue
        try:
            if "boolean" in types:
                rec[name] = {"true": True, "false": False}[cell]
            else:
                rec[name] = int(cell) if "integer" in types else float(cell) if "number" in types else cell
        except (ValueError, KeyError):
            bad.append(name)
    return rec, bad


def classify(rec: dict, users: Users, running_max: int | None, extra_cells: bool = False,
             late_max_ms: int = LATE_MAX_MS) -> set[str]:
    """What is wrong with a parsed record (empty: nothing); ``running_max`` is when it arrived: the
    latest start of the records before it in a file, a message's timestamp on Kafka."""
    found = set()
    cdr_type = rec.get("cdr_type")
    if cdr_type not in VALIDATORS:
        return {"unknown type"}
    for error in VALIDATORS[cdr_type].iter_errors(rec):
        found.add({"additionalProperties": "schema_drift", "required": "missing_field"}.get(error.validator,
                                                                                           "bad_value"))
    if extra_cells:
        found.add("schema_drift")
    start, end = rec.get("start_time"), rec.get("end_time")
    if isinstance(start, str) and isinstance(end, str) and ms(end) < ms(start):
        found.add("bad_value")
    user = users.by_id.get(rec.get("user_id"))
    if "user_id" in rec and user is None:
        # an orphan: none of its identifiers is a user's
        if rec.get("msisdn") in users.msisdn or rec.get("imsi") in users.imsi or rec.get("imei") in users.imei:
            found.add("half an orphan")
        else:
            found.add("orphan_user")
    elif user is not None:
        for name in ("msisdn", "imsi", "imei"):
            if name in rec and rec[name] != user[name]:
                found.add(f"{name} of another user")
    if isinstance(end, str) and running_max is not None and ms(end) <= running_max - HOUR_MS and not (
            isinstance(start, str) and ms(end) < ms(start)):
        found.add("late")
        assert running_max - ms(end) <= late_max_ms, (rec, running_max)
    return found


def audit(data: bytes, fmt: str, users: Users, file: str | None = None, seen: dict | None = None) -> dict:
    """{(file, line): kind} of every spoiled line of one output file's bytes."""
    lines = data.split(b"\n")
    assert lines[-1] == b"", "the file ends in a newline"
    lines = lines[:-1]
    first = 1
    header = None
    if fmt == "json":
        assert lines[0] == b"[" and lines[-1] == b"]", "a JSON array, one record a line"
        json.loads(data)  # the whole file is one valid array (no malformed records in it)
        lines = [ln[:-1] if ln.endswith(b",") else ln for ln in lines[1:-1]]
        first = 2
    elif fmt == "csv":
        header = lines[0].decode().split(",")
        lines, first = lines[1:], 2
    seen = {} if seen is None else seen
    found = {}
    running_max = None
    for no, raw in enumerate(lines, start=first):
        where = (file, no)
        extra_cells = False
        try:
            text = raw.decode("utf-8")
            if fmt == "csv":
                cells = next(csv.reader([text]))
                if len(cells) < len(header):
                    raise ValueError("a row cut short")
                extra_cells = len(cells) > len(header)
                named = dict(zip(header, cells))
                schema = VALIDATORS.get(named.get("cdr_type"))
                if schema is None:
                    raise ValueError("no cdr_type")
                rec, not_numbers = _typed(schema.schema, named)
                others = [n for n in header if n not in schema.schema["properties"] and named[n] != ""]
                assert not others, f"line {no}: cells of another type's columns: {others}"
            else:
                rec = json.loads(text)
                not_numbers = []
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
            found[where] = "malformed"
            continue
        cdr_id = rec.get("cdr_id")
        if cdr_id in seen:
            assert raw == seen[cdr_id][1], f"line {no}: a resend that is not the same bytes"
            found[where] = "duplicate"
            continue
        seen[cdr_id] = (where, raw)
        kinds = classify(rec, users, running_max, extra_cells)
        if not_numbers:
            kinds.add("bad_value")
        if kinds:
            assert len(kinds) == 1, f"line {no}: more than one fault: {kinds}"
            found[where] = kinds.pop()
        if isinstance(rec.get("start_time"), str):
            t = ms(rec["start_time"])
            running_max = t if running_max is None else max(running_max, t)
    return found


def read_ledger(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def ledger_positions(ledger: list[dict]) -> dict:
    return {(e.get("file"), e["line"]): e["kind"] for e in ledger}


def summary_counts(stderr: str) -> dict:
    line = next(ln for ln in stderr.splitlines() if ": faults: " in ln)
    return {k: int(n.replace(",", "")) for k, n in re.findall(r"\b([a-z_]+) ([\d,]+)", line.split("faults: ", 1)[1])
            if k in KINDS}


def audit_messages(messages: list[tuple], users: Users) -> dict:
    """{(topic, partition, offset): kind} of every spoiled message of (topic, key, raw value,
    partition, offset, timestamp) tuples.  A late message ends an hour or more before its
    timestamp (when the producer made it); a resend comes after its original in the same partition
    (the same key); every readable record with a user_id has it as its key."""
    found, seen = {}, {}
    for topic, key, raw, partition, offset, ts in sorted(messages, key=lambda m: (m[0], m[3], m[4])):
        where = (topic, partition, offset)
        try:
            rec = json.loads(raw.decode("utf-8"))
            if not isinstance(rec, dict):
                raise ValueError("not an object")
        except ValueError:
            found[where] = "malformed"
            continue
        if "user_id" in rec:
            assert key == rec["user_id"], f"{where}: key {key!r}, user_id {rec['user_id']!r}"
        cdr_id = rec.get("cdr_id")
        if cdr_id in seen:
            assert raw == seen[cdr_id][1] and seen[cdr_id][0][:2] == where[:2], f"{where}: not a resend"
            found[where] = "duplicate"
            continue
        seen[cdr_id] = (where, raw)
        kinds = classify(rec, users, ts, late_max_ms=LATE_MAX_MS + 60_000)  # a minute from making to sending
        if kinds:
            assert len(kinds) == 1, f"{where}: more than one fault: {kinds}"
            found[where] = kinds.pop()
    return found
