"""The record contract (telco_cdr.contract): the derived files are current, a description that
cannot be laid out is refused naming the field, every format carries the same records field by
field, and the Avro and Spark schemas hold real records."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import fastavro
import pytest

import helpers
from telco_cdr import contract, layout
from telco_cdr.constants import CDR_TYPES
from telco_cdr.contract import CDRS, CSV_COLUMNS, RECORDS, Field, Record
from telco_cdr.layout import LayoutError
from telco_cdr.spark import spark_schema
from telco_cdr.users import generate_users

START, END = "2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z"
# One pytest-xdist process for the module: the outputs and the Spark session are made once.
pytestmark = pytest.mark.xdist_group("contract")


# ---------------------------------------------------------------- the derived files

def test_check_finds_every_derived_file_current():
    proc = subprocess.run([sys.executable, "-m", "telco_cdr.contract", "check"], cwd=helpers.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_check_names_each_stale_file_and_write_mends_them(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(helpers.ROOT / "telco_cdr", copy / "telco_cdr", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(helpers.ROOT / "README.md", copy / "README.md")
    voice = copy / "telco_cdr" / "schemas" / "voice.schema.json"
    voice.write_text(voice.read_text().replace('"maximum": 14400', '"maximum": 14401', 1))
    (copy / "telco_cdr" / "schemas" / "sms.avsc").unlink()
    readme = copy / "README.md"
    text = readme.read_text()
    assert "| `call_result` | string |" in text
    readme.write_text(text.replace("| `call_result` | string |", "| `call_result` | integer |"))

    def run(cmd):
        return subprocess.run([sys.executable, "-m", "telco_cdr.contract", cmd], cwd=copy, capture_output=True,
                              text=True, timeout=120)

    check = run("check")
    assert check.returncode == 1
    named = sorted(re.findall(r"stale: (\S+)", check.stderr))
    assert named == ["README.md", "telco_cdr/schemas/sms.avsc", "telco_cdr/schemas/voice.schema.json"], check.stderr
    assert run("write").returncode == 0
    assert run("check").returncode == 0
    for name in ("voice.schema.json", "sms.avsc"):
        assert (copy / "telco_cdr" / "schemas" / name).read_bytes() == \
            (helpers.ROOT / "telco_cdr" / "schemas" / name).read_bytes()
    assert readme.read_bytes() == (helpers.ROOT / "README.md").read_bytes()


def test_readme_tables_are_between_the_markers_once():
    text = (helpers.ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(contract.README_BEGIN) == 1 and text.count(contract.README_END) == 1
    inside = text.split(contract.README_BEGIN)[1].split(contract.README_END)[0]
    for name, record in RECORDS.items():
        fields = record.fields if name == "user" else record.fields[len(contract.COMMON_FIELDS):]
        for f in fields:
            assert f"| `{f.name}` |" in inside, f"{name}.{f.name} is not in the README's tables"


# ---------------------------------------------------------------- descriptions that cannot be laid out

def _with_field(record: Record, extra: Field) -> Record:
    return replace(record, fields=record.fields + (extra,))


@pytest.mark.parametrize("extra, words", [
    (Field("abroad", "bool", "Abroad or not."), "type 'bool'"),
    (Field("note", "string", "A note."), "a string field needs"),
    (Field("msc_id", "string", "Twice.", pattern="x"), "described twice"),
    (Field("Bad-Name", "integer", "Not snake_case."), "snake_case"),
    (Field("result", "string", "A value with a comma.", values=("a,b", "c")), "would need escaping"),
    (Field("kind", "string", "Null and constant.", values=("x",), nullable=True), "cannot be null"),
], ids=["unknown type", "unconstrained string", "duplicate", "name", "comma in a value", "null constant"])
def test_a_description_that_cannot_be_laid_out_is_refused_naming_the_field(extra, words):
    with pytest.raises(LayoutError) as err:
        layout.check_record(_with_field(CDRS["voice"], extra))
    assert f"voice.{extra.name}:" in str(err.value) and words in str(err.value)


def test_a_csv_column_shared_with_another_type_must_have_its_type():
    data = _with_field(CDRS["data"], Field("latency_ms", "string", "Text, where voip has an integer.", pattern="x"))
    with pytest.raises(LayoutError, match=r"voip\.latency_ms: a column shared with another type must have its type \(string\)"):
        layout.check_columns([data, CDRS["voip"]])


def test_a_builder_that_leaves_out_a_field_is_told_which():
    trial = _with_field(CDRS["sms"], Field("trial_field", "integer", "A field no builder fills.", minimum=0))
    pieces = layout.layout(trial, "json")
    values = {f.name: layout.text_array([b"1"]) for f in CDRS["sms"].fields}
    with pytest.raises(LayoutError, match="'trial_field'"):
        layout.Columns("json")(pieces, values)


def test_the_csv_header_and_the_cells_come_from_one_list_of_columns():
    # Every field of every type has a cell in its CSV column, whatever the field's place.
    for t, record in CDRS.items():
        row = layout.layout(record, "csv", CSV_COLUMNS)
        slots, cell = {}, 0
        for is_field, item in row:
            if is_field:
                slots[item.name] = cell
            else:
                cell += item.count(b",")
        for f in record.fields:
            expected = CSV_COLUMNS.index(f.name)
            if len(f.values) == 1:
                continue  # written as literal text: checked on real output below
            assert slots[f.name] == expected, f"{t}.{f.name} is filled into column {slots[f.name]}, not {expected}"


# ---------------------------------------------------------------- the same records in every format

@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The same users and seed written as JSON Lines, JSON and CSV (one file, and one per type)."""
    d = tmp_path_factory.mktemp("formats")
    users = helpers.write_users(d / "users.json", 400, seed=3, countries=["US", "GB", "IN"])
    out = {}
    for fmt in ("jsonl", "json", "csv"):
        out[fmt] = helpers.write_cdrs(users, d / f"cdrs.{fmt}", 6000, 9, START, END)
    helpers.cdr_main("--users-file", users, "--count", 6000, "--seed", 9, "--start", START, "--end", END,
                     "--output-dir", d / "by_type", "--format", "csv")
    out["by_type"] = d / "by_type"
    return out


