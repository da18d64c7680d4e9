"""Kafka: client settings (flags, environment, properties file), topics, and a producer that
loses nothing: BufferError waits and retries, deliveries are counted, signals flush.

The only module that imports confluent_kafka.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field

from .constants import CDR_TOPICS, USERS_TOPIC  # noqa: F401 - re-exported for the scripts
from .errors import RunError, UserError
from .streaming import Sink

ENV = {"bootstrap.servers": "KAFKA_BOOTSTRAP_SERVERS", "sasl.username": "KAFKA_SASL_USERNAME",
       "sasl.password": "KAFKA_SASL_PASSWORD"}
SECRET_KEYS = ("sasl.password", "ssl.key.password", "ssl.keystore.password", "sasl.oauthbearer.client.secret")
# Keys of a Java or Schema Registry client.properties that a librdkafka producer has no use for.
IGNORED_KEYS = ("client.dns.lookup", "schema.registry.url", "basic.auth.credentials.source",
                "basic.auth.user.info", "key.serializer", "value.serializer")
# Safe defaults: idempotent (acks=all, ordered, no duplicates on retry), compressed, batched.
PRODUCER_DEFAULTS = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 256 * 1024,
}
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


# ---------------------------------------------------------------- settings

class Properties(dict):
    """A properties file's settings, and where each key stands (``lines``: key -> line number)."""

    def __init__(self):
        super().__init__()
        self.lines: dict[str, int] = {}


