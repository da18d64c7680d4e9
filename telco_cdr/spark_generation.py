"""CDRs generated on Spark: the same records as ``cdr_generator.py`` writes in one process, built by Spark
tasks.  The package's second module that imports pyspark (inside its functions, as telco_cdr.spark does).

A run is cut into the chunks of telco_cdr.batch.CdrFileJob (CHUNK_RECORDS records each, chunk ``i``
drawn from generators seeded by ``(seed, i)``); a Spark task takes a contiguous range of chunks.

- ``write_tables`` (cdr_generator.py --spark): each task builds its chunks and writes them itself, a
  Parquet file per CDR type, exactly as the single-process run writes a type's file
  (telco_cdr.parquet: each chunk's CSV rows read into typed Arrow columns against the type's schema,
  a row group per chunk); the driver then adds a Delta log for --format delta.  Nothing but chunk
  numbers and file names passes through the JVM, so Spark's share of the work is scheduling: on
  local[1] a run takes about the single process's time once Spark's Python workers are up
  (bench/bench_spark_generation.py).
- ``raw_records`` / ``typed`` / ``cdr_dataframe(s)`` (notebooks): the tasks return each chunk's
  records as Arrow IPC streams, typed the same way, which Spark opens into DataFrames of the
  contract's Spark schema (mapInArrow both ways; no JSON text, nothing parsed in the JVM).

Either way every value is the single-process run's, and a value its type cannot take, a missing or
extra cell, or a null where the contract allows none fails the task (so the job) instead of
becoming a null.

The job is not shipped (it holds time zones read from files, which do not pickle): its inputs are
(GenerationSpec: the users and the flags, broadcast), and each executor's Python process builds the
job once from them (the same in every process: telco_cdr.batch) and keeps it for its later tasks.
The bearer chains' states are kept at marks (CdrFileJob with ``workers`` > 1), so a task starts its
first chunk from the mark before it instead of simulating every chunk before.

Needs the SparkContext (``spark.sparkContext``): a classic session, not Spark Connect.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .constants import CDR_TYPES, DEFAULT_SEED
from .errors import RunError, UserError

# The masters Spark takes (spark-submit --master): local, local[N|*], local[N|*,F], local-cluster[...],
# spark://..., yarn, k8s://..., mesos://...
_MASTER = re.compile(r"local|local\[([1-9]\d*|\*)(,[1-9]\d*)?\]|local-cluster\[\d+,\d+,\d+\]"
                     r"|yarn|(spark|k8s|mesos)://\S+")
# The parse options of the users (users_dataframe): FAILFAST (a value the schema cannot take stops the job);
# times are ISO 8601 UTC with milliseconds and a Z.
PARSE_OPTIONS = {"mode": "FAILFAST", "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "dateFormat": "yyyy-MM-dd"}
# What raw_records' tasks return: a row per chunk and CDR type, its records as an Arrow IPC stream.
RAW_SCHEMA = "chunk INT, type STRING, records INT, batch BINARY"
# The codec of the typed records' Arrow IPC streams between the tasks that build them and the DataFrames that
# open them (cdr_dataframes keeps them persisted: lz4 makes them less than half the size, about 160 bytes a
# record, for about 0.4 s of a task's time per 1,000,000 records).
IPC_CODEC = "lz4"
# Chunks a task builds at most by default (at least one task per core): fewer tasks save the walks from the
# marks to their first chunks and each task's first chunk, and write fewer part files (a file per task and
# type); more tasks than cores only where a run is large enough to need them.
CHUNKS_PER_TASK = 64


def check_master(master: str) -> str:
    """``master`` if Spark could take it as its master URL, else UserError (before any JVM starts)."""
    if not _MASTER.fullmatch(master):
        raise UserError(f"--spark {master!r} is not a Spark master: give local, local[N], local[*], "
                        "spark://HOST:PORT, yarn or k8s://URL")
    return master


# The table formats --spark writes, and their names in the summary.
TABLE_FORMATS = {"parquet": "Parquet", "delta": "Delta Lake"}


def require() -> None:
    """Refuse in one line when pyspark (or pyarrow, which the tasks write with) is not installed."""
    for module in ("pyspark", "pyarrow"):
        try:
            __import__(module)
        except ImportError:
            raise UserError(f"--spark needs the {module} package: pip install -r requirements-spark.txt") from None


@dataclass(frozen=True)
class GenerationSpec:
    """Everything a CDR run depends on: the users (as read from a users file) and the flags."""

    users: list = field(repr=False)
    count: int
    seed: int
    start_ms: int
    end_ms: int
    weights: dict
    labelled: bool = False  # --label-anomalies
    anomalies: dict | None = None  # --anomalies
    key: str = field(default_factory=lambda: uuid.uuid4().hex)  # names the job in the executors' cache

    def job(self):
        """The run's CdrFileJob (the CSV rows of the Parquet run, one output per type, the chains' states
        kept at marks)."""
        from .batch import CdrFileJob
        from .traffic import build_population

        pop = build_population(self.users, self.seed,
                               on=datetime.fromtimestamp(self.start_ms / 1000, UTC).date())
        return CdrFileJob(pop, self.weights, self.seed, self.start_ms, self.end_ms, self.count, "parquet", split=True,
                          anomalies=self.anomalies, labelled=self.labelled, workers=2)


_JOBS: dict = {}  # per executor Python process: the job of each spec seen (the latest few)


def _job_of(spec: GenerationSpec):
    job = _JOBS.get(spec.key)
    if job is None:
        if len(_JOBS) >= 2:
            _JOBS.clear()
        job = _JOBS[spec.key] = spec.job()
    return job


def _own_schema(cdr_type: str, labelled: bool):
    """``cdr_type``'s Arrow schema (telco_cdr.parquet.arrow_schema) with the timestamps Spark takes from
    Arrow (microseconds, UTC)."""
    import pyarrow as pa

    from .parquet import arrow_schema

    return pa.schema([f.with_type(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
                      for f in arrow_schema(cdr_type, labelled)])


def _build_chunks(spec_bc, batches):
    """A task (mapInArrow): for each chunk number of its batches, in order, a row per CDR type of the
    chunk (in the order of CDR_TYPES): its number of records and an Arrow IPC stream of them, typed by
    the type's own schema, in the order of its file."""
    import pyarrow as pa

    from .parquet import arrow_schema, table

    spec = spec_bc.value
    job = _job_of(spec)
    parse = [arrow_schema(t, spec.labelled) for t in CDR_TYPES]
    own = [_own_schema(t, spec.labelled) for t in CDR_TYPES]
    options = pa.ipc.IpcWriteOptions(compression=IPC_CODEC)
    for batch in batches:
        for i in batch.column(0).to_pylist():
            _, blobs, _, _ = job.chunk(i)
            types, rows, streams = [], [], []
            for t, blob in enumerate(blobs):
                if not blob:
                    continue
                # the type's own schema: its nulls, types and cells checked as the single-process run reads them
                got = table(blob, parse[t], "csv").cast(own[t])
                sink = pa.BufferOutputStream()
                with pa.ipc.new_stream(sink, own[t], options=options) as w:
                    w.write_table(got)
                types.append(CDR_TYPES[t])
                rows.append(got.num_rows)
                streams.append(sink.getvalue().to_pybytes())
            yield pa.RecordBatch.from_arrays([pa.array([i] * len(types), pa.int32()), pa.array(types, pa.string()),
                                              pa.array(rows, pa.int32()), pa.array(streams, pa.binary())],
                                             names=["chunk", "type", "records", "batch"])


