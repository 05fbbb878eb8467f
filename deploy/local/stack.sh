#!/usr/bin/env bash
# Local infrastructure for development and tests: PostgreSQL, Kafka (KRaft) and an SMTP sink.
#
#   bash deploy/local/stack.sh install   # OS packages (postgresql, JDK, maven) + Kafka jars
#   bash deploy/local/stack.sh up        # install, start everything (idempotent), write .local/env
#   bash deploy/local/stack.sh down      # stop everything (idempotent)
#   bash deploy/local/stack.sh status    # what is running
#   bash deploy/local/stack.sh env       # path of the env file
#
# Loopback only; all state lives under <repo>/.local/ (never committed):
#   PostgreSQL 127.0.0.1:55432  cluster .local/pg/data (run by OS user postgres), socket dir .local/pg/run
#   Kafka      127.0.0.1:19092  (controller 127.0.0.1:19093), data .local/kafka/data, jars .local/kafka/libs
#   SMTP sink  127.0.0.1:2525   messages as .eml in .local/mail (deploy/local/mailsink.py)
# Logs in .local/logs/, pid files in .local/run/, PostgreSQL password in .local/secrets/pg_password.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL="$REPO/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/logs"
SECRETS_DIR="$LOCAL/secrets"
ENV_FILE="$LOCAL/env"
OPERATOR_ENV_FILE="$LOCAL/operator.env"

PG_PORT=55432
PG_DIR="$LOCAL/pg"
PG_DATA="$PG_DIR/data"
PG_SOCK="$PG_DIR/run"
if (( ${#PG_SOCK} + 20 > 107 )); then
    # unix socket paths are limited to 107 bytes: deep checkouts use a short per-repo dir instead
    PG_SOCK="/tmp/hlm360-pg-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
fi
PG_LOG="$PG_DIR/log/postgres.log"   # inside the postgres-owned tree: the server writes it as postgres
PG_PASSWORD_FILE="$SECRETS_DIR/pg_password"
PG_ROLE=hlm360
PG_DATABASES=(invitations ratings reports scheduling observations hlm360_test)
SERVICES=(invitations ratings reports scheduling observations)

KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_DIR="$LOCAL/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_ADMIN_PROPS="$KAFKA_DIR/admin.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
KAFKA_LOG4J="$SCRIPT_DIR/kafka/log4j2.properties"
KAFKA_PID="$RUN_DIR/kafka.pid"
KAFKA_STAMP="$KAFKA_LIBS/.pom.sha256"

MAIL_PORT=2525
MAIL_DIR="$LOCAL/mail"
MAIL_PID="$RUN_DIR/mailsink.pid"

PG_START_TIMEOUT=${PG_START_TIMEOUT:-60}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-120}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-60}
MAIL_START_TIMEOUT=${MAIL_START_TIMEOUT:-20}

trap 'rc=$?; echo "stack.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf 'stack.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- helpers

now() { date +%s; }

port_open() { # port_open PORT -> 0 if something accepts TCP connections on 127.0.0.1:PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() { # pid_alive PIDFILE [CMDLINE_PATTERN]
    local pidfile=$1 pattern=${2:-} pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -n $pattern ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
    fi
}

tail_log() { # tail_log FILE [N]
    local f=$1 n=${2:-40}
    if [[ -f $f ]]; then
        echo "---- last $n lines of $f ----" >&2
        tail -n "$n" "$f" >&2 || true
        echo "----" >&2
    fi
}

stop_pid() { # stop_pid NAME PIDFILE PATTERN TIMEOUT: SIGTERM, wait, SIGKILL
    local name=$1 pidfile=$2 pattern=$3 timeout=$4 pid deadline
    if ! pid_alive "$pidfile" "$pattern"; then
        rm -f "$pidfile"
        log "$name: not running"
        return 0
    fi
    pid=$(<"$pidfile")
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now) + timeout ))
    while kill -0 "$pid" 2>/dev/null; do
        if (( $(now) >= deadline )); then
            log "$name: still alive after ${timeout}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f "$pidfile"
    log "$name: stopped"
}