def read_properties(path: str) -> Properties:
    """A librdkafka/Java properties file (``key=value``, ``#`` comments) as a dict.

    Duplicated keys and empty values are errors that name the key (never the value)."""
    label = f"--config-file {path!r}"
    if os.path.isdir(path):
        raise UserError(f"{label} is a directory, not a properties file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise UserError(f"{label} not found") from None
    except OSError as e:
        raise UserError(f"{label} cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{label} is not UTF-8 text") from None
    props = Properties()
    for lineno, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        # Java properties: the key ends at the first '=', ':' or white space.
        m = _PROPERTY.match(line)
        if not m:
            raise UserError(f"{label} line {lineno} is not key=value")
        key, value = m.group(1), m.group(2).strip()
        if key in props:
            raise UserError(f"{label} sets {key!r} twice (line {lineno})")
        if not value:
            raise UserError(f"{label} gives {key!r} an empty value (line {lineno})")
        props[key] = value
        props.lines[key] = lineno
    return props


_PROPERTY = re.compile(r"([^=:\s]+)\s*(?:[=:]|\s)\s*(.*)$")
_JAAS = re.compile(r"""(username|password)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def from_java_jaas(props: dict[str, str]) -> dict[str, str]:
    """Turn a Java ``sasl.jaas.config`` line (as in some client.properties) into
    ``sasl.username``/``sasl.password``, and ``sasl.mechanism`` into ``sasl.mechanisms``."""
    props = dict(props)
    jaas = props.pop("sasl.jaas.config", None)
    if jaas:
        found = {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _JAAS.finditer(jaas)}
        for k in ("username", "password"):
            if k in found:
                props.setdefault(f"sasl.{k}", found[k])
    if "sasl.mechanism" in props:
        props.setdefault("sasl.mechanisms", props.pop("sasl.mechanism"))
    for k in IGNORED_KEYS:
        props.pop(k, None)
    return props


@dataclass
class KafkaSettings:
    """Where the client connects and how; ``conf`` is a librdkafka configuration."""

    conf: dict
    secrets: list[str] = field(default_factory=list)
    lines: dict = field(default_factory=dict)  # key -> its line in --config-file

    @property
    def bootstrap(self) -> str:
        return str(self.conf.get("bootstrap.servers", ""))

    def redact(self, text: str) -> str:
        for s in self.secrets:
            if s:
                text = text.replace(s, "***")
        return text


def settings_from(bootstrap: str | None = None, username: str | None = None, password: str | None = None,
                  config_file: str | None = None, security_protocol: str | None = None,
                  sasl_mechanism: str | None = None, ssl_ca_location: str | None = None,
                  environ: dict | None = None, require_bootstrap: bool = True) -> KafkaSettings:
    """Combine the sources, strongest first: flags, then the environment, then the file."""
    environ = os.environ if environ is None else environ
    props = read_properties(config_file) if config_file else Properties()
    conf: dict = from_java_jaas(props)
    for key, var in ENV.items():
        if environ.get(var):
            conf[key] = environ[var]
    for key, flag, value in (("bootstrap.servers", "--bootstrap-servers", bootstrap),
                             ("sasl.username", "--sasl-username", username),
                             ("sasl.password", "--sasl-password", password),
                             ("security.protocol", "--security-protocol", security_protocol),
                             ("sasl.mechanisms", "--sasl-mechanism", sasl_mechanism),
                             ("ssl.ca.location", "--ssl-ca-location", ssl_ca_location)):
        if value is not None:
            if not str(value).strip():
                raise UserError(f"{flag} is empty")
            conf[key] = value
    secrets = [str(conf[k]) for k in SECRET_KEYS if conf.get(k)]
    if require_bootstrap and not conf.get("bootstrap.servers"):
        raise UserError("no Kafka to talk to: give --bootstrap-servers, set KAFKA_BOOTSTRAP_SERVERS, "
                        "or put bootstrap.servers in --config-file (or use --dry-run)")
    has_user, has_password = bool(conf.get("sasl.username")), bool(conf.get("sasl.password"))
    if has_user != has_password:
        have, need, flag, var = (("sasl.username", "sasl.password", "--sasl-password", "KAFKA_SASL_PASSWORD")
                                 if has_user else
                                 ("sasl.password", "sasl.username", "--sasl-username", "KAFKA_SASL_USERNAME"))
        raise UserError(f"SASL needs both a username and a password: a {have} is given but no {need} "
                        f"(give {flag}, set {var}, or add {need} to --config-file)")
    if has_user:
        # Confluent Cloud: SASL_SSL with PLAIN, unless told otherwise.
        conf.setdefault("security.protocol", "SASL_SSL")
        conf.setdefault("sasl.mechanisms", "PLAIN")
    proto = str(conf.get("security.protocol", "PLAINTEXT")).upper()
    if proto not in SECURITY_PROTOCOLS:
        raise UserError(f"security protocol (--security-protocol or security.protocol) must be one of "
                        f"{', '.join(SECURITY_PROTOCOLS)}, got {proto!r}")
    conf["security.protocol"] = proto
    if "sasl.mechanisms" in conf:
        mech = str(conf["sasl.mechanisms"]).upper()
        if mech not in SASL_MECHANISMS:
            raise UserError(f"SASL mechanism (--sasl-mechanism or sasl.mechanisms) must be one of "
                            f"{', '.join(SASL_MECHANISMS)}, got {mech!r}")
        conf["sasl.mechanisms"] = mech
    if proto.startswith("SASL") and not has_user:
        raise UserError(f"security protocol {proto} needs --sasl-username and --sasl-password")
    if conf.get("ssl.ca.location") and not os.path.isfile(str(conf["ssl.ca.location"])):
        raise UserError(f"--ssl-ca-location {conf['ssl.ca.location']!r} is not a file")
    return KafkaSettings(conf=conf, secrets=secrets, lines=props.lines)


# ---------------------------------------------------------------- the client

# librdkafka names some settings by their other name in its errors (CONFIGURATION.md aliases).
_ALIASES = {"linger.ms": "queue.buffering.max.ms", "acks": "request.required.acks",
            "compression.type": "compression.codec", "sasl.mechanism": "sasl.mechanisms",
            "delivery.timeout.ms": "message.timeout.ms", "retries": "message.send.max.retries",
            "batch.num.messages": "batch.num.messages", "max.in.flight": "max.in.flight.requests.per.connection"}


def config_error(e, settings: KafkaSettings) -> str:
    """One line for a configuration librdkafka refused, naming the setting, never its value."""
    err = e.args[0] if e.args else e
    text = err.str() if hasattr(err, "str") else str(e)
    m = re.search(r'property[: ]+"?([\w.]+)', text)
    if "No such configuration property" in text and m:
        line = settings.lines.get(m.group(1))
        where = f"--config-file line {line}" if line else "--config-file or flags"
        return f"unknown Kafka client setting {m.group(1)!r} ({where})"
    if m:
        name = m.group(1)
        given = [k for k in settings.conf if _ALIASES.get(k) == name]
        return f"invalid value for Kafka client setting {(given[0] if given else name)!r}"
    return "invalid Kafka client settings: " + settings.redact(text)


# ---------------------------------------------------------------- why a connection fails

# How long a connection failure must go on at every bootstrap server before it is taken for the
# answer rather than a passing outage (a broker that restarts refuses connections for a while).
SETTLE_S = 2.0
REFUSED, RESOLVE, NO_SUCH_HOST, CERTIFICATE, PLAIN_ON_TLS, TLS_ON_PLAIN, TLS = (
    "refused", "resolve", "no-such-host", "certificate", "plain-on-tls", "tls-on-plain", "tls")
# No need to wait for the next try: a certificate that does not verify will not verify then, and a
# name the DNS says does not exist (NXDOMAIN, not a timeout) was looked up in full already (which
# may have taken the resolver's own timeouts).
_SETTLE = {CERTIFICATE: 0.0, NO_SUCH_HOST: 0.0}
_NO_SUCH_HOST = re.compile(r"Name or service not known|No address associated with hostname|"
                           r"nodename nor servname provided")
# "<broker name>/bootstrap: <what happened>" in librdkafka's error callbacks and log lines; the log
# lines also name the thread, "[thrd:sasl_ssl://host:port/bootstrap]: ", which this skips.
_BOOTSTRAP_EVENT = re.compile(r"(?:^|\s)(?:[A-Za-z_]+://)?(\S+?)/bootstrap: (.+)$")
_STATE = re.compile(r"\s*\(after \d+ms in state \w+\)\s*$")


def bootstrap_names(bootstrap: str) -> list[str]:
    """The names librdkafka gives the servers of a bootstrap.servers list: host:port, the scheme
    dropped, the default port 9092 added."""
    names = []
    for part in str(bootstrap).split(","):
        part = re.sub(r"^[A-Za-z_]+://", "", part.strip())
        if part:
            names.append(part if re.search(r"(^\[.*\]|[^:\]]):\d+$", part) else part + ":9092")
    return list(dict.fromkeys(names))


def _kind(detail: str, protocol: str) -> str | None:
    """What a bootstrap server's failure says about the cause, or None if it is not definite."""
    if "Connection refused" in detail:
        return REFUSED
    if "Failed to resolve" in detail:
        return NO_SUCH_HOST if _NO_SUCH_HOST.search(detail) else RESOLVE
    if "certificate verify failed" in detail:
        return CERTIFICATE
    if "SSL" in protocol:
        if "connecting to a PLAINTEXT broker listener" in detail or "SSL connection closed by peer" in detail:
            return TLS_ON_PLAIN
        if "SSL handshake failed" in detail:
            return TLS
    elif re.search(r"Disconnected|connection closed", detail) and re.search(r"APIVERSION_QUERY|ApiVersion", detail):
        # A TLS listener hangs up on the plaintext ApiVersion request a client opens with.
        return PLAIN_ON_TLS
    return None


class ConnectWatch:
    """Why the client cannot connect, told from librdkafka's error callbacks and log lines (``note``)
    as soon as waiting cannot cure it (``verdict``): every bootstrap server has failed in one of the
    ways above, without a break, for SETTLE_S (a certificate that does not verify, or a host name
    that does not exist: at once).  Any other event from a server (a timeout, a reset) starts its
    count again, so an outage that passes is waited out, within --timeout.  Once librdkafka says it
    holds back repeats of a failure ("N identical error(s) suppressed"), silence after it is more of
    it; otherwise silence may be a broker that came up, and only failures seen count."""

    def __init__(self, settings: KafkaSettings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        self.servers = bootstrap_names(settings.bootstrap)
        self.protocol = str(settings.conf.get("security.protocol", "PLAINTEXT")).upper()
        self.runs: dict[str, list] = {}  # server -> [kind, first seen, last seen, detail, repeats held back]
        self.last_detail: str | None = None
        self.watching = True

    def note(self, text: str) -> None:
        if not self.watching:
            return
        m = _BOOTSTRAP_EVENT.search(text)
        if not m or m.group(1) not in self.servers:
            return
        server, raw = m.group(1), m.group(2)
        kind, now, detail = _kind(raw, self.protocol), self.clock(), _STATE.sub("", raw)
        self.last_detail = f"{server}: {detail}"
        held_back = "identical error(s) suppressed" in raw
        run = self.runs.get(server)
        if run is None or run[0] != kind:
            self.runs[server] = [kind, now, now, detail, held_back]
        else:
            run[2], run[3], run[4] = now, detail, held_back

    def verdict(self) -> str | None:
        """One line naming the cause, once it is definite; else None."""
        runs = [self.runs.get(s) for s in self.servers]
        now = self.clock()
        if not runs or any(r is None or r[0] is None or (now if r[4] else r[2]) - r[1] < _SETTLE.get(r[0], SETTLE_S)
                           for r in runs):
            return None
        line = self._describe(self.servers[0], *runs[0][:4])
        if len(runs) > 1:
            line += f" (and {len(runs) - 1} more bootstrap server{'s' if len(runs) > 2 else ''} failing too)"
        return self.settings.redact(line)

    def _describe(self, server: str, kind: str, first: float, last: float, detail: str) -> str:
        proto = self.protocol
        if kind == REFUSED:
            return (f"cannot reach Kafka at {server}: connection refused (is the broker running, and is that its "
                    f"address and port?)")
        if kind in (RESOLVE, NO_SUCH_HOST):
            host = server.rsplit(":", 1)[0]
            why = detail.split("': ", 1)[1] if "': " in detail else detail
            return f"cannot reach Kafka at {server}: cannot resolve the host name {host!r} ({why})"
        if kind == CERTIFICATE:
            ca = self.settings.conf.get("ssl.ca.location")
            if ca:
                return (f"TLS handshake with Kafka at {server} failed: the broker's certificate could not be verified "
                        f"with the CA certificate {ca} (certificate verify failed): is that the CA that signed it, "
                        f"and is the certificate for this host name?")
            return (f"TLS handshake with Kafka at {server} failed: the broker's certificate could not be verified with "
                    f"the system's CA certificates (certificate verify failed); give the CA certificate that signed "
                    f"it with --ssl-ca-location")
        if kind == PLAIN_ON_TLS:
            use = "SASL_SSL" if proto == "SASL_PLAINTEXT" else "SSL or SASL_SSL"
            return (f"Kafka at {server} closes the connection before answering, as a TLS listener does to a "
                    f"client without TLS (security protocol {proto}): if that is a TLS port, use "
                    f"--security-protocol {use}")
        if kind == TLS_ON_PLAIN:
            use = "SASL_PLAINTEXT" if proto == "SASL_SSL" else "PLAINTEXT"
            return (f"TLS handshake with Kafka at {server} failed: the broker closed the connection, as a listener "
                    f"without TLS does (security protocol {proto}): if that is a plaintext port, use "
                    f"--security-protocol {use}, or else the broker's TLS port")
        return f"TLS handshake with Kafka at {server} failed: {detail.replace('SSL handshake failed: ', '')}"


class _Tap(logging.Handler):
    """Hands librdkafka's log lines to a ConnectWatch; shows nothing."""

    def __init__(self, watch: ConnectWatch):
        super().__init__()
        self.watch = watch

    def emit(self, record) -> None:
        try:
            self.watch.note(record.getMessage())
        except Exception:  # noqa: BLE001 - a log line must never break the client
            pass


def _client_logger(watch: ConnectWatch) -> logging.Logger:
    """A logger of the client's own (not registered with logging, so nothing else sees it) that
    feeds ``watch`` and prints nothing."""
    log = logging.Logger("telco_cdr.rdkafka")
    log.propagate = False
    log.addHandler(_Tap(watch))
    return log


def _unreachable(settings: KafkaSettings, timeout_s: float, watch: ConnectWatch, last_error: str | None) -> str:
    detail = watch.last_detail or last_error
    return (f"cannot reach Kafka at {settings.bootstrap} within {timeout_s:g} s"
            + (f" ({settings.redact(detail)})" if detail else ""))


class Producer(Sink):
    """A confluent_kafka.Producer that counts deliveries per topic and turns the client's errors
    into clear ones.  Every ``send`` is retried on a full queue; nothing is dropped.  The sink of
    run_stream (streaming.Sink)."""

    def __init__(self, settings: KafkaSettings, extra: dict | None = None, delivery_timeout_s: float = 120.0):
        import confluent_kafka

        self._ck = confluent_kafka
        self.settings = settings
        conf = dict(PRODUCER_DEFAULTS)
        conf.update(settings.conf)
        conf.update(extra or {})
        conf["message.timeout.ms"] = int(delivery_timeout_s * 1000)
        self.watch = ConnectWatch(settings)
        conf["error_cb"] = self._on_error
        conf["logger"] = _client_logger(self.watch)
        self._callbacks: dict = {}
        self.sent: dict[str, int] = {}
        self.delivered: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.last_delivery_error: str | None = None
        self.auth_error: str | None = None
        self.fatal_error: str | None = None
        self.down_since: float | None = None
        self.last_error: str | None = None
        self.ledger = None  # --faults: a streaming.Ledger for the spoiled messages delivered
        try:
            self.p = confluent_kafka.Producer(conf)
        except confluent_kafka.KafkaException as e:
            raise UserError(config_error(e, settings)) from None

    # librdkafka callbacks (served by poll/flush on this thread)
    def _on_error(self, err) -> None:
        code = err.code()
        text = self.settings.redact(err.str())
        self.last_error = text
        self.watch.note(text)
        if code == self._ck.KafkaError._AUTHENTICATION:
            self.auth_error = text
        elif code == self._ck.KafkaError._ALL_BROKERS_DOWN:
            if self.down_since is None:
                self.down_since = time.monotonic()
        if err.fatal():
            self.fatal_error = text

    def _counter(self, topic: str):
        """A delivery callback for ``topic`` (made once per topic): cheaper than asking each
        message for its topic."""
        cb = self._callbacks.get(topic)
        if cb is None:
            delivered, on_failure = self.delivered, self._on_failure
            delivered.setdefault(topic, 0)

            def cb(err, msg):
                if err is None:
                    delivered[topic] += 1
                    if self.down_since is not None:
                        self.down_since = None
                else:
                    on_failure(err, msg)
            self._callbacks[topic] = cb
        return cb

    def _spoiled(self, topic: str, entry: dict):
        """A delivery callback for one spoiled message of --faults: counted as any other, and
        written to the ledger with the topic, partition and offset the broker gave it."""
        counter, ledger = self._counter(topic), self.ledger

        def cb(err, msg):
            counter(err, msg)
            if err is None and ledger is not None:
                ledger.write_at(entry, topic=msg.topic(), partition=msg.partition(), offset=msg.offset())
        return cb

    def _on_failure(self, err, msg) -> None:
        topic = msg.topic()
        self.failed[topic] = self.failed.get(topic, 0) + 1
        self.last_delivery_error = self.settings.redact(err.str())

    # ------------------------------------------------------------ use
    def check(self, timeout_s: float, topics: list[str] | None = None, stop=None, created=()) -> bool:
        """Connect and fetch metadata within ``timeout_s``; raise a clear error if we cannot (as soon as
        the cause is definite, see ConnectWatch), or if a topic is missing (topics just ``created`` get
        until the deadline to show up with leaders).  False if a stop signal came first."""
        deadline = time.monotonic() + timeout_s
        where = self.settings.bootstrap
        wait = 0.25  # for metadata: short at first, to serve the client's errors soon; up to 1 s for a far broker
        while True:
            if stop is not None and stop.stop:
                return False
            self.p.poll(0)
            self._raise_client_errors()
            why = self.watch.verdict()
            if why:
                raise RunError(why)
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunError(_unreachable(self.settings, timeout_s, self.watch, self.last_error))
            asked = time.monotonic()
            try:
                md = self.p.list_topics(timeout=min(wait, left))
            except self._ck.KafkaException:
                if time.monotonic() - asked < 0.05:  # failed at once (no broker to ask): do not spin
                    time.sleep(min(0.1, max(left, 0)))
                wait = min(wait + 0.25, 1.0)
                continue
            self.watch.watching = False
            missing = [t for t in (topics or []) if t not in md.topics or md.topics[t].error is not None
                       or any(p.leader < 0 for p in md.topics[t].partitions.values())]
            if not missing:
                break
            if set(missing) <= set(created) and deadline - time.monotonic() > 0.5:
                time.sleep(0.2)  # just created: the broker's metadata catches up
                continue
            missing = [t for t in missing if t not in md.topics or md.topics[t].error is not None]
            if missing:
                raise RunError(f"topic {missing[0]!r} does not exist on {where}"
                               f"{f' (nor {len(missing) - 1} more)' if len(missing) > 1 else ''}; "
                               "create it, or run again with --create-topics")
            break
        return True

    def _raise_client_errors(self) -> None:
        if self.auth_error:
            raise RunError(f"authentication failed at {self.settings.bootstrap}: check the SASL username and "
                           f"password ({self.auth_error})")
        if self.fatal_error:
            raise RunError(f"Kafka client error: {self.fatal_error}")

    def send_many(self, groups, stop=None) -> int:
        """Queue messages, given as (topic, keys, values) groups in the order to send them.

        A full local queue is never a lost message: what did not fit is retried, in order, after
        serving deliveries.  A stop signal while waiting for room ends early.  Returns how many
        were queued."""
        queued = 0
        for topic, keys, values, *marks in groups:
            msgs = [{"key": k, "value": v} for k, v in zip(keys, values)]
            for i, entry in (marks[0].items() if marks else ()):
                msgs[i]["callback"] = self._spoiled(topic, entry)
            while msgs:
                n = self.p.produce_batch(topic, msgs, on_delivery=self._counter(topic))
                self.sent[topic] = self.sent.get(topic, 0) + n
                queued += n
                if n == len(msgs):
                    break
                msgs = [m for m in msgs if "_error" in m]
                for m in msgs:
                    err = m.pop("_error")
                    if err.code() != self._ck.KafkaError._QUEUE_FULL:
                        raise RunError(f"cannot send to topic {topic!r}: {self.settings.redact(err.str())}")
                self.p.poll(0.05)
                self._raise_client_errors()
                if stop is not None and stop.stop:
                    return queued
            self.p.poll(0)
        return queued

    def poll(self, timeout: float = 0) -> None:
        self.p.poll(timeout)
        self._raise_client_errors()

    def in_flight(self) -> int:
        return len(self.p)

    def flush(self, timeout_s: float, stop=None) -> int:
        """Wait up to ``timeout_s`` for the queue to drain; return what is left unconfirmed.
        A second signal (``stop.hard``) ends the wait at once."""
        deadline = time.monotonic() + timeout_s
        while len(self.p) and time.monotonic() < deadline:
            self.p.flush(min(0.2, max(deadline - time.monotonic(), 0)))
            if stop is not None and stop.hard:
                break
        self.p.poll(0)
        return len(self.p)


def create_topics(settings: KafkaSettings, topics: dict[str, dict], partitions: int, replication: int,
                  timeout_s: float) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic

    conf = {k: v for k, v in settings.conf.items()}
    watch = ConnectWatch(settings)
    conf["logger"] = _client_logger(watch)
    errors: list[str] = []
    last_error: list[str] = []

    def on_error(err):
        text = settings.redact(err.str())
        watch.note(text)
        last_error[:] = [text]
        if err.code() == confluent_kafka.KafkaError._AUTHENTICATION:
            errors.append(text)
    conf["error_cb"] = on_error
    try:
        admin = AdminClient(conf)
    except confluent_kafka.KafkaException as e:
        raise UserError(config_error(e, settings)) from None
    deadline = time.monotonic() + timeout_s
    wait = 0.25  # as in Producer.check
    while True:
        if errors:
            raise RunError(f"authentication failed at {settings.bootstrap}: check the SASL username and password "
                           f"({errors[0]})")
        why = watch.verdict()
        if why:
            raise RunError(why)
        asked = time.monotonic()
        try:
            existing = admin.list_topics(timeout=min(wait, max(deadline - asked, 0.1))).topics
            break
        except confluent_kafka.KafkaException:
            if time.monotonic() > deadline:
                raise RunError(_unreachable(settings, timeout_s, watch, last_error[0] if last_error else None)) \
                    from None
            admin.poll(0.1 if time.monotonic() - asked < 0.05 else 0)
            wait = min(wait + 0.25, 1.0)
    watch.watching = False
    new = [NewTopic(name, num_partitions=partitions, replication_factor=replication, config=cfg)
           for name, cfg in topics.items() if name not in existing]
    if not new:
        return []
    futures = admin.create_topics(new, request_timeout=timeout_s)
    created = []
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout_s)
            created.append(name)
        except confluent_kafka.KafkaException as e:
            err = e.args[0]
            if err.code() == confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise RunError(f"cannot create topic {name!r}: {settings.redact(err.str())}") from None
        except Exception as e:  # a timeout of the future
            raise RunError(f"cannot create topic {name!r}: {settings.redact(str(e))}") from None
    return created


# ---------------------------------------------------------------- pacing and reporting

class Stats:
    """A line on stderr every ``interval`` seconds: sent, delivered, failed, in flight, rate, and
    the ``pace`` asked for ("2/s", "max")."""

    def __init__(self, interval: float, stream=None, pace: str | None = None):
        self.interval = interval
        self.pace = pace
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.last_sent = 0

    def maybe_print(self, producer: Sink, prog: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.interval <= 0 or (not force and now - self.last < self.interval):
            return
        sent, delivered, failed = producer.totals()
        rate = (sent - self.last_sent) / max(now - self.last, 1e-9)
        self.last, self.last_sent = now, sent
        outage = ""
        if producer.down_since is not None:
            outage = f", BROKER DOWN for {now - producer.down_since:.0f} s (retrying)"
        print(f"{prog}: {now - self.start:.0f}s sent {sent:,} delivered {delivered:,} failed {failed:,} "
              f"in flight {producer.in_flight():,} rate {rate:,.0f}/s{outage}"
              f"{f'; pace {self.pace}' if self.pace else ''}", file=self.stream, flush=True)


def summary_lines(producer: Sink, unconfirmed: int) -> list[str]:
    lines = []
    for topic in sorted(set(producer.sent) | set(producer.delivered) | set(producer.failed)):
        lines.append(f"  {topic}: sent {producer.sent.get(topic, 0):,}, delivered "
                     f"{producer.delivered.get(topic, 0):,}, failed {producer.failed.get(topic, 0):,}")
    sent, delivered, failed = producer.totals()
    lines.append(f"  total: sent {sent:,}, delivered {delivered:,}, failed {failed:,}, unconfirmed {unconfirmed:,}")
    return lines
