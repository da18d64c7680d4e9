#!/usr/bin/env python3
"""Stream Call Detail Records to Kafka, one topic per CDR type, until Ctrl+C or a limit."""

from __future__ import annotations

import sys

# Light imports only up here: the signal handlers go in first thing in main(), before numpy loads.
from telco_cdr.cli import (
    Parser,
    StopFlag,
    add_kafka_flags,
    add_user_flags,
    float_range,
    nonempty,
    rate_value,
    run,
    shard_value,
    user_flags,
)
from telco_cdr.constants import (
    CDR_TOPICS,
    DEFAULT_INTERVAL_S,
    DEFAULT_WEIGHTS_TEXT,
    DELIVERY_DEFAULT_TEXT,
    DELIVERY_HELP,
)

PROG = "kafka_producer.py"
EXAMPLES = f"""
examples:
  # Confluent Cloud (SASL_SSL with PLAIN), 2 messages a second:
  export KAFKA_SASL_PASSWORD=SECRET
  python kafka_producer.py --bootstrap-servers HOST:9092 --sasl-username KEY --interval 0.5 \\
      --users-file users.json
  # the client.properties Confluent Cloud hands out, 500 messages a second, create the topics:
  python kafka_producer.py --config-file client.properties --rate 500 --create-topics
  # a local broker (scripts/local-kafka.sh start), 100,000 messages as fast as it goes:
  python kafka_producer.py -b 127.0.0.1:19092 --max-count 100000 --rate max --create-topics
  # see what would be sent (at the default pace of one message every {DEFAULT_INTERVAL_S:g} s):
  python kafka_producer.py --dry-run --max-count 5
  # records that end 5 minutes (median) before they are sent, 99 % of them within 30 minutes:
  python kafka_producer.py --dry-run --max-count 5 --delivery-delay 5m,30m
  # spoil 1 % of the CDRs with resends and 0.5 % with bad values; where each went in faults.jsonl:
  python kafka_producer.py -b 127.0.0.1:19092 --max-count 10000 --rate max \\
      --faults duplicate=0.01,bad_value=0.005 --ledger faults.jsonl
  # three hosts share 3,000 messages a second, 1,000,000 messages in all (each runs one of 0/3, 1/3, 2/3):
  python kafka_producer.py -b HOST:9092 --rate 3000 --max-count 1000000 --shard 0/3 \\
      --start-at 2026-05-01T12:00:00Z
  # a SIM box and a cell outage within 10 minutes of 1,000 CDRs a second, labelled:
  python kafka_producer.py -b 127.0.0.1:19092 --rate 1000 --duration 600 \\
      --anomalies sim_box=1,cell_outage=1 --label-anomalies --ledger truth.jsonl

Topics: {', '.join(CDR_TOPICS.values())} (with --topic-prefix before each).
Key: the user_id (per-user order; co-partitioned with telco-users).  Value: the CDR as JSON,
the same record as cdr_generator.py writes, sent as from a network: when it closes (its end_time)
plus a mediation delay (--delivery-delay), so records arrive after their end, out of start-time
order; --delivery-delay 0: every record ends as it is sent.
Pace: one message every {DEFAULT_INTERVAL_S:g} s unless --rate or --interval says otherwise, so that a
producer left running against a paid cluster costs little; --rate max sends as fast as it can.
Without --users-file, --num-users and --seed make the same users as user_generator.py.
--faults kinds, as cdr_generator.py's (see its --help): duplicate, late, malformed (the value is not
valid JSON), missing_field, orphan_user (the key is the orphan's user_id), bad_value, schema_drift.
--ledger writes a JSON object a line per spoiled message delivered: kind, topic, partition, offset,
cdr_id, ... (with --dry-run: topic and its line on stdout).
--anomalies: the incidents of cdr_generator.py's --anomalies, planned from the start over --duration
(or 15 minutes; their lengths fitted to that), at the pace of --rate (--rate max is taken as
100,000 a second); --ledger gets one line per incident at the end, with the cdr_ids of its records
sent; in a stream an incident's window holds the records that end in it.
--shard K/N: N producers (processes or hosts, K = 0 .. N-1) together send exactly the messages of one
with the same flags, none twice: shard K sends blocks K, K+N, ... of the stream, its part of --max-count,
at 1/N of --rate. With the same --start-at they agree to the byte; without it their records' times and
what follows the time of day may differ. Not with --anomalies. (README: "Shards".)
Exit codes: 0 all sent messages delivered, 1 a run error (broker, auth, undelivered), 2 bad
input, 130 stopped by a second Ctrl+C before everything was confirmed.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Stream synthetic CDRs (voice, data, SMS, VoIP, IMS) to Kafka.",
               epilog=EXAMPLES)
    add_user_flags(p, "users to make when no --users-file is given (default: 1000)",
                   "random seed of the CDRs, and of the users made without --users-file (default: 42)")
    p.add_argument("--users-file", "-u", type=nonempty,
                   help="users to make CDRs for (default: --num-users made with --seed)")
    p.add_argument("--weights", "-w", help=f"the CDR type mix (default: {DEFAULT_WEIGHTS_TEXT})")
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=rate_value, metavar="N|max",
                      help=f"messages per second, fractions allowed, or max: as fast as the broker takes them "
                           f"(default: one every {DEFAULT_INTERVAL_S:g} s, as --interval {DEFAULT_INTERVAL_S:g})")
    pace.add_argument("--interval", type=float_range(1e-7, 86400, inclusive_min=True), metavar="SECONDS",
                      help=f"seconds between messages, the same as --rate 1/SECONDS (default: {DEFAULT_INTERVAL_S:g})")
    p.add_argument("--topic", type=nonempty, help="send every CDR to this one topic instead of one topic per type")
    p.add_argument("--topic-prefix", default="", help="put this before each topic name (e.g. dev.)")
    p.add_argument("--delivery-delay", metavar="MEDIAN[,P99]", type=nonempty, help=DELIVERY_HELP)
    p.add_argument("--faults", metavar="KIND=FRACTION,...",
                   help="spoil messages on purpose, a fraction of them per kind: duplicate, late, malformed, "
                        "missing_field, orphan_user, bad_value, schema_drift (default: none)")
    p.add_argument("--ledger", metavar="FILE", type=nonempty,
                   help="write the spoiled messages to FILE, one JSON object a line: kind, topic, partition, "
                        "offset, cdr_id, ...; then one per incident of --anomalies (needs --faults or --anomalies)")
    p.add_argument("--anomalies", metavar="KIND=INCIDENTS,...",
                   help="plant incidents of fraud and failure, as cdr_generator.py's: sim_box, wangiri, irsf, "
                        "sim_swap, cell_outage, data_spike; planned over --duration, or the first 15 minutes "
                        "(default: none)")
    p.add_argument("--shard", type=shard_value, metavar="K/N",
                   help="send shard K of N (0 <= K < N) of the stream: N producers with the same flags send each "
                        "message once, sharing --max-count and --rate (default: the whole stream)")
    p.add_argument("--start-at", metavar="TIME", type=nonempty,
                   help="the stream's clock: message m is due at TIME + m/--rate, and made for that moment; "
                        "ISO 8601 (2026-05-01T12:00:00Z); later than now: wait; earlier: catch up as fast as "
                        "it goes (default: when the first message goes out)")
    p.add_argument("--label-anomalies", action="store_true",
                   help="add the field anomaly to every CDR: its anomaly's kind, or null")
    add_kafka_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        with StopFlag() as stop:  # first, so that a signal at any moment is handled
            args = build_parser().parse_args(argv)
            user_flags(args, args.users_file)  # --seed seeds the CDRs too: allowed with --users-file
            from telco_cdr.delivery import parse_delay  # numpy loads here

            args.delivery_delay = parse_delay(args.delivery_delay or DELIVERY_DEFAULT_TEXT)
            if args.faults is not None:
                from telco_cdr.faults import parse_faults

                args.faults = parse_faults(args.faults)
            if args.anomalies is not None:
                from telco_cdr.anomalies import parse_anomalies

                args.anomalies = parse_anomalies(args.anomalies)
            if args.ledger is not None and not args.faults and not args.anomalies:
                from telco_cdr.errors import UserError

                raise UserError("--ledger lists the faults of --faults and the incidents of --anomalies; give one "
                                "of them")
            from telco_cdr.streaming import stream_cdrs  # numpy and the rest load here

            return stream_cdrs(args, stop, PROG)
    return run(body, PROG)


if __name__ == "__main__":
    sys.exit(main())
