"""The SASL password never appears in any output.

Given by flag (--sasl-password), by environment (KAFKA_SASL_PASSWORD) or by --config-file, the
password must not show in stdout or stderr of: --help of every script, successful runs (stats lines
every 0.5 s and the summary) against the real broker's SASL_SSL listener, authentication failures
(a wrong password), an unreachable broker, bad-flag errors and dry runs.

Runs that talk to a broker are real subprocesses, several at a time; --help, bad flags and dry runs
are also run in-process through main(argv) (stdout/stderr captured, environment set for the call).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafka_data import create_args, precreate, summary, unique_prefix
from running import Result, call_main, run_many

SECRET = "S3cr3t-XYZ-987"   # a password the broker does not know
USER = "telco"
NOWHERE = "127.0.0.1:1"
SOURCES = ("flag", "env", "file")
KAFKA_SCRIPTS = ("kafka_producer.py", "export_users_to_kafka.py")
ALL_SCRIPTS = ("user_generator.py", "cdr_generator.py", *KAFKA_SCRIPTS)
CDR_TOPIC_NAMES = [f"telco-{t}-cdrs" for t in ("voice", "data", "sms", "voip", "ims")]
STATS_LINE = re.compile(r": \d+s sent [\d,]+ delivered [\d,]+ failed [\d,]+ in flight")


def credentials(source: str, bootstrap: str, password: str, tmp: Path, ca: str | None = None) -> tuple[list, dict]:
    """Arguments and environment that give ``password`` (with user and bootstrap) by ``source``."""
    if source == "flag":
        args = ["-b", bootstrap, "--sasl-username", USER, "--sasl-password", password]
        return args + (["--ssl-ca-location", ca] if ca else []), {}
    if source == "env":
        return (["--ssl-ca-location", ca] if ca else []), {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_SASL_USERNAME": USER, "KAFKA_SASL_PASSWORD": password}
    path = tmp / f"client-{source}-{abs(hash((bootstrap, password))) % 10**8}.properties"
    path.write_text(f"bootstrap.servers={bootstrap}\nsecurity.protocol=SASL_SSL\nsasl.mechanisms=PLAIN\n"
                    f"sasl.username={USER}\nsasl.password={password}\n" + (f"ssl.ca.location={ca}\n" if ca else ""))
    return ["--config-file", path], {}


def assert_hidden(stdout: str, stderr: str, password: str, info: str) -> None:
    """Neither the password nor, for our distinctive SECRET, a recognisable piece of it (the local
    broker's 'telco-secret' shares 'telco-' with every topic name, so only the whole is looked for)."""
    pieces = (password[:6], password[-6:]) if password == SECRET else ()
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        assert password not in text, f"the password appears on {name}:\n{info}"
        for piece in pieces:
            assert piece not in text, f"a piece of the password ({piece!r}) appears on {name}:\n{info}"


# ---------------------------------------------------------------- in-process runs

def _info(res: Result, env: dict) -> str:
    return f"(env {env})\n{res.describe()}"


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_help(tmp_path, script, source):
    args, env = credentials(source, NOWHERE, SECRET, tmp_path)
    # --help first: the file scripts have no Kafka flags, and help comes before any complaint about them
    argv = ["--help", *args] if script not in KAFKA_SCRIPTS else [*args, "--help"]
    res = call_main(script, argv, env)
    rc, out, err, escaped = res.returncode, res.stdout, res.stderr, res.escaped
    info = _info(res, env)
    assert escaped is None and rc == 0, info
    assert "usage:" in out and "--help" in out, info
    assert_hidden(out, err, SECRET, info)


BAD_FLAGS = [
    (["--rate", "abc"], "--rate"),
    (["--timeout", "0"], "--timeout"),
    (["--security-protocol", "bogus"], "--security-protocol"),
    (["--sasl-mechanism", "MD5"], "--sasl-mechanism"),
    (["--ssl-ca-location", "/nonexistent/ca.pem"], "--ssl-ca-location"),
    (["--bogus"], "--bogus"),
    (["--num-users", "0"], "--num-users"),
]


@pytest.mark.parametrize("flags,named", BAD_FLAGS, ids=[f[1] for f in BAD_FLAGS])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("script", KAFKA_SCRIPTS)
def test_bad_flag_errors(tmp_path, script, source, flags, named):
    args, env = credentials(source, NOWHERE, SECRET, tmp_path)
    argv = [*args, "--num-users", 20, "--timeout", 1, *flags]
    res = call_main(script, argv, env)
    rc, out, err, escaped = res.returncode, res.stdout, res.stderr, res.escaped
    info = _info(res, env)
    assert escaped is None and rc == 2, info
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0], info
    assert_hidden(out, err, SECRET, info)


@pytest.mark.parametrize("flags", [["--sasl-passwd", SECRET], ["--sasl_password", SECRET], ["--password", SECRET]],
                         ids=["--sasl-passwd", "--sasl_password", "--password"])
@pytest.mark.parametrize("script", KAFKA_SCRIPTS)
def test_mistyped_password_flag(script, flags):
    """A typo in the flag's name is the likeliest way a password reaches a bad-flag error: the error
    may name the unknown flag, but not echo the value after it."""
    argv = ["-b", NOWHERE, "--sasl-username", USER, *flags, "--timeout", 1]
    res = call_main(script, argv, {})
    rc, out, err, escaped = res.returncode, res.stdout, res.stderr, res.escaped
    info = _info(res, {})
    assert escaped is None and rc == 2, info
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and flags[0] in lines[0], info
    assert_hidden(out, err, SECRET, info)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("script", KAFKA_SCRIPTS)
