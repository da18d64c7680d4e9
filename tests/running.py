"""Running the scripts, the one way the tests do: as a subprocess (run_script, run_many,
start_script) or in-process through ``main(argv)`` (call_main), each giving a Result; and the one
assertion of a clean error (assert_clean_error).

Neither inherits the caller's KAFKA_* variables (the scripts read them): a test gives them on
purpose, with ``env``.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The variables the scripts read: never inherited by a script under test, only given on purpose.
SCRIPT_ENV_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD")


@dataclass
class Result:
    """How a run of a script ended: exit code, what it wrote, how long it took."""

    script: str                 # the script's file name, as its error lines start with it
    argv: list                  # its arguments
    returncode: int | None      # None if main() did not return (see ``escaped``)
    stdout: str
    stderr: str
    seconds: float = 0.0
    escaped: str | None = None  # in-process only: the traceback of an exception that got out of main()
    stdout_bytes: bytes = b""  # subprocess only: stdout as written (compressed output is not text)

    @property
    def stderr_lines(self) -> list[str]:
        """The non-blank lines a terminal would show (str.splitlines would also break at \\x1c-\\x1e,
        \\x85 and \\u2028, which a terminal prints as they are)."""
        return [line for line in re.split(r"\r\n|\n|\r", self.stderr) if line.strip()]

    def describe(self) -> str:
        return (f"$ {self.script} {' '.join(map(str, self.argv))}\nexit {self.returncode} after {self.seconds:.1f} s\n"
                + (f"--- escaped:\n{self.escaped}\n" if self.escaped else "")
                + f"--- stderr:\n{self.stderr[-4000:]}\n--- stdout (start):\n{self.stdout[:1500]}")


def script_env(extra: dict | None = None) -> dict[str, str]:
    """This process's environment without the KAFKA_* variables the scripts read, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_ENV_VARS}
    env.update(extra or {})
    return env


def run_script(script: str, *args, env: dict | None = None, cwd=ROOT, timeout: float = 300) -> Result:
    """``python <script> args`` (the script of the repo root, run in ``cwd``), with this process's
    environment minus the scripts' KAFKA_* variables, plus ``env``."""
    argv = [str(a) for a in args]
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / script), *argv], cwd=cwd, capture_output=True,
                          timeout=timeout, env=script_env(env))
    return Result(Path(script).name, argv, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                  proc.stderr.decode("utf-8", "replace"), time.monotonic() - t0, stdout_bytes=proc.stdout)


def run_many(jobs: dict, parallel: int = 4) -> dict:
    """Run several ``(script, args, kwargs)`` jobs at once; Results by key.  The scripts spend most
    of their start-up waiting, so running a batch side by side saves most of the wall time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(parallel) as pool:
        futures = {k: pool.submit(run_script, script, *args, **kw) for k, (script, args, kw) in jobs.items()}
        return {k: f.result() for k, f in futures.items()}


def start_script(script: str, *args, env: dict | None = None) -> subprocess.Popen:
    """Start ``python <script> args`` in the background, SIGINT/SIGTERM at their defaults (as from a
    terminal), stdout discarded, stderr captured as text."""
    def defaults():
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)], cwd=ROOT, env=script_env(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=defaults)


# ---------------------------------------------------------------- in-process

@contextmanager
def _script_environment(extra: dict | None):
    """os.environ without the scripts' KAFKA_* variables, plus ``extra``, for the body only."""
    saved = {k: os.environ.get(k) for k in {*SCRIPT_ENV_VARS, *(extra or {})}}
    for k in SCRIPT_ENV_VARS:
        os.environ.pop(k, None)
    os.environ.update(extra or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _stream(errors="strict") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def call_main(script: str, argv, env: dict | None = None) -> Result:
    """``<script>.main(argv)`` in this process, stdout a strict UTF-8 stream (as a real pipe is) and
    stderr captured, with the environment as run_script gives it; nothing may escape main()."""
    module = importlib.import_module(Path(script).stem)
    argv = [str(a) for a in argv]
    out, err = _stream(), _stream("backslashreplace")
    rc, escaped = None, None
    t0 = time.monotonic()
    with _script_environment(env):
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            rc = module.main(argv)
        except BaseException:  # noqa: BLE001
            escaped = traceback.format_exc()
        finally:
            sys.stdout, sys.stderr = saved
    return Result(Path(script).name, argv, rc, out.buffer.getvalue().decode("utf-8", "replace"),
                  err.buffer.getvalue().decode("utf-8", "replace"), time.monotonic() - t0, escaped)


# ---------------------------------------------------------------- the one clean-error assertion

def assert_clean_error(res: Result, code: int, *must_contain: str, secrets=()) -> str:
    """The run failed as an expected error should: exit ``code``, nothing escaped main(), no
    traceback anywhere, stderr exactly one ``<prog>: error: ...`` line holding every
    ``must_contain`` (case-insensitive), and no secret anywhere in the output.  Returns the line."""
    info = res.describe()
    assert res.escaped is None, f"an exception escaped main():\n{info}"
    assert res.returncode == code, info
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, info
    lines = res.stderr_lines
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{info}"
    assert lines[0].startswith(f"{res.script}: error: "), info
    for text in must_contain:
        assert text.lower() in lines[0].lower(), f"{text!r} not in the error line:\n{info}"
    for s in secrets:
        assert s not in res.stdout and s not in res.stderr, f"a secret leaked into the output:\n{info}"
    return lines[0]


# ---------------------------------------------------------------- a running script's stderr, live

_STATS = re.compile(r"^kafka_producer\.py: (\d+)s sent ([\d,]+) delivered ([\d,]+) failed ([\d,]+) in flight ([\d,]+) "
                    r"rate [\d,]+/s(?:, BROKER DOWN for (\d+) s)?")


def _num(text: str) -> int:
    return int(text.replace(",", ""))


@dataclass
class Stat:
    t: float  # monotonic time the line was read
    sent: int
    delivered: int
    failed: int
    in_flight: int
    down_s: int | None  # "BROKER DOWN for N s", if shown


class LiveStderr:
    """Reads a running script's stderr on a thread, keeping each line with the time it came."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in list(self.lines))

    def stats(self, since: float = 0.0) -> list[Stat]:
        out = []
        for t, line in list(self.lines):
            m = _STATS.match(line)
            if m and t >= since:
                out.append(Stat(t, _num(m[2]), _num(m[3]), _num(m[4]), _num(m[5]),
                                int(m[6]) if m[6] is not None else None))
        return out

    def describe(self, tail: int = 4000) -> str:
        return f"--- stderr so far (exit {self.proc.poll()}):\n{self.text[-tail:]}"

    def wait_for(self, cond, timeout: float, what: str, must_live: bool = True):
        """Poll ``cond()`` until it is truthy (its value is returned); fail after ``timeout`` or if the
        process ends first (when ``must_live``)."""
        deadline = time.monotonic() + timeout
        while True:
            value = cond()
            if value:
                return value
            if must_live and self.proc.poll() is not None:
                time.sleep(0.3)  # let the reader take the last lines
                pytest.fail(f"the producer ended (exit {self.proc.returncode}) while waiting for {what}\n"
                            f"{self.describe()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout:g} s\n{self.describe()}")
            time.sleep(0.1)

    def finish(self, timeout: float) -> int:
        """Wait for the exit (kill and fail after ``timeout``); the exit code."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._thread.join(5)
            pytest.fail(f"the producer was still running {timeout:g} s later; killed\n{self.describe()}")
        self._thread.join(10)
        return rc


def kill_if_running(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
