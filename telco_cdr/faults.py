"""Faults on purpose: records spoiled the way real feeds spoil them, each one written to a ledger.

A run with ``--faults KIND=FRACTION,...`` spoils about FRACTION of its records with each KIND (one
kind at most per record) after they are rendered, chunk by chunk: the choice of records and of how
each is spoiled is drawn from a generator seeded by (seed, chunk number, output number) alone, so
the same seed and flags give the same faults whatever the number of worker processes.  Only the
chosen lines are touched (parsed, changed, written again); a run without ``--faults`` never comes
here, so its bytes are those of a run before faults existed.

The kinds (issue 12; design notes, "Faults on purpose"):

- ``duplicate``: the record again, byte for byte, 1 to DUPLICATE_GAP records later (a resend after a
  failure: the same cdr_id); the ledger names the copy's line and the original's.
- ``late``: the record arrives 1 to 6 hours (LATE_DELAY_S) after its end: its times (start, end,
  answer) move back so that it ends that long before the start of the record it arrives after.
- ``malformed``: a line that is not valid JSON (cut short, or a run of NUL bytes over it) or, in CSV,
  a row cut short (fewer cells than the header).
- ``missing_field``: a required field is absent (in CSV, its cell is empty).
- ``orphan_user``: user_id, msisdn, imsi and imei are replaced by values of the same shapes that no
  user of the users file has.
- ``bad_value``: a value outside its schema: a negative duration (SMS: message length), an end
  before the start, or a value no enum allows.
- ``schema_drift``: a field the schema does not have (in CSV, a cell past the last column).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from .constants import SeedDomain
from .errors import UserError
from .identifiers import luhn_digit

KINDS = ("duplicate", "late", "malformed", "missing_field", "orphan_user", "bad_value", "schema_drift")

DUPLICATE_GAP = 50  # a resend comes 1 to this many records after its original
# How long after its end a late record arrives: at least an hour (issue 12), at most 6 hours.
LATE_DELAY_S = (3600, 6 * 3600)
TIME_FIELDS = ("start_time", "end_time", "answer_time")  # moved together for a late record
NUL_RUN = 8  # a corrupted line: this many bytes overwritten with NUL (as a zero-filled block)
END_BEFORE_START_S = (1, 60)  # bad_value's end before its start, by this many seconds
# The fields a missing_field record may lack: the required, non-null fields every CDR type has
# (telco_cdr/schemas/*.schema.json), but cdr_id and cdr_type, which say what the record is.
MISSING_FIELDS = ("record_type", "start_time", "end_time", "user_id", "msisdn", "imsi", "imei", "cell_mcc",
                  "cell_mnc", "cell_id", "rat_type", "ms_time_zone")
# bad_value: the field made negative per CDR type (each has minimum 0 or 1 in its schema) ...
NEGATIVE_FIELD = {"voice": "duration_seconds", "data": "duration_seconds", "sms": "message_length",
                  "voip": "duration_seconds", "ims": "duration_seconds"}
# ... and a value that no enum of the schema allows, per CDR type (each is a plausible value of
# the field in some other network's feed, not random text).
BAD_ENUM = {"voice": ("call_result", "lost"), "data": ("cause_for_record_closing", "unknownCause"),
            "sms": ("delivery_status", "pending"), "voip": ("codec", "SILK"), "ims": ("sip_method", "PUBLISH")}
BAD_VALUE_VARIANTS = ("negative", "end_before_start", "unknown_enum")
# schema_drift: fields a newer release of a network element might add (names after TS 32.298's
# chargingCharacteristics, servedPDPPDNType, recordExtensions), none of them in our schemas.
DRIFT_FIELDS = (("charging_characteristics", "0800"), ("served_pdp_pdn_type", "IPv4v6"),
                ("record_extensions", "vendor-x"))
# Orphan users: ids in a range the generator's users (U0000001 ...) never reach; each value is
# checked against the users file too.
ORPHAN_ID_RANGE = (90_000_000, 100_000_000)


def parse_faults(text: str, flag: str = "--faults") -> dict[str, float]:
    """``KIND=FRACTION,...`` as a dict in KINDS order; UserError (one line) if it is not that."""
    fractions: dict[str, float] = {}
    for part in text.split(","):
        kind, eq, value = part.strip().partition("=")
        kind = kind.strip()
        if not eq or not kind:
            raise UserError(f"{flag}: {part.strip()!r} is not KIND=FRACTION (kinds: {', '.join(KINDS)})")
        if kind not in KINDS:
            raise UserError(f"{flag}: unknown kind {kind!r}; the kinds are {', '.join(KINDS)}")
        if kind in fractions:
            raise UserError(f"{flag}: {kind} is given twice")
        try:
            f = float(value)
        except ValueError:
            raise UserError(f"{flag}: {kind}={value.strip()!r}: the fraction is not a number") from None
        if not 0 <= f <= 1:
            raise UserError(f"{flag}: {kind}={value.strip()}: a fraction must be between 0 and 1")
        fractions[kind] = f
    total = sum(fractions.values())
    if total > 1 + 1e-9:
        raise UserError(f"{flag}: the fractions add up to {total:g}; a record gets one fault at most, so at most 1")
    return {k: fractions[k] for k in KINDS if k in fractions}


def check_format(fractions: dict[str, float], fmt: str, flag: str = "--faults") -> None:
    """Refuse kinds that make no sense in ``fmt``: a malformed element spoils a whole JSON array;
    Parquet's typed columns hold no spoiled text at all."""
    if fmt == "parquet":
        raise UserError(f"{flag} spoils the text of records (malformed lines, missing fields, values of another "
                        f"type), which the typed columns of Parquet cannot hold; write jsonl or csv for faults")
    if fmt == "json" and fractions.get("malformed"):
        raise UserError(f"{flag}: malformed makes a JSON array (--format json) unreadable as a whole, not one "
                        f"record; write jsonl or csv for malformed records")


