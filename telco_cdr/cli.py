"""What the four scripts share: argument parsing with one-line errors, value checks, and the
mapping of expected errors to a line on stderr and an exit code."""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
from datetime import UTC, datetime, timedelta

from .constants import Exit
from .errors import RunError, UserError


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``prog: error: ...``) and exit code 2.

    Flags must be spelled out: an abbreviation (``--num-user``) is an unknown flag, not a guess."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)

    def error(self, message):  # noqa: D401 - argparse API
        raise UserError(f"{message} (see --help)")

    def parse_args(self, args=None, namespace=None):
        # Name unknown flags, but never echo the values around them: one could be a password
        # given to a mistyped --sasl-password.
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            shown, after_flag = [], False
            for a in extras:
                if a.startswith("-"):
                    shown.append(a.split("=", 1)[0])
                    after_flag = "=" not in a
                elif after_flag:  # the value of an unknown flag: not shown
                    after_flag = False
                else:
                    shown.append(repr(a) if not a.isprintable() else a)
            self.error(f"unrecognized arguments: {' '.join(shown)}")
        return parsed


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that the same clean-up runs as for Ctrl+C."""


def _terminate(signum, frame):
    raise Terminated()


def run(main_body, prog: str) -> int:
    """Run ``main_body()`` and turn the expected failures into one line and an exit code.
    SIGTERM unwinds like Ctrl+C (temporary files go, workers stop) unless the body handles it."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return main_body() or Exit.OK
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return Exit.TERMINATED
    except (UserError, RunError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): end quietly, and keep Python from complaining
        # about the unflushable stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return Exit.OK
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else Exit.OK
    finally:
        signal.signal(signal.SIGTERM, previous)


class StopFlag:
    """SIGINT/SIGTERM set ``stop``; a second one sets ``hard`` too."""

    def __init__(self):
        self.stop = False
        self.hard = False
        self.signal_name = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.stop:
            self.hard = True
        self.stop = True
        self.signal_name = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


# ---------------------------------------------------------------- value checks for flags

