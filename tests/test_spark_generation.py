"""Generation on Spark (telco_cdr.spark_generation, cdr_generator.py --spark) on a real local[2] Spark:
the records Spark's tasks build are the single-process run's, field by field, in a run of several chunks;
the Parquet and Delta tables the CLI writes hold them too, typed (read back with pyarrow and
delta-rs, and the Delta tables by Spark with Delta Lake's jars too); a task fails on a value its type
cannot take and leaves no file (without Spark); a bad --spark is one line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

import helpers
from running import assert_clean_error, call_main, run_script
from telco_cdr import spark_generation
from telco_cdr.constants import CDR_TYPES, CHUNK_RECORDS
from telco_cdr.contract import RECORDS

START, END = "2026-11-02T00:00:00Z", "2026-11-04T00:00:00Z"
COUNT = 2 * CHUNK_RECORDS + 3000  # three chunks
SEED = 11
# Anomalies planted and labelled, so the labelled schema (with ``anomaly``) and the incident plan take part.
EXTRA = ("--anomalies", "sim_box=1,cell_outage=1", "--label-anomalies")

# One pytest-xdist process for the module: the users, the single-process run and the Spark session made once.
# The tests that need Spark are marked spark; the bad flags are refused before Spark starts, so run without it.
pytestmark = pytest.mark.xdist_group("spark_generation")


def _need(*modules):
    for mod in modules:
        try:
            __import__(mod)
        except ImportError:
            pytest.fail(f"{mod} is not installed: pip install -r requirements-dev.txt -r requirements-spark.txt",
                        pytrace=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A users file and the single-process run's JSON Lines, one file per type."""
    d = tmp_path_factory.mktemp("sparkgen")
    users = helpers.write_users(d / "users.json", 300, seed=4, countries=["US", "GB"])
    rc = helpers.cdr_main("--users-file", users, "--count", COUNT, "--seed", SEED, "--start", START, "--end", END,
                          "--output-dir", d / "single", "--format", "jsonl", *EXTRA)
    assert rc == 0
    single = {t: [json.loads(line) for line in (d / "single" / f"{t}.jsonl").read_text().splitlines()]
              for t in CDR_TYPES}
    assert sum(map(len, single.values())) == COUNT
    return d, users, single


@pytest.fixture(scope="module")
def spark():
    _need("pyspark", "pyarrow")
    session = helpers.local_spark("local[2]", "spark-generation-test", 2)
    yield session
    session.stop()


def _instant(v) -> int:
    """Epoch ms of a time: ISO 8601 text with a Z, a naive datetime as pyspark collects one (local
    time of this process), or an aware one (pyarrow)."""
    if isinstance(v, str):
        return helpers.iso_ms(v)
    return round(v.timestamp() * 1000)


def _comparable(rec: dict, cdr_type: str) -> dict:
    times = {f.name for f in RECORDS[cdr_type].all_fields if f.type == "timestamp"}
    return {k: (_instant(v) if k in times and v is not None else v) for k, v in rec.items()}


@pytest.mark.spark
def test_spark_tasks_build_the_single_process_records(spark, data):
    _, users, single = data
    spec = spark_generation.make_spec(str(users), COUNT, SEED, START, END, anomalies=EXTRA[1], label_anomalies=True)
    job = spec.job()
    # a run this small keeps its data partials from the choice: a task can start at any chunk
    assert job.n_chunks == 3 and job.bearers.partials is not None
    # two tasks: chunk 0, then chunks 1 and 2, in processes of their own
    raw = spark_generation.raw_records(spark, spec, partitions=2)
    assert raw.rdd.getNumPartitions() == 2
    raw = raw.cache()
    assert sorted(r.chunk for r in raw.select("chunk").distinct().collect()) == [0, 1, 2]
    labelled = 0
    for t in CDR_TYPES:
        df = spark_generation.typed(raw, t, labelled=True)
        types = dict(df.dtypes)
        assert types["start_time"] == "timestamp" and types["end_time"] == "timestamp"
        assert df.columns == [f.name for f in RECORDS[t].all_fields]
        got = [_comparable(r.asDict(), t) for r in df.collect()]
        want = [_comparable(r, t) for r in single[t]]
        assert len(got) == len(want), t
        for k, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"{t} record {k} differs"
        labelled += sum(r["anomaly"] is not None for r in got)
    assert labelled > 0, "the run should hold some anomaly's records"
    raw.unpersist()


