"""Writing records: atomic files (temporary file, then rename), stdout, formats, progress."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from contextlib import contextmanager

from .errors import RunError, UserError
from .text import duration, size

FORMATS = ("json", "jsonl", "csv", "parquet")
# The file name's extension of each format we write.
EXTENSIONS = {"json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "parquet": "parquet"}
# Formats whose columns are compressed inside the file (by --compression), never the file as a whole.
INNER_COMPRESSION = ("parquet",)
# Extensions of formats we do not write: a name ending so is refused, not filled with JSON.
FOREIGN_FORMATS = ("pq", "avro", "orc", "arrow", "feather", "ipc", "xlsx", "xls", "ods", "xml", "tsv",
                   "yaml", "yml", "toml", "html", "htm", "pdf", "bson", "msgpack", "pb", "proto", "sqlite", "db")
FOREIGN_COMPRESSIONS = ("bz2", "xz", "lzma", "lz4", "zip", "7z", "br", "snappy", "sz", "z", "tgz", "tar", "gzip",
                        "zstd", "zlib")


class Codec:
    """How an output is compressed.  Data is written in units (a chunk's records, the bracket
    before them, the end of the file); with compression each unit becomes one independent gzip
    member or zstd frame, and concatenated they are one valid stream that decompresses to the
    bytes of the uncompressed file.  So worker processes can compress their own chunks, and the
    bytes stay the same for any --workers.  This one, ``PLAIN``, writes the pieces as they are."""

    name = "none"
    suffix = ""

    def encode(self, pieces: list, always: bool = False) -> list:
        """The bytes to write for one unit, given as a list of pieces.  ``always``: a unit even
        when it is empty (the end of a compressed file, so that an empty one is still valid)."""
        return pieces


PLAIN = Codec()


class Gzip(Codec):
    name = "gzip"
    suffix = ".gz"
    LEVEL = 1  # zlib's fastest: about 5x smaller for CDRs at ~90 MB/s a core (level 6: 7.4x at ~40 MB/s)

    def encode(self, pieces: list, always: bool = False) -> list:
        if not always and not any(pieces):
            return []
        import zlib

        c = zlib.compressobj(self.LEVEL, zlib.DEFLATED, 31)  # 31: a gzip member (no name, mtime 0)
        out = [c.compress(p) for p in pieces]
        out.append(c.flush())
        return [b"".join(out)]


class Zstd(Codec):
    name = "zstd"
    suffix = ".zst"
    LEVEL = 1  # about 9x smaller for CDRs at ~290 MB/s a core: faster than the records are made

    def __init__(self):
        try:
            import zstandard
        except ImportError:
            raise UserError("writing .zst needs the zstandard package: pip install zstandard "
                            "(see requirements.txt), or write .gz") from None
        self._compressor = zstandard.ZstdCompressor(level=self.LEVEL)

    def encode(self, pieces: list, always: bool = False) -> list:
        if not always and not any(pieces):
            return []
        return [self._compressor.compress(b"".join(pieces))]


CODECS = {"gzip": Gzip, "zstd": Zstd}
COMPRESSION_SUFFIXES = {".gz": "gzip", ".zst": "zstd"}


def codec(name: str | None) -> Codec:
    return CODECS[name]() if name else PLAIN


def output_kind(path: str, given: str | None, allowed=FORMATS, what: str = "--output",
                compression: str | None = None) -> tuple[str, str | None]:
    """The format and the compression (None, "gzip", "zstd") of an output, from its name and the
    flags.  The name says what the file is: ``cdrs.jsonl.gz`` is gzip-compressed JSON Lines.  A
    name of a format or a compression we do not write (``.avro``, ``.bz2``) is refused; so is a
    name that tells no format (``cdrs``, ``cdrs.dat``) without ``--format``.  ``--format`` wins
    over our own extensions (``--format jsonl -o users.json``).  ``-`` (stdout) is JSON Lines
    unless ``--format`` says otherwise, compressed only with ``compression``.  Parquet compresses
    its columns inside: its name takes no ``.gz`` or ``.zst``, and ``compression`` is its codec."""
    kinds = ", ".join(allowed)
    names = ", ".join("." + e for e, f in EXTENSIONS.items() if f in allowed)
    if path == "-":
        return given or "jsonl", compression
    if os.path.isdir(path):  # AtomicFile says what is wrong with it
        return given or allowed[0], compression
    base = os.path.basename(path)
    root, ext = os.path.splitext(base.lower())
    by_name = COMPRESSION_SUFFIXES.get(ext)
    if by_name:
        root, ext = os.path.splitext(root)
    elif ext[1:] in FOREIGN_COMPRESSIONS:
        raise UserError(f"{what} {path!r}: {ext} compression is not written here; end the name in .gz or .zst "
                        f"to compress, or in {names} for none")
    ext = ext[1:]
    if ext in EXTENSIONS:
        implied = EXTENSIONS[ext]
        if not given and implied not in allowed:
            raise UserError(f"{what} {path!r} names a .{ext} file, but this writes {kinds} only ({names})")
        fmt = given or implied
    elif ext in FOREIGN_FORMATS:
        raise UserError(f"{what} {path!r} names a .{ext} file, a format not written here; this writes {kinds} "
                        f"({names}, with .gz or .zst to compress)")
    elif given:
        fmt = given
    else:
        told = f"its extension .{ext} is none of ours" if ext else "it has no extension"
        raise UserError(f"cannot tell the format of {what} {path!r} from its name ({told}): end it in {names} "
                        f"(with .gz or .zst to compress), or give --format")
    if fmt in INNER_COMPRESSION:
        if by_name:
            suffix = {v: k for k, v in COMPRESSION_SUFFIXES.items()}[by_name]
            raise UserError(f"{what} {path!r}: a {fmt} file is not compressed as a whole; drop the {suffix} "
                            f"({fmt} compresses its columns inside)")
        return fmt, compression
    if compression and compression != by_name:
        suffix = {v: k for k, v in COMPRESSION_SUFFIXES.items()}[compression]
        raise UserError(f"--compression {compression} does not match {what} {path!r}: the name says what the file "
                        f"is, so end it in {suffix} (or leave out --compression)")
    return fmt, by_name


class AtomicFile:
    """A binary file that appears at ``path`` only once it is complete.

    Data goes to a temporary file beside the target; ``commit()`` renames it into place,
    ``abort()`` removes it.  ``path`` of ``-`` writes to stdout instead.  ``write_unit`` writes
    through the file's ``codec`` (compression); ``write`` writes bytes as they are.  ``size``
    counts the bytes written (others that write to ``fh.fileno()`` add theirs).
    """

    def __init__(self, path: str, what: str = "output", codec: Codec = PLAIN):
        self.path = path
        self.what = what
        self.codec = codec
        self.size = 0
        self.tmp = None
        if not path:
            raise UserError(f"{what} path is empty")
        if path == "-":
            self.fh = sys.stdout.buffer
            return
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(path):
            raise UserError(f"{what} {path!r} is a directory; give a file name")
        if not os.path.isdir(folder):
            raise UserError(f"cannot write {what} {path!r}: folder {folder!r} does not exist")
        base = os.path.basename(path)
        remove_stale_parts(folder, base)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{base}.{_HOST}.{os.getpid()}.", suffix=".part", dir=folder)
        except OSError as e:
            raise UserError(f"cannot write {what} {path!r}: {e.strerror}") from None
        self.fh = os.fdopen(fd, "wb", buffering=1 << 20)

    def write(self, data: bytes) -> None:
        with writing(self.path, self.what):
            self.fh.write(data)
        self.size += len(data)

    def write_unit(self, pieces: list, always: bool = False) -> None:
        """One unit of data (Codec.encode), as a list of byte pieces."""
        for piece in self.codec.encode(pieces, always):
            if piece:
                self.write(piece)

    def commit(self) -> None:
        with writing(self.path, self.what):
            self.fh.flush()
            if self.tmp is None:
                return
            os.fsync(self.fh.fileno())
            self.fh.close()
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.path)
        self.tmp = None

    def abort(self) -> None:
        if self.tmp is not None:
            try:
                self.fh.close()
            except OSError:  # flushing what is buffered can fail as the write did: the file goes anyway
                pass
            finally:
                try:
                    os.unlink(self.tmp)
                except FileNotFoundError:
                    pass
                self.tmp = None


_HOST = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname()) or "host"


def remove_stale_parts(folder: str, base: str) -> None:
    """Remove the temporary files that killed runs (SIGKILL, a crash) left for ``base`` in
    ``folder``: ``.BASE.HOST.PID.*.part`` of this host whose process is gone.  Another host's files,
    and those of a live process, are left alone."""
    prefix = f".{base}.{_HOST}."
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".part")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but is someone else's
        return True
    return True


@contextmanager
def writing(path: str, what: str = "output"):
    """Turn a write that fails (a full disk, a file size limit, ...) into the one-line error;
    a reader that went away (BrokenPipeError) is left to the caller, which ends quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as e:
        where = "stdout" if path == "-" else f"{what} {path!r}"
        raise RunError(f"cannot write {where}: {e.strerror or e}") from None


