"""Streaming: CDRs or users to a sink (a Kafka producer, or stdout for --dry-run), paced by a
rate limiter, until --max-count, --duration or a signal; then flush and account."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .cdrs import CdrFactory
from .constants import CDR_TOPICS, CDR_TYPES, CHUNK_RECORDS, Exit, SeedDomain
from .delivery import NO_DELAY, DeliveryDelay, delay_rng
from .errors import UserError
from .text import plural
from .traffic import Population

BURST = 5000  # messages at most that go at once


def block_size(rate: float | None, burst: int = BURST) -> int:
    """Messages built and sent at once at ``rate`` a second (None: no limit): about 50 ms worth."""
    return burst if rate is None else max(1, min(burst, int(rate * 0.05)))


class RateLimiter:
    """How many messages may go now to hold ``rate`` per second on average since the start.

    A token bucket on a monotonic clock: exact over time, for fractional rates and for rates far
    above what a sleep per message can reach.  ``rate`` None means no limit.  Messages go in
    small bursts (``batch``, about 50 ms worth) so that a low rate does not cost a chunk build
    per message.  ``batch`` sets another burst (a shard's: the blocks of the whole stream's rate);
    ``start`` pins the moment message 0 is due (on ``clock``), which restart() then keeps."""

    def __init__(self, rate: float | None, burst: int = BURST, clock=time.monotonic, batch: int | None = None,
                 start: float | None = None):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.batch = block_size(rate, burst) if batch is None else batch
        self.pinned = start is not None
        self.start = clock() if start is None else start

    def restart(self) -> None:
        if not self.pinned:
            self.start = self.clock()

    def allowed(self, sent: int) -> int:
        if self.rate is None:
            return self.burst
        due = math.floor((self.clock() - self.start) * self.rate + 1e-9) + 1  # first message at once
        return max(0, min(due - sent, self.burst))

    def wait_time(self, sent: int) -> float:
        """Seconds until message number ``sent`` (0-based) is due."""
        if self.rate is None:
            return 0.0
        return max(0.0, self.start + sent / self.rate - self.clock())


class Sink(Protocol):
    """Where run_stream sends messages: the Kafka producer (kafka.Producer) or the dry run's
    stdout (DryRunSink).  Counts are per topic; a subclass gets ``totals`` from here."""

    sent: dict[str, int]  # messages handed to the sink
    delivered: dict[str, int]  # ... and confirmed
    failed: dict[str, int]  # ... and given up on
    down_since: float | None  # monotonic time the broker went away, for the stats line
    last_delivery_error: str | None  # why the last failed message failed
    last_error: str | None  # the client's last error

    def send_many(self, groups, stop=None) -> int:
        """Queue (topic, keys, values) groups in order; return how many messages were taken.  A
        group may carry a fourth item, the spoiled messages of --faults ({index: ledger entry}):
        each is written to ``ledger`` (a Ledger) once it is delivered, with where it went."""

    def poll(self, timeout: float = 0) -> None:
        """Serve deliveries for up to ``timeout`` seconds."""

    def in_flight(self) -> int:
        """Messages sent but not yet confirmed or failed."""

    def flush(self, timeout_s: float, stop=None) -> int:
        """Wait up to ``timeout_s`` for what is in flight; return how many are left unconfirmed."""

    def totals(self) -> tuple[int, int, int]:
        """Sent, delivered and failed, over all topics."""
        return sum(self.sent.values()), sum(self.delivered.values()), sum(self.failed.values())


class Ledger:
    """--ledger of kafka_producer.py: one JSON object a line per spoiled message delivered, written
    as the deliveries come (so an interrupted run keeps what it delivered); ``counts`` per kind."""

    def __init__(self, path: str | None):
        from .faults import KINDS

        self.counts = dict.fromkeys(KINDS, 0)
        self.path = path
        self.fh = None
        if path is not None:
            try:
                self.fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            except OSError as e:
                raise UserError(f"cannot write --ledger {path!r}: {e.strerror}") from None

    def write_at(self, entry: dict, **where) -> None:
        """A spoiled message's ledger ``entry`` (its kind, what was done) with where it went
        (``topic`` and ``partition``/``offset``, or ``line`` on stdout), the kind first."""
        self.write({"kind": entry["kind"], **where, **{k: v for k, v in entry.items() if k != "kind"}})

    def write(self, entry: dict) -> None:
        self.counts[entry["kind"]] += 1
        if self.fh is not None:
            self.fh.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


class DryRunSink(Sink):
    """Writes the messages it would send, one JSON object a line: topic, key and value.  Whatever
    the topic's name (quotes, backslashes, control characters), each line is valid JSON."""

    def __init__(self, stream=None):
        self.out = stream or sys.stdout
        self.sent: dict[str, int] = {}
        self.delivered = self.sent  # nothing can fail on the way to stdout
        self.failed: dict[str, int] = {}
        self.down_since = None
        self.last_delivery_error = self.last_error = None
        self._heads: dict[str, str] = {}
        self.ledger: Ledger | None = None
        self.lines = 0  # written to stdout

    def _head(self, topic: str) -> str:
        """``{"topic":<topic as JSON>,"key":`` for ``topic``, made once per topic."""
        head = self._heads.get(topic)
        if head is None:
            text = json.dumps(topic, ensure_ascii=False)
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (undecodable bytes of argv): \u escapes
                text = json.dumps(topic)
            text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # line breaks to some readers
            head = self._heads[topic] = '{"topic":' + text + ',"key":'
        return head

    def send_many(self, groups, stop=None) -> int:
        dumps = json.dumps
        n = 0
        for t, keys, values, *marks in groups:
            head = self._head(t)
            if marks and self.ledger is not None:  # where a spoiled message went: its line on stdout
                for i, entry in marks[0].items():
                    self.ledger.write_at(entry, topic=t, line=self.lines + i + 1)
            self.lines += len(keys)
            self.out.write("".join(f'{head}{dumps(k, ensure_ascii=False)},"value":'
                                   f'{v.decode(errors="replace") if isinstance(v, bytes) else v}}}\n'
                                   for k, v in zip(keys, values)))
            self.sent[t] = self.sent.get(t, 0) + len(keys)
            n += len(keys)
        return n

    def poll(self, timeout: float = 0) -> None:
        if timeout:
            time.sleep(timeout)

    def in_flight(self) -> int:
        return 0

    def flush(self, timeout_s: float, stop=None) -> int:
        self.out.flush()
        return 0


