#!/usr/bin/env python3
"""Run the telco pipeline (pipelines/telco/, a Spark Declarative Pipeline) here, on local[2],
against a Kafka broker: drain what is on the topics into Delta tables and print each table's rows."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telco_cdr.cli import Parser, StopFlag, add_kafka_connection_flags, float_range, nonempty, run  # noqa: E402
from telco_cdr.errors import RunError, UserError  # noqa: E402

PROG = "run_local.py"
SPEC = ROOT / "pipelines" / "telco" / "spark-pipeline.yml"
POM = ROOT / "pipelines" / "jars" / "pom.xml"
SPARK_VERSION, DELTA_VERSION = "4.2.0", "4.4.0"
TABLES = ("bronze_users", "bronze_voice", "bronze_data", "bronze_sms", "bronze_voip", "bronze_ims",
          "silver_users", "silver_voice", "silver_data", "silver_sms", "silver_voip", "silver_ims", "quarantine",
          "gold_customer_360", "gold_usage_by_plan_hourly", "gold_cell_hourly", "gold_calls_with_ims")
EXAMPLES = """
Example:
  scripts/local-kafka.sh start
  python export_users_to_kafka.py -b 127.0.0.1:19092 --create-topics
  python kafka_producer.py -b 127.0.0.1:19092 --create-topics --rate max --max-count 100000
  python pipelines/run_local.py --bootstrap-servers 127.0.0.1:19092 --storage lakehouse/

It drains what is on the six topics (telco-users and telco-<type>-cdrs) into Delta tables at
DIR/<table> (bronze_<type>, silver_<type>, silver_users, quarantine, gold_*), prints each table's rows
and exits.  A second run with the same --storage reads only what came since (the checkpoints and the
table catalog are in DIR/_pipeline and DIR/_metastore).  --continuous runs again and again until Ctrl+C.

Needs Java 17+, pip install -r requirements-spark.txt, and on the first run Maven, which fetches the
Kafka connector and Delta jars from Maven Central into a cache (TELCO_SPARK_CACHE, default
~/.cache/telco-cdr-generator/spark).  SASL_SSL (Confluent Cloud): the same flags, KAFKA_* environment
variables and --config-file as kafka_producer.py.
Exit codes: 0 done, 1 the run failed (broker, Spark), 2 bad input, 130 interrupted.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Run the telco Spark Declarative Pipeline locally (local[2]) over the "
                                      "Kafka topics into Delta tables.", epilog=EXAMPLES)
    p.add_argument("--storage", required=True, type=nonempty, metavar="DIR",
                   help="folder of the Delta tables (DIR/<table>), checkpoints and table catalog")
    p.add_argument("--continuous", action="store_true",
                   help="keep running: a new incremental update every --interval seconds until Ctrl+C")
    p.add_argument("--interval", type=float_range(0, 86400, inclusive_min=True), default=5.0, metavar="SECONDS",
                   help="with --continuous, the pause between updates (default: 5)")
    p.add_argument("--topic-prefix", default="", help="put this before each topic name, as the producers' flag")
    p.add_argument("--full-refresh", action="store_true",
                   help="forget what was read before: empty every table and read the topics from the start")
    p.add_argument("--verbose", "-v", action="store_true", help="print the pipeline's events as they come")
    add_kafka_connection_flags(p)
    return p


# ---------------------------------------------------------------- the jars

def cache_dir() -> Path:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return Path(os.environ.get("TELCO_SPARK_CACHE") or Path(home) / ".cache" / "telco-cdr-generator" / "spark")


