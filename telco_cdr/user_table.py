"""The users a run makes CDRs for, a column at a time.

``UserTable`` holds what the CDR builders need of each user as numpy arrays, with no Python object
per user: a base of 10,000,000 users loads in seconds and about a gigabyte.  ``load_users`` reads a
users file into one through pyarrow's columnar readers, a block at a time: JSON (an array of one user
a line, as user_generator.py writes it, or JSON Lines; plain, gzip or zstd) and Parquet.  A file the
columnar reader cannot take, or cannot prove to be what the careful reader accepts, is read the careful
way (telco_cdr.users.read_users: every record as a dict, one-line errors that name the user and the
field), so both readers accept exactly the same files and give the same table.  Without pyarrow every
file is read the careful way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .identifiers import CITIES, COUNTRY_TIME_ZONE
from .timezones import zone_exists
from .users import PLANS

TEXT = np.dtypes.StringDType()  # variable-length text: 16 bytes a value up to 15 bytes long, no object each
# The fields a UserTable is made of (the others of a users file are not read).
FIELDS = ("user_id", "msisdn", "imsi", "imei", "mcc", "mnc", "status", "plan_type", "plan_id", "segment",
          "device_5g", "device_4g", "device_volte", "time_zone", "country", "home_city", "home_cell_id", "home_tac")
_CITY_ZONES = {(c.country, c.name): c.zone for c in CITIES}
_PLAN_INDEX = {p.plan_id: i for i, p in enumerate(PLANS)}


@dataclass
class UserTable:
    """Validated users, a column each (row i is the file's user i)."""

    user_id: np.ndarray  # TEXT
    msisdn: np.ndarray  # int64
    imsi: np.ndarray  # TEXT, 15 digits
    imei: np.ndarray  # TEXT, 15 digits
    plmn_keys: list  # the distinct "MCC-MNC" of the users, sorted
    plmn_code: np.ndarray  # int32 index into plmn_keys
    active: np.ndarray  # bool
    prepaid: np.ndarray  # bool
    business: np.ndarray  # bool: segment == "business"
    unlimited: np.ndarray  # bool: "UNL" in the plan_id
    plan_code: np.ndarray  # int8: the plan_id's place in users.PLANS (its allowances), -1 for another plan
    device_5g: np.ndarray  # bool: device_5g is true
    device_4g: np.ndarray  # int8: 1 true, 0 false, -1 not a boolean (the TAC decides: traffic.build_population)
    device_volte: np.ndarray  # int8, as device_4g
    zones: list  # the distinct IANA zones the users live in, sorted
    zone_code: np.ndarray  # int32 index into zones
    cities: list  # the distinct home_city texts, sorted ("" for none)
    city_code: np.ndarray  # int32 index into cities
    eci: np.ndarray  # int32, the home cell's ECI (the last 7 hex digits of home_cell_id: 28 bits)
    home_tac: np.ndarray  # int32 (0-65535)

    @property
    def n(self) -> int:
        return len(self.msisdn)

    def __len__(self) -> int:
        return self.n

    @classmethod
    def from_records(cls, users: Sequence[dict]) -> UserTable:
        """The table of validated user records (telco_cdr.users.read_users, generate_users)."""

        def codes(values: list[str]) -> tuple[list, np.ndarray]:
            keys, code = np.unique(np.array(values, dtype=str), return_inverse=True) if values else ([], [])
            return [str(k) for k in keys], np.asarray(code, dtype=np.int32)

        def flag(field: str) -> np.ndarray:
            return np.array([int(v) if isinstance(v := u.get(field), bool) else -1 for u in users], dtype=np.int8)

        plmn_keys, plmn_code = codes([u["mcc"] + "-" + u["mnc"] for u in users])
        zones, zone_code = codes([time_zone_of(u) for u in users])
        cities, city_code = codes([str(u.get("home_city", "")) for u in users])
        return cls(
            user_id=np.array([u["user_id"] for u in users], dtype=TEXT),
            msisdn=np.array([int(u["msisdn"]) for u in users], dtype=np.int64),
            imsi=np.array([u["imsi"] for u in users], dtype=TEXT),
            imei=np.array([u["imei"] for u in users], dtype=TEXT),
            plmn_keys=plmn_keys, plmn_code=plmn_code,
            active=np.array([u["status"] == "active" for u in users], dtype=bool),
            prepaid=np.array([u["plan_type"] == "prepaid" for u in users], dtype=bool),
            business=np.array([u.get("segment") == "business" for u in users], dtype=bool),
            unlimited=np.array(["UNL" in str(u.get("plan_id", "")) for u in users], dtype=bool),
            plan_code=np.array([_PLAN_INDEX.get(u.get("plan_id"), -1) if isinstance(u.get("plan_id"), str) else -1
                                for u in users], dtype=np.int8),
            device_5g=np.array([u.get("device_5g") is True for u in users], dtype=bool),
            device_4g=flag("device_4g"), device_volte=flag("device_volte"),
            zones=zones, zone_code=zone_code, cities=cities, city_code=city_code,
            eci=np.array([int(u["home_cell_id"][-7:], 16) for u in users], dtype=np.int32),
            home_tac=np.array([u["home_tac"] for u in users], dtype=np.int32),
        )


def time_zone_of(user: dict) -> str:
    """A user's IANA time zone: its ``time_zone``, else its home city's, else its country's."""
    return _zone(user.get("time_zone"), user.get("country"), user.get("home_city"))


def _zone(zone, country, city) -> str:
    if zone:
        return zone
    return _CITY_ZONES.get((country, city)) or COUNTRY_TIME_ZONE.get(country, "UTC")


def as_table(users) -> UserTable:
    """``users`` as a UserTable: a table as it is, records (dicts) made one."""
    return users if isinstance(users, UserTable) else UserTable.from_records(users)


# ---------------------------------------------------------------- reading a file a column at a time

BLOCK = 4 << 20  # bytes of a users file read (and parsed by Arrow) at a time


# Files from this size up are read a column at a time; smaller ones (under some 50,000 users) the
# careful way, which takes well under a second and spares the run pyarrow's import (0.2 s, 40 MB).
COLUMNAR_FROM = 32 << 20


def load_users(path: str, progress=None) -> UserTable:
    """The users of file ``path`` as a table; UserError (one line) on any fault, as read_users."""
    from .users import read_users

    try:
        table = _columnar(path, progress) if _size(path) >= COLUMNAR_FROM else None
    except _NotHere:
        table = None
    if table is None:
        return UserTable.from_records(read_users(path, progress))
    release_memory()
    return table


def release_memory() -> None:
    """Give the memory freed so far back to the system (Arrow's pool and, on glibc, the C heap, which
    keep freed blocks for reuse): after reading a large users file, and after modelling its users, the
    process then holds what the run needs, not the peak of the step before."""
    import ctypes

    pa = sys.modules.get("pyarrow")  # (not imported for that: a run that did not use it has nothing in its pool)
    if pa is not None:
        pa.default_memory_pool().release_unused()
    try:  # the C library's symbols as the process has them (find_library would start ldconfig)
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its allocator keeps what it keeps
        pass


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # read_users says why


class _NotHere(Exception):
    """The columnar reader leaves this file to the careful one."""


def _columnar(path: str, progress) -> UserTable | None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as fh:
        head = fh.read(4)
    from .parquet import MAGIC as PARQUET_MAGIC
    from .users import GZIP_MAGIC, ZSTD_MAGIC

    if head == PARQUET_MAGIC:
        batches = _parquet_batches(path, progress)
    else:
        compression = "gzip" if head[:2] == GZIP_MAGIC else "zstd" if head == ZSTD_MAGIC else None
        if compression == "zstd":
            try:
                import zstandard  # noqa: F401
            except ImportError:
                return None
        batches = _json_batches(path, compression, progress)
    try:
        return _table(batches, progress)
    except _NotHere:
        return None


def _parquet_batches(path: str, progress) -> Iterator:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path)
        names = set(f.schema_arrow.names)
        want = [name for name in FIELDS if name in names]
        rows, size = max(f.metadata.num_rows, 1), os.path.getsize(path)
        done = 0
        for batch in f.iter_batches(batch_size=1 << 16, columns=want):
            yield batch
            done += batch.num_rows
            if progress:
                progress.reading(size * done // rows, size)
    except (pa.ArrowException, OSError):
        raise _NotHere from None


class _Lines:
    """A users file of JSON as JSON Lines for Arrow's reader, a block at a time: an array of one
    user a line (``[``, ``{...},`` lines, ``{...}``, ``]``) loses its brackets and commas.  It
    counts the lines it passes on, and gives up (``failed``) on any text where Arrow's reading and
    Python's json could differ: bytes that are not UTF-8, a \\u escape, a line break Python's
    ``str.splitlines`` knows but JSON Lines does not, a blank or indented line, an array or object
    inside a user, an array that is not one user a line."""

    # Bytes that make the careful reader's view of the lines another than Arrow's (str.splitlines breaks
    # lines there): looked for one byte at a time (memchr), then the sequence.
    _ODD_BYTES = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
    _ODD_UTF8 = ((b"\xc2", b"\xc2\x85"), (b"\xe2", b"\xe2\x80\xa8"), (b"\xe2", b"\xe2\x80\xa9"))

    def __init__(self, raw, size: int, progress):
        self.raw, self.size, self.progress = raw, size, progress
        self.carry = b""
        self.first = True
        self.array = False
        self.lines = 0  # lines passed on, each one object
        self.separators = 0  # "},\n" of an array
        self.failed = False
        self.closed = False
        self.pending: bytes | memoryview = b""
        self.ended = False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of JSON Lines (all that is left for -1); b"" at the end."""
        while not self.pending and not self.ended:
            self.pending = self._next()
        if n < 0 or n >= len(self.pending):
            out, self.pending = self.pending, b""
        else:
            out, self.pending = self.pending[:n], self.pending[n:]
        return bytes(out)

    def _next(self) -> bytes:
        block = self.raw.read(BLOCK)
        if self.progress:
            self.progress.reading(min(self._at(), self.size), self.size)
        text = self.carry + block
        if block:  # whole lines up to the last object's: the lines after it are read with the end
            last = text.rfind(b"}")
            cut = text.find(b"\n", last) + 1 if last >= 0 else 0
            text, self.carry = text[:cut], text[cut:]
            if not text:
                return b""
        else:
            self.carry = b""
            self.ended = True
        return memoryview(self._lines(text, last=not block))

    def _at(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def _lines(self, text: bytes, last: bool) -> bytes:
        if self.failed:
            return b""
        if self.first:
            self.first = False
            stripped = text.lstrip(b" \t\r\n")
            while stripped.startswith(b"\xef\xbb\xbf"):  # byte order marks and white space, as read_users strips
                stripped = stripped[3:].lstrip(b" \t\r\n")
            if stripped.startswith(b"["):
                self.array = True
                stripped = stripped[1:]
                if not stripped.startswith(b"\n"):
                    return self._fail()
                stripped = stripped[1:]
            text = stripped
        if last:
            text = text.rstrip(b" \t\r\n")
            if self.array:
                if not text.endswith(b"]"):
                    return self._fail()
                text = text[:-1].rstrip(b"\r\n")
            if text:
                text += b"\n"
        if not text:
            return b""
        if not text.isascii():
            try:
                text.decode("utf-8")
            except UnicodeDecodeError:
                return self._fail()
            if any(lead in text and odd in text for lead, odd in self._ODD_UTF8):
                return self._fail()
        if any(odd in text for odd in self._ODD_BYTES) or (b"\\" in text and b"\\u" in text):
            return self._fail()
        buf = bytearray(text)
        a = np.frombuffer(buf, dtype=np.uint8)
        nl = np.flatnonzero(a == 10)  # every line ends with one (the last was given one above)
        cr = b"\r" in text
        end = nl - (a[nl - 1] == 13) if cr else nl  # where each line's break starts
        if cr and np.count_nonzero(a == 13) != len(nl) - np.count_nonzero(end == nl):
            return self._fail()  # a carriage return that does not end a line
        # Every line one object: it starts with "{" and ends with "}" (or, in an array, "},").
        if a[0] != 123 or np.any(a[nl[:-1] + 1] != 123) or np.any(end < 2):
            return self._fail()
        if b"[" in text or text.count(b"{") != len(nl):  # no value nested in another (json's depth limit)
            return self._fail()
        if self.array:
            comma = a[end - 1] == 44
            if np.any(a[end - 1 - comma] != 125):
                return self._fail()
            self.separators += int(np.count_nonzero(comma))
            a[end[comma] - 1] = 32  # the comma becomes a space: JSON Lines
        elif np.any(a[end - 1] != 125):
            return self._fail()
        self.lines += len(nl)
        return buf

    def _fail(self) -> bytes:
        self.failed = self.ended = True
        return b""

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _json_batches(path: str, compression: str | None, progress) -> Iterator:
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema([(name, pa.int64() if name == "home_tac" else pa.bool_() if name.startswith("device_")
                         else pa.string()) for name in FIELDS])
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        raw = fh
        if compression == "gzip":
            import gzip

            raw = gzip.GzipFile(fileobj=fh)
        elif compression == "zstd":
            import zstandard

            raw = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
        lines = _Lines(_Tell(raw, fh), size, progress)
        try:
            reader = pj.open_json(lines, read_options=pj.ReadOptions(block_size=BLOCK, use_threads=True),
                                  parse_options=pj.ParseOptions(explicit_schema=schema,
                                                                unexpected_field_behavior="ignore"))
            rows = 0
            for batch in reader:
                if lines.failed:
                    raise _NotHere
                rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError, EOFError, ValueError):
            raise _NotHere from None
        except Exception as e:  # zstd's and gzip's own errors: the careful reader names them
            if type(e).__module__.startswith(("zstandard", "zlib", "gzip")):
                raise _NotHere from None
            raise
        if lines.failed or rows != lines.lines or (lines.array and rows != lines.separators + 1):
            raise _NotHere


class _Tell:
    """A decompressing stream that tells how far into the compressed file it has read."""

    def __init__(self, stream, fh):
        self.stream, self.fh = stream, fh

    def read(self, n: int) -> bytes:
        return self.stream.read(n)

    def tell(self) -> int:
        return self.fh.tell()


def _table(batches: Iterator, progress) -> UserTable:
    """The table of Arrow record batches of users, checked as read_users checks records (any fault:
    _NotHere, and the careful reader says what it is)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts: dict[str, list] = {name: [] for name in ("user_id", "msisdn", "imsi", "imei", "plmn", "active", "prepaid",
                                                    "business", "unlimited", "plan", "device_5g", "device_4g",
                                                    "device_volte", "zone", "city", "eci", "home_tac")}
    ids, imsis = [], []  # Arrow arrays, for the check that they are unique
    for batch in batches:
        if not batch.num_rows:
            continue
        col = {name: batch.column(name) if name in batch.schema.names else None for name in FIELDS}
        for name in ("user_id", "msisdn", "imsi", "imei", "mcc", "mnc", "status", "plan_type", "home_cell_id",
                     "home_tac"):
            c = col[name]
            if c is None or c.null_count or not (pa.types.is_string(c.type) or (name == "home_tac"
                                                                                  and pa.types.is_int64(c.type))):
                raise _NotHere
        if not (_digits(col["msisdn"], 8, 15, lead=True) and _digits(col["imsi"], 15, 15)
                and _digits(col["imei"], 15, 15) and _digits(col["mcc"], 3, 3) and _digits(col["mnc"], 2, 3)
                and _cell_ids(col["home_cell_id"])):
            raise _NotHere
        uid = col["user_id"]
        if not _printable_ascii(uid, 64):  # free text beyond printable ASCII: Python's own rules
            if not all(0 < len(v) <= 64 and v.isprintable() for v in uid.to_pylist()):
                raise _NotHere
        if not pc.all(pc.is_in(col["status"], pa.array(["active", "suspended"]))).as_py() or \
                not pc.all(pc.is_in(col["plan_type"], pa.array(["prepaid", "postpaid"]))).as_py():
            raise _NotHere
        tac = col["home_tac"]
        if pc.min(tac).as_py() < 0 or pc.max(tac).as_py() > 0xFFFF:
            raise _NotHere
        imsi = _fixed(col["imsi"], 15)  # (rows, 15) digits
        mcc, (mnc_data, mnc_at) = _fixed(col["mcc"], 3), _text(col["mnc"])
        mnc_len = np.diff(mnc_at)
        three = mnc_len == 3
        mnc = np.full((len(mnc_len), 3), 48, dtype=np.uint8)  # "0" after a 2-digit MNC
        mnc[:, :2] = mnc_data[mnc_at[:-1, None] + np.arange(2)]
        mnc[three, 2] = mnc_data[mnc_at[:-1][three] + 2]
        if not ((imsi[:, :3] == mcc).all() and (imsi[:, 3:5] == mnc[:, :2]).all()
                and (imsi[three, 5] == mnc[three, 2]).all()):  # the IMSI starts with its MCC+MNC
            raise _NotHere
        for name in ("plan_id", "segment", "time_zone", "country", "home_city"):
            c = col[name]
            if c is not None and not pa.types.is_string(c.type) and not pa.types.is_null(c.type):
                raise _NotHere
        for name in ("device_5g", "device_4g", "device_volte"):
            c = col[name]
            if c is not None and not pa.types.is_boolean(c.type) and not pa.types.is_null(c.type):
                raise _NotHere
        city = col["home_city"]
        if city is not None and city.null_count:  # null and missing differ there (read_users: str(None))
            raise _NotHere

        n = batch.num_rows
        parts["user_id"].append(np.array(uid.to_pylist(), dtype=TEXT))
        parts["msisdn"].append(pc.cast(col["msisdn"], pa.int64()).to_numpy())
        parts["imsi"].append(imsi.view("S15").ravel().astype(TEXT))
        parts["imei"].append(_fixed(col["imei"], 15).view("S15").ravel().astype(TEXT))
        ids.append(_hashes(uid))
        imsis.append(((imsi - 48).astype(np.int64) * _POWERS15).sum(axis=1))
        # MCC-MNC: a number per distinct text (the MNC's length counts: 01 is not 001)
        plmn_key = (((mcc - 48).astype(np.int64) * [100, 10, 1]).sum(axis=1) * 10_000 + mnc_len * 1000
                    + ((mnc - 48).astype(np.int64) * [100, 10, 1]).sum(axis=1) // np.where(three, 1, 10))
        keys, at = np.unique(plmn_key, return_inverse=True)
        parts["plmn"].append(([f"{k // 10_000:03d}-{k % 1000:0{k // 1000 % 10}d}" for k in keys.tolist()],
                              at.astype(np.int32)))
        parts["active"].append(pc.equal(col["status"], "active").to_numpy(zero_copy_only=False))
        parts["prepaid"].append(pc.equal(col["plan_type"], "prepaid").to_numpy(zero_copy_only=False))

        parts["business"].append(_where(col["segment"], n, lambda c: pc.equal(c, "business")))
        parts["unlimited"].append(_where(col["plan_id"], n, lambda c: pc.match_substring(c, "UNL")))
        plan = col["plan_id"]
        parts["plan"].append(np.full(n, -1, dtype=np.int8) if plan is None or pa.types.is_null(plan.type) else
                             pc.fill_null(pc.index_in(plan, value_set=pa.array([p.plan_id for p in PLANS])), -1)
                             .to_numpy(zero_copy_only=False).astype(np.int8))
        parts["device_5g"].append(_where(col["device_5g"], n, lambda c: c))
        for name in ("device_4g", "device_volte"):
            c = col[name]
            if c is None or pa.types.is_null(c.type):
                parts[name].append(np.full(n, -1, dtype=np.int8))
            else:
                parts[name].append(pc.fill_null(pc.cast(c, pa.int8()), -1).to_numpy(zero_copy_only=False))
        parts["zone"].append(_zones(col, n))
        parts["city"].append(_dictionary(city if city is not None else pa.nulls(n, pa.string()), missing=""))
        cell = col["home_cell_id"]
        hexes = pc.utf8_slice_codeunits(cell, -7, None)
        parts["eci"].append(_hex7(hexes).astype(np.int32))
        parts["home_tac"].append(tac.to_numpy().astype(np.int32))
    if not parts["msisdn"]:
        raise _NotHere
    if progress:
        progress.phase("checking the users")
    def whole(name: str) -> np.ndarray:  # a column's batches as one array, the batches let go at once
        out = np.concatenate(parts[name])
        parts[name] = None
        return out

    msisdn = whole("msisdn")
    if _repeated(msisdn).size or _repeated(np.concatenate(imsis)).size:
        raise _NotHere
    del imsis
    same_hash = _repeated(np.concatenate(ids))  # users whose user_id's hash another's has too
    del ids
    user_id = whole("user_id")
    if len(set(user_id[same_hash].tolist())) < len(same_hash):
        raise _NotHere
    zones, zone_code = _merge(parts.pop("zone"))
    if not all(zone_exists(z) for z in zones):
        raise _NotHere
    active = whole("active")
    if not active.any():
        raise _NotHere
    plmn_keys, plmn_code = _merge(parts.pop("plmn"))
    cities, city_code = _merge(parts.pop("city"))
    return UserTable(
        user_id=user_id, msisdn=msisdn, imsi=whole("imsi"), imei=whole("imei"), plmn_keys=plmn_keys,
        plmn_code=plmn_code, active=active, prepaid=whole("prepaid"), business=whole("business"),
        unlimited=whole("unlimited"), plan_code=whole("plan"), device_5g=whole("device_5g"),
        device_4g=whole("device_4g"), device_volte=whole("device_volte"), zones=zones, zone_code=zone_code,
        cities=cities, city_code=city_code,
        eci=whole("eci"), home_tac=whole("home_tac"),
    )


def _repeated(values: np.ndarray) -> np.ndarray:
    """The indexes of the values that occur more than once (a sort: no hash table of millions)."""
    order = np.argsort(values, kind="stable")
    same = values[order[1:]] == values[order[:-1]]
    out = np.zeros(len(values), dtype=bool)
    out[order[1:][same]] = True
    out[order[:-1][same]] = True
    return np.flatnonzero(out)


def _hashes(values) -> np.ndarray:
    """A 64-bit hash of each value of an Arrow string array (a polynomial of its bytes), made a
    column at a time."""
    data, offsets = _text(values)
    lengths = np.diff(offsets).astype(np.int64)
    start = np.repeat(offsets[:-1].astype(np.int64), lengths)
    at = np.arange(offsets[0], offsets[-1], dtype=np.int64)
    power = _powers(int(lengths.max(initial=0)))[at - start]
    terms = data[offsets[0]:offsets[-1]].astype(np.uint64) * power + np.uint64(1)
    return np.add.reduceat(terms, (offsets[:-1] - offsets[0]).astype(np.int64)) if len(terms) else \
        np.zeros(len(values), dtype=np.uint64)


def _powers(k: int) -> np.ndarray:
    """The first ``k`` powers of _hashes's prime, wrapping at 64 bits."""
    return np.array([pow(0x100000001B3, i, 1 << 64) for i in range(max(k, 1))], dtype=np.uint64)


def _where(column, n: int, test) -> np.ndarray:
    """``test`` of an optional column as booleans, False where it is null or missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column is None or pa.types.is_null(column.type):
        return np.zeros(n, dtype=bool)
    return pc.fill_null(test(column), False).to_numpy(zero_copy_only=False)


def _dictionary(values, missing: str | None = None) -> tuple[list, np.ndarray]:
    """A batch's text column as (its distinct values, each row's index among them); a null is
    ``missing`` (None: index -1)."""
    import pyarrow.compute as pc

    if missing is not None:
        values = pc.fill_null(values, missing)
    encoded = pc.dictionary_encode(values)
    return encoded.dictionary.to_pylist(), pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int32)


def _zones(col: dict, n: int) -> tuple[list, np.ndarray]:
    """Each row's zone (time_zone_of): the distinct (time_zone, country, home_city) of the batch
    looked up once each."""
    import pyarrow as pa

    keys = []
    for name in ("time_zone", "country", "home_city"):
        c = col[name]
        keys.append(_dictionary(c) if c is not None and not pa.types.is_null(c.type)
                    else ([], np.full(n, -1, dtype=np.int32)))
    if not all(zone_exists(z) for z in keys[0][0]):  # a time_zone given must be one (read_users)
        raise _NotHere
    sizes = [len(k[0]) + 1 for k in keys]
    combined = ((keys[0][1].astype(np.int64) + 1) * sizes[1] + keys[1][1] + 1) * sizes[2] + keys[2][1] + 1
    uniq, inverse = np.unique(combined, return_inverse=True)
    names = []
    for key in uniq.tolist():
        z, rest = divmod(key, sizes[1] * sizes[2])
        c, h = divmod(rest, sizes[2])
        value = [keys[0][0][z - 1] if z else None, keys[1][0][c - 1] if c else None, keys[2][0][h - 1] if h else None]
        names.append(_zone(*value))
    return names, inverse.astype(np.int32)


def _merge(parts: list[tuple[list, np.ndarray]]) -> tuple[list, np.ndarray]:
    """Batches' (values, indices) as one sorted list of the distinct values and each row's index
    in it (np.unique's order, as UserTable.from_records makes them)."""
    every = sorted({v for values, _ in parts for v in values})
    at = {v: i for i, v in enumerate(every)}
    out = [np.array([at[v] for v in values], dtype=np.int32)[index] if len(values) else index
           for values, index in parts]
    return every, np.concatenate(out) if out else np.zeros(0, dtype=np.int32)


_POWERS15 = 10 ** np.arange(14, -1, -1, dtype=np.int64)


def _fixed(values, width: int) -> np.ndarray:
    """An Arrow string array of values ``width`` bytes long each (checked before) as a (rows, width)
    array of bytes."""
    data, offsets = _text(values)
    return data[offsets[0]:offsets[-1]].reshape(len(values), width)


def _printable_ascii(values, longest: int) -> bool:
    """Every value 1 to ``longest`` printable ASCII characters."""
    data, offsets = _text(values)
    lengths = np.diff(offsets)
    if not len(lengths) or lengths.min() < 1 or lengths.max() > longest:
        return False
    used = data[offsets[0]:offsets[-1]]
    return bool(((used >= 0x20) & (used <= 0x7E)).all())


def _text(values) -> tuple[np.ndarray, np.ndarray]:
    """An Arrow string array's bytes and each value's (start, end) in them, with no object each."""
    data = values.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset:values.offset + len(values) + 1]
    return data, offsets


_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[48:58] = True


def _digits(values, shortest: int, longest: int, lead: bool = False) -> bool:
    """Every value ``shortest`` to ``longest`` ASCII digits (``lead``: the first not 0)."""
    data, offsets = _text(values)
    lengths = np.diff(offsets)
    if not len(lengths) or lengths.min() < shortest or lengths.max() > longest:
        return False
    if not _DIGIT[data[offsets[0]:offsets[-1]]].all():
        return False
    return not lead or bool(np.all(data[offsets[:-1]] != 48))


_HEX_DIGIT = np.zeros(256, dtype=bool)
_HEX_DIGIT[np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)] = True


def _cell_ids(values) -> bool:
    """Every value an ECGI as users files hold it: 5 or 6 digits of MCC+MNC, then 7 upper-case hex digits."""
    data, offsets = _text(values)
    lengths = np.diff(offsets)
    if not len(lengths) or lengths.min() < 12 or lengths.max() > 13:
        return False
    head = offsets[:-1, None] + np.arange(6)
    digits = _DIGIT[data[np.minimum(head, offsets[1:, None] - 8)]].all()  # the 5th digit twice for 5 of them
    return bool(digits and _HEX_DIGIT[data[offsets[1:, None] - 7 + np.arange(7)]].all())


_HEX = np.full(256, -1, dtype=np.int64)
_HEX[np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)] = np.arange(16)


def _hex7(texts) -> np.ndarray:
    """Integers of Arrow strings of 7 upper-case hex digits (checked before), with no object each."""
    data, offsets = _text(texts)
    at = offsets[:-1, None] + np.arange(7)
    digits = _HEX[data[at]]
    return (digits * (16 ** np.arange(6, -1, -1))).sum(axis=1)