pg_bin_dir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [[ -n $d && -x $d/postgres ]] || return 1
    printf '%s\n' "$d"
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

pg_password() { cat "$PG_PASSWORD_FILE"; }

local_secret() { # a random secret generated once per machine, kept under .local/secrets
    local file="$LOCAL/secrets/$1"
    if [[ ! -s $file ]]; then
        mkdir -p "$LOCAL/secrets"
        (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$file")
    fi
    cat "$file"
}

java_cp() { printf '%s/*' "$KAFKA_LIBS"; }

mailsink_python() { # first interpreter that can import aiosmtpd
    local c
    for c in "${HLM360_MAILSINK_PYTHON:-}" "$REPO/.venv/bin/python" python3; do
        [[ -n $c ]] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import aiosmtpd' >/dev/null 2>&1; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------- install

apt_install() {
    log "apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    if [[ ${APT_UPDATED:-0} != 1 ]]; then
        apt-get update -q || die "apt-get update failed"
        APT_UPDATED=1
    fi
    apt-get install -y -q --no-install-recommends "$@" || die "apt-get install $* failed"
}

install_postgres() {
    if pg_bin_dir >/dev/null; then
        return 0
    fi
    apt_install postgresql
    pg_bin_dir >/dev/null || die "postgresql installed but no /usr/lib/postgresql/*/bin/postgres found"
    # The Debian package creates and starts a default cluster on port 5432; we don't use it.
}

install_java_maven() {
    local pkgs=()
    command -v java >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
    command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
    if ((${#pkgs[@]})); then
        apt_install "${pkgs[@]}"
    fi
    command -v java >/dev/null 2>&1 || die "java not found after install"
    command -v mvn >/dev/null 2>&1 || die "mvn not found after install"
    local v
    v=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
    [[ -n $v && $v -ge 17 ]] || die "Kafka 4.1 needs Java >= 17, found: $(java -version 2>&1 | head -n 1)"
}

install_kafka_jars() {
    local want have tmp
    want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
    have=$(cat "$KAFKA_STAMP" 2>/dev/null || true)
    if [[ $want == "$have" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    log "resolving Kafka jars with maven (pom $KAFKA_POM)"
    mkdir -p "$KAFKA_DIR"
    tmp="$KAFKA_DIR/libs.tmp"
    rm -rf "$tmp"
    if ! mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$tmp" >"$LOG_DIR/mvn-kafka.log" 2>&1; then
        tail_log "$LOG_DIR/mvn-kafka.log" 60
        die "maven could not resolve the Kafka jars (full log: $LOG_DIR/mvn-kafka.log)"
    fi
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "maven ran but no kafka_2.13 jar in $tmp"
    printf '%s\n' "$want" >"$tmp/.pom.sha256"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    log "Kafka jars in $KAFKA_LIBS"
}

install_test_tools() {
    # Real browser for the accessibility tests (driven by Playwright through executable_path,
    # never a downloaded browser) and poppler for reading generated PDFs back.
    local pkgs=()
    command -v chromium >/dev/null 2>&1 || pkgs+=(chromium fonts-liberation)
    command -v pdftotext >/dev/null 2>&1 || pkgs+=(poppler-utils)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
    # nginx only checks docker-compose.yml's front door (`nginx -t`, tests/unit/test_compose.py);
    # the package's own daemon is stopped: nothing here serves through it.
    command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || pkgs+=(nginx-light)
    if ((${#pkgs[@]})); then
        apt_install "${pkgs[@]}"
    fi
    if [[ " ${pkgs[*]} " == *" nginx-light "* ]]; then
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now nginx >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/nginx ]]; then
            /etc/init.d/nginx stop >/dev/null 2>&1 || true
            update-rc.d nginx disable >/dev/null 2>&1 || true
        fi
    fi
}

cmd_install() {
    mkdir -p "$LOCAL" "$RUN_DIR" "$LOG_DIR"
    install_postgres
    install_java_maven
    install_kafka_jars
    install_test_tools
}

# ---------------------------------------------------------------- PostgreSQL

check_postgres_can_traverse() {
    # The server runs as OS user postgres: it must be able to reach $PG_DIR. Repos under
    # /root (mode 700) or a restrictive umask are the usual problem. Walk the ancestors top-down
    # and grant search (o+x, traverse only, no read) on exactly the blocking ones, saying so.
    # HLM360_NO_CHMOD=1: report them and fail instead.
    local d=$PG_DIR dirs=() blocked=()
    while [[ $d != / ]]; do
        d=$(dirname "$d")
        dirs=("$d" ${dirs[@]+"${dirs[@]}"})
    done
    for d in "${dirs[@]}"; do
        if ((${#blocked[@]})); then
            # chain already broken above: judge by the 'other' execute bit
            [[ $(stat -c %A "$d") == *[xt] ]] || blocked+=("$d")
        elif ! as_postgres test -x "$d"; then
            if [[ ${HLM360_NO_CHMOD:-0} == 1 ]]; then
                blocked+=("$d")
            else
                log "granting o+x (traverse only) on $d so the postgres user can reach $PG_DIR"
                chmod o+x "$d"
            fi
        fi
    done
    if ((${#blocked[@]})); then
        die "OS user postgres cannot traverse to $PG_DIR; run: chmod o+x ${blocked[*]}"
    fi
}

ensure_pg_password() {
    mkdir -p "$SECRETS_DIR"
    chmod 700 "$SECRETS_DIR"
    if [[ ! -s $PG_PASSWORD_FILE ]]; then
        (umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$PG_PASSWORD_FILE.tmp")
        mv "$PG_PASSWORD_FILE.tmp" "$PG_PASSWORD_FILE"
        log "generated PostgreSQL password for role $PG_ROLE in $PG_PASSWORD_FILE"
    fi
    chmod 600 "$PG_PASSWORD_FILE"
    [[ $(pg_password) =~ ^[0-9a-f]+$ ]] || die "$PG_PASSWORD_FILE must contain a hex password"
}

pg_write_conf() {
    # Regenerated on every `up`; included from postgresql.conf. Takes effect on (re)start.
    local conf="$PG_DATA/hlm360.conf"
    cat >"$conf.tmp" <<EOF
# Managed by deploy/local/stack.sh - overwritten on every 'up'.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 128MB
# Dev/test cluster only: durability is traded for speed. A crash of the machine may lose or
# corrupt this cluster's data, which is acceptable here (never use these settings for real data).
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
    chown postgres:postgres "$conf.tmp"
    mv "$conf.tmp" "$conf"
    if ! grep -q "^include_if_exists = 'hlm360.conf'" "$PG_DATA/postgresql.conf"; then
        printf "\n# local stack settings (deploy/local/stack.sh)\ninclude_if_exists = 'hlm360.conf'\n" >>"$PG_DATA/postgresql.conf"
    fi
}

pg_running() {
    local bin=$1
    [[ -f $PG_DATA/PG_VERSION ]] || return 1
    as_postgres "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

pg_init() {
    local bin=$1 locale_opt=(--no-locale)
    if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then
        locale_opt=(--locale=C.UTF-8)
    fi
    log "postgres: initdb $PG_DATA"
    as_postgres "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 "${locale_opt[@]}" \
        --auth-local=peer --auth-host=scram-sha-256 >"$LOG_DIR/initdb.log" 2>&1 || {
        tail_log "$LOG_DIR/initdb.log"
        die "initdb failed (log: $LOG_DIR/initdb.log)"
    }
}

pg_up() {
    local bin deadline
    bin=$(pg_bin_dir) || die "PostgreSQL server binaries not found (run: $0 install)"
    mkdir -p "$PG_DIR/log" "$PG_SOCK"
    chown postgres:postgres "$PG_DIR" "$PG_DIR/log" "$PG_SOCK"
    chmod 755 "$PG_DIR" "$PG_SOCK"
    check_postgres_can_traverse
    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        rm -rf "$PG_DATA"
        mkdir -p "$PG_DATA"
        chown postgres:postgres "$PG_DATA"
        chmod 700 "$PG_DATA"
        pg_init "$bin"
    fi
    pg_write_conf

    if pg_running "$bin"; then
        log "postgres: already running"
    else
        if port_open "$PG_PORT"; then
            die "port $PG_PORT is in use by another process (not our cluster at $PG_DATA)"
        fi
        log "postgres: starting on 127.0.0.1:$PG_PORT"
        if ! as_postgres "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" start >/dev/null; then
            tail_log "$PG_LOG"
            die "PostgreSQL did not start (log: $PG_LOG)"
        fi
    fi
    deadline=$(( $(now) + PG_START_TIMEOUT ))
    until pg_ready; do
        if (( $(now) >= deadline )); then
            tail_log "$PG_LOG"
            die "PostgreSQL not accepting connections on 127.0.0.1:$PG_PORT after ${PG_START_TIMEOUT}s"
        fi
        sleep 0.2
    done
    pg_provision "$bin"
    log "postgres: ready on 127.0.0.1:$PG_PORT"
}

pg_provision() { # roles + databases, idempotent. SQL goes through stdin (passwords not in argv).
    # Least privilege: each service logs in as its own role, which owns its database and nothing
    # else, and no other role but the admin may connect to it. `hlm360` (CREATEDB, not superuser)
    # owns only the tests' scratch databases.
    local bin=$1 pw dbs s role
    pw=$(pg_password)
    dbs=$(printf "'%s'," "${PG_DATABASES[@]}")
    dbs=${dbs%,}
    as_postgres "$bin/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "provisioning role/databases failed"
SELECT format('CREATE ROLE %I LOGIN', '$PG_ROLE')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE') \gexec
ALTER ROLE $PG_ROLE WITH LOGIN CREATEDB PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', d, '$PG_ROLE', 'UTF8')
  FROM unnest(ARRAY[$dbs]) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SQL
    for s in "${SERVICES[@]}"; do
        role="${PG_ROLE}_$s"
        as_postgres "$bin/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "provisioning role $role failed"
SELECT format('CREATE ROLE %I LOGIN', '$role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE $role WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$(local_secret "pg_${s}_password")';
ALTER DATABASE $s OWNER TO $role;
REVOKE ALL ON DATABASE $s FROM PUBLIC;
SQL
        pg_hand_over "$bin" "$s" "$role"
    done
}

pg_hand_over() { # pg_hand_over BIN DB ROLE: objects an older stack made as $PG_ROLE now belong to ROLE
    as_postgres "$1/psql" -X -q -h "$PG_SOCK" -p "$PG_PORT" -d "$2" -v ON_ERROR_STOP=1 >/dev/null <<SQL || die "handing $2 over to $3 failed"
DO \$\$
DECLARE r record;
BEGIN
  FOR r IN SELECT nspname FROM pg_namespace WHERE nspowner = '$PG_ROLE'::regrole LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, '$3');
  END LOOP;
  FOR r IN SELECT c.oid::regclass::text AS name FROM pg_class c
            WHERE c.relowner = '$PG_ROLE'::regrole AND c.relkind IN ('r', 'p', 'v', 'm') LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO %I', r.name, '$3');
  END LOOP;
  FOR r IN SELECT c.oid::regclass::text AS name FROM pg_class c
            WHERE c.relowner = '$PG_ROLE'::regrole AND c.relkind = 'S'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) LOOP
    EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', r.name, '$3');
  END LOOP;
  FOR r IN SELECT t.oid::regtype::text AS name FROM pg_type t
            WHERE t.typowner = '$PG_ROLE'::regrole AND t.typtype = 'e' LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.name, '$3');
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure::text AS name FROM pg_proc p WHERE p.proowner = '$PG_ROLE'::regrole LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.name, '$3');
  END LOOP;
END
\$\$;
SQL
}

pg_down() {
    local bin
    bin=$(pg_bin_dir) || { log "postgres: not installed"; return 0; }
    if pg_running "$bin"; then
        log "postgres: stopping"
        as_postgres "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
        log "postgres: stopped"
    else
        log "postgres: not running"
    fi
}

# ---------------------------------------------------------------- Kafka

kafka_cluster_id() {
    if [[ ! -s $KAFKA_CLUSTER_ID_FILE ]]; then
        # Same shape as org.apache.kafka.common.Uuid.randomUuid(): 16 random bytes, base64url
        # without padding, not starting with '-'.
        local id
        while :; do
            id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
            [[ $id != -* ]] && break
        done
        mkdir -p "$KAFKA_DIR"
        printf '%s\n' "$id" >"$KAFKA_CLUSTER_ID_FILE"
        log "kafka: new cluster id $id"
    fi
    tr -d ' \n' <"$KAFKA_CLUSTER_ID_FILE"
}

kafka_format() {
    local cid=$1
    if [[ -f $KAFKA_DATA/meta.properties ]]; then
        local have
        have=$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")
        [[ $have == "$cid" ]] || die "kafka: $KAFKA_DATA is formatted for cluster $have but $KAFKA_CLUSTER_ID_FILE says $cid (remove one of them)"
        return 0
    fi
    log "kafka: formatting storage (cluster id $cid)"
    mkdir -p "$KAFKA_DATA"
    if ! java -cp "$(java_cp)" -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
        kafka.tools.StorageTool format --standalone -t "$cid" -c "$KAFKA_PROPS" >"$LOG_DIR/kafka-format.log" 2>&1; then
        tail_log "$LOG_DIR/kafka-format.log"
        die "kafka storage format failed (log: $LOG_DIR/kafka-format.log)"
    fi
}

kafka_admin_properties() { # the operators' client login, for the health check (0600)
    local pw
    pw=$(local_secret kafka_admin_password)
    (umask 077 && printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=PLAIN" \
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$pw\";" \
        >"$KAFKA_ADMIN_PROPS.tmp")
    mv "$KAFKA_ADMIN_PROPS.tmp" "$KAFKA_ADMIN_PROPS"
}

kafka_ready() {
    port_open "$KAFKA_PORT" || return 1
    timeout 30 java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$(java_cp)" \
        -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
        org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
        --command-config "$KAFKA_ADMIN_PROPS" >"$LOG_DIR/kafka-health.log" 2>&1
}

kafka_up() {
    local cid deadline pid
    [[ -f $KAFKA_STAMP ]] || die "Kafka jars missing (run: $0 install)"
    mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DATA"
    (umask 077 && sed -e "s|@KAFKA_DATA_DIR@|$KAFKA_DATA|g" -e "s|@KAFKA_ADMIN_PASSWORD@|$(local_secret kafka_admin_password)|g" \
        "$SCRIPT_DIR/kafka/server.properties.tmpl" >"$KAFKA_PROPS.tmp")
    mv "$KAFKA_PROPS.tmp" "$KAFKA_PROPS"
    kafka_admin_properties
    cid=$(kafka_cluster_id)
    if pid_alive "$KAFKA_PID" kafka.Kafka; then
        if port_open "$KAFKA_PORT"; then
            log "kafka: already running (pid $(<"$KAFKA_PID"))"
            return 0
        fi
        log "kafka: process alive but port $KAFKA_PORT closed, waiting for it"
    else
        rm -f "$KAFKA_PID"
        if port_open "$KAFKA_PORT" || port_open "$KAFKA_CONTROLLER_PORT"; then
            die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT is in use by a process that is not our Kafka"
        fi
        kafka_format "$cid"
        log "kafka: starting on 127.0.0.1:$KAFKA_PORT"
        echo "==== $(date -u +%FT%TZ) starting kafka" >>"$LOG_DIR/kafka.log"
        # setsid: own session/process group, not tied to this shell or its terminal.
        setsid java -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
            -cp "$(java_cp)" kafka.Kafka "$KAFKA_PROPS" </dev/null >>"$LOG_DIR/kafka.log" 2>&1 &
        echo $! >"$KAFKA_PID"
    fi
    pid=$(<"$KAFKA_PID")
    deadline=$(( $(now) + KAFKA_START_TIMEOUT ))
    until kafka_ready; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$KAFKA_PID"
            tail_log "$LOG_DIR/kafka.log"
            tail_log "$KAFKA_DIR/logs/server.log"
            die "Kafka exited during startup (logs: $LOG_DIR/kafka.log, $KAFKA_DIR/logs/server.log)"
        fi
        if (( $(now) >= deadline )); then
            tail_log "$KAFKA_DIR/logs/server.log"
            die "Kafka not answering on 127.0.0.1:$KAFKA_PORT after ${KAFKA_START_TIMEOUT}s (still running, pid $pid)"
        fi
        sleep 0.5
    done
    log "kafka: ready on 127.0.0.1:$KAFKA_PORT (pid $pid)"
}

kafka_down() { stop_pid kafka "$KAFKA_PID" kafka.Kafka "$KAFKA_STOP_TIMEOUT"; }

# ---------------------------------------------------------------- mail sink

smtp_banner_ok() { # connects and expects the 220 greeting
    (
        exec 4<>"/dev/tcp/127.0.0.1/$MAIL_PORT" || exit 1
        IFS= read -r -t 2 line <&4 || exit 1
        printf 'QUIT\r\n' >&4 || true
        [[ $line == 220* ]]
    ) 2>/dev/null
}

mail_up() {
    local py deadline pid
    mkdir -p "$MAIL_DIR"
    if pid_alive "$MAIL_PID" mailsink.py && smtp_banner_ok; then
        log "mailsink: already running (pid $(<"$MAIL_PID"))"
        return 0
    fi
    if ! pid_alive "$MAIL_PID" mailsink.py; then
        rm -f "$MAIL_PID"
        if port_open "$MAIL_PORT"; then
            die "port $MAIL_PORT is in use by a process that is not our mail sink"
        fi
        py=$(mailsink_python) || die "no python with aiosmtpd found (tried \$HLM360_MAILSINK_PYTHON, $REPO/.venv/bin/python, python3): run 'uv sync' or 'pip install aiosmtpd'"
        log "mailsink: starting on 127.0.0.1:$MAIL_PORT with $py"
        setsid "$py" "$SCRIPT_DIR/mailsink.py" --host 127.0.0.1 --port "$MAIL_PORT" --maildir "$MAIL_DIR" \
            </dev/null >>"$LOG_DIR/mailsink.log" 2>&1 &
        echo $! >"$MAIL_PID"
    fi
    pid=$(<"$MAIL_PID")
    deadline=$(( $(now) + MAIL_START_TIMEOUT ))
    until smtp_banner_ok; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$MAIL_PID"
            tail_log "$LOG_DIR/mailsink.log"
            die "mail sink exited during startup (log: $LOG_DIR/mailsink.log)"
        fi
        if (( $(now) >= deadline )); then
            tail_log "$LOG_DIR/mailsink.log"
            die "mail sink not answering on 127.0.0.1:$MAIL_PORT after ${MAIL_START_TIMEOUT}s"
        fi
        sleep 0.2
    done
    log "mailsink: ready on 127.0.0.1:$MAIL_PORT, writing to $MAIL_DIR (pid $pid)"
}

mail_down() { stop_pid mailsink "$MAIL_PID" mailsink.py 15; }

# ---------------------------------------------------------------- env file

FRONT_DOOR="https://localhost:${HLM360_FRONTDOOR_PORT:-8443}"
FRONT_DOOR_HOP=127.0.0.2 # the front door's source address (proxy_bind in deploy/frontdoor/nginx.py)

write_env() {
    local pw base s S tmp
    bash "$SCRIPT_DIR/frontdoor.sh" cert
    pw=$(pg_password)
    base="postgresql+asyncpg://$PG_ROLE:$pw@127.0.0.1:$PG_PORT"
    tmp="$ENV_FILE.tmp"
    {
        echo "HLM360_LOCAL_DIR=$LOCAL"
        echo "HLM360_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
        echo "HLM360_PG_DSN_BASE=$base"
        echo "HLM360_MAIL_DIR=$MAIL_DIR"
        for s in "${SERVICES[@]}"; do
            S=${s^^}
            echo "${S}_DATABASE_URL=postgresql+asyncpg://${PG_ROLE}_$s:$(local_secret "pg_${s}_password")@127.0.0.1:$PG_PORT/$s"
            echo "${S}_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
            echo "${S}_KAFKA_USERNAME=$s"
            echo "${S}_KAFKA_PASSWORD=$(local_secret "kafka_${s}_password")"
            echo "${S}_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
        done
        echo "INVITATIONS_SMTP_HOST=127.0.0.1"
        echo "INVITATIONS_SMTP_PORT=$MAIL_PORT"
        echo "SCHEDULING_SMTP_HOST=127.0.0.1"
        echo "SCHEDULING_SMTP_PORT=$MAIL_PORT"
        echo "TEST_DATABASE_URL=$base/hlm360_test"
        echo "INVITATIONS_LINK_SECRET=$(local_secret link_secret)"
        echo "REPORTS_LINK_SECRET=$(local_secret reports_link_secret)"
        echo "REPORTS_ADMIN_TOKEN=$(local_secret reports_admin_token)"
        echo "INVITATIONS_ADMIN_TOKEN=$(local_secret invitations_admin_token)"
        echo "RATINGS_ADMIN_TOKEN=$(local_secret ratings_admin_token)"
        echo "SCHEDULING_ADMIN_TOKEN=$(local_secret scheduling_admin_token)"
        echo "SCHEDULING_LINK_SECRET=$(local_secret scheduling_link_secret)"
        echo "REPORTS_SMTP_HOST=127.0.0.1"
        echo "REPORTS_SMTP_PORT=$MAIL_PORT"
        echo "OBSERVATIONS_SMTP_HOST=127.0.0.1"
        echo "OBSERVATIONS_SMTP_PORT=$MAIL_PORT"
        echo "OBSERVATIONS_LINK_SECRET=$(local_secret observations_link_secret)"
        # One origin for people (deploy/local/frontdoor.sh): every link a service writes goes through
        # the front door, which alone may say who the client is (X-Forwarded-For from 127.0.0.2).
        bash "$SCRIPT_DIR/frontdoor.sh" env
        for s in "${SERVICES[@]}"; do
            S=${s^^}
            echo "${S}_PUBLIC_BASE_URL=$FRONT_DOOR"
            echo "${S}_FORWARDED_ALLOW_IPS=$FRONT_DOOR_HOP"
            # the static admin tokens stay usable on this machine although its URLs are https (ADR 13)
            echo "${S}_ADMIN_TOKEN_ALLOWED=true"
        done
        echo "RATINGS_REPORTS_PUBLIC_URL=$FRONT_DOOR"
        echo "INVITATIONS_RATINGS_BASE_URL=$FRONT_DOOR"
        echo "REPORTS_OUTPUT_DIR=$LOCAL/reports"
        echo "SCHEDULING_OUTPUT_DIR=$LOCAL/sessions"
        # The local stack is the demo and test environment (ADR 11): keep the demo facilitators'
        # diaries open (`make up` seeds them with `python -m scheduling seed-demo`). Off by default.
        echo "SCHEDULING_SEED_AVAILABILITY=true"
        # The e2e, fuzz and corpus tiers post many requests from one address: the local stack lifts the
        # public start's rate limits (their own integration tests run them). The participant's
        # confirmation by email stays on: the demo journey and the tests follow the emailed link.
        echo "INVITATIONS_PUBLIC_REQUESTS_PER_CLIENT_PER_HOUR=100000"
        echo "INVITATIONS_PUBLIC_REQUESTS_PER_PARTICIPANT_PER_DAY=100000"
        bash "$SCRIPT_DIR/jaeger.sh" env   # OTEL_* (traces over OTLP to the local Jaeger) and its URL
    } >"$tmp"
    chmod 600 "$tmp"
    mv "$tmp" "$ENV_FILE"
    write_operator_env
}

# The operators' and other systems' logins: never in .local/env, which every service process loads
# (least privilege); the Makefile loads both for the operator commands and the tests.
write_operator_env() {
    local tmp="$OPERATOR_ENV_FILE.tmp"
    (umask 077 && {
        echo "HLM360_KAFKA_USERNAME=admin"
        echo "HLM360_KAFKA_PASSWORD=$(local_secret kafka_admin_password)"
        echo "HLM360_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
        echo "HLM360_KAFKA_EXTERNAL_USERNAME=external"
        echo "HLM360_KAFKA_EXTERNAL_PASSWORD=$(local_secret kafka_external_password)"
        # The operators' web console (services/console, `hlm360 console serve`, started by
        # services.sh): it alone gets these and the operators' Kafka login above.
        echo "CONSOLE_HTTP_PORT=8105"
        echo "CONSOLE_ADMIN_TOKEN=$(local_secret console_admin_token)"
        echo "CONSOLE_SESSION_SECRET=$(local_secret console_session_secret)"
        echo "CONSOLE_PROMETHEUS_URL=http://127.0.0.1:${HLM360_PROMETHEUS_PORT:-9090}"
        echo "CONSOLE_JAEGER_URL=http://127.0.0.1:${JAEGER_UI_PORT:-16686}"
        echo "CONSOLE_PUBLIC_BASE_URL=$FRONT_DOOR/console"
        echo "CONSOLE_FORWARDED_ALLOW_IPS=$FRONT_DOOR_HOP"
        echo "CONSOLE_ADMIN_TOKEN_ALLOWED=true"
    } >"$tmp")
    mv "$tmp" "$OPERATOR_ENV_FILE"
}

# ---------------------------------------------------------------- commands

cmd_up() {
    local t0=$SECONDS
    cmd_install
    ensure_pg_password
    pg_up
    kafka_up
    mail_up
    bash "$SCRIPT_DIR/jaeger.sh" up
    write_env
    bash "$SCRIPT_DIR/monitoring.sh" up
    log "stack up in $((SECONDS - t0))s; env file: $ENV_FILE"
}

cmd_down() {
    bash "$SCRIPT_DIR/jaeger.sh" down
    bash "$SCRIPT_DIR/monitoring.sh" down
    mail_down
    kafka_down
    pg_down
}

cmd_status() {
    local bin rc=0
    if bin=$(pg_bin_dir) && pg_running "$bin" && pg_ready; then
        echo "postgres  running   127.0.0.1:$PG_PORT  data=$PG_DATA"
    else
        echo "postgres  stopped"; rc=3
    fi
    if pid_alive "$KAFKA_PID" kafka.Kafka && port_open "$KAFKA_PORT"; then
        echo "kafka     running   127.0.0.1:$KAFKA_PORT  pid=$(<"$KAFKA_PID")  data=$KAFKA_DATA"
    elif pid_alive "$KAFKA_PID" kafka.Kafka; then
        echo "kafka     starting  pid=$(<"$KAFKA_PID") (port $KAFKA_PORT not open yet)"; rc=3
    else
        echo "kafka     stopped"; rc=3
    fi
    if pid_alive "$MAIL_PID" mailsink.py && port_open "$MAIL_PORT"; then
        echo "mailsink  running   127.0.0.1:$MAIL_PORT  pid=$(<"$MAIL_PID")  maildir=$MAIL_DIR"
    else
        echo "mailsink  stopped"; rc=3
    fi
    bash "$SCRIPT_DIR/jaeger.sh" status || rc=3
    if [[ -f $ENV_FILE ]]; then echo "env file  $ENV_FILE"; fi
    return $rc
}

usage() {
    echo "usage: $0 install|up|down|status|env" >&2
    exit 2
}

main() {
    [[ $# -eq 1 ]] || usage
    case $1 in
        install) cmd_install ;;
        up) cmd_up ;;
        down) cmd_down ;;
        status) local rc=0; cmd_status || rc=$?; exit $rc ;;
        env) echo "$ENV_FILE" ;;
        *) usage ;;
    esac
}

main "$@"