def _typed(cdr_type: str, row: dict) -> dict:
    """A CSV row as the contract types it: an empty cell of a nullable field is null."""
    rec = {}
    for f in CDRS[cdr_type].fields:
        cell = row[f.name]
        if cell == "" and f.nullable:
            rec[f.name] = None
        elif f.type == "integer":
            rec[f.name] = int(cell)
        elif f.type == "number":
            rec[f.name] = float(cell)
        elif f.type == "boolean":
            rec[f.name] = {"true": True, "false": False}[cell]  # JSON's words, nothing else
        else:
            rec[f.name] = cell
    return rec


def test_json_jsonl_and_csv_carry_the_same_records_field_by_field(outputs):
    jsonl = [json.loads(line) for line in outputs["jsonl"].read_text().splitlines()]
    assert json.loads(outputs["json"].read_text()) == jsonl
    rows = list(csv.DictReader(io.StringIO(outputs["csv"].read_text(), newline="")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == len(jsonl) == 6000
    for row, rec in zip(rows, jsonl):
        t = rec["cdr_type"]
        assert list(rec) == list(CDRS[t].names)
        assert _typed(t, row) == rec
        assert all(row[c] == "" for c in CSV_COLUMNS if c not in rec), f"{t} row fills another type's column"
    by_type = {t: [r for r in jsonl if r["cdr_type"] == t] for t in CDR_TYPES}
    for t in CDR_TYPES:
        typed = list(csv.DictReader(io.StringIO((outputs["by_type"] / f"{t}.csv").read_text(), newline="")))
        assert [_typed(t, r) for r in typed] == by_type[t]
        assert by_type[t], f"no {t} records to compare"


def test_free_text_is_escaped_by_the_layout_in_every_format(tmp_path):
    users = [dict(u) for u in generate_users(30, seed=2)]
    for u, odd in zip(users, ['U"quote"', "U,comma", "U\\back", "Ü ñ", "U;semi"]):
        u["user_id"] = odd
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps(u) + "\n" for u in users), encoding="utf-8")
    ids = {u["user_id"] for u in users}
    for fmt in ("jsonl", "csv"):
        out = helpers.write_cdrs(path, tmp_path / f"c.{fmt}", 3000, 4, START, END)
        text = out.read_text(encoding="utf-8")
        recs = ([json.loads(line) for line in text.splitlines()] if fmt == "jsonl"
                else list(csv.DictReader(io.StringIO(text, newline=""))))
        seen = {r["user_id"] for r in recs}
        assert seen <= ids and len(seen & {u["user_id"] for u in users[:5]}) >= 3, fmt