@contextmanager
def atomic_outputs(paths: list[str], what: str = "output", codec_name: str | None = None, opener=None):
    """Open several AtomicFiles (``opener(k, path)``: the k-th another way, such as a
    parquet.ParquetFile); commit all if the block ends normally, else remove them all."""
    files = []
    try:
        for k, p in enumerate(paths):
            files.append(opener(k, p) if opener else AtomicFile(p, what, codec(codec_name)))
        yield files
    except BaseException:
        for f in files:
            f.abort()
        raise
    else:
        for f in files:
            f.commit()


class RecordFramer:
    """Frames chunks of records as a JSON array, JSON Lines, or CSV with a header.

    A chunk arrives as its records joined by ``separator(fmt)``, already encoded.  Parquet is
    framed as lines without a header (CSV rows of CDRs, JSON Lines of users): each unit goes to a
    parquet.ParquetFile, which makes it a row group.
    """

    def __init__(self, fmt: str, header: str | None = None):
        self.fmt = fmt
        self.header = header
        self.count = 0

    @staticmethod
    def separator(fmt: str) -> str:
        return ",\n" if fmt == "json" else "\n"

    def head(self, n: int) -> bytes:
        """What goes before a chunk of ``n`` records when ``count`` records came before it: the
        array's ``[`` or the comma, or CSV's header.  It is all that depends on the records before."""
        if not n:
            return b""
        if self.fmt == "json":
            return b",\n" if self.count else b"[\n"
        if self.fmt == "csv" and not self.count:
            return self.header.encode() + b"\n"
        return b""

    def body(self, joined, n: int) -> list:
        """A chunk of ``n`` records and what goes after it, wherever it stands."""
        if not n:
            return []
        return [joined] if self.fmt == "json" else [joined, b"\n"]

    def frame(self, joined, n: int) -> list:
        """The pieces to write for a chunk: what goes before it, the chunk itself, and what goes
        after it; nothing is copied."""
        head = self.head(n)
        pieces = ([head] if head else []) + self.body(joined, n)
        self.count += n
        return pieces

    def close(self) -> bytes:
        if self.fmt == "json":
            return b"\n]\n" if self.count else b"[]\n"
        if self.fmt == "csv" and not self.count:
            return (self.header + "\n").encode()
        return b""


