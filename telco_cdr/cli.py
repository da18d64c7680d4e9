"""What the four scripts share: argument parsing with one-line errors, value checks, and the
mapping of expected errors to a line on stderr and an exit code."""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import datetime, timedelta, timezone

from .errors import RunError, UserError

EXIT_OK, EXIT_RUN_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (``prog: error: ...``) and exit code 2."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):  # noqa: D401 - argparse API
        raise UserError(f"{message} (see --help)")


def run(main_body, prog: str) -> int:
    """Run ``main_body()`` and turn the expected failures into one line and an exit code."""
    try:
        return main_body() or EXIT_OK
    except (UserError, RunError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): end quietly, and keep Python from complaining
        # about the unflushable stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else EXIT_OK


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
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < minimum or (value == minimum and not inclusive_min) or value > maximum:
            low = ">=" if inclusive_min else ">"
            raise argparse.ArgumentTypeError(f"must be {low} {minimum:g} and <= {maximum:g}, got {text}")
        return value
    return check


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63-1, got {text}")
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
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc)


def time_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[int, int]:
    """The event-time window in epoch ms; by default the 24 hours before now."""
    now = now or datetime.now(timezone.utc).replace(microsecond=0)
    t_end = parse_time(end, "--end") if end else (now if not start else None)
    t_start = parse_time(start, "--start") if start else None
    if t_start is None:
        t_start = t_end - timedelta(days=1)
    if t_end is None:
        t_end = t_start + timedelta(days=1)
    if t_end <= t_start:
        raise UserError(f"--start {t_start.isoformat()} must come before --end {t_end.isoformat()}")
    lo, hi = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc)
    if t_start < lo or t_end > hi:
        raise UserError("--start/--end must lie between 1970 and 9999")
    return int(t_start.timestamp() * 1000), int(t_end.timestamp() * 1000)