# ---------------------------------------------------------------- Avro

@pytest.mark.parametrize("name", list(RECORDS))
def test_avro_schema_holds_generated_records_and_reads_them_back_equal(name, outputs):
    schema = fastavro.parse_schema(json.loads((contract.PACKAGE / "schemas" / f"{name}.avsc").read_text()))
    if name == "user":
        records = list(generate_users(300, seed=5, countries=["US", "DE", "FR"]))
    else:
        records = [r for r in map(json.loads, outputs["jsonl"].read_text().splitlines()) if r["cdr_type"] == name]
    assert records
    buf = io.BytesIO()
    fastavro.writer(buf, schema, [contract.avro_datum(name, r) for r in records], validator=True)
    buf.seek(0)
    back = [contract.json_datum(name, r) for r in fastavro.reader(buf)]
    optional = [f.name for f in RECORDS[name].optional]  # absent from a record: null in Avro
    assert back == [{**r, **{k: r.get(k) for k in optional}} for r in records]
    assert all(set(r) == set(RECORDS[name].names) for r in records), "no label without --label-anomalies"


def test_avro_types_follow_the_contract():
    voice = {f["name"]: f["type"] for f in contract.avro_schema("voice")["fields"]}
    assert voice["start_time"] == {"type": "long", "logicalType": "timestamp-millis"}
    assert voice["answer_time"] == ["null", {"type": "long", "logicalType": "timestamp-millis"}]
    assert voice["duration_seconds"] == "long" and voice["calling_number"] == "string"
    data = {f["name"]: f["type"] for f in contract.avro_schema("data")["fields"]}
    assert data["charging_id"] == "long" and data["charge_amount"] == "double" and data["currency"] == "string"
    assert voice["anomaly"] == ["null", "string"]


# ---------------------------------------------------------------- Spark

_DDL_TYPES = {"string": "STRING", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN",
              "timestamp": "TIMESTAMP", "date": "DATE"}


@pytest.mark.parametrize("name", list(RECORDS))
def test_spark_ddl_names_every_field_with_its_type(name):
    parts = [p.strip() for p in contract.spark_ddl(name).split(",")]
    assert [p.split()[0] for p in parts] == [f.name for f in RECORDS[name].all_fields]
    for part, f in zip(parts, RECORDS[name].all_fields):
        words = part.split()
        assert words[1] == _DDL_TYPES[f.type], part
        assert (words[2:] == ["NOT", "NULL"]) == (not f.nullable), part


@pytest.fixture(scope="module")
def spark():
    session = helpers.local_spark("local[1]", "contract-test", 1)
    yield session
    session.stop()


@pytest.mark.spark  # a Spark job: .ci/run and -m spark run it, the quick loop leaves it out
def test_spark_reads_every_type_with_the_contract_schema(spark, outputs):
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    jsonl = [json.loads(line) for line in outputs["jsonl"].read_text().splitlines()]
    for name in CDR_TYPES:
        schema = spark_schema(name)
        assert StructType.fromDDL(contract.spark_ddl(name)).simpleString() == schema.simpleString()
        lines = [json.dumps(r) for r in jsonl if r["cdr_type"] == name]
        raw = spark.createDataFrame([(line,) for line in lines], "value STRING")
        parsed = raw.select(F.from_json("value", schema, {"mode": "FAILFAST"}).alias("r")).select("r.*")
        assert dict(parsed.dtypes)["start_time"] == "timestamp"
        # times back to text in Spark itself (session time zone UTC), so Python's clock plays no part
        shown = parsed.select([F.date_format(f.name, "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").alias(f.name)
                               if f.type == "timestamp" else F.col(f.name) for f in CDRS[name].fields])
        rows = [row.asDict() for row in shown.collect()]
        assert rows == [json.loads(line) for line in lines], f"{name}: Spark read other values"
    users = spark.createDataFrame([(json.dumps(u),) for u in generate_users(50, seed=8)], "value STRING")
    parsed = users.select(F.from_json("value", spark_schema("user"), {"mode": "FAILFAST"}).alias("u"))
    assert dict(parsed.select("u.*").dtypes)["activation_date"] == "date"
    assert parsed.where("u.user_id IS NULL OR u.activation_date IS NULL OR u.device_5g IS NULL").count() == 0