def int_at_least(minimum: int, maximum: int | None = None):
    def check(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {value:,}")
        return value
    return check


def float_range(minimum: float, maximum: float, inclusive_min: bool = False):
    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < minimum or (value == minimum and not inclusive_min) or value > maximum:
            low = ">=" if inclusive_min else ">"
            raise argparse.ArgumentTypeError(f"must be {low} {minimum:g} and <= {maximum:g}, got {text!r}")
        return value
    return check


MAX_RATE = math.inf  # what --rate max parses to: no limit


def rate_value(text: str) -> float:
    """--rate: messages per second (fractions allowed), or ``max`` for as fast as the broker takes."""
    if text.strip().lower() == "max":
        return MAX_RATE
    try:
        return float_range(0, 10**7)(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e} (give a number, or max for no limit)") from None


def pace(rate: float | None, interval: float | None, default_interval: float | None) -> tuple[float | None, str]:
    """Messages per second (None: no limit) from --rate / --interval / the script's default, and
    the words that say so: "at 2 messages/s (the default, ...)", "as fast as it can"."""
    if rate is None and interval is None:
        if default_interval is None:
            return None, "as fast as it can"
        return 1.0 / default_interval, (f"at {1.0 / default_interval:g} messages/s (the default, one every "
                                        f"{default_interval:g} s; --rate N or --rate max for more)")
    if rate == MAX_RATE:
        return None, "as fast as it can (--rate max)"
    per_s = rate if rate is not None else 1.0 / interval
    return per_s, f"at {per_s:g} messages/s"


def shard_value(text: str) -> tuple[int, int]:
    """--shard K/N: shard K of N, counted from 0 (0 <= K < N)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N (shard K of N, counted from 0: 0/3, 1/3, 2/3)")
    k, n = int(m[1]), int(m[2])
    if n < 1 or n > 10_000:
        raise argparse.ArgumentTypeError(f"N must be 1 to 10,000 shards, got {text!r}")
    if k >= n:
        raise argparse.ArgumentTypeError(f"K must be 0 to {n - 1} (shards are counted from 0), got {text!r}")
    return k, n


def nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def count_or_default(maximum: int):
    """A positive count up to ``maximum``, or -1 for "the broker's default"."""
    def check(text: str) -> int:
        value = int_at_least(-1, maximum)(text)
        if value == 0:
            raise argparse.ArgumentTypeError("must be at least 1, or -1 for the broker's default")
        return value
    return check


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1, got {text!r}")
    return value


def parse_time(text: str, flag: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is taken as UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{flag}: {text!r} is not an ISO 8601 time such as 2026-11-01T00:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def time_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[int, int]:
    """The event-time window in epoch ms; by default the 24 hours before now."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    try:
        t_end = parse_time(end, "--end") if end else (now if not start else None)
        t_start = parse_time(start, "--start") if start else None
        if t_start is None:
            t_start = t_end - timedelta(days=1)
        if t_end is None:
            t_end = t_start + timedelta(days=1)
    except OverflowError:
        raise UserError("--start/--end must lie between 1970 and 9999") from None
    if t_end <= t_start:
        raise UserError(f"--start {t_start.isoformat()} must come before --end {t_end.isoformat()}")
    lo, hi = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
    if t_start < lo or t_end > hi:
        raise UserError("--start/--end must lie between 1970 and 9999")
    return int(t_start.timestamp() * 1000), int(t_end.timestamp() * 1000)


# ---------------------------------------------------------------- flags shared by scripts

# The flags that make users (add_user_flags), by their dest; None in the parsed arguments means
# "not given", so that a flag beside --users-file, which it cannot change, can be refused.
USER_FLAGS = {"num_users": "--num-users", "seed": "--seed", "country": "--country", "operator": "--operator"}


def add_user_flags(p: Parser, num_users_help: str | None = None, seed_help: str | None = None) -> None:
    """--num-users, --seed, --country, --operator; call ``user_flags(args)`` after parsing."""
    from .constants import DEFAULT_NUM_USERS, DEFAULT_SEED
    from .identifiers import COUNTRIES

    p.add_argument("--num-users", "-n", type=int_at_least(1, 50_000_000), default=None,
                   help=num_users_help or f"how many users (default: {DEFAULT_NUM_USERS})")
    p.add_argument("--seed", type=seed_value, default=None,
                   help=seed_help or f"random seed; the same seed gives the same users (default: {DEFAULT_SEED})")
    p.add_argument("--country", action="append", metavar="CC",
                   help=f"country of the users, repeatable: {', '.join(COUNTRIES)} (default: US)")
    p.add_argument("--operator", action="append", metavar="MCC-MNC|NAME",
                   help="operator of the users, repeatable (default: all operators of the countries)")


def user_flags(args, users_file: str | None = None, ignored=("num_users", "country", "operator")) -> None:
    """Refuse the ``ignored`` user flags (dests) beside a ``users_file``, which they cannot change,
    then fill in the documented defaults of --num-users and --seed."""
    from .constants import DEFAULT_NUM_USERS, DEFAULT_SEED

    if users_file:
        given = [USER_FLAGS[d] for d in ignored if getattr(args, d, None) is not None]
        if given:
            one = len(given) == 1
            raise UserError(f"{' and '.join(given)} {'makes' if one else 'make'} users, but --users-file gives them, "
                            f"so {'it' if one else 'they'} would be ignored; drop one or the other")
    if args.num_users is None:
        args.num_users = DEFAULT_NUM_USERS
    if args.seed is None:
        args.seed = DEFAULT_SEED


def add_kafka_flags(p: Parser) -> None:
    add_kafka_connection_flags(p)
    add_topic_and_running_flags(p)


def add_kafka_connection_flags(p: Parser) -> None:
    """--bootstrap-servers, SASL, --config-file, TLS and --timeout: how a client reaches Kafka (the
    producers' and pipelines/run_local.py's); telco_cdr.kafka.settings_from combines them."""
    g = p.add_argument_group("Kafka connection "
                             "(flags override KAFKA_* environment variables, which override --config-file)")
    g.add_argument("--bootstrap-servers", "-b", metavar="HOST:PORT[,...]",
                   help="brokers to connect to (env KAFKA_BOOTSTRAP_SERVERS)")
    g.add_argument("--sasl-username", metavar="KEY",
                   help="SASL user, e.g. a Confluent Cloud API key (env KAFKA_SASL_USERNAME)")
    g.add_argument("--sasl-password", metavar="SECRET",
                   help="SASL password, e.g. the API secret (env KAFKA_SASL_PASSWORD; prefer the environment or "
                        "--config-file, which keep it out of the process list)")
    g.add_argument("--config-file", metavar="FILE", type=nonempty,
                   help="librdkafka properties file, such as the client.properties Confluent Cloud hands out")
    g.add_argument("--security-protocol", metavar="PROTO",
                   help="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL "
                        "(default: SASL_SSL with SASL credentials, else PLAINTEXT)")
    g.add_argument("--sasl-mechanism", metavar="MECH", help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default: PLAIN)")
    g.add_argument("--ssl-ca-location", metavar="PEM", help="CA certificate to trust (e.g. a local broker's)")
    g.add_argument("--timeout", type=float_range(0, 3600), default=30.0, metavar="SECONDS",
                   help="how long to wait to connect, and for the last deliveries at the end (default: 30)")


def add_topic_and_running_flags(p: Parser) -> None:
    t = p.add_argument_group("topics")
    t.add_argument("--create-topics", action="store_true", help="create missing topics first (telco-users compacted)")
    t.add_argument("--partitions", type=count_or_default(10_000), default=-1,
                   help="partitions of created topics (default: the broker's default)")
    t.add_argument("--replication-factor", type=count_or_default(100), default=-1,
                   help="replication factor of created topics (default: the broker's default)")
    o = p.add_argument_group("running")
    o.add_argument("--delivery-timeout", type=float_range(1, 86400), default=120.0, metavar="SECONDS",
                   help="how long a message may wait for the broker, outages included, before the run fails "
                        "(default: 120)")
    o.add_argument("--max-count", type=int_at_least(0), metavar="N", help="stop after N messages, all delivered")
    o.add_argument("--duration", type=float_range(0, 10**9), metavar="SECONDS",
                   help="stop this long after the first message goes out")
    o.add_argument("--stats-interval", type=float_range(0, 3600, inclusive_min=True), default=5.0, metavar="SECONDS",
                   help="a stats line on stderr this often; 0 for none (default: 5)")
    o.add_argument("--dry-run", action="store_true",
                   help="connect to nothing; write the messages to stdout as JSON Lines (topic, key, value)")