@pytest.mark.spark
def test_a_task_starts_a_large_run_at_a_late_chunk_from_the_marks(spark, data):
    """A run of many data records keeps the chains' states at marks instead: a task that builds chunks
    120 and 121 alone gives the records one process gives, simulating every chunk from the first."""
    from telco_cdr.batch import CdrFileJob

    _, users, _ = data
    spec = spark_generation.make_spec(str(users), 1_400_000, SEED, START, END)
    job = spec.job()
    assert job.bearers.partials is None and len(job.bearers.marks) > 0, "the chains' states must be kept at marks"
    raw = spark_generation.raw_records(spark, spec, partitions=1, chunks=range(120, 122))
    assert sorted(r.chunk for r in raw.select("chunk").distinct().collect()) == [120, 121]
    got = {t: [_comparable(r.asDict(), t) for r in spark_generation.typed(raw, t).collect()] for t in CDR_TYPES}
    one = CdrFileJob(job.pop, spec.weights, SEED, spec.start_ms, spec.end_ms, spec.count, "jsonl", split=True)
    assert len(one.bearers.marks) == 0  # one process in order: no marks
    want = {t: [] for t in CDR_TYPES}
    for i in range(122):
        blobs = one.chunk(i)[1]
        if i >= 120:
            for t, blob in zip(CDR_TYPES, blobs):
                want[t] += [_comparable(json.loads(line), t) for line in blob.decode().split("\n")] if blob else []
    assert sum(map(len, got.values())) > CHUNK_RECORDS
    for t in CDR_TYPES:
        assert got[t] == want[t], t


class _Given:
    """A broadcast variable's stand-in: what a task of _build_chunks reads."""

    def __init__(self, value):
        self.value = value


class _Spoilt:
    """A CdrFileJob whose chunks are another's, with one voice record's cell changed: for the tasks'
    own checks, without Spark."""

    def __init__(self, job, field: str, value: str | None, extra: bool = False):
        self.job, self.field, self.value, self.extra = job, field, value, extra

    def chunk(self, i):
        import csv
        import io

        counts, blobs, spoiled, found = self.job.chunk(i)
        lines = blobs[0].decode().split("\n")
        row = next(csv.reader([lines[0]]))
        if self.extra:
            row.append("1")
        else:
            row[[f.name for f in RECORDS["voice"].fields].index(self.field)] = self.value
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(row)
        return counts, [("\n".join([out.getvalue(), *lines[1:]])).encode(), *blobs[1:]], spoiled, found


def _task(spec, job):
    """The records of chunk 0 a task (spark_generation._build_chunks) gives, by type, with ``job`` as the
    run's job in the task's process."""
    import pyarrow as pa

    spark_generation._JOBS.clear()
    spark_generation._JOBS[spec.key] = job
    try:
        rows = list(spark_generation._build_chunks(_Given(spec), iter([pa.record_batch([pa.array([0], pa.int32())],
                                                                                       names=["chunk"])])))
    finally:
        spark_generation._JOBS.clear()
    got = {}
    for batch in rows:
        streams = pa.record_batch([batch.column(3)], names=["batch"])
        for k, t in enumerate(batch.column(1).to_pylist()):
            got[t] = pa.Table.from_batches(list(spark_generation._open_batches(iter([streams.slice(k, 1)]))))
    return got


@pytest.mark.parametrize("field, value, extra, words", [
    ("duration_seconds", "12x", False, "'12x'"),  # not an integer
    ("start_time", "yesterday", False, "'yesterday'"),  # not a time
    ("cdr_id", "", False, "null in cdr_id"),  # a null where the contract allows none
    ("cdr_id", None, True, "columns"),  # a cell more than the type has
])
def test_a_task_fails_on_a_value_its_type_cannot_take(data, field, value, extra, words):
    """The tasks read each type's rows against its own Arrow schema: a value the contract's type cannot
    take fails the task (so the job) instead of becoming a null, as from_json's FAILFAST did."""
    _need("pyarrow")
    _, users, _ = data
    spec = spark_generation.make_spec(str(users), 2000, SEED, START, END)
    good = _task(spec, spec.job())
    assert sum(t.num_rows for t in good.values()) == 2000
    voice = good["voice"].to_pylist()
    assert voice and all(r["cdr_id"] and r["start_time"] is not None for r in voice)
    with pytest.raises(RuntimeError, match="do not match their Arrow schema") as e:
        _task(spec, _Spoilt(spec.job(), field, value, extra))
    assert words in str(e.value)