def summary(counts: dict[str, int] | list[int]) -> str:
    """``duplicate 3, late 2, ...``: the faults per kind."""
    if not isinstance(counts, dict):
        counts = dict(zip(KINDS, counts))
    return ", ".join(f"{k} {counts.get(k, 0):,}" for k in KINDS)


# ---------------------------------------------------------------- spoiling a chunk's lines

@dataclass
class Mark:
    """One spoiled line of a chunk's output: its place among the chunk's lines (0-based), and
    what the ledger says of it after kind, file and line."""

    index: int
    kind: str
    detail: dict = field(default_factory=dict)
    source: int = -1  # a duplicate's original, among the chunk's lines as they came


# json.dumps with any argument makes a new encoder each call: these are made once.
_json_text = json.JSONEncoder(ensure_ascii=False).encode  # a value as a record has it
_json_line = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # a ledger line


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class JsonRecord:
    """A rendered JSON object, changed in place a field at a time: only the bytes of the fields
    touched are read and written again (a whole parse and dump costs several times more)."""

    def __init__(self, line: bytes):
        self.line = line

    def _span(self, name: str) -> tuple[int, int, int]:
        """Where field ``name`` is: its key's first byte, its value's first byte and the byte after."""
        key = b'"' + name.encode() + b'":'
        at = self.line.find(key)
        if at < 0:
            raise KeyError(name)
        start = at + len(key)
        if self.line[start] == 0x22:  # a string: to its closing quote
            end = start + 1
            while True:
                end = self.line.index(b'"', end)
                k = end - 1
                while self.line[k] == 0x5C:  # backslashes before the quote: an odd number escapes it
                    k -= 1
                if (end - 1 - k) % 2 == 0:
                    break
                end += 1
            return at, start, end + 1
        end = start
        while self.line[end] not in b",}":
            end += 1
        return at, start, end

    def get(self, name: str):
        """The field's value; None if it is null or absent."""
        try:
            _, start, end = self._span(name)
        except KeyError:
            return None
        value = self.line[start:end]
        if value[:1] == b'"' and b"\\" not in value:  # a plain string, as most are: no parse
            return value[1:-1].decode()
        return json.loads(value)

    def set(self, name: str, value) -> None:
        _, start, end = self._span(name)
        self.line = self.line[:start] + _json_text(value).encode() + self.line[end:]

    def drop(self, name: str) -> None:
        at, _, end = self._span(name)
        if self.line[end] == 0x2C:  # the comma after it goes with it
            end += 1
        elif self.line[at - 1] == 0x2C:  # the last field: the comma before it
            at -= 1
        self.line = self.line[:at] + self.line[end:]

    def add(self, name: str, value) -> None:
        self.line = self.line[:-1] + b"," + json.dumps(name).encode() + b":" + json.dumps(value).encode() + b"}"

    def replace_all(self, old: str, new: str, but: str = "cdr_id") -> None:
        """``old`` by ``new`` wherever it stands (in numbers, URIs, ...), but in field ``but``."""
        _, start, end = self._span(but)
        self.line = self.line[:end] + self.line[end:].replace(old.encode(), new.encode())
        head = self.line[:start]
        self.line = head.replace(old.encode(), new.encode()) + self.line[start:]

    def render(self) -> bytes:
        return self.line


