"""A client that cannot connect says why, at once: a refused connection, an unknown host, a TLS
certificate that does not verify (no CA or the wrong one), a client without TLS on a TLS port and a
TLS client on a plaintext port each end the run in a few seconds (not after --timeout, 30 s by
default) with exit 1 and one line that names the cause.  What cannot be told apart from a slow
broker (a server that accepts and never answers) is still bounded by --timeout, and a refusal that
passes (a broker coming up) is waited out.

The TLS cases use the real broker's SASL_SSL and PLAINTEXT listeners; the cause is told from what
librdkafka reports, and the unit tests below hold ConnectWatch to lines it really wrote.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from kafka_data import create_args, unique_prefix
from running import assert_clean_error, run_many
from telco_cdr.kafka import SETTLE_S, ConnectWatch, KafkaSettings, Producer, bootstrap_names, settings_from

# A definite cause is told in 2-4 s (SETTLE_S of failures, and the start-up); the default --timeout
# of 30 s, which these runs do not change, would take 30.
BOUND_S = 10


@pytest.fixture
def refusing_port():
    """A port that refuses connections: bound by this test, never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def silent_server():
    """host:port of a server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    conns, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    done.set()
    t.join(5)
    for c in conns:
        c.close()
    server.close()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> str:
    """A CA certificate (PEM) that did not sign the broker's: a self-signed one of our own."""
    keytool = shutil.which("keytool")
    if not keytool:
        pytest.fail("keytool (part of the JDK the broker needs) is not on PATH", pytrace=False)
    d = tmp_path_factory.mktemp("other-ca")
    store, pem = d / "other.p12", d / "other-ca.pem"
    for args in (["-genkeypair", "-noprompt", "-alias", "other", "-keyalg", "RSA", "-keysize", "2048", "-validity", "30",
                  "-dname", "CN=some other CA", "-storetype", "PKCS12"],
                 ["-exportcert", "-rfc", "-alias", "other", "-storetype", "PKCS12", "-file", str(pem)]):
        proc = subprocess.run([keytool, *args, "-keystore", str(store), "-storepass", "changeit"],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(pem)


def runs_of(connection: list) -> dict:
    """kafka_producer.py with and without --create-topics (two clients: the admin client first) and
    export_users_to_kafka.py, side by side, all with the default --timeout."""
    jobs = {
        "producer": ("kafka_producer.py", [*connection, "--max-count", 10, "--num-users", 50], {"timeout": 60}),
        "producer --create-topics": ("kafka_producer.py", [*connection, "--max-count", 10, "--num-users", 50,
                                                           *create_args(unique_prefix())], {"timeout": 60}),
        "export": ("export_users_to_kafka.py", [*connection, "--num-users", 50], {"timeout": 60}),
    }
    return run_many(jobs, parallel=3)


def assert_told_fast(runs: dict, *cause: str, secrets=()) -> None:
    for name, res in runs.items():
        line = assert_clean_error(res, 1, *cause, secrets=secrets)
        assert res.seconds < BOUND_S, f"[{name}] took {res.seconds:.1f} s to say: {line}"
        print(f"{name}: {res.seconds:.1f} s: {line}")


# ---------------------------------------------------------------- no broker needed

def test_refused_connection(refusing_port):
    where = f"127.0.0.1:{refusing_port}"
    assert_told_fast(runs_of(["-b", where]), f"cannot reach Kafka at {where}: connection refused")


def test_unknown_host():
    assert_told_fast(runs_of(["-b", "nosuchhost.invalid:9092"]),
                     "cannot reach Kafka at nosuchhost.invalid:9092: cannot resolve the host name 'nosuchhost.invalid'")


def test_a_silent_server_is_bounded_by_timeout(silent_server):
    """Accepting and never answering looks like a slow broker: no early verdict, --timeout ends it."""
    jobs = {"producer": ("kafka_producer.py", ["-b", silent_server, "--timeout", 3, "--max-count", 10,
                                               "--num-users", 50], {"timeout": 60}),
            "producer --create-topics": ("kafka_producer.py", ["-b", silent_server, "--timeout", 3, "--max-count", 10,
                                                               "--num-users", 50, *create_args(unique_prefix())],
                                         {"timeout": 60})}
    for name, res in run_many(jobs, parallel=2).items():
        assert_clean_error(res, 1, f"cannot reach Kafka at {silent_server} within 3 s")
        assert 3 <= res.seconds < BOUND_S, f"[{name}] {res.seconds:.1f} s\n{res.describe()}"


# ---------------------------------------------------------------- TLS, against the real broker

def test_tls_without_the_ca_certificate(kafka_sasl):
    k = kafka_sasl
    runs = runs_of(["-b", k.sasl_bootstrap, "--sasl-username", k.user, "--sasl-password", k.password])
    assert_told_fast(runs, f"TLS handshake with Kafka at {k.sasl_bootstrap} failed",
                     "certificate could not be verified", "--ssl-ca-location", secrets=[k.password])


def test_tls_with_the_wrong_ca_certificate(kafka_sasl, other_ca):
    k = kafka_sasl
    runs = runs_of(["-b", k.sasl_bootstrap, "--sasl-username", k.user, "--sasl-password", k.password,
                    "--ssl-ca-location", other_ca])
    assert_told_fast(runs, f"TLS handshake with Kafka at {k.sasl_bootstrap} failed",
                     f"could not be verified with the CA certificate {other_ca}", secrets=[k.password])


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_client_without_tls_on_the_tls_port(kafka_sasl, protocol):
    k = kafka_sasl
    creds = ["--sasl-username", k.user, "--sasl-password", k.password] if protocol.startswith("SASL") else []
    runs = runs_of(["-b", k.sasl_bootstrap, "--security-protocol", protocol, *creds])
    use = "SASL_SSL" if protocol == "SASL_PLAINTEXT" else "SSL or SASL_SSL"
    assert_told_fast(runs, f"Kafka at {k.sasl_bootstrap} closes the connection before answering",
                     f"security protocol {protocol}", f"use --security-protocol {use}", secrets=[k.password])


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_tls_client_on_the_plaintext_port(kafka_sasl, protocol):
    k = kafka_sasl
    creds = ["--sasl-username", k.user, "--sasl-password", k.password] if protocol.startswith("SASL") else []
    runs = runs_of(["-b", k.bootstrap, "--security-protocol", protocol, "--ssl-ca-location", k.ca, *creds])
    use = "SASL_PLAINTEXT" if protocol == "SASL_SSL" else "PLAINTEXT"
    assert_told_fast(runs, f"TLS handshake with Kafka at {k.bootstrap} failed", "without TLS",
                     f"security protocol {protocol}", f"use --security-protocol {use}", secrets=[k.password])


def test_a_refusal_that_passes_is_waited_out(kafka):
    """The bootstrap port refuses connections for 1 s (less than SETTLE_S), then forwards to the
    broker, as a broker that comes up would: check() waits and connects, although it saw refusals."""
    host, port = kafka.bootstrap.rsplit(":", 1)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound, not yet listening: refuses
    where = f"127.0.0.1:{listener.getsockname()[1]}"
    done = threading.Event()

    def pipe(a, b):
        try:
            while chunk := a.recv(65536):
                b.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def come_up():
        time.sleep(1.0)
        listener.listen()
        listener.settimeout(0.2)
        while not done.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            upstream = socket.create_connection((host, int(port)))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    producer = Producer(settings_from(where, environ={}))
    thread = threading.Thread(target=come_up, daemon=True)
    t0 = time.monotonic()
    thread.start()
    try:
        assert producer.check(30) is True
        took = time.monotonic() - t0
    finally:
        done.set()
        thread.join(5)
        listener.close()
    run = producer.watch.runs.get(where)
    assert run is not None and run[0] == "refused", f"the client saw no refusal: {producer.watch.runs}"
    assert 1.0 <= took < SETTLE_S + 10, took


# ---------------------------------------------------------------- ConnectWatch, on lines librdkafka wrote

class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def watch_of(bootstrap: str, **conf) -> tuple[ConnectWatch, Clock]:
    clock = Clock()
    settings = KafkaSettings(conf={"bootstrap.servers": bootstrap, "security.protocol": "PLAINTEXT", **conf})
    return ConnectWatch(settings, clock=clock), clock


REFUSED_LOG = ("FAIL [rdkafka#producer-1] [thrd:127.0.0.1:9999/bootstrap]: 127.0.0.1:9999/bootstrap: Connect to "
               "ipv4#127.0.0.1:9999 failed: Connection refused (after 0ms in state CONNECT)")
REFUSED_ERR = "127.0.0.1:9999/bootstrap: Connect to ipv4#127.0.0.1:9999 failed: Connection refused (after 0ms in state CONNECT)"
RESOLVE_ERR = ("nosuch.invalid:9092/bootstrap: Failed to resolve 'nosuch.invalid:9092': Name or service not known "
               "(after 0ms in state CONNECT)")
CERT_LOG = ("FAIL [rdkafka#producer-1] [thrd:sasl_ssl://127.0.0.1:49093/bootstrap]: sasl_ssl://127.0.0.1:49093/bootstrap: "
            "SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not "
            "be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed "
            "(install ca-certificates package) (after 84ms in state SSL_HANDSHAKE)")
PLAIN_ON_TLS_LOG = ("FAIL [rdkafka#producer-1] [thrd:127.0.0.1:49093/bootstrap]: 127.0.0.1:49093/bootstrap: "
                    "Disconnected: connection closed by peer: receive 0 after POLLIN (after 9ms in state APIVERSION_QUERY)")
TLS_ON_PLAIN_ERR = ("ssl://127.0.0.1:49092/bootstrap: SSL handshake failed: Disconnected: SSL connection closed by peer: "
                    "connecting to a PLAINTEXT broker listener? (after 1ms in state SSL_HANDSHAKE)")


def test_watch_waits_settle_s_of_refusals_on_every_server():
    w, clock = watch_of("127.0.0.1:9999")
    w.note(REFUSED_LOG)
    w.note("1/1 brokers are down")  # no server named: ignored
    for dt in (0.5, 0.5, 0.5):
        clock.t += dt
        w.note(REFUSED_ERR)
        assert w.verdict() is None, f"judged after {clock.t - 100:.1f} s of refusals"
    clock.t += SETTLE_S - 1.5
    w.note(REFUSED_ERR)
    assert w.verdict().startswith("cannot reach Kafka at 127.0.0.1:9999: connection refused")


def test_watch_counts_silence_as_refusals_once_repeats_are_held_back():
    """librdkafka reports a repeat of the last error only now and then once it says so ("1 identical
    error(s) suppressed"): then silence is more refusals (before, a loaded machine could wait out the
    whole --timeout); without that, silence may be a broker that came up, and is not counted."""
    held_back = REFUSED_ERR.replace("(after 0ms in state CONNECT)",
                                    "(after 0ms in state CONNECT, 1 identical error(s) suppressed)")
    w, clock = watch_of("127.0.0.1:9999")
    w.note(REFUSED_ERR)
    clock.t += 0.5
    w.note(held_back)
    clock.t += SETTLE_S - 0.6
    assert w.verdict() is None
    clock.t += 0.2
    assert w.verdict().startswith("cannot reach Kafka at 127.0.0.1:9999: connection refused")

    w, clock = watch_of("127.0.0.1:9999")
    w.note(REFUSED_ERR)
    clock.t += 0.5
    w.note(REFUSED_ERR)
    clock.t += SETTLE_S  # nothing since: the broker may be up
    assert w.verdict() is None


def test_watch_needs_every_bootstrap_server_to_fail():
    w, clock = watch_of("127.0.0.1:9999, PLAINTEXT://127.0.0.1:9998")
    assert w.servers == ["127.0.0.1:9999", "127.0.0.1:9998"]
    w.note(REFUSED_ERR)
    clock.t += SETTLE_S + 1
    w.note(REFUSED_ERR)
    assert w.verdict() is None  # 9998 may still answer
    w.note(REFUSED_ERR.replace("9999", "9998"))
    clock.t += SETTLE_S
    w.note(REFUSED_ERR.replace("9999", "9998"))
    line = w.verdict()
    assert line.startswith("cannot reach Kafka at 127.0.0.1:9999: connection refused") and "1 more bootstrap server" in line


def test_watch_starts_again_after_another_event():
    w, clock = watch_of("127.0.0.1:9999")
    w.note(REFUSED_ERR)
    clock.t += SETTLE_S - 0.5
    w.note("127.0.0.1:9999/bootstrap: Receive failed: Connection reset by peer (after 3ms in state UP)")
    clock.t += 0.5
    w.note(REFUSED_ERR)
    clock.t += SETTLE_S - 0.1
    w.note(REFUSED_ERR)
    assert w.verdict() is None  # refused again for less than SETTLE_S since the reset
    clock.t += 0.2
    w.note(REFUSED_ERR)
    assert w.verdict() is not None


def test_watch_ignores_brokers_that_are_not_bootstrap_servers():
    w, clock = watch_of("127.0.0.1:9999")
    for _ in range(5):
        w.note("127.0.0.1:9999/1: Connect to ipv4#127.0.0.1:9999 failed: Connection refused (after 0ms in state CONNECT)")
        clock.t += 1
    assert w.verdict() is None and w.runs == {}


def test_watch_unknown_host_is_told_at_once():
    """The DNS says there is no such name: the lookup (which may have taken the resolver's
    timeouts) is not repeated."""
    w, clock = watch_of("nosuch.invalid")
    w.note(RESOLVE_ERR)
    assert w.verdict() == ("cannot reach Kafka at nosuch.invalid:9092: cannot resolve the host name 'nosuch.invalid' "
                           "(Name or service not known)")


def test_watch_a_failing_resolver_is_waited_for():
    """A lookup that failed for now (the DNS server did not answer) may work on the next try."""
    w, clock = watch_of("nosuch.invalid")
    again = RESOLVE_ERR.replace("Name or service not known", "Temporary failure in name resolution")
    w.note(again)
    assert w.verdict() is None
    clock.t += SETTLE_S
    w.note(again)
    assert w.verdict().endswith("cannot resolve the host name 'nosuch.invalid' (Temporary failure in name resolution)")


@pytest.mark.parametrize("ca", [None, "/some/ca.pem"])
def test_watch_certificate_is_told_at_once(ca):
    w, _ = watch_of("127.0.0.1:49093", **({"ssl.ca.location": ca} if ca else {}), **{"security.protocol": "SASL_SSL"})
    w.note(CERT_LOG)
    line = w.verdict()
    assert line.startswith("TLS handshake with Kafka at 127.0.0.1:49093 failed: the broker's certificate could not be "
                           "verified"), line
    assert (f"with the CA certificate {ca}" in line) if ca else ("--ssl-ca-location" in line), line


def test_watch_plaintext_client_on_a_tls_port():
    w, clock = watch_of("127.0.0.1:49093")
    w.note(PLAIN_ON_TLS_LOG)
    clock.t += SETTLE_S
    w.note(PLAIN_ON_TLS_LOG)
    assert "closes the connection before answering" in w.verdict()
    # the same log line from a TLS client says something else (its handshake failed first)
    w, clock = watch_of("127.0.0.1:49093", **{"security.protocol": "SSL"})
    w.note(PLAIN_ON_TLS_LOG)
    clock.t += SETTLE_S
    w.note(PLAIN_ON_TLS_LOG)
    assert w.verdict() is None


def test_watch_tls_client_on_a_plaintext_port():
    w, clock = watch_of("127.0.0.1:49092", **{"security.protocol": "SSL"})
    w.note(TLS_ON_PLAIN_ERR)
    clock.t += SETTLE_S
    w.note(TLS_ON_PLAIN_ERR)
    line = w.verdict()
    assert line.startswith("TLS handshake with Kafka at 127.0.0.1:49092 failed: the broker closed the connection"), line
    assert "--security-protocol PLAINTEXT" in line


def test_bootstrap_names_are_librdkafkas():
    assert bootstrap_names("a, b:1,SASL_SSL://c:2,[::1]:3,a:9092") == ["a:9092", "b:1", "c:2", "[::1]:3"]