def test_dry_run(tmp_path, script, source):
    args, env = credentials(source, NOWHERE, SECRET, tmp_path)
    argv = [*args, "--dry-run", "--num-users", 30, *(["--max-count", 30, "--rate", "max"] if script == "kafka_producer.py" else [])]
    res = call_main(script, argv, env)
    rc, out, err, escaped = res.returncode, res.stdout, res.stderr, res.escaped
    info = _info(res, env)
    assert escaped is None and rc == 0, info
    assert len(out.splitlines()) == 30, info
    assert_hidden(out, err, SECRET, info)


# ---------------------------------------------------------------- real subprocesses, real broker


def _parallel(jobs: dict, workers: int = 3) -> dict:
    """``(script, args, env)`` jobs, run side by side as subprocesses."""
    return run_many({k: (script, args, {"env": env, "timeout": 120}) for k, (script, args, env) in jobs.items()},
                    parallel=workers)


def test_successful_runs_with_stats(kafka_sasl, tmp_path):
    """Stats lines every 0.5 s and the summary, over SASL_SSL with the right password."""
    k = kafka_sasl
    jobs = {}
    for script in KAFKA_SCRIPTS:
        for source in SOURCES:
            args, env = credentials(source, k.sasl_bootstrap, k.password, tmp_path, ca=k.ca)
            limit = ["--max-count", 30, "--num-users", 50] if script == "kafka_producer.py" else ["--num-users", 30]
            prefix = unique_prefix()
            precreate(k.bootstrap, [prefix + t for t in (CDR_TOPIC_NAMES if script == "kafka_producer.py"
                                                         else ["telco-users"])])
            jobs[(script, source)] = (script, [*args, "--topic-prefix", prefix, *limit, "--rate", 20,
                                               "--stats-interval", 0.5, "--timeout", 20], env)
    for (script, source), run in _parallel(jobs).items():
        info = f"[{script} / password by {source}]\n{run.describe()}"
        assert run.returncode == 0, info
        assert f"connected to {k.sasl_bootstrap} (SASL_SSL)" in run.stderr, info
        assert len(STATS_LINE.findall(run.stderr)) >= 2, f"expected stats lines every 0.5 s:\n{info}"
        s = summary(run.stderr)
        assert (s["delivered"], s["failed"]) == (30, 0), info
        assert_hidden(run.stdout, run.stderr, k.password, info)


def test_authentication_failures(kafka_sasl, tmp_path):
    k = kafka_sasl
    jobs = {}
    for script in KAFKA_SCRIPTS:
        for source in SOURCES:
            for create in (False, True):
                args, env = credentials(source, k.sasl_bootstrap, SECRET, tmp_path, ca=k.ca)
                topics = create_args(unique_prefix()) if create else ["--topic-prefix", unique_prefix()]
                limit = ["--max-count", 20] if script == "kafka_producer.py" else []
                jobs[(script, source, create)] = (script, [*args, *topics, "--num-users", 20, *limit,
                                                           "--stats-interval", 0.5, "--timeout", 10], env)
    for key, run in _parallel(jobs, workers=4).items():
        info = f"[{key}]\n{run.describe()}"
        assert run.returncode == 1, info
        assert "authentication failed" in run.stderr.lower(), info
        assert "Traceback" not in run.stderr, info
        assert_hidden(run.stdout, run.stderr, SECRET, info)


def test_unreachable_broker(tmp_path):
    jobs = {}
    for script in KAFKA_SCRIPTS:
        for source in SOURCES:
            for create in (False, True):
                args, env = credentials(source, NOWHERE, SECRET, tmp_path)
                extra = create_args(unique_prefix()) if create else []
                jobs[(script, source, create)] = (script, [*args, *extra, "--num-users", 20, "--timeout", 1,
                                                           "--stats-interval", 0.5], env)
    for key, run in _parallel(jobs, workers=4).items():
        info = f"[{key}]\n{run.describe()}"
        assert run.returncode == 1, info
        assert f"cannot reach Kafka at {NOWHERE}" in run.stderr, info
        assert run.seconds < 10, info
        assert_hidden(run.stdout, run.stderr, SECRET, info)


def test_subprocess_help_bad_flag_and_dry_run(tmp_path):
    """The in-process findings hold for the real scripts, with the password in the environment."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": NOWHERE, "KAFKA_SASL_USERNAME": USER, "KAFKA_SASL_PASSWORD": SECRET}
    jobs = {
        "help": ("kafka_producer.py", ["--help"], env),
        "bad-flag": ("export_users_to_kafka.py", ["--rate", "-1"], env),
        "dry-run": ("kafka_producer.py", ["--dry-run", "--max-count", 10, "--rate", "max", "--num-users", 20], env),
        "cdr-help": ("cdr_generator.py", ["--help"], env),
    }
    runs = _parallel(jobs)
    assert runs["help"].returncode == 0 and "usage:" in runs["help"].stdout, runs["help"].describe()
    assert runs["bad-flag"].returncode == 2, runs["bad-flag"].describe()
    assert runs["dry-run"].returncode == 0 and len(runs["dry-run"].stdout.splitlines()) == 10, runs["dry-run"].describe()
    assert runs["cdr-help"].returncode == 0, runs["cdr-help"].describe()
    for name, run in runs.items():
        assert_hidden(run.stdout, run.stderr, SECRET, f"[{name}]\n{run.describe()}")