def _open_batches(batches):
    """A task (mapInArrow) of ``typed``: the records of the IPC streams of its rows, in order."""
    import pyarrow as pa

    for batch in batches:
        for stream in batch.column(0):
            yield from pa.ipc.open_stream(stream.as_buffer())


def n_chunks(count: int) -> int:
    from .constants import CHUNK_RECORDS

    return max(1, -(-count // CHUNK_RECORDS))


def make_spec(users, count: int = 100, seed: int = DEFAULT_SEED, start=None, end=None, weights=None,
              label_anomalies: bool = False, anomalies=None) -> GenerationSpec:
    """A GenerationSpec from the values of cdr_generator.py's flags: ``users`` a users file's path or its
    users (a list of dicts), ``start``/``end`` ISO 8601 text, ``weights`` and ``anomalies`` as their flags'
    text or dicts."""
    from .anomalies import parse_anomalies
    from .cli import time_window
    from .traffic import parse_weights
    from .users import read_users

    if isinstance(users, (str, os.PathLike)):
        users = read_users(os.fspath(users))
    users = list(users)
    if not users:
        raise UserError("no users to make CDRs for")
    if not isinstance(count, int) or count < 0:
        raise UserError(f"count must be a whole number of at least 0, not {count!r}")
    start_ms, end_ms = time_window(start, end)
    weights = parse_weights(weights) if weights is None or isinstance(weights, str) else dict(weights)
    if isinstance(anomalies, str):
        anomalies = parse_anomalies(anomalies)
    return GenerationSpec(users, count, int(seed), start_ms, end_ms, weights, bool(label_anomalies),
                          anomalies or None)


def raw_records(spark, spec: GenerationSpec, partitions: int | None = None, chunks: range | None = None):
    """A DataFrame (chunk INT, type STRING, records INT, batch BINARY): a row per chunk and CDR type, its
    records as an Arrow IPC stream (typed: see ``typed``), in the order of the single-process run's
    files (by chunk, then as in the chunk); ``partitions`` tasks
    (default: one per core, or more so that none builds more than CHUNKS_PER_TASK chunks), each a
    range of chunks; ``chunks``: only those chunks of the run (default: all)."""
    from pyspark.sql import functions as F

    everything = range(n_chunks(spec.count))
    chunks = everything if chunks is None else chunks
    if chunks.step != 1 or (len(chunks) and (chunks.start < 0 or chunks.stop > len(everything))):
        raise UserError(f"chunks must be a range within the run's {len(everything)} chunks, not {chunks}")
    n = max(1, len(chunks))
    sc = spark.sparkContext
    if partitions is None:
        partitions = max(sc.defaultParallelism, -(-n // CHUNKS_PER_TASK))
    partitions = max(1, min(int(partitions), n))
    _ship_package(sc)
    spec_bc = sc.broadcast(spec)
    # contiguous ranges of chunk numbers, one per task; the records go to the JVM as Arrow batches
    numbers = spark.range(chunks.start, chunks.stop, 1, partitions).select(F.col("id").cast("int").alias("chunk"))
    return numbers.mapInArrow(lambda batches: _build_chunks(spec_bc, batches), RAW_SCHEMA)


def record_schema(cdr_type: str, labelled: bool = False, nullable: bool = False):
    """The contract's Spark schema of ``cdr_type`` as the run writes it: with the ``anomaly`` field only
    when labelled (as the single-process files); with ``nullable``, every field nullable (as the tables
    are written: the contract's nullability is checked when the records are built)."""
    from pyspark.sql import types as T

    from .contract import RECORDS
    from .spark import spark_schema

    names = {f.name for f in (RECORDS[cdr_type].all_fields if labelled else RECORDS[cdr_type].fields)}
    return T.StructType([T.StructField(f.name, f.dataType, f.nullable or nullable, f.metadata)
                         for f in spark_schema(cdr_type).fields if f.name in names])


def typed(raw, cdr_type: str, labelled: bool = False):
    """``cdr_type``'s records of ``raw`` (raw_records) in the contract's typed columns of the type, in the
    order of its file (read from the streams by Python tasks: a task takes its streams of the type, each a
    chunk's, as one Arrow batch; by default CHUNKS_PER_TASK of them at most)."""
    from pyspark.sql import functions as F

    if cdr_type not in CDR_TYPES:
        raise UserError(f"no CDR type {cdr_type!r}: give one of {', '.join(CDR_TYPES)}")
    return raw.where(F.col("type") == cdr_type).select("batch").mapInArrow(
        _open_batches, record_schema(cdr_type, labelled, nullable=True))


def cdr_dataframe(spark, users, cdr_type: str = "voice", count: int = 100, seed: int = DEFAULT_SEED, start=None,
                  end=None, weights=None, label_anomalies: bool = False, anomalies=None,
                  partitions: int | None = None):
    """The CDRs of one type that ``cdr_generator.py`` would write for the same users and flags, as a
    DataFrame with the contract's types (telco_cdr.spark.spark_schema; times as timestamps), built by
    Spark tasks.  ``users``: a users file's path or its users (list of dicts).  Every chunk is built
    (all types) for any one type: for several types, use cdr_dataframes."""
    spec = make_spec(users, count, seed, start, end, weights, label_anomalies, anomalies)
    return typed(raw_records(spark, spec, partitions), cdr_type, spec.labelled)


def cdr_dataframes(spark, users, count: int = 100, seed: int = DEFAULT_SEED, start=None, end=None, weights=None,
                   label_anomalies: bool = False, anomalies=None, partitions: int | None = None) -> dict:
    """Every CDR type's DataFrame (as cdr_dataframe), by type, over one persisted DataFrame of the
    records (so each chunk is built once)."""
    from pyspark import StorageLevel

    spec = make_spec(users, count, seed, start, end, weights, label_anomalies, anomalies)
    raw = raw_records(spark, spec, partitions).persist(StorageLevel.MEMORY_AND_DISK)
    return {t: typed(raw, t, spec.labelled) for t in CDR_TYPES}


def users_dataframe(spark, users):
    """The users (a users file's path, or its users as a list of dicts) as a DataFrame with the
    contract's schema (spark_schema("user"); activation_date a date), parsed in FAILFAST mode."""
    import json

    from pyspark.sql import functions as F

    from .spark import spark_schema
    from .users import read_users

    if isinstance(users, (str, os.PathLike)):
        users = read_users(os.fspath(users))
    lines = [(json.dumps(u, ensure_ascii=False),) for u in users]
    raw = spark.createDataFrame(lines, "value STRING")
    return raw.select(F.from_json("value", spark_schema("user"), PARSE_OPTIONS).alias("u")).select("u.*")


def _ship_package(sc) -> None:
    """Give the executors this package (a zip of telco_cdr, once per SparkContext), so that a cluster
    needs only numpy installed."""
    if getattr(sc, "_telco_cdr_shipped", False):
        return
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    folder = tempfile.mkdtemp(prefix="telco-cdr-pkg-")
    atexit.register(shutil.rmtree, folder, True)  # the executors fetch the zip while the run lasts
    base = shutil.make_archive(os.path.join(folder, "telco_cdr"), "zip", os.path.dirname(here), "telco_cdr")
    sc.addPyFile(base)
    sc._telco_cdr_shipped = True


# ---------------------------------------------------------------- cdr_generator.py --spark

def session(master: str, app: str = "cdr_generator", spec: GenerationSpec | None = None):
    """A SparkSession on ``master`` (session time zone UTC; its Python workers started, with ``spec``'s
    job built in them: warm_up) and whether it was started here (so is to be stopped here), or the
    session already active in this process (a notebook's, a test's); RunError in one line if Spark
    cannot start."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    try:
        spark = (SparkSession.builder.master(master).appName(app)
                 .config("spark.sql.session.timeZone", "UTC").config("spark.ui.showConsoleProgress", "false")
                 .getOrCreate())
    except Exception as e:  # noqa: BLE001 - the JVM's failures come as many classes
        raise RunError(f"Spark could not start on {master!r}: {_first_line(e)}") from None
    spark.sparkContext.setLogLevel("ERROR")
    try:
        warm_up(spark, spec)
    except Exception as e:  # noqa: BLE001
        spark.stop()
        raise RunError(f"Spark started on {master!r} but its Python workers did not: {_first_line(e)}") from None
    return spark, True


def _ready(spec_bc, items):
    """A task of warm_up: this package's generation and Parquet modules imported (with numpy and
    pyarrow), and the run's job built (and kept: _job_of) where there is one."""
    from . import batch, parquet  # noqa: F401

    parquet.require("--spark")
    if spec_bc is not None:
        _job_of(spec_bc.value)
    yield from items


def warm_up(spark, spec: GenerationSpec | None = None) -> None:
    """Start Spark's Python workers (one per core), with this package imported and, given ``spec``, its
    job built, by a job of a task per core that does nothing else: the first Python job of a session
    pays the JVM's first plan and the workers' start (about 2.4 s on local[1] here), and each worker
    models the users once, all of which belong to starting the run (as one process reads and models
    the users before it writes its first record), not to making its records."""
    sc = spark.sparkContext
    _ship_package(sc)
    n = max(1, sc.defaultParallelism)
    spec_bc = sc.broadcast(spec) if spec is not None else None
    try:
        sc.parallelize(range(n), n).mapPartitions(lambda items: _ready(spec_bc, items)).collect()
    finally:
        if spec_bc is not None:
            spec_bc.destroy()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _write_parts(spec_bc, folder: str, compression, numbers):
    """A task of write_tables: chunks ``numbers`` (a contiguous range), built in order and written by
    the task itself as one Parquet file per CDR type, ``folder/<type>/part-<first chunk>.parquet``,
    exactly as the single-process run writes a type's file (telco_cdr.parquet: a row group per
    chunk, checked against the contract's schema, times as UTC milliseconds); the file appears only
    when complete (a retried task writes it again, whole).  Yields (type, file name, records) per file."""
    from .parquet import ParquetFile, arrow_schema

    spec = spec_bc.value
    numbers = list(numbers)
    if not numbers:
        return
    job = _job_of(spec)
    name = f"part-{numbers[0]:05d}.parquet"
    outs: dict[int, ParquetFile] = {}
    rows = [0] * len(CDR_TYPES)
    try:
        for i in numbers:
            counts, blobs, _, _ = job.chunk(i)  # (no --faults with --spark: a line is a record)
            for t, blob in enumerate(blobs):
                if not blob:
                    continue
                out = outs.get(t)
                if out is None:
                    out = outs[t] = ParquetFile(os.path.join(folder, CDR_TYPES[t], name),
                                                arrow_schema(CDR_TYPES[t], spec.labelled), compression)
                out.write_unit([blob])
                rows[t] += counts[t]
        for out in outs.values():
            out.commit()
    except BaseException:
        for out in outs.values():
            out.abort()
        raise
    for t in sorted(outs):
        yield CDR_TYPES[t], name, rows[t]


def delta_log(folder: str, schema_json: str, files: dict) -> None:
    """Make ``folder``, a folder of Parquet ``files`` ({name: records}), a Delta Lake table: its first
    commit (``_delta_log/00000000000000000000.json``) adds the files as they are, with a record count
    each (Delta protocol: protocol reader 1 / writer 2, metaData with the Spark schema ``schema_json``, an
    ``add`` action per file; https://github.com/delta-io/delta/blob/master/PROTOCOL.md).  ``folder`` is
    not yet where readers look (write_tables moves it there when every table is whole)."""
    import json
    import time

    from . import __version__

    now = int(time.time() * 1000)
    actions = [
        {"commitInfo": {"timestamp": now, "operation": "WRITE", "isBlindAppend": True,
                        "operationParameters": {"mode": "ErrorIfExists", "partitionBy": "[]"},
                        "engineInfo": f"telco-cdr-generator/{__version__}"}},
        {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
        {"metaData": {"id": str(uuid.uuid4()), "format": {"provider": "parquet", "options": {}},
                      "schemaString": schema_json, "partitionColumns": [], "configuration": {}, "createdTime": now}},
    ]
    for name in sorted(files):
        st = os.stat(os.path.join(folder, name))
        actions.append({"add": {"path": name, "partitionValues": {}, "size": st.st_size,
                                "modificationTime": int(st.st_mtime * 1000), "dataChange": True,
                                "stats": json.dumps({"numRecords": files[name]}, separators=(",", ":"))}})
    log = os.path.join(folder, "_delta_log")
    os.mkdir(log)
    with open(os.path.join(log, "00000000000000000000.json"), "w", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(a, separators=(",", ":")) + "\n" for a in actions))


def write_tables(spark, spec: GenerationSpec, out_dir: str, compression: str | None = None,
                 partitions: int | None = None, fmt: str = "parquet") -> list[int]:
    """Write one table (a folder) per CDR type into ``out_dir`` (voice/, data/, ...), Parquet or with
    ``fmt`` delta Delta Lake, typed by the contract's schema, times as UTC millisecond timestamps;
    return the records per type.

    Spark tasks build the chunks and write the Parquet files themselves (``_write_parts``: a file per
    task and type, named by its first chunk, so the files in name order are the single-process run's
    records in order); for Delta the driver then makes each folder a Delta table (delta_log: a commit
    that adds the files as they are; no Delta jars needed).  The JVM only schedules the tasks: no
    records pass through it.  ``out_dir`` must be a folder every executor sees (this machine's with
    local[N]; a shared mount such as /dbfs/... on a cluster).  The tables are written into a
    temporary folder of ``out_dir`` and moved into place only when all are written: a failed run
    leaves no table half-written (an earlier table of the same name stays until then)."""
    from .parquet import ParquetFile, arrow_schema

    everything = n_chunks(spec.count)
    sc = spark.sparkContext
    if partitions is None:
        partitions = max(sc.defaultParallelism, -(-everything // CHUNKS_PER_TASK))
    partitions = max(1, min(int(partitions), everything))
    tmp = os.path.abspath(os.path.join(out_dir, f".spark-{uuid.uuid4().hex[:12]}.tmp"))
    try:
        for t in CDR_TYPES:
            os.makedirs(os.path.join(tmp, t))
        _ship_package(sc)
        spec_bc = sc.broadcast(spec)
        # contiguous ranges of chunk numbers, one per task (as spark.range cuts them)
        ranges = [range(everything * k // partitions, everything * (k + 1) // partitions) for k in range(partitions)]
        try:
            parts = sc.parallelize(ranges, partitions).mapPartitions(
                lambda it: (row for r in it for row in _write_parts(spec_bc, tmp, compression, r))).collect()
        except BaseException:  # a task failed, or Ctrl+C / SIGTERM: no task goes on writing
            sc.cancelAllJobs()
            raise
        finally:
            spec_bc.destroy()
        counts = [0] * len(CDR_TYPES)
        for t, _, records in parts:
            counts[CDR_TYPES.index(t)] += records
        for t in CDR_TYPES:
            files = {name: records for kind, name, records in parts if kind == t}
            if not files:  # a type without records: a table of its schema
                ParquetFile(os.path.join(tmp, t, "part-00000.parquet"), arrow_schema(t, spec.labelled),
                            compression).commit()
                files = {"part-00000.parquet": 0}
            if fmt == "delta":
                delta_log(os.path.join(tmp, t), record_schema(t, spec.labelled, nullable=True).json(), files)
        for t in CDR_TYPES:
            final = os.path.join(out_dir, t)
            if os.path.isdir(final):
                shutil.rmtree(final)
            elif os.path.exists(final):
                os.remove(final)
            os.rename(os.path.join(tmp, t), final)
        return counts
    except Exception as e:
        if isinstance(e, (UserError, RunError)):
            raise
        raise RunError(f"Spark could not write the tables: {_first_line(e)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
