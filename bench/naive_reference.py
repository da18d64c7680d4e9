#!/usr/bin/env python3
"""Baseline for bench_generation.py: a naive CDR generator in the style of the original public demo
(cloud-data-engineer/data, src/cdr/data_generator/; see /work/shared/telco-reference.md).

One record at a time: pick a user with ``random.choice``, build a dict of about 20 fields with
Faker and ``random`` calls, ``json.dumps`` it, write a line.  Records are 550-600 bytes of JSON, as
large as ours were up to 0.3.0 (0.4.0's are about 800: counterparties, charges, more cell fields); it
is kept as it was, so that the ratio means the same from release to release.  It is deliberately
plain, not deliberately slow: no sleeps, buffered writes, the users file is read once.  Nothing about
the values is realistic; only speed matters.

``--stdlib`` swaps the three Faker calls for ``uuid``/``random`` ones; that is closer to the demo's
own cdr_generator.py, which used no Faker per record, and is a stricter baseline.
"""

import argparse
import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta

from faker import Faker

TYPES, WEIGHTS = ["voice", "data", "sms", "voip", "ims"], [0.4, 0.3, 0.15, 0.1, 0.05]  # the demo's mix


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users-file", "-u", required=True, help="users file (JSON array or JSON Lines)")
    p.add_argument("--count", "-c", type=int, default=100)
    p.add_argument("--output", "-o", required=True, help="JSON Lines file to write")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--stdlib", action="store_true", help="no Faker per record (uuid and random instead)")
    a = p.parse_args()
    with open(a.users_file, encoding="utf-8") as fh:
        text = fh.read()
    users = json.loads(text) if text.lstrip()[:1] == "[" else [json.loads(s) for s in text.splitlines() if s.strip()]
    random.seed(a.seed)
    fake = Faker()
    Faker.seed(a.seed)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    t1 = t0 + timedelta(days=7)
    if a.stdlib:
        def new_id():
            return str(uuid.UUID(int=random.getrandbits(128), version=4))

        def when():
            return t0 + timedelta(seconds=random.uniform(0, 7 * 86400))

        def ip():
            return (f"{random.randint(1, 223)}.{random.randint(0, 255)}."
                    f"{random.randint(0, 255)}.{random.randint(1, 254)}")
    else:
        new_id, ip = fake.uuid4, fake.ipv4

        def when():
            return fake.date_time_between(start_date=t0, end_date=t1, tzinfo=UTC)
    with open(a.output, "w", encoding="utf-8") as out:
        for _ in range(a.count):
            user, other = random.choice(users), random.choice(users)
            start = when()
            duration = random.randint(1, 3600)
            record = {
                "cdr_id": new_id(),
                "cdr_type": random.choices(TYPES, WEIGHTS)[0],
                "user_id": user["user_id"],
                "msisdn": user["msisdn"],
                "imsi": user["imsi"],
                "imei": user["imei"],
                "other_party": other["msisdn"],
                "start_time": start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "end_time": (start + timedelta(seconds=duration)).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "duration_seconds": duration,
                "cell_id": f"{user['mcc']}{user['mnc']}{random.randint(0, 2**28 - 1):07X}",
                "tracking_area_code": random.randint(1, 65535),
                "direction": random.choice(["MO", "MT"]),
                "msc_id": f"MSC{random.randint(1, 20):02d}",
                "pgw_address": ip(),
                "uplink_bytes": random.randint(1_000, 5_000_000),
                "downlink_bytes": random.randint(10_000, 50_000_000),
                "charging_id": random.randint(1, 2**32 - 1),
                "result": random.choice(["answered", "busy", "no_answer", "failed", "delivered"]),
                "rat_type": random.choice(["EUTRAN", "NR", "UTRAN", "GERAN"]),
                "sip_call_id": f"{new_id()}@ims.mnc{user['mnc']}.mcc{user['mcc']}.3gppnetwork.org",
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
