"""How records become bytes: the layout of each record in each format, derived from the contract
(telco_cdr.contract), and the machinery that joins a whole chunk of records from columns of text.

A layout is a list of pieces, literal text and field slots, made once per record type and format
from the record's description: JSON (keys, quotes, commas), CSV of all CDR types (the union of
their columns, empty cells for another type's fields) or CSV of one type.  A record builder fills
the slots with columns of text (one value per record) and never writes a key, a quote or a comma
itself, so a field cannot get out of step with its column.

Every value is already text (UTF-8 bytes): small numbers and times come from tables made once
here, per-user text is escaped once per run.  A record is then one ``bytes.join`` of a few pieces,
about twice as fast as printf-style formatting of the same record.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np

KINDS = ("json", "csv", "csv_type")  # JSON; CSV with every CDR type's columns; CSV of one type
QUOTED = ("string", "timestamp", "date")  # field types written as JSON strings


class LayoutError(ValueError):
    """A record description that cannot be laid out (raised at import, naming the field)."""


# ---------------------------------------------------------------- values: columns of text

def text_array(values) -> np.ndarray:
    """An object array of the values as UTF-8 bytes (records are built as bytes, so a chunk goes
    to the file or to Kafka without being encoded again)."""
    if len(values) and isinstance(values[0], str):
        values = [v.encode("utf-8") for v in values]
    return np.array(values, dtype=object)


class Pick:
    """A column that is ``table[at]``: a record's text taken from a table of pieces.  Literal
    text beside it in the record is joined onto the table's entries once, and neighbouring picks
    by the same ``at`` are joined into one table (``Columns``), so a record is joined from fewer
    pieces."""

    __slots__ = ("table", "at")

    def __init__(self, table: np.ndarray, at: np.ndarray):
        self.table, self.at = table, at

    def __getitem__(self, idx) -> Pick:
        return Pick(self.table, self.at[idx])

    def values(self) -> np.ndarray:
        return self.table[self.at]


class Literal:
    """Text that is the same in every record of a chunk but not from one chunk to the next (the
    chunk's part of a record id): a column of its own, so the plan of the columns stays the same."""

    __slots__ = ("text",)

    def __init__(self, text: bytes):
        self.text = text

    def tolist(self):
        return repeat(self.text)


@dataclass
class Nullable:
    """A column of a nullable field: ``text`` (a column, a Pick from a table, or a tuple of Picks
    and literals) where ``present``, else null (JSON) or an empty
    cell (CSV).  Without ``present``, ``text`` is a Pick whose table
    has None for null: its index is kept as it is, so it can be joined with a neighbouring pick
    by the same index (two fields of which one is always null, say)."""

    text: np.ndarray | Pick | tuple
    present: np.ndarray | None = None


# Text of small numbers, made once (from smaller tables, by array concatenation):
# decimal 0-65535, hex pieces of a 28-bit ECI, fixed-point, seconds and milliseconds.
DEC = text_array([b"%d" % i for i in range(65536)])
HEX2 = text_array([f"{i:02X}" for i in range(256)])
HEX3 = text_array([f"{i:03X}" for i in range(4096)])
HEX4 = HEX2[np.arange(65536) >> 8] + HEX2[np.arange(65536) & 255]
HEX2_LOWER = text_array([f"{i:02x}" for i in range(256)])
HEX4_LOWER = HEX2_LOWER[np.arange(65536) >> 8] + HEX2_LOWER[np.arange(65536) & 255]
POS = b"00" + HEX4_LOWER[: 1 << 15]  # positions in a chunk, 6 hex digits: file chunks and stream batches are smaller
_FIXED = {1: DEC[np.arange(16384) // 10] + b"." + DEC[np.arange(16384) % 10],
          2: DEC[np.arange(16384) // 100] + b"." + text_array([f"{i:02d}" for i in range(100)])[np.arange(16384) % 100]}
# Seconds and milliseconds as two small tables, not one of 60,000 entries: two picks from tables
# that stay in the CPU's cache cost less than one from a table that does not.
_SECONDS, _MILLIS = text_array([f"{i:02d}." for i in range(60)]), text_array([f"{i:03d}" for i in range(1000)])
_HHMM = text_array([f"{i // 60:02d}:{i % 60:02d}:" for i in range(1440)])


DEC_SMALL = DEC[:16384].copy()  # numbers below 16,384: a table the literal text beside it can join (MERGE_MAX)
_LEAD = np.concatenate((text_array([b""]), DEC[1:]))  # a number's leading digits (none for 0)
_PAD4 = text_array([f"{i:04d}" for i in range(10000)])
# A group of 4 digits by ``group + 10000`` after other digits, else by ``group``: the middle one
# (none for 0) and the last one.  MERGE_MAX entries each, so literal text beside them joins them.
_MIDDLE, _LAST = np.concatenate((_LEAD[:10000], _PAD4)), np.concatenate((DEC[:10000], _PAD4))


def dec(values: np.ndarray) -> Pick | tuple | np.ndarray:
    """Decimal text of integers: a pick from DEC below 65536; up to 65536 * 10**8, three picks (the
    digits above the last 8, then two groups of 4: a little integer work, no text made per number);
    else a column of text."""
    values = np.asarray(values, dtype=np.int64)
    if not len(values) or (values.min() >= 0 and values.max() < len(DEC_SMALL)):
        return Pick(DEC_SMALL, values)  # (small enough that the literal text beside it joins its entries)
    if values.min() >= 0 and values.max() < 65536:
        return Pick(DEC, values)
    if values.min() >= 0 and values.max() < 65536 * 10**8:
        lead = values // 10**8
        middle, last = values // 10**4 % 10000, values % 10000
        return (Pick(_LEAD, lead), Pick(_MIDDLE, middle + 10000 * (lead > 0)),
                Pick(_LAST, last + 10000 * (values >= 10**4)))
    return text_array([b"%d" % v for v in values.tolist()])


def fixed(values: np.ndarray, decimals: int) -> Pick | np.ndarray:
    """Fixed-point text with ``decimals`` (1 or 2) decimals: a pick from a table small enough that
    the literal text beside it joins its entries, else a column of text."""
    scaled = np.rint(np.asarray(values) * 10**decimals).astype(np.int64)
    if not len(scaled) or (scaled.min() >= 0 and scaled.max() < len(_FIXED[decimals])):
        return Pick(_FIXED[decimals], scaled)
    return text_array([f"{x / 10**decimals:.{decimals}f}" for x in scaled.tolist()])


_HEX_PAIRS = np.frombuffer(b"".join(HEX2_LOWER.tolist()), dtype=np.uint8).reshape(256, 2)  # a byte's 2 digits


def hex64(*values: np.ndarray) -> np.ndarray:
    """Lower-case hex text of rows of non-negative 64-bit integers, 16 digits each (zero-padded),
    the row's numbers one after the other: made as an array of ASCII digits, no text per number."""
    rows = [_HEX_PAIRS[np.asarray(v, dtype=">u8").view(np.uint8)].reshape(len(v), 16) for v in values]
    return np.concatenate(rows, axis=1).view(f"S{16 * len(values)}").ravel()


DAY_RANGE_MAX = 8  # days of one table of minutes (a chunk's records span fewer, but for SMS retries)
DAY_ANCHOR = 4  # tables start on every 4th day where they can (fewer tables: the same one chunk after chunk)


@lru_cache(maxsize=8)
def _day_minutes(first: int, last: int) -> np.ndarray:
    """The text of every minute of days ``first`` to ``last`` (days since 1970): ``2026-11-01T08:15:``.
    Kept for the last few ranges asked for, so a table is the same object chunk after chunk."""
    days = text_array(np.datetime_as_string(np.arange(first, last + 1).astype("datetime64[D]"))) + b"T"
    return (days[:, None] + _HHMM[None, :]).ravel()


def timestamp(ms: np.ndarray) -> tuple:
    """ISO 8601 UTC with milliseconds and a Z for epoch ms, as pieces from tables: the day, hour and
    minute (a table of the minutes of the days spanned), then the seconds, milliseconds and Z.  A
    record takes them as pieces, which saves joining them first."""
    ms = np.asarray(ms, dtype=np.int64)
    if not len(ms):
        empty = np.zeros(0, dtype=np.int64)
        return Pick(text_array([]), empty), _seconds(empty)
    days = ms // 86_400_000
    first, last = int(days.min()), int(days.max())
    if last - first < DAY_RANGE_MAX:
        if last < first - first % DAY_ANCHOR + DAY_RANGE_MAX:
            first -= first % DAY_ANCHOR
        table = _day_minutes(first, first + DAY_RANGE_MAX - 1)
        return Pick(table, ms // 60_000 - first * 1440), _seconds(ms)
    # a spread over many days: the days that occur, and the hours and minutes apart
    uniq, inverse = np.unique(days, return_inverse=True)
    day = Pick(text_array(np.datetime_as_string(uniq.astype("datetime64[D]"))) + b"T", inverse)
    return day, Pick(_HHMM, (ms // 60_000) % 1440), _seconds(ms)


@lru_cache(maxsize=1)
def _seconds_millis_z() -> np.ndarray:
    """``SS.mmmZ`` for every millisecond of a minute (60,000 entries)."""
    return (_SECONDS[:, None] + _MILLIS[None, :]).ravel() + b"Z"


def _seconds(ms: np.ndarray) -> Pick:
    """The seconds, the milliseconds and the Z of epoch ms, as one pick (one piece of a record fewer
    than seconds and milliseconds apart; the literal text after it joins the next small table)."""
    return Pick(_seconds_millis_z(), ms % 60_000)


def joined(pieces) -> np.ndarray:
    """Pieces (Picks and literals, the first a Pick) joined into one column."""
    out = pieces[0].values()
    for p in pieces[1:]:
        out = out + (p.values() if isinstance(p, Pick) else p)
    return out


def timestamp_text(ms: np.ndarray) -> np.ndarray:
    """:func:`timestamp` joined into one column."""
    return joined(timestamp(ms))


# ---------------------------------------------------------------- layouts from the contract

def check_record(record) -> None:
    """Refuse a record description that cannot be laid out, naming the field."""
    seen = set()
    for f in record.fields:
        where = f"{record.name}.{f.name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", f.name):
            raise LayoutError(f"{where}: a field name must be snake_case ASCII")
        if f.name in seen:
            raise LayoutError(f"{where}: the field is described twice")
        seen.add(f.name)
        if f.type not in ("string", "integer", "number", "boolean", "timestamp", "date"):
            raise LayoutError(f"{where}: type {f.type!r} cannot be laid out")
        if f.type == "string" and not (f.values or f.pattern or f.text):
            raise LayoutError(f"{where}: a string field needs allowed values, a pattern, or text=True "
                              "(free text, escaped when written)")
        for v in f.values:
            if isinstance(v, str) and (f.text or any(c in v for c in ',"\\\r\n') or not v.isprintable()):
                raise LayoutError(f"{where}: the value {v!r} would need escaping; mark free text with text=True")
        if f.nullable and len(f.values) == 1:
            raise LayoutError(f"{where}: a field with one value cannot be null")


def check_columns(records) -> tuple[str, ...]:
    """The columns of a CSV of several record types: each type's fields in order, each name once;
    a name shared by two types must have the same type in both (one may allow null where the other
    does not: an empty cell)."""
    columns: dict[str, object] = {}
    for record in records:
        for f in record.fields:
            other = columns.setdefault(f.name, f)
            if other.type != f.type:
                raise LayoutError(f"{record.name}.{f.name}: a column shared with another type must have its type "
                                  f"({other.type})")
    return tuple(columns)


def layout(record, kind: str, columns: tuple[str, ...] | None = None) -> list[tuple[bool, object]]:
    """The pieces of a ``record`` in ``kind`` (json, csv, csv_type): (is_field, field) or
    (False, literal bytes).  A field with a single allowed value is written as literal text."""
    pieces: list[tuple[bool, object]] = []

    def lit(text: str) -> None:
        if pieces and not pieces[-1][0]:
            pieces[-1] = (False, pieces[-1][1] + text.encode())
        elif text:
            pieces.append((False, text.encode()))

    if kind == "json":
        lit("{")
        for i, f in enumerate(record.fields):
            lit(("," if i else "") + json.dumps(f.name) + ":")
            if len(f.values) == 1:
                lit(json.dumps(f.values[0], ensure_ascii=False))
            elif f.type in QUOTED and not f.nullable:
                lit('"'), pieces.append((True, f)), lit('"')
            else:
                pieces.append((True, f))
        lit("}")
        return pieces
    if kind not in ("csv", "csv_type"):
        raise ValueError(kind)
    by_name = {f.name: f for f in record.fields}
    for i, name in enumerate(columns if kind == "csv" else by_name):
        if i:
            lit(",")
        f = by_name.get(name)
        if f is None:
            continue  # another type's column: an empty cell
        if len(f.values) == 1:
            lit(str(f.values[0]))
        else:
            pieces.append((True, f))
    return pieces


def header(record=None, columns: tuple[str, ...] | None = None) -> str:
    """The CSV header line of one record type, or of ``columns``."""
    return ",".join(columns if columns is not None else (f.name for f in record.fields))


# ---------------------------------------------------------------- escaping

_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_.:@+-]*")
_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _escape_json(value: str) -> str:
    return _JSON(value)[1:-1]


def _escape_csv(value: str) -> str:
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def escape_column(values: list[str], kind: str) -> np.ndarray:
    """Free text as it goes into a record of ``kind``, escaped once (JSON string escapes without
    the quotes, which the layout writes; CSV quoting where a value needs it)."""
    if _PLAIN_TEXT.fullmatch("".join(values)):  # the usual ids: nothing to escape or quote
        return text_array(values)
    return text_array([(_escape_json if kind == "json" else _escape_csv)(v) for v in values])


# ---------------------------------------------------------------- joining records

MERGE_MAX = 20_000  # tables up to this size take their neighbouring literal text into their entries
PRODUCT_MAX = 128  # neighbouring picks from tables this small are joined into one table of every pair


def _products(flat: list) -> list:
    """Join runs of neighbouring picks from small tables (with the literals between) into one
    pick from the table of their combinations, by the index ``at1 * len(table2) + at2``: a little
    integer work per record instead of a piece to join (a run's product of sizes <= PRODUCT_MAX,
    so the table is made again each time, never kept)."""
    out: list = []
    run: list = []  # Picks and the bytes between them; starts with a Pick
    size = 1

    def close():
        tail = []
        while run and isinstance(run[-1], bytes):
            tail.insert(0, run.pop())
        if sum(isinstance(p, Pick) for p in run) > 1:
            table, at = run[0].table, run[0].at.astype(np.int64)
            for p in run[1:]:
                if isinstance(p, bytes):
                    table = table + p
                else:
                    table = (table[:, None] + p.table[None, :]).ravel()
                    at = at * len(p.table) + p.at
            out.append(Pick(table, at))
        else:
            out.extend(run)
        out.extend(tail)
        run.clear()

    for piece in flat:
        if isinstance(piece, Pick) and len(piece.table) <= PRODUCT_MAX:
            if run and size * len(piece.table) <= PRODUCT_MAX:
                size *= len(piece.table)
            else:
                close()
                size = len(piece.table)
            run.append(piece)
        elif isinstance(piece, bytes) and run:
            run.append(piece)
        else:
            close()
            out.append(piece)
    close()
    return out


class _Recent(OrderedDict):
    """A dict that keeps its ``size`` most recently used entries."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)
        return value


class _At:
    """Stands for a pick's index while a plan is made: a sum of the index arrays of pieces of
    ``flat`` (by their place) times multipliers, as _products combines them."""

    __slots__ = ("terms",)

    def __init__(self, terms: tuple):
        self.terms = terms

    def astype(self, dtype) -> _At:
        return self

    def __mul__(self, k: int) -> _At:
        return _At(tuple((place, m * k) for place, m in self.terms))

    def __add__(self, other) -> _At:
        return _At(self.terms + (other.terms if isinstance(other, _At) else ((other, 1),)))


class _Column:
    """Stands for a column of text (an array of ``flat``) while a plan is made."""

    __slots__ = ("place",)

    def __init__(self, place: int):
        self.place = place


def _index(flat: list, terms: tuple) -> np.ndarray:
    """A plan's index of a pick: ``terms`` (see _At) over the index arrays of ``flat``."""
    if len(terms) == 1 and terms[0][1] == 1:
        return flat[terms[0][0]].at
    at = None
    for place, m in terms:
        part = flat[place].at.astype(np.int64) * m
        at = part if at is None else at + part
    return at


def _signature(flat: list) -> tuple:
    """What a plan depends on: the literals, each pick's table (small ones by their text, as they
    may be made for each chunk; others by identity) and which picks share an index array."""
    key = []
    shared: dict[int, int] = {}
    for piece in flat:
        if isinstance(piece, bytes):
            key.append(piece)
        elif isinstance(piece, Pick):
            table = piece.table
            key.append((tuple(table.tolist()) if len(table) <= PRODUCT_MAX else id(table),
                        shared.setdefault(id(piece.at), len(shared))))
        else:
            key.append(None)
    return tuple(key)


class Columns:
    """Turns a record layout and its values into the columns that ``b"".join`` zips together.

    Neighbouring picks by the same index array (the same object) are joined into one table with
    the literal text between them, and literal text next to a small table is joined onto its
    entries; both are made once and cached per table and literal."""

    def __init__(self, kind: str):
        self.kind = kind
        self._cache = _Recent(self.CACHE_MAX)
        self._plans = _Recent(self.PLANS_MAX)  # by _signature

    def __call__(self, pieces: list, values: dict) -> list:
        flat: list = []  # bytes literals, Picks, arrays
        for is_field, item in pieces:
            if not is_field:
                flat.append(item)
                continue
            try:
                value = values[item.name]
            except KeyError:
                raise LayoutError(f"no values for the field {item.name!r}") from None
            if item.text:
                value = self._escaped(value)
            if isinstance(value, Nullable):
                value = self._nullable(item, value)
            for piece in value if isinstance(value, tuple) else (value,):
                flat.append(piece)
        key = _signature(flat)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans.put(key, self._plan(flat))
        columns = []
        for what, a, b in plan[0]:
            if what == "text":
                columns.append(repeat(a if b is None else a + flat[b].text))
            elif what == "pick":
                columns.append(a[_index(flat, b)].tolist())
            else:
                columns.append(flat[a].tolist())
        return columns

    def _plan(self, flat: list) -> tuple[list, list]:
        """How the columns of records whose pieces look like ``flat`` are made: ("text", literal,
        None or the place of a Literal that follows it), ("pick", table, index terms: see _At) or
        ("column", place in flat, None); and the
        tables the plan was made from (kept, so their ids stay theirs)."""
        markers: dict[int, _At] = {}
        symbolic = []
        for i, piece in enumerate(flat):
            if isinstance(piece, bytes):
                symbolic.append(piece)
            elif isinstance(piece, Pick):  # pieces by the same index array share a marker
                symbolic.append(Pick(piece.table, markers.setdefault(id(piece.at), _At(((i, 1),)))))
            else:
                symbolic.append(_Column(i))
        plan = []
        for piece in self._merge_literals(_products(self._fuse(symbolic))):
            if isinstance(piece, bytes):
                plan.append(("text", piece, None))
            elif isinstance(piece, list):
                pick, prefix, suffix = piece
                plan.append(("pick", self._affixed(pick.table, prefix, suffix), pick.at.terms))
            elif isinstance(piece, Pick):
                plan.append(("pick", piece.table, piece.at.terms))
            elif isinstance(flat[piece.place], Literal) and plan and plan[-1][0] == "text" and plan[-1][2] is None:
                plan[-1] = ("text", plan[-1][1], piece.place)  # the literal before, and this one
            else:
                plan.append(("column", piece.place, None))
        return plan, [p.table for p in flat if isinstance(p, Pick)]

    # entries, the least recently used dropped: tables made for a few chunks (the minutes of their days)
    # would otherwise pile up.  0.4.0's records use some 45 tables a chunk: at 40 or 50, the tables of a
    # new day pushed out ones still in use, which were made again (1M CDRs: peak RSS 204 MB at 40, 235 MB
    # at 50); at 60 none is made again, and fewer stale ones are kept than at 80 (193 against 195-202 MB).
    CACHE_MAX = 60
    PLANS_MAX = 12

    def _remember(self, key, entry: tuple) -> tuple:
        return self._cache.put(key, entry)

    def _escaped(self, value):
        """Free text escaped for the format: a table once (cached), a column each time."""
        if isinstance(value, Pick):
            key = ("escaped", id(value.table))
            hit = self._cache.get(key)
            if hit is None or hit[0] is not value.table:
                raw = [v.decode("utf-8") if isinstance(v, bytes) else v for v in value.table.tolist()]
                hit = self._remember(key, (value.table, escape_column(raw, self.kind)))
            return Pick(hit[1], value.at)
        if isinstance(value, np.ndarray):
            return escape_column([v.decode("utf-8") if isinstance(v, bytes) else v for v in value.tolist()], self.kind)
        raise LayoutError(f"free text must come as a table or a column, not {type(value).__name__}")

    def _nullable(self, f, value: Nullable):
        null = b"null" if self.kind == "json" else b""
        quote = b'"' if self.kind == "json" and f.type in QUOTED else b""
        if value.present is None:  # null where the table has None: the table once, the index as it is
            table = value.text.table
            key = ("nulls", id(table), quote, null)
            hit = self._cache.get(key)
            if hit is None or hit[0] is not table:
                text, none = table.copy(), np.equal(table, None)  # a mask (setdiff1d of indices: a sort)
                some = ~none
                if quote:
                    text[some] = quote + table[some] + quote
                text[none] = null
                hit = self._remember(key, (table, text))
            return Pick(hit[1], value.text.at)
        if isinstance(value.text, Pick):  # the table once with its quotes and a null entry: no per-record work
            table = value.text.table
            key = ("nullable", id(table), quote, null)
            hit = self._cache.get(key)
            if hit is None or hit[0] is not table:
                hit = self._remember(key, (table, np.append(quote + table + quote if quote else table,
                                                           np.array([null], dtype=object))))
            return Pick(hit[1], np.where(value.present, value.text.at, len(table)))
        if isinstance(value.text, tuple):
            return self._nullable_pieces(value.text, value.present, quote, null)
        present = np.flatnonzero(value.present)
        out = np.full(len(value.present), null, dtype=object)
        out[present] = quote + value.text[present] + quote if quote else value.text[present]
        return out

    def _nullable_pieces(self, pieces: tuple, present: np.ndarray, quote: bytes, null: bytes) -> tuple:
        """A nullable field of several pieces (Picks and literal text) as Picks whose tables have one
        more entry, taken where the field is null: ``null`` in the first table, nothing in the
        others.  The quotes and the literals go onto the tables' entries (once, kept for big tables),
        so no text is joined per record."""
        picks: list = []  # [Pick, prefix, suffix]
        pending = quote  # literal text before the next pick
        for piece in pieces:
            if isinstance(piece, bytes):
                pending += piece
            else:
                picks.append([piece, pending, b""])
                pending = b""
        picks[-1][2] = pending + quote
        out = []
        for k, (pick, prefix, suffix) in enumerate(picks):
            table = self._with_entry(pick.table, prefix, suffix, null if k == 0 else b"")
            out.append(Pick(table, np.where(present, pick.at, len(pick.table))))
        return tuple(out)

    def _with_entry(self, table: np.ndarray, prefix: bytes, suffix: bytes, extra: bytes) -> np.ndarray:
        """``prefix + table + suffix`` and one more entry, ``extra``."""
        key = ("with entry", id(table), prefix, suffix, extra)
        hit = None if len(table) <= 64 else self._cache.get(key)  # small ones: cheaper to make again
        if hit is None or hit[0] is not table:
            text = prefix + table + suffix if prefix or suffix else table
            hit = (table, np.append(text, np.array([extra], dtype=object)))
            if len(table) > 64:
                self._remember(key, hit)  # the table is kept with it, so its id stays its own
        return hit[1]

    def _fuse(self, flat: list) -> list:
        """Join runs of picks by the same index array (with the literals between) into one pick."""
        out: list = []
        run: list = []  # pieces of the current run: Picks sharing ``at``, and bytes between them

        def close():
            tail = []
            while run and isinstance(run[-1], bytes):
                tail.insert(0, run.pop())
            picks = [p for p in run if isinstance(p, Pick)]
            if len(picks) > 1:
                out.append(Pick(self._joined(run), picks[0].at))
            else:
                out.extend(run)
            out.extend(tail)
            run.clear()

        for piece in flat:
            if isinstance(piece, bytes):
                if run:
                    run.append(piece)
                elif out and isinstance(out[-1], bytes):
                    out[-1] += piece
                else:
                    out.append(piece)
            elif isinstance(piece, Pick) and run and piece.at is run[0].at:  # a run starts with a Pick
                run.append(piece)
            else:
                if run:
                    close()
                if isinstance(piece, Pick):
                    run.append(piece)
                else:
                    out.append(piece)
        if run:
            close()
        merged: list = []
        for piece in out:  # literals that met after a run closed
            if isinstance(piece, bytes) and merged and isinstance(merged[-1], bytes):
                merged[-1] += piece
            else:
                merged.append(piece)
        return merged

    def _joined(self, run: list) -> np.ndarray:
        key = ("join",) + tuple(p if isinstance(p, bytes) else id(p.table) for p in run)
        hit = self._cache.get(key)
        tables = [p.table for p in run if isinstance(p, Pick)]
        if hit is None or any(a is not b for a, b in zip(hit[0], tables)):
            size = min(len(t) for t in tables)
            joined = None
            for p in run:
                part = p if isinstance(p, bytes) else p.table[:size]
                joined = part if joined is None else joined + part
            hit = self._remember(key, (tables, joined))  # the tables are kept with it, so their ids stay theirs
        return hit[1]

    @staticmethod
    def _merge_literals(flat: list) -> list:
        out: list = []  # bytes, [Pick, prefix, suffix] for small tables, Picks, arrays
        for piece in flat:
            if isinstance(piece, bytes):
                last = out[-1] if out else None
                if isinstance(last, list) and not last[2]:
                    last[2] = piece  # the suffix of the table before
                elif isinstance(last, bytes):
                    out[-1] = last + piece
                else:
                    out.append(piece)
            elif isinstance(piece, Pick) and len(piece.table) <= MERGE_MAX:
                prefix = out.pop() if out and isinstance(out[-1], bytes) else b""
                out.append([piece, prefix, b""])
            else:
                out.append(piece)
        return out

    def _affixed(self, table: np.ndarray, prefix: bytes, suffix: bytes) -> np.ndarray:
        if not prefix and not suffix:
            return table
        if len(table) <= 64:  # cheaper to make again than to keep
            return prefix + table + suffix
        key = (id(table), prefix, suffix)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not table:  # the table is kept with it, so its id stays its own
            hit = self._remember(key, (table, prefix + table + suffix))
        return hit[1]