class Progress:
    """What a run is doing, on one line of stderr redrawn at most a few times a second, only on a
    terminal: reading the input (bytes, rate, time left), the steps before writing, then the
    records written, bytes, rate and time left.  Its clock starts when it is made, so ``seconds``
    is the whole run, reading included."""

    def __init__(self, total: int, what: str, stream=None, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.total, self.what = total, what
        self.clock = clock
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = self.work_start = clock()
        self.last = -1e9
        self.width = 0
        self.read_seconds = 0.0  # the time before begin(): reading and preparing the input

    def _show(self, text: str, force: bool = False) -> None:
        now = self.clock()
        if not self.enabled or (not force and now - self.last < 0.25):
            return
        self.last = now
        self.stream.write("\r" + text.ljust(self.width))
        self.width = len(text)
        self.stream.flush()

    def reading(self, done: int, total: int, what: str = "users") -> None:
        """``done`` of ``total`` bytes of the input read."""
        secs = max(self.clock() - self.start, 1e-9)
        rate = done / secs
        left = f", {duration((total - done) / rate)} left" if 0 < done < total else ""
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        self._show(f"reading {what}: {size(done)} of {size(total)}{pct}, {size(rate)}/s{left}")

    def phase(self, text: str) -> None:
        """A step before the records, such as parsing the users: shown as it begins."""
        self._show(f"{text} ...", force=True)

    def begin(self) -> None:
        """The records begin: what came before counts as reading; the rate counts from here."""
        self.work_start = self.clock()
        self.read_seconds = self.work_start - self.start

    def update(self, done: int, nbytes: int | None = None) -> None:
        if not self.enabled:
            return
        secs = max(self.clock() - self.work_start, 1e-9)
        rate = done / secs
        parts = [f"{done:,}/{self.total:,} {self.what}" + (f" ({100 * done / self.total:.0f}%)" if self.total else "")]
        if nbytes is not None:
            parts.append(size(nbytes))
        parts.append(f"{rate:,.0f}/s")
        if rate > 0 and done < self.total:
            parts.append(f"{duration((self.total - done) / rate)} left")
        self._show(", ".join(parts))

    def done(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0

    @property
    def seconds(self) -> float:
        return self.clock() - self.start


def write_users(out, records, fmt: str, progress: Progress | None = None, batch: int = 5000) -> int:
    """Write user records to ``out`` as a JSON array or JSON Lines (Parquet: JSON Lines to a
    parquet.ParquetFile of kind jsonl, a row group a batch); return how many."""
    from .users import user_json as dumps

    framer = RecordFramer(fmt)
    sep = framer.separator(fmt)
    buf: list[str] = []
    total = 0
    for rec in records:
        buf.append(dumps(rec))
        if len(buf) >= batch:
            out.write_unit(framer.frame(sep.join(buf).encode("utf-8"), len(buf)))
            total += len(buf)
            buf.clear()
            if progress:
                progress.update(total, out.size)
    out.write_unit(framer.frame(sep.join(buf).encode("utf-8"), len(buf)))
    total += len(buf)
    out.write_unit([framer.close()], always=True)
    return total


class BackgroundWriter:
    """Writes units of data to AtomicFiles on a thread (``write_unit``: compressing too, where the
    file is compressed), so disk time and compression overlap the building of records.

    The queue is short (memory stays flat: two chunks wait at most, where a disk is slower than the
    building); an error on the thread is raised on the next call.
    """

    def __init__(self, depth: int = 2):
        import queue
        import threading

        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            if self._error is None:
                try:
                    item[0].write_unit(item[1], item[2])
                except BaseException as e:  # reported to the producer side
                    self._error = e

    def write(self, out, pieces: list, always: bool = False) -> None:
        """Queue one unit (a list of byte pieces) for ``out.write_unit``."""
        if self._error is not None:
            raise self._error
        if always or any(pieces):
            self._q.put((out, pieces, always))

    def close(self) -> None:
        """Wait until everything is written; raise what went wrong, if anything."""
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
