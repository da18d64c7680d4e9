#!/usr/bin/env python3
"""Write Call Detail Records (voice, data, SMS, VoIP, IMS) for the users of a users file."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

from telco_cdr import parquet, spark_generation
from telco_cdr.anomalies import KINDS as ANOMALY_KINDS
from telco_cdr.anomalies import parse_anomalies
from telco_cdr.batch import CdrFileJob, write_cdr_file
from telco_cdr.cli import Parser, int_at_least, nonempty, run, seed_value, time_window
from telco_cdr.constants import CDR_TYPES, DEFAULT_SEED, DEFAULT_WEIGHTS_TEXT, DELIVERY_DEFAULT_TEXT, DELIVERY_HELP
from telco_cdr.contract import csv_header
from telco_cdr.delivery import parse_delay
from telco_cdr.errors import UserError
from telco_cdr.faults import KINDS as FAULT_KINDS
from telco_cdr.faults import check_format, parse_faults
from telco_cdr.faults import summary as fault_summary
from telco_cdr.output import CODECS, FORMATS, Progress, RecordFramer, atomic_outputs, codec, output_kind
from telco_cdr.text import plural, size
from telco_cdr.traffic import build_population, parse_weights
from telco_cdr.user_table import load_users, release_memory

PROG = "cdr_generator.py"
EXAMPLES = """
examples:
  python cdr_generator.py                           # 100 CDRs of users.json -> cdrs.json
  python cdr_generator.py --count 5000000 --start 2026-11-01T00:00:00Z --end 2026-11-08T00:00:00Z \\
      --seed 7 --format jsonl --output cdrs.jsonl --workers 2
  python cdr_generator.py --count 100000 --output-dir landing/ --format jsonl   # a file per CDR type
  python cdr_generator.py --count 1000000 --output cdrs.jsonl.gz     # gzip-compressed JSON Lines
  python cdr_generator.py --count 1000000 --start 2026-11-01 --output-dir lake/ --format parquet \\
      --compression zstd   # voice.parquet, data.parquet, ...: typed columns (needs pyarrow)
  python cdr_generator.py --weights voice=1 --count 10 --output - | head -3     # JSON Lines
  python cdr_generator.py --count 10000 --output cdrs.jsonl --start 2026-11-01 \\
      --faults duplicate=0.01,late=0.005,malformed=0.002 --ledger faults.jsonl  # spoiled on purpose
  python cdr_generator.py --count 10000 --output cdrs.jsonl --start 2026-11-01 \\
      --order arrival --delivery-delay 2m,20m   # as a pipeline receives them
  python cdr_generator.py --count 1000000 --output cdrs.jsonl --start 2026-11-01 --end 2026-11-08 \\
      --anomalies sim_box=1,wangiri=1,cell_outage=2 --ledger truth.jsonl        # fraud and outages to find
  python cdr_generator.py --spark 'local[2]' --count 1000000 --start 2026-11-01 --output-dir lake/ \\
      --format parquet   # built and written by Spark tasks: lake/voice/, lake/data/, ... Parquet tables
  python cdr_generator.py --spark 'local[2]' --count 1000000 --start 2026-11-01 --output-dir lake/ \\
      --format delta     # Delta Lake tables (their logs written by this script: no Delta jars needed)

The name says the format: .json, .jsonl/.ndjson, .csv, then .gz or .zst to compress, or
.parquet (its columns compressed inside: snappy, or --compression gzip|zstd); other formats
(.avro, .xlsx, ...) are refused.  5,000,000 CDRs of JSON Lines take about 3.0 GB (.gz about
520 MB, .zst about 290 MB).  Parquet has the contract's types (times as UTC milliseconds); one
file of all types has the columns of all five, null where a type has no such field.

Every CDR belongs to a user of --users-file (same msisdn, imsi, imei); suspended users make
none.  The same users, flags and --seed give a byte-identical file, with any --workers.

--faults kinds (each a fraction of the records; a record gets one at most): duplicate (the
record again, up to 50 records later), late (arrives 1 to 6 hours after its end), malformed (not
valid JSON, or a CSV row cut short; not with --format json), missing_field (a required field
absent; CSV: its cell empty), orphan_user (user_id, msisdn, imsi, imei of no user), bad_value
(negative duration, end before start, or a value no enum allows), schema_drift (an extra field).
--ledger writes one JSON object a line per spoiled record: kind, file (--output-dir), line, cdr_id.

