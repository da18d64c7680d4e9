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
# Commands, settings (ports, state folder, jar cache, credentials, environment
# variables) and exit codes: scripts/local-kafka.sh --help (usage() below).

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

POM_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
KAFKA_VERSION="${TELCO_KAFKA_VERSION:-$POM_VERSION}"
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

# The Java tools the commands below use: small heap, quick start, warnings only.
tool() {
    "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dlog4j2.configurationFile="$STATE_DIR/log4j2-tools.properties" -cp "$LIB_DIR/*" "$@" </dev/null
}

# topics and consume talk to a running broker on its PLAINTEXT listener.
need_running() {
    if ! broker_pid >/dev/null || [[ ! -f "$STATE_DIR/tools-plain.properties" ]]; then
        printf 'local-kafka: error: the broker of %s is not running (start it with: %s start)\n' "$STATE_DIR" "$0" >&2
        exit 3
    fi
}

# "topic:partition:offset" lines of GetOffsetShell at --time $1 (-1 latest, -2 earliest) into $2,
# for the topics matching the regex $3 (all but the internal ones if empty).  A filter that
# matches no topic leaves $2 empty; any other failure ends the script with the tool's message.
offsets() {
    local time="$1" out="$2" match="${3:-}" err="$2.err" args=()
    [[ -n "$match" ]] && args=(--topic "$match")
    if ! tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$HOST:$PLAIN_PORT" \
            --command-config "$STATE_DIR/tools-plain.properties" --exclude-internal-topics \
            --time "$time" "${args[@]}" >"$out" 2>"$err"; then
        if grep -q "Could not match any topic-partitions" "$err"; then
            : >"$out"
        else
            die "reading offsets failed: $(grep -v '^[[:space:]]*$' "$err" | tail -n1)"
        fi
    fi
}

# "topic partitions messages" lines, by topic, from the latest ($1) and earliest ($2) offsets.
count_messages() {
    awk -F: 'NR == FNR { first[$1 ":" $2] = $3; next }
             { n[$1]++; m[$1] += $3 - ((($1 ":" $2) in first) ? first[$1 ":" $2] : 0) }
             END { for (t in n) printf "%s %d %d\n", t, n[t], m[t] }' "$2" "$1" | sort
}

# Both offset lists side by side (two JVMs at once), into $1/latest and $1/earliest.
both_offsets() {  # $1 folder, $2 topic regex (optional)
    offsets -1 "$1/latest" "${2:-}" &
    local latest=$!
    offsets -2 "$1/earliest" "${2:-}"
    wait "$latest" || exit 1
}

cmd_topics() {
    need_running
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    both_offsets "$tmp"
    printf '%-50s %10s %12s\n' TOPIC PARTITIONS MESSAGES
    count_messages "$tmp/latest" "$tmp/earliest" | while read -r topic parts msgs; do
        printf '%-50s %10d %12d\n' "$topic" "$parts" "$msgs"
    done
    [[ -s "$tmp/latest" ]] || log "no topics yet (the broker makes none by itself: use --create-topics)"
}

cmd_consume() {
    local topic="${1:-}" want="${2:-10}"
    if [[ -z "$topic" || $# -gt 2 ]]; then
        printf 'usage: %s consume TOPIC [N]\n' "$0" >&2
        exit 2
    fi
    if ! [[ "$want" =~ ^[0-9]+$ ]] || ((10#$want < 1)); then
        printf 'local-kafka: error: N must be a whole number of 1 or more, not %q\n' "$want" >&2
        exit 2
    fi
    want=$((10#$want))
    need_running
    local tmp
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    both_offsets "$tmp" "${topic//./\\.}"  # the tool takes a regex: a dot in a name is a dot
    local held
    held="$(count_messages "$tmp/latest" "$tmp/earliest" | awk -v t="$topic" '$1 == t { print $3 }')"
    [[ -n "$held" ]] || die "topic $topic does not exist (list the topics with: $0 topics)"
    if ((held == 0)); then
        log "topic $topic is empty"
        return 0
    fi
    local n=$((want < held ? want : held))
    # The first n messages from the beginning (partition by partition), a line each:
    # Partition:P <tab> Offset:O <tab> key <tab> value.  A compacted topic may hold fewer than
    # its offsets say: the tool then stops after 5 s without a message.
    if ! tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$HOST:$PLAIN_PORT" \
            --command-config "$STATE_DIR/tools-plain.properties" --command-property enable.auto.commit=false \
            --topic "$topic" --from-beginning --max-messages "$n" --timeout-ms 5000 \
            --formatter-property print.partition=true --formatter-property print.offset=true \
            --formatter-property print.key=true 2>"$tmp/err"; then
        grep -q "TimeoutException" "$tmp/err" \
            || die "reading $topic failed: $(grep -v '^[[:space:]]*$' "$tmp/err" | tail -n1)"
    fi
    local got
    got="$(sed -n 's/^Processed a total of \([0-9]*\) messages.*/\1/p' "$tmp/err" | tail -n1)"
    log "printed ${got:-?} of the $held messages of $topic"
}

# What differs from the default, for usage(): " (now VALUE)" or nothing.
now() {  # $1 value in effect, $2 default, $3 what to show instead of the value (optional)
    [[ "$1" == "$2" ]] || printf ' (now %s)' "${3:-$1}"
}