@pytest.mark.parametrize("field, value", [("duration_seconds", "12x"), ("cdr_id", "")])
def test_a_writing_task_fails_on_a_bad_value_and_leaves_no_file(tmp_path, data, field, value):
    """write_tables' tasks (_write_parts) check each type's rows against its Arrow schema as they write
    them: a value the contract's type cannot take fails the task, and none of its files, whole or
    partial, stays behind (a good task's files are there, named by their first chunk)."""
    _need("pyarrow")
    import pyarrow.parquet as pq

    _, users, _ = data
    spec = spark_generation.make_spec(str(users), 2 * CHUNK_RECORDS, SEED, START, END)

    def write(job, folder):
        for t in CDR_TYPES:
            (folder / t).mkdir(parents=True)
        spark_generation._JOBS.clear()
        spark_generation._JOBS[spec.key] = job
        try:
            return list(spark_generation._write_parts(_Given(spec), str(folder), None, range(2)))
        finally:
            spark_generation._JOBS.clear()

    rows = write(spec.job(), tmp_path / "good")
    files = {t: sorted(p.name for p in (tmp_path / "good" / t).iterdir()) for t in CDR_TYPES}
    assert files == {t: ["part-00000.parquet"] for t in CDR_TYPES}
    written = {t: records for t, _, records in rows}
    assert written == {t: pq.read_metadata(tmp_path / "good" / t / "part-00000.parquet").num_rows for t in CDR_TYPES}
    assert sum(written.values()) == 2 * CHUNK_RECORDS
    assert pq.read_metadata(tmp_path / "good" / "voice" / "part-00000.parquet").num_row_groups == 2, "a group a chunk"
    with pytest.raises(RuntimeError, match="do not match their Arrow schema"):
        write(_Spoilt(spec.job(), field, value), tmp_path / "bad")
    assert [p for p in (tmp_path / "bad").rglob("*") if p.is_file()] == []


@pytest.mark.spark
def test_one_task_writes_the_single_process_files_byte_for_byte(spark, data, tmp_path):
    """The tasks write with the single-process run's Parquet writer: one task writing every chunk gives
    each type's file of ``cdr_generator.py --format parquet --output-dir``, byte for byte; two tasks
    give the same row groups, cut between two files."""
    import pyarrow.parquet as pq

    _, users, _ = data
    rc = helpers.cdr_main("--users-file", users, "--count", COUNT, "--seed", SEED, "--start", START, "--end", END,
                          "--output-dir", tmp_path / "single", "--format", "parquet", *EXTRA)
    assert rc == 0
    spec = spark_generation.make_spec(str(users), COUNT, SEED, START, END, anomalies=EXTRA[1], label_anomalies=True)
    for partitions in (1, 2):
        out = tmp_path / f"tasks-{partitions}"
        spark_generation.write_tables(spark, spec, str(out), partitions=partitions)
        for t in CDR_TYPES:
            single = (tmp_path / "single" / f"{t}.parquet").read_bytes()
            parts = sorted((out / t).iterdir())
            if partitions == 1:
                assert [p.name for p in parts] == ["part-00000.parquet"]
                assert parts[0].read_bytes() == single, t
            else:
                assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"], t
                groups = [f.read_row_group(g) for f in map(pq.ParquetFile, parts) for g in range(f.num_row_groups)]
                want = pq.ParquetFile(tmp_path / "single" / f"{t}.parquet")
                assert groups == [want.read_row_group(g) for g in range(want.num_row_groups)], t


@pytest.mark.spark
def test_a_type_without_records_is_an_empty_table_of_its_schema(spark, data, tmp_path):
    """Five records: some types get none, and still have a table (Parquet and Delta) with their columns."""
    _need("deltalake")
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    _, users, _ = data
    spec = spark_generation.make_spec(str(users), 5, SEED, START, END)
    for fmt in ("parquet", "delta"):
        counts = spark_generation.write_tables(spark, spec, str(tmp_path / fmt), fmt=fmt)
        assert sum(counts) == 5 and 0 in counts
        assert sorted(p.name for p in (tmp_path / fmt).iterdir()) == sorted(CDR_TYPES), "nothing else left"
        for t, n in zip(CDR_TYPES, counts):
            table = (DeltaTable(str(tmp_path / fmt / t)).to_pyarrow_table() if fmt == "delta"
                     else pq.read_table(tmp_path / fmt / t))
            assert table.num_rows == n, (fmt, t)
            assert table.column_names == [f.name for f in RECORDS[t].fields], (fmt, t)


@pytest.mark.spark
def test_users_dataframe_has_the_contract_types(spark, data):
    _, users, _ = data
    df = spark_generation.users_dataframe(spark, str(users))
    assert dict(df.dtypes)["activation_date"] == "date"
    want = json.loads(users.read_text())
    got = [r.asDict() for r in df.collect()]
    assert len(got) == len(want) == 300
    for g, w in zip(got, want):
        assert g["activation_date"] == date.fromisoformat(w["activation_date"])
        assert {**g, "activation_date": w["activation_date"]} == w


