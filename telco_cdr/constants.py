"""What every part of the tool shares, in one numpy-free place: the CDR types and their default
mix, the exit codes, the chunk size, the Kafka topic names and the seed domains."""

from __future__ import annotations

from enum import IntEnum

CDR_TYPES = ("voice", "data", "sms", "voip", "ims")
# The type mix of the original demo (telco-reference.md); the default of every script.
DEFAULT_WEIGHTS = {"voice": 0.4, "data": 0.3, "sms": 0.15, "voip": 0.1, "ims": 0.05}
DEFAULT_WEIGHTS_TEXT = ",".join(f"{k}={v:g}" for k, v in DEFAULT_WEIGHTS.items())

DEFAULT_SEED = 42
DEFAULT_NUM_USERS = 1000

# Records built at once: a CDR file is cut into chunks of this many, each from its own generator
# seeded by (seed, chunk number); a stream builds up to this many at a time.
CHUNK_RECORDS = 8192

# kafka_producer.py's pace without --rate or --interval: one message every 0.5 s, as the original
# tool sent, so that a producer left running against a paid cluster costs little; --rate max lifts it.
DEFAULT_INTERVAL_S = 0.5

# A record's delay after its end before it arrives (telco_cdr.delivery, --delivery-delay): log-normal
# by its median and 99th percentile in seconds, cut at twice the 99th percentile.  An assumption after
# mediation's common collection intervals of 1 to 15 minutes (3GPP TS 32.297's file closure on a time
# limit), not a measurement.
DELIVERY_MEDIAN_S, DELIVERY_P99_S = 60.0, 900.0
DELIVERY_DEFAULT_TEXT = "60s,15m"
DELIVERY_HELP = ("each record's delay after its end before it arrives: MEDIAN[,P99] of a log-normal, in seconds "
                 "or with a unit (ms, s, m, h, d), cut at twice P99; 0 for none (default: "
                 f"{DELIVERY_DEFAULT_TEXT}: median 60 s, 99th percentile 15 min, at most 30 min)")

CDR_TOPICS = {t: f"telco-{t}-cdrs" for t in CDR_TYPES}
USERS_TOPIC = "telco-users"


class Exit(IntEnum):
    """The scripts' exit codes (README, "Exit codes")."""

    OK = 0
    RUN_ERROR = 1  # the run could not be completed
    USAGE = 2  # bad input: a flag, a file, a config
    INTERRUPTED = 130  # Ctrl+C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + SIGTERM)


class SeedDomain(IntEnum):
    """The first word of every numpy SeedSequence: what the random numbers are for, so that no two
    uses of one --seed draw the same stream.  Changing a value changes every record of a seed."""

    USERS = 1  # user generation
    POPULATION = 2  # the traffic model built from the users
    FILE_CDRS = 3  # a CDR file's chunks
    STREAM_CDRS = 4  # streamed CDRs (kafka_producer.py)
    RUN_IDS = 5  # the per-run bases of cdr_id, charging_id, icid
    EVENT_TIMES = 6  # event times of a CDR file's chunks
    FAULTS = 7  # which records --faults spoils, and how (telco_cdr.faults)
    DELIVERY = 8  # each record's delay after its end before it arrives (telco_cdr.delivery)
    ANOMALIES = 9  # the incidents of --anomalies and the records they take (telco_cdr.anomalies)
    STREAM_BEARERS = 10  # how a stream chunk's data records move their users' bearers on (CdrFactory.bearer_rng)
    MOBILITY = 11  # the users' work anchors, and where each event's user is (telco_cdr.mobility)