def Record(line: bytes, header: list[str] | None):  # noqa: N802 - a factory of the two kinds
    return JsonRecord(line) if header is None else CsvRecord(line, header)


class CsvRecord:
    """A rendered CSV row as an ordered mapping under its header, to change and render again."""

    def __init__(self, line: bytes, header: list[str]):
        self.header = header
        self.values = dict(zip(header, next(csv.reader([line.decode()]))))
        self.extra: list[str] = []  # CSV cells past the header

    def replace_all(self, old: str, new: str, but: str = "cdr_id") -> None:
        for name, value in self.values.items():
            if name != but and old in value:
                self.values[name] = value.replace(old, new)

    def get(self, name: str):
        v = self.values.get(name)
        return None if v == "" else v

    def set(self, name: str, value) -> None:
        self.values[name] = "" if value is None else str(value)

    def drop(self, name: str) -> None:
        self.values[name] = ""

    def add(self, name: str, value) -> None:
        self.extra.append(str(value))

    def render(self) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([*self.values.values(), *self.extra])
        return buf.getvalue().encode()


def _start_of(line: bytes, csv_format: bool) -> int:
    """The start time (epoch ms) of a clean rendered line, found without parsing it."""
    if csv_format:  # cdr_id, cdr_type, record_type, start_time: never quoted
        return _ms(line.split(b",", 4)[3].decode())
    at = line.index(b'"start_time":"') + 14
    return _ms(line[at:at + 24].decode())


@dataclass
class Seen:
    """What a reader of a file in arrival order has seen before a chunk's lines: each line's start
    time (epoch ms, as rendered clean) and the latest start of the lines above the chunk (None:
    none).  A late record arrives at the latest start above it, so that it ends 1 to 6 hours before
    that, as it does in event order (where that is the start of the line before it)."""

    starts: np.ndarray
    latest: int | None = None

    def latest_before(self, j: int, moved: set[int]) -> int | None:
        """The latest start a reader sees above line ``j``: the lines ``moved`` (spoiled: no start,
        or not their own) are not seen."""
        above = self.starts[:j]
        if moved:
            above = np.delete(above, [m for m in moved if m < j])
        best = int(above.max()) if len(above) else None
        if self.latest is None or best is None:
            return self.latest if best is None else best
        return max(best, self.latest)

    def past(self, moved: set[int]) -> None:
        """Move on past the chunk's lines (``moved`` as above)."""
        self.latest = self.latest_before(len(self.starts), moved)
        self.starts = self.starts[:0]