@dataclass
class Outcome:
    sent: int
    delivered: int
    failed: int
    unconfirmed: int
    seconds: float
    stopped_by: str | None  # a signal's name, "max-count", "duration", or "failure"


def run_stream(sink: Sink, batches, limiter, stop, stats, prog: str, max_count: int | None = None,
               duration: float | None = None, flush_timeout: float = 30.0) -> Outcome:
    """Send messages from ``batches(n, first_index)`` (which returns up to ``n`` messages as
    (topic, keys, values) groups) as fast as ``limiter`` allows, until a limit, a delivery failure
    or ``stop``."""
    start = time.monotonic()
    sending_since = start  # --duration counts from the first message out, as the pace does
    limiter.restart()
    sent = 0
    stopped_by = None
    while True:
        if stop.stop:
            stopped_by = stop.signal_name
            break
        if max_count is not None and sent >= max_count:
            stopped_by = "max-count"
            break
        if duration is not None and time.monotonic() - sending_since >= duration:
            stopped_by = "duration"
            break
        if sink.totals()[2]:
            stopped_by = "failure"
            break
        n = limiter.allowed(sent)
        want = limiter.batch
        if max_count is not None:
            n = min(n, max_count - sent)
            want = min(want, max_count - sent)
        if n < want:
            wait = min(limiter.wait_time(sent + want - 1), 0.1)
            if duration is not None:
                wait = min(wait, max(0.0, sending_since + duration - time.monotonic()))
            sink.poll(wait)
            stats.maybe_print(sink, prog)
            continue
        groups = batches(n, sent)
        if not groups:
            stopped_by = "end"
            break
        if not sent:  # the pace and --duration count from the first message out, not from the wait to build it
            limiter.restart()
            sending_since = time.monotonic()
        sent += max(0, sink.send_many(groups, stop) - _resends(groups))  # --faults' resends on top of the count
        sink.poll(0)
        stats.maybe_print(sink, prog)
    left = sink.in_flight()
    if stopped_by in ("SIGINT", "SIGTERM") and left and not stop.hard:
        again = "Ctrl+C again" if stopped_by == "SIGINT" else "a second signal"
        print(f"{prog}: got {stopped_by}: flushing {plural(left, 'message')} still in flight (up to --timeout "
              f"{flush_timeout:g} s); {again} quits at once, leaving {'it' if left == 1 else 'them'} unconfirmed",
              file=sys.stderr, flush=True)
    unconfirmed = sink.flush(flush_timeout, stop)
    total_sent, delivered, failed = sink.totals()
    return Outcome(total_sent, delivered, failed, unconfirmed, time.monotonic() - start, stopped_by)