usage() {
    cat <<EOF
usage: $0 COMMAND

Runs a real single-node Apache Kafka $KAFKA_VERSION broker (KRaft) on $HOST for local development
and tests: plain jars from Maven Central run with Java 17+, no Docker.

Commands:
  start             start the broker in the background (nothing to do if it runs), wait until
                    both listeners answer, print the addresses, credentials and files; the first
                    start fetches the jars with Maven, makes the TLS certificate and the storage
  stop              stop it (SIGTERM, SIGKILL after ${STOP_TIMEOUT} s); topics and data are kept
  status            exit 0 if it runs and answers, 3 if not
  clean             stop it and delete the state folder (topics, data, certificate, logs)
  env               print export lines for clients: eval "\$($0 env)"
  topics            list the topics, with their partitions and messages (end minus start
                    offset, summed over the partitions)
  consume TOPIC [N] print the first N messages of TOPIC (default 10) from the beginning,
                    partition by partition, a line each: Partition:P, Offset:O, key and value,
                    separated by tabs
  help, --help      this text

Listeners (on $HOST):
  PLAINTEXT   port $PLAIN_PORT   no TLS, no login: -b $HOST:$PLAIN_PORT
  SASL_SSL    port $SASL_PORT   TLS and SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, like Confluent Cloud
  CONTROLLER  port $CONTROLLER_PORT   the KRaft controller, not for clients
Credentials: user $KAFKA_USER, password $KAFKA_PASSWORD (a local test broker's, not a secret).
TLS: a self-signed certificate for localhost and $HOST, made at the first start; clients trust it
  with ssl.ca.location (--ssl-ca-location) $CA_PEM
Client config for the SASL_SSL listener (librdkafka keys, like Confluent Cloud's client.properties):
  $CLIENT_PROPS

State folder: $STATE_DIR
  server.properties, log4j2*.properties   written on every start from the settings below
  data/                                   topics and KRaft metadata (formatted once, then kept)
  broker.log, broker.log.prev             the broker's log, this run's and the last one's
  broker.stdout, broker.pid               the JVM's own output, and its process id
  keystore.p12, ca.pem                    the TLS key and certificate
  client-sasl.properties, tools-*.properties   client configs (librdkafka, the Java tools)
Jar cache: $LIB_DIR (fetched once per Kafka version)

Settings (environment variables; the default, and the value in effect if it differs):
  TELCO_KAFKA_DIR              state folder                  /tmp/telco-local-kafka$(now "$STATE_DIR" /tmp/telco-local-kafka)
  TELCO_KAFKA_PLAIN_PORT       PLAINTEXT port                19092$(now "$PLAIN_PORT" 19092)
  TELCO_KAFKA_SASL_PORT        SASL_SSL port                 19093$(now "$SASL_PORT" 19093)
  TELCO_KAFKA_CONTROLLER_PORT  controller port               19094$(now "$CONTROLLER_PORT" 19094)
  TELCO_KAFKA_USER             SASL user                     telco$(now "$KAFKA_USER" telco)
  TELCO_KAFKA_PASSWORD         SASL password                 telco-secret$(now "$KAFKA_PASSWORD" telco-secret "another one")
  TELCO_KAFKA_CACHE            jar cache                     ~/.cache/telco-cdr-generator/kafka$(now "$CACHE_DIR" "$HOME/.cache/telco-cdr-generator/kafka")
  TELCO_KAFKA_VERSION          Kafka version                 $POM_VERSION (scripts/kafka/pom.xml)$(now "$KAFKA_VERSION" "$POM_VERSION")
  TELCO_KAFKA_HEAP_OPTS        the broker's JVM heap         -Xmx512m -Xms256m$(now "$HEAP_OPTS" "-Xmx512m -Xms256m")
  TELCO_KAFKA_START_TIMEOUT    seconds start waits           120$(now "$START_TIMEOUT" 120)
  JAVA_HOME                    the JDK (java, keytool)       the ones on PATH$(now "$JAVA" java)
A state folder is one broker: with another TELCO_KAFKA_DIR and other ports a second one runs
beside it.  Ports and credentials take effect at the next start; the SCRAM users are made when the
storage is formatted, so after changing the credentials run clean first.  The password goes into
JAAS and SCRAM syntax as it is: avoid " \\ ] = and , in it.

Exit codes: 0 done; 1 failed (one 'local-kafka: error: ...' line says why); 2 bad command line;
3 not running (status, topics, consume).
Needs: bash, Java 17+ with keytool, Maven (first start only), util-linux (flock, setsid).
EOF
}

case "${1:-}" in
    start)   with_lock cmd_start ;;
    stop)    with_lock cmd_stop ;;
    status)  cmd_status ;;
    clean)   with_lock cmd_clean ;;
    env)     cmd_env ;;
    topics)  cmd_topics ;;
    consume) shift; cmd_consume "$@" ;;
    help | --help | -h) usage ;;
    *)
        echo "usage: $0 {start|stop|status|clean|env|topics|consume TOPIC [N]|help}" >&2
        [[ -z "${1:-}" ]] || echo "local-kafka: error: unknown command '$1' (see: $0 --help)" >&2
        exit 2
        ;;
esac