--order arrival writes the records as a pipeline receives them from a network: each arrives when
it ends (end_time) plus a mediation delay (--delivery-delay, drawn per record), and the records
go out sorted by that arrival (ties in event order), so after their end and out of start-time
order.  The records are those of --order event, byte for byte; only their order differs.

--spark MASTER builds the chunks in Spark tasks (local[2] here, spark://HOST:7077, yarn or
k8s://... on a cluster; needs pyspark and pyarrow) and writes one table (a folder) per CDR type into
--output-dir, Parquet or with --format delta Delta Lake, typed by the contract's Spark schema, times
as timestamps: the same records as the run without --spark, for the same users, flags and --seed.
Each task writes its files itself, so --output-dir must be a folder every executor sees (on a
cluster, a shared mount such as /dbfs/... or /Volumes/...).  Not with --faults, --ledger, --order
arrival or --workers.

--anomalies kinds (each a number of incidents, planted in the records): sim_box (a few SIMs in one
cell making many short calls to distinct numbers), wangiri (one-ring calls from premium numbers,
then callbacks), irsf (long calls to international premium ranges), sim_swap (new IMSI and IMEI on
a line, then one-time passwords and calls abroad), cell_outage (calls in one cell fail or drop for
20-60 minutes, its data records close abnormally), data_spike (a line's data volume 20-100 times
over for hours).  --ledger gets one line per incident after the faults: kind, start_time,
end_time, user_ids, cell_id, numbers, records and the cdr_ids of its records.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Write synthetic Call Detail Records for the users of a users file.",
               epilog=EXAMPLES)
    p.add_argument("--users-file", "-u", default="users.json", type=nonempty,
                   help="users to make CDRs for (default: users.json)")
    p.add_argument("--count", "-c", type=int_at_least(0, 10**11), default=100, help="how many CDRs (default: 100)")
    p.add_argument("--output", "-o", type=nonempty, help="file to write, or - for stdout (default: cdrs.json); "
                        "a name ending in .gz or .zst is compressed (cdrs.jsonl.gz)")
    p.add_argument("--output-dir", metavar="DIR", type=nonempty,
                   help="write one file per CDR type into DIR (voice.jsonl, data.jsonl, ...) instead of --output")
    p.add_argument("--format", "-f", choices=(*FORMATS, "delta"),
                   help="json (one array), jsonl (one object a line), csv, or parquet (typed columns; needs "
                        "pyarrow); with --spark, parquet or delta (Delta Lake tables; needs delta-spark) (default: "
                        "from the file name: .json, .jsonl/.ndjson, .csv, .parquet; jsonl for stdout and --output-dir; "
                        "parquet with --spark)")
    p.add_argument("--compression", choices=tuple(CODECS),
                   help="compress each file of --output-dir (voice.jsonl.gz, ...) or stdout; a named --output "
                        "says it by its name instead: cdrs.jsonl.gz (gzip), cdrs.jsonl.zst (zstd); with parquet, "
                        "the codec of its columns (default: snappy)")
    p.add_argument("--seed", type=seed_value, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    p.add_argument("--start", type=nonempty,
                   help="start of the event-time window, ISO 8601 (default: 24 hours before --end)")
    p.add_argument("--end", type=nonempty, help="end of the event-time window, ISO 8601 (default: now)")
    p.add_argument("--weights", "-w", help=f"the CDR type mix (default: {DEFAULT_WEIGHTS_TEXT})")
    p.add_argument("--workers", "-j", type=int_at_least(1, 64), default=1,
                   help="processes that build records; the output is the same for any number (default: 1)")
    p.add_argument("--order", choices=("event", "arrival"), default="event",
                   help="event: by start time; arrival: by end time plus each record's delivery delay, as a "
                        "pipeline receives them (default: event)")
    p.add_argument("--delivery-delay", metavar="MEDIAN[,P99]", type=nonempty,
                   help=DELIVERY_HELP.replace("before it arrives", "before it arrives, for --order arrival"))
    p.add_argument("--faults", metavar="KIND=FRACTION,...",
                   help=f"spoil records on purpose, a fraction of them per kind: {', '.join(FAULT_KINDS)} "
                        "(default: none; see below)")
    p.add_argument("--ledger", metavar="FILE", type=nonempty,
                   help="write the faults and anomalies to FILE, one JSON object a line: kind, line, cdr_id, ... "
                        "(needs --faults or --anomalies)")
    p.add_argument("--label-anomalies", action="store_true",
                   help="add the field anomaly to every record: its anomaly's kind, or null (for training models; "
                        "without it only the ledger knows)")
    p.add_argument("--anomalies", metavar="KIND=INCIDENTS,...",
                   help=f"plant incidents of fraud and failure, a number of each kind: {', '.join(ANOMALY_KINDS)} "
                        "(default: none; see below)")
    p.add_argument("--spark", metavar="MASTER", type=nonempty,
                   help="build the records in Spark tasks on MASTER (local[2], spark://HOST:PORT, yarn, ...) and "
                        "write a Spark Parquet table per CDR type into --output-dir (needs pyspark; see below)")
    return p


def on_spark(args, weights: dict, start_ms: int, end_ms: int, anomalies) -> int:
    """--spark: the checks, then the run (telco_cdr.spark_generation) and its summary line."""
    master = spark_generation.check_master(args.spark)
    for given, flag in ((args.faults is not None, "--faults"), (args.ledger is not None, "--ledger"),
                        (args.order != "event", "--order arrival"), (args.workers != 1, "--workers"),
                        (args.output is not None, "--output")):
        if given:
            raise UserError(f"--spark does not take {flag}: Spark's tasks build the chunks and write a table per "
                            "CDR type into --output-dir")
    if not args.output_dir:
        raise UserError("--spark writes a table per CDR type: give --output-dir")
    fmt = args.format or "parquet"
    if fmt not in spark_generation.TABLE_FORMATS:
        raise UserError(f"--spark writes Parquet or Delta tables, not {fmt}: give --format parquet or delta")
    if "://" in args.output_dir:
        raise UserError(f"--output-dir {args.output_dir!r}: --spark writes to a folder of this machine's file "
                        "system (on a cluster, one every executor sees too), not to a URL")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise UserError(f"--output-dir {args.output_dir!r} exists and is not a folder")
    spark_generation.require()
    t0 = time.monotonic()
    users = load_users(args.users_file)
    spec = spark_generation.GenerationSpec(users, args.count, args.seed, start_ms, end_ms, weights,
                                           args.label_anomalies, anomalies)
    try:
        os.makedirs(args.output_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"--output-dir {args.output_dir!r} cannot be made: {e.strerror}") from None
    spark, owned = spark_generation.session(master, PROG, spec)  # its workers model the users too
    t1 = time.monotonic()
    try:
        totals = spark_generation.write_tables(spark, spec, args.output_dir, args.compression, fmt=fmt)
        t2 = time.monotonic()  # the tables are in place (stopping Spark is not part of the run's rate)
    finally:
        if owned:
            spark.stop()
    done = sum(totals)
    mix = ", ".join(f"{t} {n:,}" for t, n in zip(CDR_TYPES, totals))
    print(f"{PROG}: wrote {plural(done, 'CDR')} to {args.output_dir} ({spark_generation.TABLE_FORMATS[fmt]} tables, "
          f"{args.compression or parquet.DEFAULT_CODEC}, on {master}): {mix}; {t2 - t0:.1f} s ({t1 - t0:.1f} s "
          f"reading the users and starting Spark), {done / max(t2 - t1, 1e-9):,.0f} CDRs/s once started, "
          f"seed {args.seed}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        args = build_parser().parse_args(argv)
        progress = Progress(args.count, "CDRs")  # its clock is the run's: reading the users counts too
        weights = parse_weights(args.weights)
        start_ms, end_ms = time_window(args.start, args.end)
        faults = parse_faults(args.faults) if args.faults is not None else None
        if args.delivery_delay is not None and args.order != "arrival":
            raise UserError("--delivery-delay orders the records by arrival; give --order arrival too")
        delay = parse_delay(args.delivery_delay or DELIVERY_DEFAULT_TEXT)
        anomalies = parse_anomalies(args.anomalies) if args.anomalies is not None else None
        if args.ledger is not None and not faults and not anomalies:
            raise UserError("--ledger lists the faults of --faults and the incidents of --anomalies; give one of them")
        if args.output_dir and args.output is not None:
            raise UserError("--output and --output-dir both say where to write; give one of them")
        if args.spark is not None:
            return on_spark(args, weights, start_ms, end_ms, anomalies)
        if args.format == "delta":
            raise UserError("--format delta writes Delta Lake tables with Spark: give --spark too")
        if args.output is None:
            args.output = "cdrs.json"
        if args.output_dir:
            fmt, compression = args.format or "jsonl", args.compression
            if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
                raise UserError(f"--output-dir {args.output_dir!r} exists and is not a folder")
            # the zstandard package is checked here, before any work; Parquet compresses inside
            suffix = "" if fmt == "parquet" else codec(compression).suffix
            paths = [os.path.join(args.output_dir, f"{t}.{fmt}{suffix}") for t in CDR_TYPES]
            headers = [csv_header(t, args.label_anomalies) for t in CDR_TYPES]
        else:
            fmt, compression = output_kind(args.output, args.format, compression=args.compression)
            if fmt != "parquet":
                codec(compression)
            paths, headers = [args.output], [csv_header(labelled=args.label_anomalies)]
        opener = None
        if fmt == "parquet":
            parquet.require("--format parquet")
            opener = parquet.cdr_opener(bool(args.output_dir), args.label_anomalies, compression)
            compression = compression or parquet.DEFAULT_CODEC
        if faults:
            check_format(faults, fmt)
        if args.ledger is not None and os.path.abspath(args.ledger) in map(os.path.abspath, paths):
            raise UserError(f"--ledger {args.ledger!r} is also an output of the records; give another file")
        users = load_users(args.users_file, progress)
        n_users = len(users)
        progress.phase(f"modelling the traffic of {plural(n_users, 'user')}")
        pop = build_population(users, args.seed, on=datetime.fromtimestamp(start_ms / 1000, UTC).date())
        del users
        release_memory()
        if args.output_dir:  # made only once the input is known to be good
            try:
                os.makedirs(args.output_dir, exist_ok=True)
            except OSError as e:
                raise UserError(f"--output-dir {args.output_dir!r} cannot be made: {e.strerror}") from None
        job = CdrFileJob(pop, weights, args.seed, start_ms, end_ms, args.count, fmt, split=bool(args.output_dir),
                         faults=faults, anomalies=anomalies, labelled=args.label_anomalies, order=args.order,
                         delay=delay, workers=args.workers)
        framers = [RecordFramer(fmt, h) for h in headers]
        progress.begin()
        with atomic_outputs(paths, codec_name=compression, opener=opener) as outs, \
                atomic_outputs([args.ledger] if args.ledger else [], "--ledger") as ledgers:
            totals = write_cdr_file(job, outs, framers, args.workers, progress, ledgers[0] if ledgers else None)
        done = sum(totals)
        progress.done()
        secs = progress.seconds
        where = "stdout" if paths == ["-"] else (args.output_dir if args.output_dir else args.output)
        mix = ", ".join(f"{t} {n:,}" for t, n in zip(CDR_TYPES, totals))
        kind = f"{fmt}, {compression}" if compression else fmt
        print(f"{PROG}: wrote {plural(done, 'CDR')} ({size(sum(out.size for out in outs))}) to {where} ({kind}): "
              f"{mix}; {secs:.1f} s ({progress.read_seconds:.1f} s reading and modelling {plural(n_users, 'user')}), "
              f"{done / max(secs, 1e-9):,.0f} CDRs/s, seed {args.seed}", file=sys.stderr)
        if faults:
            ledger = f"; ledger {args.ledger}" if args.ledger else ""
            dups = job.fault_counts[0]
            among = f"; the {plural(dups, 'duplicate')} counted among the CDRs above" if dups else ""
            print(f"{PROG}: faults: {fault_summary(job.fault_counts)} ({plural(sum(job.fault_counts), 'record')} "
                  f"spoiled{among}){ledger}", file=sys.stderr)
        if job.plan is not None:
            ledger = f"; ledger {args.ledger}" if args.ledger else ""
            print(f"{PROG}: anomalies: {job.plan.summary(job.anomaly_ids)}{ledger}", file=sys.stderr)
        return 0
    return run(body, PROG)


if __name__ == "__main__":
    sys.exit(main())
