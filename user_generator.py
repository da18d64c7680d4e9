#!/usr/bin/env python3
"""Write synthetic mobile subscribers to a file (users.json by default)."""

from __future__ import annotations

import sys

from telco_cdr import parquet
from telco_cdr.cli import Parser, add_user_flags, nonempty, run, user_flags
from telco_cdr.constants import DEFAULT_NUM_USERS
from telco_cdr.identifiers import OPERATORS
from telco_cdr.output import AtomicFile, Progress, codec, output_kind, write_users
from telco_cdr.text import plural, size
from telco_cdr.users import generate_users

PROG = "user_generator.py"
FORMATS = ("json", "jsonl", "parquet")
EXAMPLES = f"""
examples:
  python user_generator.py                          # {DEFAULT_NUM_USERS} US users -> users.json
  python user_generator.py --num-users 100000 --seed 7 --output users.jsonl
  python user_generator.py --country GB --country DE --output eu_users.json
  python user_generator.py --operator 234-15 --num-users 500 --output -   # to stdout, JSON Lines
  python user_generator.py --num-users 1000000 --output users.jsonl.gz    # gzip-compressed
  python user_generator.py --num-users 100000 --output users.parquet      # Parquet (needs pyarrow)

Operators (--operator, by MCC-MNC or name):
""" + "\n".join(f"  {op.mcc}-{op.mnc:<4} {op.name} ({op.country})" for op in OPERATORS) + """

The same --num-users, --seed, --country and --operator always give the same users,
here and in kafka_producer.py / export_users_to_kafka.py.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Write synthetic mobile subscribers (MSISDN, IMSI, IMEI, ICCID, "
               "device, tariff plan, home cell) as JSON or Parquet.", epilog=EXAMPLES)
    add_user_flags(p)
    p.add_argument("--output", "-o", default="users.json", type=nonempty,
                   help="file to write, or - for stdout (default: users.json); a name ending in .gz or .zst is "
                        "compressed (users.jsonl.gz)")
    p.add_argument("--format", choices=FORMATS,
                   help="json: one JSON array; jsonl: one object a line; parquet: typed columns (needs pyarrow) "
                        "(default: from the file name: .json, .jsonl/.ndjson, .parquet; jsonl for stdout)")
    return p


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        args = build_parser().parse_args(argv)
        user_flags(args)
        fmt, compression = output_kind(args.output, args.format, FORMATS)
        if fmt == "parquet":
            parquet.require("--format parquet")
        users = generate_users(args.num_users, args.seed, args.country, args.operator)
        progress = Progress(args.num_users, "users")
        if fmt == "parquet":
            out, batch = parquet.user_output(args.output), parquet.USER_BATCH
            compression = parquet.DEFAULT_CODEC
        else:
            out, batch = AtomicFile(args.output, "output", codec(compression)), 5000
        progress.begin()
        try:
            n = write_users(out, users, fmt, progress, batch)
            out.commit()
        except BaseException:
            out.abort()
            raise
        progress.done()
        secs = progress.seconds
        where = "stdout" if args.output == "-" else args.output
        kind = f"{fmt}, {compression}" if compression else fmt
        print(f"{PROG}: wrote {plural(n, 'user')} ({size(out.size)}) to {where} ({kind}) in {secs:.1f} s, "
              f"{n / max(secs, 1e-9):,.0f} users/s, seed {args.seed}", file=sys.stderr)
        return 0
    return run(body, PROG)


if __name__ == "__main__":
    sys.exit(main())