class Draws:
    """Uniform numbers drawn from ``rng`` in blocks (a numpy call per number costs more than the
    number), handed out one at a time in a fixed order, so the same seed gives the same faults."""

    def __init__(self, rng: np.random.Generator, block: int):
        self.rng, self.block = rng, max(block, 16)
        self.pool: list[float] = []
        self.at = 0

    def random(self) -> float:
        if self.at == len(self.pool):
            self.pool, self.at = self.rng.random(self.block).tolist(), 0
        self.at += 1
        return self.pool[self.at - 1]

    def integers(self, lo: int, hi: int | None = None) -> int:
        """A whole number from ``lo`` up to, not including, ``hi`` (from 0 to ``lo`` with one argument)."""
        if hi is None:
            lo, hi = 0, lo
        return lo + min(int(self.random() * (hi - lo)), hi - lo - 1)


class _Sorted:
    """A column of text sorted once, for ``value in column`` by binary search.  Digits, or a letter
    and digits (user ids, IMSIs, IMEIs), are kept as integers: a search among them takes a
    microsecond, where one among numpy's variable-width strings takes some 80 (leading zeros are
    not told apart, so a value may be taken for one that is: an orphan then draws again)."""

    def __init__(self, values):
        values = np.asarray(values, dtype=np.dtypes.StringDType())
        keys = [_key(v) for v in values.tolist()]
        if all(k is not None for k in keys):
            self.keys: np.ndarray | None = np.sort(np.array(keys, dtype=np.int64))
        else:
            self.keys, self.values = None, np.sort(values)

    def __contains__(self, value: str) -> bool:
        if self.keys is not None:
            key = _key(value)
            if key is None:
                return False
            at = int(np.searchsorted(self.keys, key))
            return at < len(self.keys) and self.keys[at] == key
        at = int(np.searchsorted(self.values, value))
        return at < len(self.values) and self.values[at] == value


