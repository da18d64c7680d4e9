#!/usr/bin/env bash
# local-kafka.sh — run a real single-node Apache Kafka 4.x broker (KRaft, no
# ZooKeeper) on loopback for local development and integration tests.
#
# No Docker and no tarball download: the broker and its tools are plain jars
# fetched from Maven Central by Maven, using the artifact list in
# scripts/kafka/pom.xml (org.apache.kafka:kafka_2.13 + kafka-tools + a log4j2
# backend), copied once into a cache dir and run with `java -cp`.
# Needs: bash, java 17+ and keytool (JDK), mvn (first run only), util-linux.
#
# Usage: scripts/local-kafka.sh {start|stop|status|clean|env}
#   start   start in the background (idempotent), wait until ready, print info
#   stop    SIGTERM, wait up to 30 s, then SIGKILL; data is kept
#   status  exit 0 if running and answering, 3 otherwise
#   clean   stop and delete the state dir (topics, keystore, logs)
#   env     print `export ...` lines for clients:  eval "$(scripts/local-kafka.sh env)"
#
# Listeners (all bound to 127.0.0.1):
#   PLAINTEXT   $TELCO_KAFKA_PLAIN_PORT       (19092)  no auth; inter-broker traffic
#   SASL_SSL    $TELCO_KAFKA_SASL_PORT        (19093)  PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   CONTROLLER  $TELCO_KAFKA_CONTROLLER_PORT  (19094)  KRaft quorum (node.id=1)
# Test user: $TELCO_KAFKA_USER / $TELCO_KAFKA_PASSWORD (telco / telco-secret).
# The TLS certificate is self-signed (SAN DNS:localhost,IP:127.0.0.1), made by
# keytool at first start; clients trust it via ssl.ca.location=<state>/ca.pem.
#
# Other knobs (env): TELCO_KAFKA_DIR (state dir, /tmp/telco-local-kafka),
#   TELCO_KAFKA_CACHE (jar cache, ~/.cache/telco-cdr-generator/kafka),
#   TELCO_KAFKA_VERSION (Kafka version, default from the pom),
#   TELCO_KAFKA_HEAP_OPTS (-Xmx512m -Xms256m), TELCO_KAFKA_START_TIMEOUT (120 s).
#
# State dir layout: server.properties, log4j2.properties, data/ (log.dirs; KRaft
#   storage is formatted once and kept across stop/start), broker.log (log4j,
#   current run; broker.log.prev = previous run),
#   broker.stdout (JVM stdout/stderr), broker.pid, keystore.p12, ca.pem,
#   client-sasl.properties (librdkafka-style, like Confluent Cloud's
#   client.properties), tools-*.properties (for the Java CLI tools).
#
# Credentials are pasted verbatim into JAAS / SCRAM syntax: avoid `"`, `\`,
# `,`, `]` and `=` in TELCO_KAFKA_PASSWORD. SCRAM credentials are stored at
# format time; if you change user/password later, run `clean` first (PLAIN
# picks the new values up on the next start anyway).

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"  # CI may run with HOME unset
STATE_DIR="$(realpath -m "${TELCO_KAFKA_DIR:-/tmp/telco-local-kafka}")"
CACHE_DIR="$(realpath -m "${TELCO_KAFKA_CACHE:-$HOME/.cache/telco-cdr-generator/kafka}")"
LIB_DIR="$CACHE_DIR/libs"
PLAIN_PORT="${TELCO_KAFKA_PLAIN_PORT:-19092}"
SASL_PORT="${TELCO_KAFKA_SASL_PORT:-19093}"
CONTROLLER_PORT="${TELCO_KAFKA_CONTROLLER_PORT:-19094}"
KAFKA_USER="${TELCO_KAFKA_USER:-telco}"
KAFKA_PASSWORD="${TELCO_KAFKA_PASSWORD:-telco-secret}"
HEAP_OPTS="${TELCO_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
START_TIMEOUT="${TELCO_KAFKA_START_TIMEOUT:-120}"
STOP_TIMEOUT=30
HOST=127.0.0.1
KEYSTORE_PASSWORD=telco-local-keystore   # local test broker only