def _read_table(folder, fmt: str):
    """A table written by the script, read without Spark: the Parquet part files in order (the run's
    order), or the Delta table by delta-rs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "delta":
        from deltalake import DeltaTable

        return DeltaTable(str(folder)).to_pyarrow_table()
    parts = sorted(folder.glob("part-*.parquet"))
    assert parts, folder
    return pa.concat_tables([pq.read_table(p) for p in parts])


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_cli_writes_a_typed_table_per_type(data, fmt):
    """The script in its own process, as a user runs it: Spark started on local[2], stopped after."""
    import pyarrow as pa

    _need("pyspark", "pyarrow", *(("deltalake",) if fmt == "delta" else ()))
    d, users, single = data
    out = d / f"lake-{fmt}"
    res = run_script("cdr_generator.py", "--spark", "local[2]", "--users-file", users, "--count", COUNT, "--seed", SEED,
                     "--start", START, "--end", END, "--output-dir", out, "--format", fmt, *EXTRA, timeout=400)
    assert res.returncode == 0, res.describe()
    assert "Traceback" not in res.stderr, res.describe()
    assert f"wrote {COUNT:,} CDRs" in res.stderr, res.describe()
    assert sorted(p.name for p in out.iterdir()) == sorted(CDR_TYPES), "a table per type, nothing else"
    for t in CDR_TYPES:
        table = _read_table(out / t, fmt)
        assert table.schema.field("start_time").type in (pa.timestamp("ms", tz="UTC"), pa.timestamp("us", tz="UTC"))
        assert table.column_names == [f.name for f in RECORDS[t].all_fields]
        got = [_comparable(r, t) for r in table.to_pylist()]
        want = [_comparable(r, t) for r in single[t]]
        if fmt == "delta":  # delta-rs reads the files in the log's order
            got, want = (sorted(x, key=lambda r: r["cdr_id"]) for x in (got, want))
        assert got == want, t
        # an aware datetime of pyarrow is the same instant as the JSON's text
        first = table.to_pylist()[0]["start_time"]
        assert first.tzinfo is not None and first.astimezone(UTC) in {
            datetime.fromisoformat(r["start_time"].replace("Z", "+00:00")) for r in single[t]}


# Reads Delta tables with Spark and Delta Lake's own jars (those pipelines/run_local.py fetches once):
# prints {type: [rows, dtypes]} as JSON.
DELTA_SPARK_READ = """
import json, sys
sys.path.insert(0, "pipelines")
import run_local
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.jars", ",".join(run_local.jars()))
         .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
         .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC").getOrCreate())
got = {}
for t in sys.argv[2:]:
    df = spark.read.format("delta").load(sys.argv[1] + "/" + t)
    got[t] = [df.count(), df.dtypes]
spark.stop()
print(json.dumps(got))
"""


@pytest.mark.spark
@pytest.mark.slow
def test_delta_tables_are_read_by_delta_lake_on_spark(data, tmp_path):
    """The Delta logs the script writes itself are Delta Lake's: Spark with Delta's jars reads every
    table, with the contract's types and all its records."""
    import subprocess
    import sys

    from telco_cdr.spark_generation import record_schema

    _need("pyspark", "pyarrow")
    _, users, single = data
    out = tmp_path / "lake"
    res = run_script("cdr_generator.py", "--spark", "local[1]", "--users-file", users, "--count", COUNT, "--seed",
                     SEED, "--start", START, "--end", END, "--output-dir", out, "--format", "delta", *EXTRA,
                     timeout=400)
    assert res.returncode == 0, res.describe()
    read = subprocess.run([sys.executable, "-c", DELTA_SPARK_READ, str(out), *CDR_TYPES], capture_output=True,
                          text=True, timeout=600, cwd=helpers.ROOT)
    assert read.returncode == 0, read.stderr[-3000:]
    got = json.loads(read.stdout.strip().splitlines()[-1])
    for t in CDR_TYPES:
        rows, dtypes = got[t]
        assert rows == len(single[t]), t
        assert [tuple(d) for d in dtypes] == [(f.name, f.dataType.simpleString())
                                              for f in record_schema(t, labelled=True).fields], t


@pytest.mark.parametrize("args, words", [
    (["--spark", "nonsense"], ["not a spark master"]),
    (["--spark", "local[0]"], ["not a spark master"]),
    (["--spark", "local[2]", "--format", "jsonl"], ["parquet or delta"]),
    (["--format", "delta"], ["--spark"]),
    (["--spark", "local[2]", "--faults", "duplicate=0.01"], ["--faults"]),
    (["--spark", "local[2]", "--output-dir", "s3://bucket/lake"], ["not to a url"]),
])
def test_a_bad_spark_run_is_one_line_before_spark_starts(tmp_path, data, args, words):
    _, users, _ = data
    res = call_main("cdr_generator.py", ["--users-file", users, "--output-dir", tmp_path / "out", *args])
    assert_clean_error(res, 2, *words)
    assert not (tmp_path / "out").exists(), "nothing written"