def _key(value: str) -> int | None:
    """An integer for digits (itself) or a capital letter and digits (below 0, by the letter), else None."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if len(value) > 1 and "A" <= value[0] <= "Z" and value[1:].isascii() and value[1:].isdigit() and len(value) <= 15:
        return -(ord(value[0]) * 10**14 + int(value[1:])) - 1
    return None


class Spoiler:
    """Spoils the lines of one output of a chunk; ``users`` gives the identifiers orphans must avoid
    (user_ids, msisdns, imsis, imeis: sequences of str, or of int for msisdn)."""

    def __init__(self, fractions: dict[str, float], seed: int, fmt: str, headers: list[list[str] | None],
                 users):
        self.fractions = fractions
        self.cum = np.cumsum([fractions.get(k, 0.0) for k in KINDS])
        self.seed = seed
        self.csv = fmt == "csv"
        self.headers = headers  # per output: its CSV columns (None for JSON)
        self._users = users
        self._taken: tuple | None = None

    @property
    def taken(self) -> tuple:
        """The users' user_ids, MSISDNs, IMSIs and IMEIs, each a column sorted once (``in`` by binary
        search: no set of millions of objects for a large base)."""
        if self._taken is None:
            u = self._users
            self._taken = (_Sorted(u.user_ids), _Sorted(np.asarray(u.msisdn).astype(str)), _Sorted(u.imsi),
                           _Sorted(u.imei))
        return self._taken

    def rng(self, chunk: int, output: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([SeedDomain.FAULTS, self.seed, chunk, output]))

    def spoil(self, chunk: int, output: int, lines: list[bytes], arrival_ms: int | None = None,
              seen: Seen | None = None) -> tuple[list[bytes], list[Mark]]:
        """The chunk's ``lines`` of output ``output`` with faults in them, and a Mark per spoiled
        line (index among the lines returned), in line order.  A late record arrives at
        ``arrival_ms`` (a stream's: now), or else when the record before it started (a file's in
        event order); with ``seen`` (a file's in arrival order), at the latest start above it."""
        moved: set[int] = set()  # lines whose start time a reader no longer sees as it was
        spoiled = self._spoil(chunk, output, lines, arrival_ms, seen, moved)
        if seen is not None:
            seen.past(moved)
        return spoiled

    def _spoil(self, chunk: int, output: int, lines: list[bytes], arrival_ms: int | None, seen: Seen | None,
               moved: set[int]) -> tuple[list[bytes], list[Mark]]:
        n = len(lines)
        if not n:
            return lines, []
        rng = self.rng(chunk, output)
        kinds = np.searchsorted(self.cum, rng.random(n), side="right")
        chosen = np.flatnonzero(kinds < len(KINDS))
        if not len(chosen):
            return lines, []
        header = self.headers[output] if self.csv else None
        rng = Draws(rng, 4 * len(chosen))
        out = list(lines)
        marks: dict[int, Mark] = {}
        copies: dict[int, list[tuple[int, Mark]]] = {}  # after original index a: (original, mark)
        for j in chosen.tolist():
            kind = KINDS[kinds[j]]
            line = lines[j]
            cdr_id = (line.split(b",", 1)[0].decode() if self.csv
                      else line[line.index(b'"cdr_id":"') + 10:].split(b'"', 1)[0].decode())
            detail: dict = {"cdr_id": cdr_id}
            if kind == "duplicate":
                after = min(j + int(rng.integers(1, DUPLICATE_GAP + 1)), n - 1)
                copies.setdefault(after, []).append((j, Mark(-1, kind, detail, source=j)))
                continue
            if kind == "malformed":
                out[j], detail["how"] = self._malformed(rng, line)
                moved.add(j)
            elif kind == "late":
                if seen is not None:
                    arrival = seen.latest_before(j, moved)
                elif arrival_ms is not None:
                    arrival = arrival_ms
                else:
                    a = j - 1
                    while a in moved:
                        a -= 1
                    arrival = _start_of(lines[a], self.csv) if a >= 0 else None
                if arrival is None:  # nothing before it to arrive after: left clean
                    continue
                rec = Record(line, header)
                delay = int(rng.integers(LATE_DELAY_S[0] * 1000, LATE_DELAY_S[1] * 1000 + 1))
                shift = _ms(rec.get("end_time")) - (arrival - delay)
                for name in TIME_FIELDS:
                    if rec.get(name) is not None:
                        rec.set(name, _iso(_ms(rec.get(name)) - shift))
                out[j] = rec.render()
                detail.update(arrival_delay_s=delay / 1000, shifted_by_s=shift / 1000)
                moved.add(j)
            elif kind == "missing_field":
                name = MISSING_FIELDS[int(rng.integers(len(MISSING_FIELDS)))]
                rec = Record(line, header)
                rec.drop(name)
                out[j] = rec.render()
                detail["field"] = name
                if name == "start_time":
                    moved.add(j)
            elif kind == "orphan_user":
                rec = Record(line, header)
                detail.update(self._orphan(rng, rec))
                out[j] = rec.render()
            elif kind == "bad_value":
                rec = Record(line, header)
                detail.update(self._bad_value(rng, rec))
                out[j] = rec.render()
            elif kind == "schema_drift":
                name, value = DRIFT_FIELDS[int(rng.integers(len(DRIFT_FIELDS)))]
                rec = Record(line, header)
                rec.add(name, value)
                out[j] = rec.render()
                detail["field"] = name
            marks[j] = Mark(j, kind, detail)
        if not copies:
            return out, [marks[j] for j in sorted(marks)]
        # Insert the resends: each after its line, in the order their originals came.
        result: list[bytes] = []
        listed: list[Mark] = []
        before = 0
        for a in sorted(set(marks) | set(copies)):
            result.extend(out[before:a + 1])
            before = a + 1
            if a in marks:
                marks[a].index = len(result) - 1
                listed.append(marks[a])
            for original, mark in sorted(copies.get(a, []), key=lambda c: c[0]):
                result.append(lines[original])
                mark.index = len(result) - 1
                mark.detail["original_index"] = original
                listed.append(mark)
        result.extend(out[before:])
        # where each original landed (its index shifts by the copies inserted before it)
        shift = np.zeros(n + 1, dtype=np.int64)
        for a, cs in copies.items():
            shift[a + 1] += len(cs)
        landed = np.arange(n) + np.cumsum(shift)[:n]
        for mark in listed:
            if "original_index" in mark.detail:
                mark.detail["original_index"] = int(landed[mark.detail["original_index"]])
        return result, listed

    def _malformed(self, rng, line: bytes) -> tuple[bytes, str]:
        if self.csv:  # cut short outside any quotes, before the last comma: fewer cells than the header
            cuts, quoted = [], False
            for i, c in enumerate(line):
                if c == 0x22:
                    quoted = not quoted
                elif c == 0x2C and not quoted:
                    cuts.append(i)
            last = cuts[-1]
            at = int(rng.integers(1, last + 1))
            while at > 1 and line[:at].count(b'"') % 2:  # never inside a quoted cell
                at -= 1
            return line[:at], "truncated"
        if rng.random() < 0.5:
            return line[:int(rng.integers(1, len(line)))], "truncated"
        at = int(rng.integers(0, len(line) - NUL_RUN))
        return line[:at] + b"\0" * NUL_RUN + line[at + NUL_RUN:], "corrupted"

    def _orphan(self, rng, rec: Record) -> dict:
        ids, msisdns, imsis, imeis = self.taken

        def fresh(make, taken):
            while True:
                v = make()
                if v not in taken:
                    return v

        def digits(k):  # k random digits, one draw
            return f"{rng.integers(10 ** k):0{k}d}"

        old = {name: rec.get(name) for name in ("user_id", "msisdn", "imsi", "imei")}
        new = {
            "user_id": fresh(lambda: f"U{rng.integers(*ORPHAN_ID_RANGE)}", ids),
            "msisdn": fresh(lambda: old["msisdn"][:-7] + digits(7), msisdns),
            "imsi": fresh(lambda: old["imsi"][:5] + digits(10), imsis),
            "imei": fresh(lambda: (lambda p: p + luhn_digit(p))(old["imei"][:8] + digits(6)), imeis),
        }
        rec.replace_all(old["msisdn"], new["msisdn"])  # the user's number wherever it stands (calling_number, URIs)
        for name, value in new.items():
            rec.set(name, value)
        return {"user_id": new["user_id"]}

    def _bad_value(self, rng, rec: Record) -> dict:
        how = BAD_VALUE_VARIANTS[int(rng.integers(len(BAD_VALUE_VARIANTS)))]
        cdr_type = rec.get("cdr_type")
        if how == "negative":
            name = NEGATIVE_FIELD[cdr_type]
            value = -max(1, int(rec.get(name)))
        elif how == "end_before_start":
            name = "end_time"
            value = _iso(_ms(rec.get("start_time")) - 1000 * int(rng.integers(END_BEFORE_START_S[0],
                                                                               END_BEFORE_START_S[1] + 1)))
        else:
            name, value = BAD_ENUM[cdr_type]
        rec.set(name, value)
        return {"how": how, "field": name, "value": value}


def ledger_lines(marks: list[tuple[int, Mark]], first_lines: list[int], files: list[str] | None) -> bytes:
    """The ledger's JSON Lines for a chunk's ``marks`` ((output, Mark), in order), where output k's
    first line of the chunk is line ``first_lines[k]`` of its file (1-based); ``files`` names the
    outputs when there are several (--output-dir)."""
    out = []
    for k, mark in marks:
        entry = {"kind": mark.kind}
        if files is not None:
            entry["file"] = files[k]
        entry["line"] = first_lines[k] + mark.index
        for key, value in mark.detail.items():
            if key == "original_index":
                entry["original_line"] = first_lines[k] + value
            else:
                entry[key] = value
        out.append(_json_line(entry) + "\n")
    return "".join(out).encode()