KAFKA_VERSION="${TELCO_KAFKA_VERSION:-$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)}"
JAVA="java"
[[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]] && JAVA="$JAVA_HOME/bin/java"
KEYTOOL="keytool"
[[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/keytool" ]] && KEYTOOL="$JAVA_HOME/bin/keytool"

PID_FILE="$STATE_DIR/broker.pid"
LOG_FILE="$STATE_DIR/broker.log"
OUT_FILE="$STATE_DIR/broker.stdout"
DATA_DIR="$STATE_DIR/data"
CA_PEM="$STATE_DIR/ca.pem"
CLIENT_PROPS="$STATE_DIR/client-sasl.properties"

log() { printf 'local-kafka: %s\n' "$*" >&2; }
die() { printf 'local-kafka: error: %s\n' "$*" >&2; exit 1; }

# --------------------------------------------------------------------------
# Prerequisites and artifacts
# --------------------------------------------------------------------------

check_java() {
    command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
    local v
    v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
    [[ -n "$v" && "$v" -ge 17 ]] || die "Java 17+ required, found: $("$JAVA" -version 2>&1 | head -n1)"
}

# Jars go to $CACHE_DIR/libs; a stamp (version + pom hash) marks a complete copy.
fetch_libs() {
    local stamp want
    stamp="$LIB_DIR/.complete"
    want="$KAFKA_VERSION $(sha256sum "$POM" | cut -c1-16)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found; needed once to fetch Kafka $KAFKA_VERSION jars from Maven Central"
    mkdir -p "$CACHE_DIR"
    local tmp="$CACHE_DIR/libs.tmp.$$" mvn_log="$CACHE_DIR/mvn.log" attempt
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central (first run) ..."
    for attempt in 1 2; do
        rm -rf "$tmp"
        # -U: don't let a failure cached in ~/.m2 (*.lastUpdated) block the retry
        if mvn -B -q -U -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
               dependency:copy-dependencies -DoutputDirectory="$tmp" \
               </dev/null >"$mvn_log" 2>&1 9>&-; then
            rm -rf "$LIB_DIR"
            mv "$tmp" "$LIB_DIR"
            echo "$want" >"$stamp"
            return 0
        fi
        if [[ $attempt == 1 ]]; then
            log "Maven failed, retrying in 5 s ..."
            sleep 5
        fi
    done
    rm -rf "$tmp"
    local why
    why="$(sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -m1 '^\[ERROR\] .' | cut -c9-300)"
    die "Maven could not fetch Kafka $KAFKA_VERSION jars: ${why:-see log} (full log: $mvn_log)"
}

# --------------------------------------------------------------------------
# State dir: TLS material, configs, storage format
# --------------------------------------------------------------------------

make_tls() {
    [[ -f "$STATE_DIR/keystore.p12" && -f "$CA_PEM" ]] && return 0
    command -v "$KEYTOOL" >/dev/null 2>&1 || die "keytool not found (part of the JDK)"
    rm -f "$STATE_DIR/keystore.p12" "$CA_PEM"
    "$KEYTOOL" -genkeypair -noprompt -alias localhost -keyalg RSA -keysize 2048 \
        -validity 3650 -dname "CN=localhost, O=telco-cdr-generator local test" \
        -ext "SAN=DNS:localhost,IP:127.0.0.1" \
        -keystore "$STATE_DIR/keystore.p12" -storetype PKCS12 \
        -storepass "$KEYSTORE_PASSWORD" -keypass "$KEYSTORE_PASSWORD" </dev/null >/dev/null 2>&1 \
        || die "keytool -genkeypair failed"
    "$KEYTOOL" -exportcert -rfc -alias localhost -keystore "$STATE_DIR/keystore.p12" \
        -storetype PKCS12 -storepass "$KEYSTORE_PASSWORD" -file "$CA_PEM" </dev/null >/dev/null 2>&1 \
        || die "keytool -exportcert failed"
}

# Rewritten on every start, so port/credential env changes take effect.
write_configs() {
    cat >"$STATE_DIR/server.properties" <<EOF
# Generated by scripts/local-kafka.sh on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PLAIN_PORT,SASL_SSL://$HOST:$SASL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PLAIN_PORT,SASL_SSL://$HOST:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_USER="$KAFKA_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$STATE_DIR/keystore.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.key.password=$KEYSTORE_PASSWORD
ssl.client.auth=none

log.dirs=$DATA_DIR
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

    cat >"$STATE_DIR/log4j2.properties" <<EOF
# Broker logging -> $LOG_FILE (rolled at 50 MB, 3 kept)
status = warn
shutdownHook = disable
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = $LOG_FILE
appender.file.filePattern = $LOG_FILE.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

    cat >"$STATE_DIR/log4j2-tools.properties" <<'EOF'
# CLI tools used by the health checks: warnings only, to stderr
status = error
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = %p %m (%c)%n
rootLogger.level = ERROR
rootLogger.appenderRef.err.ref = ERR
EOF

    cat >"$STATE_DIR/tools-plain.properties" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF

    cat >"$STATE_DIR/tools-sasl.properties" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_USER" password="$KAFKA_PASSWORD";
ssl.truststore.type=PEM
ssl.truststore.location=$CA_PEM
EOF

    cat >"$CLIENT_PROPS" <<EOF
# librdkafka / confluent-kafka client config for the local test broker's
# SASL_SSL listener (same keys as Confluent Cloud's client.properties).
# Generated by scripts/local-kafka.sh. SCRAM-SHA-256 / SCRAM-SHA-512 also work.
bootstrap.servers=$HOST:$SASL_PORT
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=$KAFKA_USER
sasl.password=$KAFKA_PASSWORD
ssl.ca.location=$CA_PEM
EOF
    chmod 600 "$STATE_DIR/server.properties" "$STATE_DIR/tools-sasl.properties" "$CLIENT_PROPS"
}

# KRaft storage is formatted once (meta.properties present => keep the data).
format_storage() {
    local creds="$KAFKA_USER:$KAFKA_PASSWORD"
    if [[ -f "$DATA_DIR/meta.properties" ]]; then
        if [[ -f "$STATE_DIR/.scram-credentials" && "$(cat "$STATE_DIR/.scram-credentials")" != "$creds" ]]; then
            log "warning: SCRAM users were created for different credentials at format time;"
            log "         PLAIN uses the new ones, for SCRAM run '$0 clean' first"
        fi
        return 0
    fi
    local cluster_id
    cluster_id="$("$JAVA" -cp "$LIB_DIR/*" kafka.tools.StorageTool random-uuid </dev/null 2>/dev/null | tail -n1)" \
        || die "StorageTool random-uuid failed"
    mkdir -p "$DATA_DIR"
    "$JAVA" -Dlog4j2.configurationFile="$STATE_DIR/log4j2-tools.properties" -cp "$LIB_DIR/*" \
        kafka.tools.StorageTool format --ignore-formatted \
        --config "$STATE_DIR/server.properties" --cluster-id "$cluster_id" \
        --add-scram "SCRAM-SHA-256=[name=$KAFKA_USER,password=$KAFKA_PASSWORD]" \
        --add-scram "SCRAM-SHA-512=[name=$KAFKA_USER,password=$KAFKA_PASSWORD]" \
        </dev/null >"$STATE_DIR/format.log" 2>&1 9>&- \
        || { cat "$STATE_DIR/format.log" >&2; die "formatting KRaft storage failed"; }
    printf '%s' "$creds" >"$STATE_DIR/.scram-credentials"
    chmod 600 "$STATE_DIR/.scram-credentials" "$STATE_DIR/format.log"  # both hold secrets
}

# --------------------------------------------------------------------------
# Process and health checks
# --------------------------------------------------------------------------

# True if the process exists and is not a zombie (containers whose PID 1 does
# not reap orphans keep zombies around; kill -0 alone would say "alive").
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
    [[ "$state" != Z ]]
}

# Prints the broker pid if the pid file points at our live kafka.Kafka process.
broker_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $STATE_DIR/server.properties" || return 1
    echo "$pid"
}

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# Runs a Kafka CLI tool against one listener: proves the broker serves requests.
tool_check() {  # $1=port $2=client config file
    timeout 30 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$STATE_DIR/log4j2-tools.properties" \
        -cp "$LIB_DIR/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$HOST:$1" --command-config "$2" --list </dev/null >/dev/null 2>&1
}

healthy() {
    broker_pid >/dev/null && port_open "$PLAIN_PORT" && port_open "$SASL_PORT" \
        && tool_check "$PLAIN_PORT" "$STATE_DIR/tools-plain.properties"
}

print_info() {
    cat <<EOF
Kafka $KAFKA_VERSION (KRaft, single node) running, pid $(broker_pid || echo '?')
  PLAINTEXT bootstrap : $HOST:$PLAIN_PORT
  SASL_SSL  bootstrap : $HOST:$SASL_PORT   (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)
  user / password     : $KAFKA_USER / $KAFKA_PASSWORD
  CA certificate      : $CA_PEM
  client config       : $CLIENT_PROPS
  broker log          : $LOG_FILE
EOF
}

tail_logs() {
    log "broker did not become ready; last 30 lines of $LOG_FILE:"
    tail -n 30 "$LOG_FILE" >&2 2>/dev/null || true
    if [[ -s "$OUT_FILE" ]]; then
        log "last lines of $OUT_FILE:"
        tail -n 15 "$OUT_FILE" >&2 || true
    fi
}

# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

cmd_start() {
    mkdir -p "$STATE_DIR"
    check_java
    fetch_libs
    local settings="ports=$PLAIN_PORT,$SASL_PORT,$CONTROLLER_PORT user=$KAFKA_USER:$KAFKA_PASSWORD heap=$HEAP_OPTS"
    if broker_pid >/dev/null; then
        if healthy; then
            if [[ "$(cat "$STATE_DIR/.settings" 2>/dev/null)" != "$settings" ]]; then
                log "warning: the running broker was started with other ports/credentials/heap;"
                log "         run '$0 stop' and start again to apply the current environment"
            fi
            print_info
            return 0
        fi
        log "broker process $(broker_pid) is running but not answering; restarting it"
        cmd_stop
    fi
    rm -f "$PID_FILE"
    local port
    for port in "$PLAIN_PORT" "$SASL_PORT" "$CONTROLLER_PORT"; do
        if port_open "$port"; then
            die "port $HOST:$port is already in use by another process"
        fi
    done

    make_tls
    write_configs
    format_storage
    printf '%s' "$settings" >"$STATE_DIR/.settings"
    chmod 600 "$STATE_DIR/.settings"

    local t0=$SECONDS
    log "starting broker (log: $LOG_FILE) ..."
    # one log per run: the previous run's log is kept as *.prev
    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.prev"
    echo "=== $(date -u '+%Y-%m-%dT%H:%M:%SZ') start" >"$OUT_FILE"
    # setsid: own session, survives the calling shell; bash -c writes its own
    # pid and then execs java, so the pid file holds the JVM's pid.
    # 9>&- : don't let the broker inherit the flock fd.
    local heap_opts
    read -r -a heap_opts <<<"$HEAP_OPTS"
    # shellcheck disable=SC2016  # $$ and $@ are for the inner bash
    local launcher=(bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE"
        "$JAVA" "${heap_opts[@]}" -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$STATE_DIR/log4j2.properties"
        -Dkafka.logs.dir="$STATE_DIR"
        -cp "$LIB_DIR/*" kafka.Kafka "$STATE_DIR/server.properties")
    if command -v setsid >/dev/null 2>&1; then
        nohup setsid "${launcher[@]}" </dev/null >>"$OUT_FILE" 2>&1 9>&- &
    else
        nohup "${launcher[@]}" </dev/null >>"$OUT_FILE" 2>&1 9>&- &
    fi

    local deadline=$((SECONDS + START_TIMEOUT)) sasl_check plain_ok=no sasl_ok=no
    while ((SECONDS < deadline)); do
        sleep 0.5
        if ! broker_pid >/dev/null; then
            # pid file may not be written yet in the first instant
            ((SECONDS - t0 < 3)) && continue
            tail_logs; die "broker process exited during startup"
        fi
        if ! port_open "$PLAIN_PORT" || ! port_open "$SASL_PORT"; then
            continue
        fi
        # Ask the broker for its topic list on both listeners (in parallel):
        # proves it serves requests and that TLS + SASL/PLAIN work end to end.
        tool_check "$SASL_PORT" "$STATE_DIR/tools-sasl.properties" &
        sasl_check=$!
        plain_ok=no sasl_ok=no
        tool_check "$PLAIN_PORT" "$STATE_DIR/tools-plain.properties" && plain_ok=yes
        wait "$sasl_check" && sasl_ok=yes
        if [[ $plain_ok == yes && $sasl_ok == yes ]]; then
            log "ready after $((SECONDS - t0)) s"
            print_info
            return 0
        fi
    done
    tail_logs
    log "readiness: PLAINTEXT answers=$plain_ok, SASL_SSL (TLS + PLAIN login as $KAFKA_USER) answers=$sasl_ok"
    cmd_stop
    die "broker not ready within ${START_TIMEOUT} s"
}

cmd_stop() {
    local pid
    if ! pid="$(broker_pid)"; then
        rm -f "$PID_FILE"
        log "broker not running"
        return 0
    fi
    log "stopping broker (pid $pid) ..."
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.3
    done
    if alive "$pid"; then
        log "broker did not stop within ${STOP_TIMEOUT} s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.2; done
    fi
    rm -f "$PID_FILE"
    log "stopped (data kept in $DATA_DIR)"
}

cmd_status() {
    local pid
    if ! pid="$(broker_pid)"; then
        echo "local kafka: not running"
        return 3
    fi
    if [[ -d "$LIB_DIR" ]] && healthy; then
        echo "local kafka: running (pid $pid), PLAINTEXT $HOST:$PLAIN_PORT, SASL_SSL $HOST:$SASL_PORT"
        return 0
    fi
    echo "local kafka: process $pid running but not answering on $HOST:$PLAIN_PORT"
    return 3
}

cmd_clean() {
    cmd_stop
    [[ -d "$STATE_DIR" ]] || { log "nothing to clean"; return 0; }
    # refuse to delete anything that does not look like our state dir
    case "$(cd "$STATE_DIR" && pwd -P)" in
        / | "$HOME" | /tmp | /root | /home) die "refusing to delete $STATE_DIR" ;;
    esac
    if [[ -n "$(ls -A "$STATE_DIR")" && ! -f "$STATE_DIR/server.properties" ]]; then
        die "refusing to delete $STATE_DIR: it has no server.properties (not a local-kafka state dir?)"
    fi
    rm -rf "$STATE_DIR"
    log "removed $STATE_DIR"
}

cmd_env() {
    printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$HOST:$PLAIN_PORT"
    printf 'export TELCO_KAFKA_SASL_BOOTSTRAP=%q\n' "$HOST:$SASL_PORT"
    printf 'export TELCO_KAFKA_USER=%q\n' "$KAFKA_USER"
    printf 'export TELCO_KAFKA_PASSWORD=%q\n' "$KAFKA_PASSWORD"
    printf 'export TELCO_KAFKA_CA=%q\n' "$CA_PEM"
}

# Serialise start/stop/clean of the same state dir (e.g. parallel test jobs).
with_lock() {
    if command -v flock >/dev/null 2>&1; then
        mkdir -p "$(dirname "$STATE_DIR")"
        exec 9>"$STATE_DIR.lock"
        flock -w 300 9 || die "timed out waiting for lock $STATE_DIR.lock"
    fi
    "$@"
}

case "${1:-}" in
    start)  with_lock cmd_start ;;
    stop)   with_lock cmd_stop ;;
    status) cmd_status ;;
    clean)  with_lock cmd_clean ;;
    env)    cmd_env ;;
    *)
        echo "usage: $0 {start|stop|status|clean|env}" >&2
        exit 2
        ;;
esac