def jars() -> list[str]:
    """The Kafka connector's and Delta's jars, fetched once with Maven (pipelines/jars/pom.xml) into the
    cache; a stamp (the pom's hash) marks a complete copy, as scripts/local-kafka.sh does for the broker."""
    import hashlib
    import shutil
    import subprocess

    libs = cache_dir() / "libs"
    want = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    stamp = libs / ".complete"
    if not (stamp.is_file() and stamp.read_text().strip() == want):
        if not shutil.which("mvn"):
            raise RunError("mvn not found; needed once to fetch the Kafka connector and Delta jars from Maven Central")
        print(f"{PROG}: fetching the Kafka connector and Delta jars from Maven Central (first run) ...",
              file=sys.stderr)
        tmp = libs.with_name(f"libs.tmp.{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        log = libs.with_name("mvn.log")
        with open(log, "wb") as out:
            done = subprocess.run(["mvn", "-B", "-q", "-U", "-f", str(POM), "dependency:copy-dependencies",
                                   f"-DoutputDirectory={tmp}"], stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT)
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            why = next((line[8:].strip() for line in log.read_text(errors="replace").splitlines()
                        if line.startswith("[ERROR] ")), "see the log")
            raise RunError(f"Maven could not fetch the jars: {why[:300]} (full log: {log})")
        (tmp / ".complete").write_text(want + "\n")
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
    return sorted(str(p) for p in libs.glob("*.jar"))


# ---------------------------------------------------------------- the run

def check_python_packages() -> None:
    try:
        import delta  # noqa: F401
        import pyspark
        import pyspark.pipelines  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as e:
        raise UserError(f"{e.name} is not installed: pip install -r requirements-spark.txt") from None
    if pyspark.__version__ != SPARK_VERSION:
        raise UserError(f"pyspark {pyspark.__version__} is installed, but the pipeline needs {SPARK_VERSION} (the "
                        "Kafka connector on Maven Central stops there): pip install -r requirements-spark.txt")


def spark_conf(storage: Path, jar_paths: list[str]) -> dict[str, str]:
    """The settings of the local Spark session, few on purpose (one JVM, local[2])."""
    meta = storage / "_metastore"
    # Spark's log goes to DIR/_metastore/spark.log (warnings and errors only), never to the terminal
    (meta / "log4j2.properties").write_text(
        "rootLogger.level = warn\nrootLogger.appenderRef.file.ref = file\n"
        "appender.file.type = File\nappender.file.name = file\n"
        f"appender.file.fileName = {meta / 'spark.log'}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n\n", encoding="utf-8")
    return {
        "spark.jars": ",".join(jar_paths),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # a Derby metastore in DIR/_metastore: the catalog survives the run, so the next one is incremental
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(storage),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={meta / 'db'};create=true",
        "spark.driver.extraJavaOptions": (f"-Dderby.system.home={meta} -Dderby.stream.error.file={meta / 'derby.log'} "
                                          f"-Dlog4j.configurationFile={meta / 'log4j2.properties'}"),
        "spark.driver.memory": os.environ.get("TELCO_SPARK_DRIVER_MEMORY", "1536m"),
        "spark.sql.sources.default": "delta",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Delta rebuilds a table's state in 50 tasks by default: far too many for two cores and small logs
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.session.timeZone": "UTC",
    }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_spark(conf: dict[str, str]):
    """A local Spark Connect server (local[2]) on a free port, and a session of it.  pyspark's own
    ``remote("local[2]")`` always takes port 15002, so a second run, or any other local Spark
    Connect, on the same machine would fail to start; this is the same start with another port."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    port = free_port()
    opts = {**conf, "spark.connect.grpc.binding.port": str(port)}
    os.environ["SPARK_LOCAL_REMOTE"] = "1"
    ConnectSession._start_connect_server("local[2]", opts)  # leaves in opts the settings a session may set
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    return ConnectSession.builder.config(map={**opts, "spark.remote": f"sc://localhost:{port}"}).getOrCreate()


class Timer:
    def __init__(self):
        self.t0 = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, what: str) -> float:
        now = time.monotonic()
        last = self.marks[-1][1] if self.marks else self.t0
        self.marks.append((what, now))
        return now - last


def one_update(spark, spec, full_refresh: bool, verbose: bool, stop) -> None:
    from pyspark.pipelines import cli
    from pyspark.pipelines.spark_connect_graph_element_registry import SparkConnectGraphElementRegistry
    from pyspark.pipelines.spark_connect_pipeline import create_dataflow_graph, start_run

    graph = create_dataflow_graph(spark, default_catalog=spec.catalog, default_database=spec.database,
                                  sql_conf=spec.configuration)
    registry = SparkConnectGraphElementRegistry(spark, graph)
    cli.register_definitions(SPEC, registry, spec, spark, graph)
    events = start_run(spark, graph, full_refresh=[], full_refresh_all=full_refresh, refresh=[], dry=False,
                       storage=spec.storage)
    failed = []
    for result in events:
        if stop.stop:  # Ctrl+C or SIGTERM: stop the run's queries, leave (the checkpoints stay consistent)
            spark.interruptAll()
            raise KeyboardInterrupt
        if "pipeline_event_result" not in result:
            continue
        event = result["pipeline_event_result"].event
        msg = event.message
        if verbose:
            print(f"{PROG}: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr)
        if "has FAILED" in msg or "failed" in msg.lower() and "Flow" in msg:
            failed.append(msg)
    if failed:
        raise RunError(f"the pipeline failed: {failed[0].splitlines()[0][:500]}")


def count_rows(spark) -> dict[str, int]:
    return {t: spark.read.table(t).count() for t in TABLES}


def body(args, stop) -> int:
    from telco_cdr.kafka import Producer, settings_from
    from telco_cdr.pipeline_settings import TOPICS, configuration_from

    settings = settings_from(args.bootstrap_servers, args.sasl_username, args.sasl_password, args.config_file,
                             args.security_protocol, args.sasl_mechanism, args.ssl_ca_location)
    storage = Path(args.storage).expanduser().resolve()
    if storage.exists() and not storage.is_dir():
        raise UserError(f"--storage {args.storage!r} is not a folder")
    try:
        storage.mkdir(parents=True, exist_ok=True)
        (storage / "_metastore").mkdir(exist_ok=True)
    except OSError as e:
        raise UserError(f"--storage {args.storage!r} cannot be made: {e.strerror}") from None
    if not os.access(storage, os.W_OK):
        raise UserError(f"--storage {args.storage!r} is not writable")
    check_python_packages()
    timer = Timer()
    topics = [args.topic_prefix + t for t in TOPICS.values()]
    probe = Producer(settings)
    try:
        if not probe.check(args.timeout, topics, stop=stop):
            raise KeyboardInterrupt
    finally:
        probe.p.flush(0)
    jar_paths = jars()
    print(f"{PROG}: Kafka at {settings.bootstrap} answers; starting Spark (local[2]) ...", file=sys.stderr)

    import yaml
    from pyspark.pipelines import cli
    raw = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    configuration = dict(raw.get("configuration") or {})
    configuration.update(configuration_from(settings.conf))
    configuration["telco.topic_prefix"] = args.topic_prefix
    configuration["telco.source_root"] = str(ROOT)
    spec = cli.unpack_pipeline_spec({**raw, "storage": (storage / "_pipeline").as_uri(),
                                     "configuration": configuration})
    os.environ.pop("SPARK_REMOTE", None)
    import warnings

    # the static settings below are the local server's: the client's attempt to set them again is noise
    warnings.filterwarnings("ignore", message="Failed to set spark", category=UserWarning)
    spark = start_spark(spark_conf(storage, jar_paths))
    try:
        for k, v in configuration.items():
            spark.conf.set(k, v)
        print(f"{PROG}: Spark started in {timer.mark('spark'):.1f} s", file=sys.stderr)
        first = True
        while True:
            one_update(spark, spec, args.full_refresh and first, args.verbose, stop)
            took = timer.mark("update")
            counts = count_rows(spark)
            print(f"{PROG}: update done in {took:.1f} s; rows per table (counted in {timer.mark('count'):.1f} s):",
                  file=sys.stderr)
            for t, n in counts.items():
                print(f"{t}\t{n}")
            sys.stdout.flush()
            first = False
            if not args.continuous or stop.stop:
                break
            deadline = time.monotonic() + args.interval
            while time.monotonic() < deadline and not stop.stop:
                time.sleep(0.2)
            if stop.stop:
                break
        if stop.stop and not args.continuous:
            raise KeyboardInterrupt
    finally:
        spark.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    def run_body() -> int:
        with StopFlag() as stop:
            args = build_parser().parse_args(argv)
            try:
                return body(args, stop)
            except (UserError, RunError, KeyboardInterrupt):
                raise
            except Exception as e:  # noqa: BLE001 - Spark's errors are long: one line of them
                if args.verbose:
                    import traceback

                    traceback.print_exc()
                text = str(e).strip().splitlines()
                raise RunError(f"{type(e).__name__}: {text[0][:500] if text else ''}") from None
    return run(run_body, PROG)


if __name__ == "__main__":
    sys.exit(main())
