#!/usr/bin/env python3
"""Write Call Detail Records (voice, data, SMS, VoIP, IMS) for the users of a users file."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

from telco_cdr.batch import CdrFileJob, write_cdr_file
from telco_cdr.cli import Parser, int_at_least, nonempty, run, seed_value, time_window
from telco_cdr.constants import CDR_TYPES, DEFAULT_SEED, DEFAULT_WEIGHTS_TEXT
from telco_cdr.contract import csv_header
from telco_cdr.errors import UserError
from telco_cdr.output import FORMATS, Progress, RecordFramer, atomic_outputs, format_from_path
from telco_cdr.traffic import build_population, parse_weights
from telco_cdr.users import read_users

PROG = "cdr_generator.py"
EXAMPLES = """
examples:
  python cdr_generator.py                           # 100 CDRs of users.json -> cdrs.json
  python cdr_generator.py --count 5000000 --start 2026-11-01T00:00:00Z --end 2026-11-08T00:00:00Z \\
      --seed 7 --format jsonl --output cdrs.jsonl --workers 2
  python cdr_generator.py --count 100000 --output-dir landing/ --format jsonl   # a file per CDR type
  python cdr_generator.py --weights voice=1 --count 10 --output - | head -3

Every CDR belongs to a user of --users-file (same msisdn, imsi, imei); suspended users make
none.  The same users, flags and --seed give a byte-identical file, with any --workers.
"""


def build_parser() -> Parser:
    p = Parser(prog=PROG, description="Write synthetic Call Detail Records for the users of a users file.",
               epilog=EXAMPLES)
    p.add_argument("--users-file", "-u", default="users.json", type=nonempty,
                   help="users to make CDRs for (default: users.json)")
    p.add_argument("--count", "-c", type=int_at_least(0, 10**11), default=100, help="how many CDRs (default: 100)")
    p.add_argument("--output", "-o", default="cdrs.json", type=nonempty,
                   help="file to write, or - for stdout (default: cdrs.json)")
    p.add_argument("--output-dir", metavar="DIR", type=nonempty,
                   help="write one file per CDR type into DIR (voice.jsonl, data.jsonl, ...) instead of --output")
    p.add_argument("--format", "-f", choices=FORMATS,
                   help="json (one array), jsonl (one object a line) or csv "
                        "(default: from the file name, else json; jsonl with --output-dir)")
    p.add_argument("--seed", type=seed_value, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    p.add_argument("--start", type=nonempty,
                   help="start of the event-time window, ISO 8601 (default: 24 hours before --end)")
    p.add_argument("--end", type=nonempty, help="end of the event-time window, ISO 8601 (default: now)")
    p.add_argument("--weights", "-w", help=f"the CDR type mix (default: {DEFAULT_WEIGHTS_TEXT})")
    p.add_argument("--workers", "-j", type=int_at_least(1, 64), default=1,
                   help="processes that build records; the output is the same for any number (default: 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    def body() -> int:
        args = build_parser().parse_args(argv)
        weights = parse_weights(args.weights)
        start_ms, end_ms = time_window(args.start, args.end)
        if args.output_dir:
            fmt = args.format or "jsonl"
            if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
                raise UserError(f"--output-dir {args.output_dir!r} exists and is not a folder")
            paths = [os.path.join(args.output_dir, f"{t}.{fmt}") for t in CDR_TYPES]
            headers = [csv_header(t) for t in CDR_TYPES]
        else:
            fmt = format_from_path(args.output, args.format)
            paths, headers = [args.output], [csv_header()]
        users = read_users(args.users_file)
        pop = build_population(users, args.seed, on=datetime.fromtimestamp(start_ms / 1000, UTC).date())
        del users
        if args.output_dir:  # made only once the input is known to be good
            try:
                os.makedirs(args.output_dir, exist_ok=True)
            except OSError as e:
                raise UserError(f"--output-dir {args.output_dir!r} cannot be made: {e.strerror}") from None
        job = CdrFileJob(pop, weights, args.seed, start_ms, end_ms, args.count, fmt, split=bool(args.output_dir))
        framers = [RecordFramer(fmt, h) for h in headers]
        progress = Progress(args.count, "CDRs")
        with atomic_outputs(paths) as outs:
            totals = write_cdr_file(job, outs, framers, args.workers, progress)
        done = sum(totals)
        progress.done()
        secs = progress.seconds
        where = "stdout" if paths == ["-"] else (args.output_dir if args.output_dir else args.output)
        mix = ", ".join(f"{t} {n:,}" for t, n in zip(CDR_TYPES, totals))
        print(f"{PROG}: wrote {done:,} CDRs to {where} ({fmt}): {mix}; {secs:.1f} s, "
              f"{done / max(secs, 1e-9):,.0f} CDRs/s, seed {args.seed}", file=sys.stderr)
        return 0
    return run(body, PROG)


if __name__ == "__main__":
    sys.exit(main())
