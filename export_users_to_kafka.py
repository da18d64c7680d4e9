#!/usr/bin/env python3
"""Send user profiles to Kafka (telco-users, keyed by user_id), so CDR streams can join them."""

from __future__ import annotations

import sys

# Light imports only up here: the signal handlers go in first thing in main().
from telco_cdr.cli import (
    USER_FLAGS,
    Parser,
    StopFlag,
    add_kafka_flags,
    add_user_flags,
    nonempty,
    rate_value,
    run,
    user_flags,
)
from telco_cdr.constants import USERS_TOPIC

PROG = "export_users_to_kafka.py"
EXAMPLES = """
examples:
  # Confluent Cloud (SASL_SSL with PLAIN); the secret stays out of the process list:
  export KAFKA_SASL_PASSWORD=SECRET
  python export_users_to_kafka.py --bootstrap-servers HOST:9092 --sasl-username KEY --topic telco-users \\
      --num-users 1000
  python export_users_to_kafka.py --config-file client.properties --users-file users.json --create-topics
  python export_users_to_kafka.py -b 127.0.0.1:19092 --create-topics      # a local broker

The value is the user record exactly as user_generator.py writes it; the key is its user_id.
--create-topics makes telco-users a compacted topic, so exporting the same users again leaves one
current record per user.  The users go as fast as the broker takes them (the export ends when
all are sent) unless --rate limits them.  Without --users-file, --num-users and --seed make the same users as
user_generator.py and kafka_producer.py.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Send synthetic user profiles to a Kafka topic.", epilog=EXAMPLES)
    add_user_flags(p, "users to make when no --users-file is given (default: 1000)")
    p.add_argument("--users-file", "-u", type=nonempty, help="users to send (default: --num-users made with --seed)")
    p.add_argument("--topic", default=USERS_TOPIC, type=nonempty, help=f"topic to send to (default: {USERS_TOPIC})")
    p.add_argument("--topic-prefix", default="", help="put this before the topic name")
    p.add_argument("--rate", type=rate_value, metavar="N|max",
                   help="messages per second, fractions allowed (default: max, as fast as the broker takes them: "
                        "an export ends when every user is sent)")
    add_kafka_flags(p)
    return p


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        with StopFlag() as stop:  # first, so that a signal at any moment is handled
            args = build_parser().parse_args(argv)
            user_flags(args, args.users_file, ignored=tuple(USER_FLAGS))
            from telco_cdr.streaming import stream_users

            return stream_users(args, stop, PROG)
    return run(body, PROG)


if __name__ == "__main__":
    sys.exit(main())
