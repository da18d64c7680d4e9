"""--format parquet (issue 14): the Arrow schema derived from the contract, and Parquet files whose
records are those of JSON Lines of the same flags, field by field; per-type files, labels,
--workers, --order arrival, codecs; Parquet users files both ways; and the refusals, each one line."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime

import pytest

from helpers import WEEK_END, WEEK_START, cdr_main, listing, write_users
from running import assert_clean_error, call_main, run_script
from telco_cdr import contract
from telco_cdr.constants import CDR_TYPES, CHUNK_RECORDS

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from telco_cdr.parquet import arrow_schema  # noqa: E402 - after the skip without pyarrow

WINDOW = ["--start", WEEK_START, "--end", WEEK_END]
COUNT = 2 * CHUNK_RECORDS + 3000  # three chunks
ARROW_OF = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
            "timestamp": pa.timestamp("ms", tz="UTC"), "date": pa.date32()}


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    return write_users(tmp_path_factory.mktemp("pq_users") / "users.json", 300, seed=4)


def cdrs(users, out, *extra, count=COUNT, seed=9) -> None:
    """CDRs of ``users`` to ``out`` (None: ``extra`` gives --output-dir)."""
    args = ["--users-file", users, "--count", count, "--seed", seed, *WINDOW, *extra]
    assert cdr_main(*args, *(["--output", out] if out is not None else [])) == 0


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def as_json(value):
    """A value read from Parquet as JSON Lines writes it: times as ISO 8601 UTC with ms and a Z."""
    if isinstance(value, datetime):
        assert value.utcoffset().total_seconds() == 0
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value


def parquet_records(path, typed: bool = True) -> list[dict]:
    """The records of a Parquet file of CDRs as JSON has them: each with the fields of its own type
    only (a file of all types has every type's columns), values as JSON text would give them."""
    rows = pq.read_table(path).to_pylist()
    out = []
    for row in rows:
        t = row["cdr_type"]
        names = contract.CDRS[t].names + (("anomaly",) if "anomaly" in row else ())
        if typed:
            extra = {k: v for k, v in row.items() if k not in names}
            assert all(v is None for v in extra.values()), f"{t} has values in other types' columns: {extra}"
        out.append({k: as_json(row[k]) for k in names})
    return out


def assert_same_records(parquet_rows: list[dict], json_rows: list[dict]) -> None:
    assert len(parquet_rows) == len(json_rows)
    for i, (p, j) in enumerate(zip(parquet_rows, json_rows)):
        assert list(p) == list(j), f"record {i}: fields differ"
        for k, v in j.items():
            got = p[k]
            assert type(got) is type(v) and got == v, f"record {i} ({j['cdr_id']}) field {k}: {got!r} != {v!r}"


# ---------------------------------------------------------------- the schema

@pytest.mark.parametrize("name", ["user", *CDR_TYPES])
def test_arrow_schema_is_the_contracts(name):
    labelled = name != "user"
    schema = arrow_schema(name, labelled)
    fields = contract.RECORDS[name].all_fields
    assert schema.names == [f.name for f in fields]
    for f in fields:
        assert schema.field(f.name).type == ARROW_OF[f.type], f.name
        assert schema.field(f.name).nullable == f.nullable, f.name
    if labelled:
        assert arrow_schema(name).names == list(contract.CDRS[name].names)  # without the label


def test_arrow_schema_of_all_types_is_the_union_in_the_csv_order():
    schema = arrow_schema(None)
    assert schema.names == contract.csv_header().split(",")
    for name in schema.names:
        having = [contract.CDRS[t][name] for t in CDR_TYPES if name in contract.CDRS[t].names]
        assert {ARROW_OF[f.type] for f in having} == {schema.field(name).type}, name
        required = len(having) == len(CDR_TYPES) and not any(f.nullable for f in having)
        assert schema.field(name).nullable == (not required), name
    assert not schema.field("start_time").nullable and schema.field("start_time").type == pa.timestamp("ms", "UTC")
    assert schema.field("answer_time").nullable and schema.field("duration_seconds").nullable  # sms has none
    assert arrow_schema(None, True).names == schema.names + ["anomaly"]


def test_csv_cells_of_cdrs_are_unambiguous():
    """Parquet's CDRs are read from the CSV rows: an empty cell is a null, so no CDR string may be
    empty; free text (quoted in CSV) only where the users file's check keeps it non-empty."""
    import re

    for t in CDR_TYPES:
        for f in contract.CDRS[t].all_fields:
            if f.type == "string":
                assert "" not in f.values, f"{t}.{f.name}"
                assert f.pattern is None or not re.fullmatch(f.pattern, ""), f"{t}.{f.name}"
            if f.text:
                assert f.name == "user_id", f"{t}.{f.name}: free text; is it never empty?"


def test_free_text_user_ids_come_through(users, tmp_path):
    """user_id is the CDRs' free text: commas, quotes, non-ASCII, as a users file may have them."""
    records = json.loads(users.read_text())
    for k, r in enumerate(records):
        r["user_id"] = ['a,b', 'say "hi"', "Ünïcode ✓", '"', "x" * 56, " pad "][k % 6] + f"#{k}"
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    cdrs(odd, tmp_path / "o.jsonl", count=3000)
    cdrs(odd, tmp_path / "o.parquet", count=3000)
    rows = parquet_records(tmp_path / "o.parquet")
    assert_same_records(rows, jsonl(tmp_path / "o.jsonl"))
    assert {r["user_id"].split("#")[0] for r in rows} == {'a,b', 'say "hi"', "Ünïcode ✓", '"', "x" * 56, " pad "}


# ---------------------------------------------------------------- the records

@pytest.fixture(scope="module")
def one_file(users, tmp_path_factory):
    d = tmp_path_factory.mktemp("pq_one")
    cdrs(users, d / "cdrs.jsonl")
    cdrs(users, d / "cdrs.parquet")
    return d


def test_parquet_has_the_records_of_jsonl_field_by_field(one_file):
    rows = parquet_records(one_file / "cdrs.parquet")
    assert_same_records(rows, jsonl(one_file / "cdrs.jsonl"))
    assert {r["cdr_type"] for r in rows} == set(CDR_TYPES)
    assert any(r["answer_time"] is None for r in rows if r["cdr_type"] == "voice")  # nulls stay nulls


def test_parquet_is_typed_by_the_contract_a_row_group_a_chunk(one_file):
    f = pq.ParquetFile(one_file / "cdrs.parquet")
    assert f.schema_arrow == arrow_schema(None)
    assert f.metadata.num_rows == COUNT
    assert f.metadata.num_row_groups == math.ceil(COUNT / CHUNK_RECORDS)
    assert all(f.metadata.row_group(i).num_rows < 2 * CHUNK_RECORDS for i in range(f.metadata.num_row_groups))
    assert f.metadata.row_group(0).column(0).compression == "SNAPPY"
    t = f.read(columns=["start_time", "duration_seconds", "mos"])
    assert t.schema.field("start_time").type == pa.timestamp("ms", tz="UTC")
    assert t.schema.field("duration_seconds").type == pa.int64() and t.schema.field("mos").type == pa.float64()


def test_same_seed_same_bytes_and_workers_write_the_same(users, one_file, tmp_path):
    cdrs(users, tmp_path / "again.parquet")
    cdrs(users, tmp_path / "two.parquet", "--workers", "2")
    first = (one_file / "cdrs.parquet").read_bytes()
    assert (tmp_path / "again.parquet").read_bytes() == first
    assert (tmp_path / "two.parquet").read_bytes() == first  # the records too, then


def test_output_dir_a_file_per_type_with_labels(users, tmp_path):
    flags = ["--label-anomalies", "--anomalies", "sim_box=1,cell_outage=1"]
    cdrs(users, None, "--output-dir", tmp_path / "j", "--format", "jsonl", *flags)
    cdrs(users, None, "--output-dir", tmp_path / "p", "--format", "parquet", "--compression", "zstd", *flags)
    assert listing(tmp_path / "p") == [f"{t}.parquet" for t in sorted(CDR_TYPES)]
    labels = set()
    for t in CDR_TYPES:
        f = pq.ParquetFile(tmp_path / "p" / f"{t}.parquet")
        assert f.schema_arrow == arrow_schema(t, labelled=True)
        assert f.metadata.row_group(0).column(0).compression == "ZSTD"
        rows = parquet_records(tmp_path / "p" / f"{t}.parquet")
        assert_same_records(rows, jsonl(tmp_path / "j" / f"{t}.jsonl"))
        labels |= {r["anomaly"] for r in rows}
    assert {"sim_box", "cell_outage", None} <= labels


def test_arrival_order_gives_the_records_of_jsonl(users, tmp_path):
    flags = ["--order", "arrival", "--compression", "gzip"]
    cdrs(users, tmp_path / "a.jsonl", "--order", "arrival")
    cdrs(users, tmp_path / "a.parquet", *flags)
    assert pq.ParquetFile(tmp_path / "a.parquet").metadata.row_group(0).column(0).compression == "GZIP"
    assert_same_records(parquet_records(tmp_path / "a.parquet"), jsonl(tmp_path / "a.jsonl"))


def test_no_records_is_a_valid_empty_file(users, tmp_path):
    cdrs(users, tmp_path / "none.parquet", count=0)
    f = pq.ParquetFile(tmp_path / "none.parquet")
    assert f.metadata.num_rows == 0 and f.schema_arrow == arrow_schema(None)


def test_parquet_to_stdout(users, tmp_path):
    res = run_script("cdr_generator.py", "-u", users, "-c", 500, "--seed", 9, *WINDOW, "-o", "-", "-f", "parquet")
    assert res.returncode == 0, res.describe()
    assert res.stdout_bytes[:4] == b"PAR1" and res.stdout_bytes[-4:] == b"PAR1"
    cdrs(users, tmp_path / "small.jsonl", count=500)
    assert_same_records(parquet_records(pa.BufferReader(res.stdout_bytes)), jsonl(tmp_path / "small.jsonl"))


# ---------------------------------------------------------------- users

def test_users_as_parquet_are_the_users_of_json(tmp_path):
    from telco_cdr.users import read_users

    write_users(tmp_path / "u.json", 700, seed=8, countries=["GB", "IN"])
    write_users(tmp_path / "u.parquet", 700, seed=8, countries=["GB", "IN"])
    write_users(tmp_path / "u.bin", 700, seed=8, countries=["GB", "IN"], fmt="parquet")  # the first bytes tell
    f = pq.ParquetFile(tmp_path / "u.parquet")
    assert f.schema_arrow == arrow_schema("user")
    assert f.schema_arrow.field("activation_date").type == pa.date32()
    users_json = read_users(str(tmp_path / "u.json"))
    assert read_users(str(tmp_path / "u.parquet")) == users_json == json.loads((tmp_path / "u.json").read_text())
    assert read_users(str(tmp_path / "u.bin")) == users_json
    for name in ("u.json", "u.parquet"):
        assert cdr_main("-u", tmp_path / name, "-c", 3000, "--seed", 2, *WINDOW, "-o", tmp_path / f"{name}.jsonl") == 0
    assert (tmp_path / "u.json.jsonl").read_bytes() == (tmp_path / "u.parquet.jsonl").read_bytes()


# ---------------------------------------------------------------- refusals: one line, exit 2, no file

def _cdr(users, *args):
    return call_main("cdr_generator.py", ["-u", users, "-c", 100, *WINDOW, *args])


@pytest.mark.parametrize("args,says", [
    (["--format", "parquet", "-o", "x.parquet", "--faults", "duplicate=0.01"], "typed columns of parquet"),
    (["-o", "x.parquet.gz"], "drop the .gz"),
    (["-o", "x.parquet.zst", "--compression", "zstd"], "drop the .zst"),
    (["--output-dir", "d", "--format", "parquet", "--faults", "late=0.1"], "write jsonl or csv"),
])
def test_refused_in_one_line(users, tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(_cdr(users, *args), 2, says)
    assert listing(tmp_path) == []


def test_without_pyarrow_parquet_is_one_line_and_the_rest_works(users, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_users(tmp_path / "u.parquet", 50)
    for mod in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow raises ImportError
    assert_clean_error(_cdr(users, "-o", "c.parquet"), 2, "pyarrow")
    assert_clean_error(_cdr(users, "--output-dir", "d", "--format", "parquet"), 2, "pip install pyarrow")
    assert_clean_error(call_main("user_generator.py", ["-n", 5, "-o", "v.parquet"]), 2, "pyarrow")
    assert_clean_error(_cdr(tmp_path / "u.parquet", "-o", "c.jsonl"), 2, "is parquet", "pyarrow")
    assert listing(tmp_path) == ["u.parquet"]
    assert _cdr(users, "-o", "c.jsonl").returncode == 0  # without Parquet, nothing is missed


def test_a_corrupt_parquet_users_file_is_one_line(users, tmp_path):
    write_users(tmp_path / "u.parquet", 50)
    whole = (tmp_path / "u.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[:len(whole) // 2])
    res = _cdr(tmp_path / "cut.parquet", "-o", tmp_path / "c.jsonl")
    assert_clean_error(res, 2, "not a valid parquet file")
    assert not (tmp_path / "c.jsonl").exists()


def test_a_failed_write_leaves_no_file(users, tmp_path, monkeypatch):
    from telco_cdr import parquet
    from telco_cdr.errors import RunError

    written = []

    def fail_second(self, t):
        if written:
            raise RunError(f"cannot write output {self.path!r}: No space left on device")
        written.append(t.num_rows)
        self._writer.write_table(t, row_group_size=t.num_rows)

    monkeypatch.setattr(parquet.ParquetFile, "_write", fail_second)
    res = call_main("cdr_generator.py", ["-u", users, "-c", COUNT, *WINDOW, "-o", tmp_path / "c.parquet"])
    line = assert_clean_error(res, 1, "no space left")
    assert written and "c.parquet" in line
    assert listing(tmp_path) == []


def test_help_names_parquet():
    for script in ("cdr_generator.py", "user_generator.py"):
        res = call_main(script, ["--help"])
        assert res.returncode == 0 and ".parquet" in res.stdout and "pyarrow" in res.stdout
