"""Writing records: atomic files (temporary file, then rename), stdout, formats, progress."""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from contextlib import contextmanager

from .errors import RunError, UserError

FORMATS = ("json", "jsonl", "csv")


def format_from_path(path: str, given: str | None, allowed=FORMATS) -> str:
    """The format a flag names, or the one the file name implies (JSON array by default)."""
    if given:
        return given
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext == "ndjson":
        ext = "jsonl"
    return ext if ext in allowed else "json"


class AtomicFile:
    """A binary file that appears at ``path`` only once it is complete.

    Data goes to a temporary file beside the target; ``commit()`` renames it into place,
    ``abort()`` removes it.  ``path`` of ``-`` writes to stdout instead.
    """

    def __init__(self, path: str, what: str = "output"):
        self.path = path
        self.what = what
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
def atomic_outputs(paths: list[str], what: str = "output"):
    """Open several AtomicFiles; commit all if the block ends normally, else remove them all."""
    files = []
    try:
        for p in paths:
            files.append(AtomicFile(p, what))
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

    A chunk arrives as its records joined by ``separator(fmt)``, already encoded.
    """

    def __init__(self, fmt: str, header: str | None = None):
        self.fmt = fmt
        self.header = header
        self.count = 0

    @staticmethod
    def separator(fmt: str) -> str:
        return ",\n" if fmt == "json" else "\n"

    def frame(self, joined, n: int) -> list:
        """The pieces to write for a chunk: what goes before it, the chunk itself, and what goes
        after it; nothing is copied."""
        if not n:
            return []
        if self.fmt == "json":
            pieces = [b",\n" if self.count else b"[\n", joined]
        else:
            pieces = [joined, b"\n"]
            if self.fmt == "csv" and not self.count:
                pieces.insert(0, self.header.encode() + b"\n")
        self.count += n
        return pieces

    def close(self) -> bytes:
        if self.fmt == "json":
            return b"\n]\n" if self.count else b"[]\n"
        if self.fmt == "csv" and not self.count:
            return (self.header + "\n").encode()
        return b""


class Progress:
    """A progress line on stderr, redrawn at most a few times a second, only on a terminal."""

    def __init__(self, total: int, what: str, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.what = total, what
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = self.last = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.25:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        pct = f" ({100 * done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"\r{done:,}/{self.total:,} {self.what}{pct}, {rate:,.0f}/s   ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 70 + "\r")
            self.stream.flush()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start


def write_users(out, records, fmt: str, progress: Progress | None = None, batch: int = 5000) -> int:
    """Write user records to ``out`` as a JSON array or JSON Lines; return how many."""
    from .users import user_json as dumps

    framer = RecordFramer(fmt)
    sep = framer.separator(fmt)
    buf: list[str] = []
    total = 0
    for rec in records:
        buf.append(dumps(rec))
        if len(buf) >= batch:
            for piece in framer.frame(sep.join(buf).encode("utf-8"), len(buf)):
                out.write(piece)
            total += len(buf)
            buf.clear()
            if progress:
                progress.update(total)
    for piece in framer.frame(sep.join(buf).encode("utf-8"), len(buf)):
        out.write(piece)
    total += len(buf)
    out.write(framer.close())
    return total


class BackgroundWriter:
    """Writes (file, bytes) pairs on a thread, so disk time overlaps the building of records.

    The queue is short (memory stays flat); an error on the thread is raised on the next call.
    """

    def __init__(self, depth: int = 4):
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
                    item[0].write(item[1])
                except BaseException as e:  # reported to the producer side
                    self._error = e

    def write(self, out, data) -> None:
        """Queue bytes, or a list of them, for ``out``."""
        if self._error is not None:
            raise self._error
        for piece in (data if isinstance(data, list) else [data]):
            if piece:
                self._q.put((out, piece))

    def close(self) -> None:
        """Wait until everything is written; raise what went wrong, if anything."""
        self._q.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