def _resends(groups) -> int:
    """The duplicates of --faults among ``groups`` (marked in their fourth item)."""
    return sum(e["kind"] == "duplicate" for g in groups if len(g) > 3 for e in g[3].values())


def shard_share(max_count: int, block: int, shard: tuple[int, int]) -> int:
    """Of a stream of ``max_count`` messages cut into blocks of ``block``, the messages of shard
    (k, n): those of blocks k, k+n, k+2n, ... (the last block may be short)."""
    k, n = shard
    blocks = -(-max_count // block)
    mine = max(0, -(-(blocks - k) // n))
    short = block * blocks - max_count  # what the last block lacks
    return mine * block - (short if blocks and (blocks - 1) % n == k else 0)


def cdr_batches(pop: Population, factory: CdrFactory, topics: list[str], block: int = CHUNK_RECORDS,
                spoiler=None, delay: DeliveryDelay = NO_DELAY, plan=None, found: list | None = None,
                shard: tuple[int, int] = (0, 1), max_count: int | None = None, schedule=None):
    """A ``batches`` function for run_stream: CDRs that arrive now, keyed by user_id: each ended its
    ``delay`` (telco_cdr.delivery, drawn per block) before now.

    The stream is cut into blocks of ``block`` messages (the last one of ``max_count`` shorter);
    block j is built from generators seeded by (seed, j) alone, for the moment ``schedule(j)`` (epoch
    ms; without a schedule, the moment it is built), whatever asks for it.  Shard (k, n) sends
    blocks k, k+n, k+2n, ..., and moves its users' bearers past the other blocks as it goes (see
    CdrFactory.build's ``advance_only``), so n shards send exactly the blocks of one stream.

    ``spoiler`` (telco_cdr.faults.Spoiler, for --faults) spoils each type's messages of a block; a
    resend has its original's key, an orphan its own user_id.  ``plan`` (telco_cdr.anomalies.
    AnomalyPlan, for --anomalies, one shard only) plants the records of its incidents planned
    before now; each block's cdr_ids of them go to ``found``, a list per incident."""
    k, shards = shard
    if plan is not None and shards > 1:
        raise ValueError("--anomalies plans the incidents of one whole stream")
    state = {"next": k, "moved": 0, "last": plan.start_ms if plan is not None else 0}
    user_ids = pop.user_ids  # (text: a base of millions holds no object per user)

    def size_of(j: int) -> int:
        return block if max_count is None else max(0, min(block, max_count - j * block))

    def ends_of(j: int, size: int) -> tuple[int, np.ndarray]:
        now_ms = schedule(j) if schedule is not None else int(time.time() * 1000)
        return now_ms, now_ms - np.sort(delay.draw(delay_rng(SeedDomain.STREAM_CDRS, factory.seed, j), size))[::-1]

    def batches(n: int, first_index: int):
        i = state["next"]
        size = size_of(i)
        if not size:
            return []
        for j in range(state["moved"], i):  # the other shards' blocks: their users' bearers move on
            factory.build(j, j * block, ends_of(j, size_of(j))[1], closing=True, advance_only=True)
        now_ms, ends = ends_of(i, size)
        bounds = None
        if plan is not None:  # the planned records due since the block before
            bounds, state["last"] = (state["last"], max(state["last"], now_ms)), max(state["last"], now_ms)
        c = factory.build(i, i * block, ends, closing=True, anomalies=plan, bounds=bounds)
        if c.incident is not None:
            for inc, ids in plan.ids_in_chunk(factory.run_tag, i, c.incident).items():
                found[inc].extend(ids)
        state["moved"], state["next"] = i + 1, i + shards
        # one group per type, each in the chunk's order of end times
        if spoiler is None:
            return [(topics[t], user_ids[c.users[idx]].tolist(), lines) for t, idx, lines in c.parts]
        groups = []
        for t, idx, lines in c.parts:
            came = user_ids[c.users[idx]].tolist()
            lines, marks = spoiler.spoil(i, t, lines, arrival_ms=now_ms)
            keys = list(came)
            for mark in marks:  # in order of their places, so each goes where its resend stands
                if mark.kind == "duplicate":
                    keys.insert(mark.index, came[mark.source])
            for mark in marks:
                if mark.kind == "orphan_user":
                    keys[mark.index] = mark.detail["user_id"]
            groups.append((topics[t], keys, lines, {m.index: {"kind": m.kind, **_stream_detail(m.detail)}
                                                    for m in marks}))
        return groups
    return batches


def _stream_detail(detail: dict) -> dict:
    """A spoiled message's ledger words: those of a file's ledger, but for places in the chunk."""
    return {k: v for k, v in detail.items() if k != "original_index"}


def user_batches(users, topic: str, encode, chunk: int = CHUNK_RECORDS):
    """A ``batches`` function for run_stream: user records, keyed by user_id, until they run out."""
    it = iter(users)

    def batches(n: int, first_index: int):
        recs = []
        for rec in it:
            recs.append(rec)
            if len(recs) >= min(n, chunk):
                break
        return [(topic, [r["user_id"] for r in recs], [encode(r) for r in recs])] if recs else []
    return batches


def cdr_topics(prefix: str = "", single: str | None = None) -> list[str]:
    return [single or prefix + CDR_TOPICS[t] for t in CDR_TYPES]


def stream(args, topics: dict[str, dict], batches, prog: str, pace: tuple[float | None, str], stop,
           anomalies: tuple | None = None, limiter: RateLimiter | None = None) -> int:
    """The whole run of a producing script: settings, topics, sending, flushing, the summary.

    ``args`` carries the shared Kafka flags (cli.add_kafka_flags); ``topics`` maps the topic
    names to their configs (for --create-topics); ``pace`` is (messages per second or None for
    no limit, the words that say so), as cli.pace gives it; ``anomalies``, with --anomalies, is
    (the AnomalyPlan, the cdr_ids of each incident's records sent), for the ledger and summary;
    ``limiter`` paces the run (default: a RateLimiter at the pace's rate)."""
    rate, pace_words = pace
    limiter = limiter or RateLimiter(rate)
    ledger = Ledger(getattr(args, "ledger", None)) if getattr(args, "faults", None) or anomalies else None
    try:
        return _stream(args, topics, batches, prog, rate, pace_words, limiter, stop, ledger, anomalies)
    finally:
        if ledger is not None:
            ledger.close()


def _stream(args, topics, batches, prog, rate, pace_words, limiter, stop, ledger, anomalies=None) -> int:
    from .errors import RunError
    from .kafka import Producer, Stats, create_topics, settings_from, summary_lines

    if args.dry_run:
        sink, stats = DryRunSink(), Stats(0)
        sink.ledger = ledger
    else:
        settings = settings_from(args.bootstrap_servers, args.sasl_username, args.sasl_password, args.config_file,
                                 args.security_protocol, args.sasl_mechanism, args.ssl_ca_location)
        created = []
        if args.create_topics and not stop.stop:
            created = create_topics(settings, topics, args.partitions, args.replication_factor, args.timeout)
            if created:
                print(f"{prog}: created {'topic' if len(created) == 1 else 'topics'} {', '.join(created)}",
                      file=sys.stderr)
        sink = Producer(settings, delivery_timeout_s=args.delivery_timeout)
        sink.ledger = ledger
        if not sink.check(args.timeout, list(topics), stop, created):
            print(f"{prog}: got {stop.signal_name} before sending anything", file=sys.stderr)
            for line in summary_lines(sink, 0):
                print(line, file=sys.stderr)
            return 0
        stats = Stats(args.stats_interval, pace=f"{rate:g}/s" if rate else "max")
        print(f"{prog}: connected to {settings.bootstrap} ({settings.conf['security.protocol']}); "
              f"sending {pace_words}; Ctrl+C to stop", file=sys.stderr)
    outcome = run_stream(sink, batches, limiter, stop, stats, prog, args.max_count, args.duration, args.timeout)
    if stop.hard and outcome.unconfirmed:
        print(f"{prog}: stopped at once by a second signal; {outcome.unconfirmed:,} of "
              f"{plural(outcome.sent, 'message')} left unconfirmed", file=sys.stderr)
        return Exit.INTERRUPTED
    where = f"; ledger {ledger.path}" if ledger is not None and ledger.path else ""
    if getattr(args, "faults", None):
        from .faults import summary as fault_summary

        print(f"{prog}: faults delivered: {fault_summary(ledger.counts)}{where}", file=sys.stderr)
    if anomalies is not None:  # the incidents, once their records are sent
        plan, found = anomalies
        if ledger.fh is not None:
            ledger.fh.write(plan.ledger_lines(found).decode())
        print(f"{prog}: anomalies: {plan.summary(found) or 'none'}{where}", file=sys.stderr)
    if args.dry_run:
        print(f"{prog}: dry run: wrote {plural(outcome.sent, 'message')} to stdout, {pace_words}", file=sys.stderr)
        return 0
    why = {"max-count": "reached --max-count", "duration": "reached --duration", "end": "sent every record",
           "failure": "delivery failed", None: "stopped"}.get(outcome.stopped_by, f"got {outcome.stopped_by}")
    print(f"{prog}: {why}; {outcome.seconds:.1f} s, {outcome.delivered / max(outcome.seconds, 1e-9):,.0f} "
          f"delivered/s", file=sys.stderr)
    for line in summary_lines(sink, outcome.unconfirmed):
        print(line, file=sys.stderr)
    if outcome.failed:
        raise RunError(f"{plural(outcome.failed, 'message')} could not be delivered within --delivery-timeout "
                       f"{args.delivery_timeout:g} s ({sink.last_delivery_error}; last client error: "
                       f"{sink.last_error or 'none'})")
    if outcome.unconfirmed:
        raise RunError(f"{plural(outcome.unconfirmed, 'message')} {'was' if outcome.unconfirmed == 1 else 'were'} "
                       f"not confirmed by the broker within --timeout {args.timeout:g} s")
    return 0


def _reading_progress():
    """Progress on a terminal while a users file is read and modelled (cleared by the next line)."""
    from .output import Progress

    return Progress(0, "users")


def stream_cdrs(args, stop, prog: str) -> int:
    """kafka_producer.py: CDRs of --users-file (or of --num-users made with --seed) to Kafka; with
    --shard K/N, blocks K, K+N, ... of that stream, at 1/N of its pace (see cdr_batches)."""
    from .cli import pace
    from .constants import DEFAULT_INTERVAL_S
    from .errors import UserError
    from .traffic import build_population, parse_weights
    from .user_table import load_users, release_memory
    from .users import generate_users

    rate, pace_words = pace(args.rate, args.interval, DEFAULT_INTERVAL_S)
    shard = getattr(args, "shard", None) or (0, 1)
    k, shards = shard
    start_ms = None
    if getattr(args, "start_at", None) is not None:
        from .cli import parse_time

        if rate is None:
            raise UserError("--start-at sets when each message is due, which needs a pace: give --rate N or "
                            "--interval, not --rate max")
        try:
            start_ms = int(parse_time(args.start_at, "--start-at").timestamp() * 1000)
        except (OverflowError, ValueError):
            raise UserError(f"--start-at {args.start_at!r} must lie between 1970 and 9999") from None
    if shards > 1 and args.anomalies:
        raise UserError("--anomalies cannot be sharded: its incidents are planned over the whole stream, and "
                        "--ledger lists each with all its records; run them in one producer (no --shard)")
    block = block_size(rate)
    total = args.max_count  # the whole stream's, which cuts its last block
    if total is not None:
        args.max_count = shard_share(args.max_count, block, shard)  # this shard's blocks of the whole count
    schedule = None
    if rate is not None:  # block j is made for the moment its first message is due
        t0 = [start_ms]

        def schedule(j: int) -> int:
            if t0[0] is None:  # without --start-at: the stream is due from now (this shard's first block now)
                t0[0] = int(time.time() * 1000) - round(k * block * 1000 / rate)
            return t0[0] + round(j * block * 1000 / rate)
    pinned = None
    if start_ms is not None:  # this shard's first block is due at --start-at plus the K blocks before it
        pinned = time.monotonic() + start_ms / 1000 + k * block / rate - time.time()
    limiter = RateLimiter(None if rate is None else rate / shards, batch=block, start=pinned)
    if shards > 1:
        pace_words += (f"; shard {k}/{shards}: " + (f"{rate / shards:g} messages/s of them" if rate is not None
                                                     else "as fast as it can"))
    if start_ms is not None:
        pace_words += f", due from --start-at {args.start_at}"
    weights = parse_weights(args.weights)
    if args.users_file:
        users = load_users(args.users_file, _reading_progress())
    else:
        users = list(generate_users(args.num_users, args.seed, args.country, args.operator))
        if not any(u["status"] == "active" for u in users):
            raise UserError("--num-users: every generated user is suspended; make more users")
    progress = _reading_progress()
    progress.phase(f"modelling the traffic of {plural(len(users), 'user')}")
    pop = build_population(users, args.seed)
    progress.done()
    del users
    release_memory()
    topics = cdr_topics(args.topic_prefix, args.topic)
    factory = CdrFactory(pop, weights, args.seed, "json", stream=SeedDomain.STREAM_CDRS,
                         labelled=args.label_anomalies)
    plan = found = None
    if args.anomalies:
        plan = stream_plan(pop, weights, args, factory, start_ms)
        found = [[] for _ in plan.incidents]
    spoiler = None
    if args.faults:
        from .faults import Spoiler

        spoiler = Spoiler(args.faults, args.seed, "json", [None] * len(CDR_TYPES), pop)
    batches = cdr_batches(pop, factory, topics, block, spoiler=spoiler, delay=args.delivery_delay, plan=plan,
                          found=found, shard=shard, max_count=total,
                          schedule=schedule)
    return stream(args, {t: {} for t in dict.fromkeys(topics)}, batches, prog,
                  (None if rate is None else rate / shards, pace_words), stop,
                  anomalies=(plan, found) if plan is not None else None, limiter=limiter)


# A stream's incidents are planned from its start over --duration, or else over this many seconds.
STREAM_HORIZON_S = 900
# The pace the plan assumes of --rate max (a typical caller's calls an hour follow from it).
STREAM_MAX_RATE = 100_000


def stream_plan(pop: Population, weights: dict, args, factory: CdrFactory, start_ms: int | None = None):
    """The incidents of --anomalies for a stream: planned over --duration (or STREAM_HORIZON_S)
    from the end time of the records sent now (or at ``start_ms``, --start-at), at the pace of
    --rate or --interval."""
    from .anomalies import AnomalyPlan
    from .cdrs import outcome_rings
    from .cli import pace
    from .constants import DEFAULT_INTERVAL_S

    rate = pace(args.rate, args.interval, DEFAULT_INTERVAL_S)[0] or STREAM_MAX_RATE
    # in event time: the records sent from now end about a median delivery delay before they go
    start = (int(time.time() * 1000) if start_ms is None else start_ms) - round(args.delivery_delay.median_s * 1000)
    horizon_s = args.duration if args.duration else STREAM_HORIZON_S
    voice = float(factory.curve.weights[CDR_TYPES.index("voice")])
    data_w = np.zeros(pop.n)
    data_w[pop.zone_order] = np.diff(pop.user_cum[CDR_TYPES.index("data")][0])
    return AnomalyPlan(pop, args.anomalies, args.seed, start, start + int(horizon_s * 1000), rate * 3600 * voice,
                       np.flatnonzero(data_w > 0), outcome_rings(),
                       stream=True)


def stream_users(args, stop, prog: str) -> int:
    """export_users_to_kafka.py: the users (of --users-file, or made) to one compacted topic."""
    from .cli import pace
    from .users import generate_users, read_users, user_json

    topic = args.topic_prefix + args.topic
    users = read_users(args.users_file, _reading_progress()) if args.users_file else \
        generate_users(args.num_users, args.seed, args.country, args.operator)
    return stream(args, {topic: {"cleanup.policy": "compact"}}, user_batches(users, topic, user_json), prog,
                  pace(args.rate, None, None), stop)
