#!/usr/bin/env bash
# Run the four Python services and the operators' console locally, each as its own OS process
# (own session/process group).
#
#   bash deploy/local/services.sh up                 # start all (idempotent), wait for /healthz
#   bash deploy/local/services.sh down               # stop all
#   bash deploy/local/services.sh status
#   bash deploy/local/services.sh start|stop|restart <name>   # one service (no name: all)
#
# Needs the infrastructure (deploy/local/stack.sh up) for <repo>/.local/env, which is loaded into
# each service's environment. Service N runs as `<repo>/.venv/bin/python -m N` with cwd = repo
# root; output appended to .local/logs/N.log, pid in .local/run/N.pid. Ports (the service itself
# must listen there): invitations 8101, ratings 8102, reports 8103, scheduling 8104, console 8105.
# Overrides: HLM360_PYTHON (interpreter), SERVICE_START_TIMEOUT (60), SERVICE_STOP_TIMEOUT (15).
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL="$REPO/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/logs"
ENV_FILE="$LOCAL/env"
PY="${HLM360_PYTHON:-$REPO/.venv/bin/python}"
START_TIMEOUT=${SERVICE_START_TIMEOUT:-60}
STOP_TIMEOUT=${SERVICE_STOP_TIMEOUT:-15}

declare -A PORTS=([invitations]=8101 [ratings]=8102 [reports]=8103 [scheduling]=8104 [console]=8105)
NAMES=(invitations ratings reports scheduling console)
OPERATOR_ENV_FILE="$LOCAL/operator.env"
TARGETS_DIR="$LOCAL/monitoring/targets" # Prometheus scrapes each instance listed here (deploy/local/monitoring.sh)

trap 'rc=$?; echo "services.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

pidfile() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }
target_on() { mkdir -p "$TARGETS_DIR" && printf '[{"targets": ["127.0.0.1:%s"]}]\n' "${PORTS[$1]}" >"$TARGETS_DIR/$1.json.tmp" && mv "$TARGETS_DIR/$1.json.tmp" "$TARGETS_DIR/$1.json"; }
logfile() { printf '%s/%s.log\n' "$LOG_DIR" "$1"; }

alive() { # alive NAME -> 0 if the pid file points at a live `python -m NAME`
    local f pid
    f=$(pidfile "$1")
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-m $1" || return 1
}

healthy() { # healthy NAME -> 0 if GET /healthz answers 200
    local code
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${PORTS[$1]}/healthz" 2>/dev/null) || true
    [[ $code == 200 ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_name() {
    [[ -n ${PORTS[$1]:-} ]] || die "unknown service '$1' (known: ${NAMES[*]})"
}

spawn() { # spawn NAME: start the process unless it is already running
    local n=$1 pid
    if alive "$n"; then
        return 0
    fi
    rm -f "$(pidfile "$n")"
    # A process that was just killed may hold its port for a moment while its last threads exit.
    local waited=0
    while port_open "${PORTS[$n]}" && (( waited < 40 )); do
        sleep 0.25; waited=$(( waited + 1 ))
    done
    if port_open "${PORTS[$n]}"; then
        die "$n: port ${PORTS[$n]} is already in use by a process this script did not start"
    fi
    [[ -f $ENV_FILE ]] || die "$ENV_FILE missing: run 'bash deploy/local/stack.sh up' first"
    [[ -x $PY ]] || die "python interpreter $PY not found (create the workspace venv, e.g. 'uv sync', or set HLM360_PYTHON)"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    log "$n: starting on 127.0.0.1:${PORTS[$n]}"
    echo "==== $(date -u +%FT%TZ) starting $n" >>"$(logfile "$n")"
    (
        cd "$REPO"
        set -a
        # shellcheck disable=SC1090
        . "$ENV_FILE"
        set +a
        # least privilege: a service never holds the operators' or other systems' Kafka logins,
        # even when the caller (make, a test) has them loaded; the operators' console acts for the
        # operators (their login and its own settings, from operator.env)
        unset HLM360_KAFKA_USERNAME HLM360_KAFKA_PASSWORD HLM360_KAFKA_SASL_MECHANISM \
            HLM360_KAFKA_EXTERNAL_USERNAME HLM360_KAFKA_EXTERNAL_PASSWORD
        command=("$PY" -m "$n")
        if [[ $n == console ]]; then
            # shellcheck disable=SC1090
            set -a && . "$OPERATOR_ENV_FILE" && set +a
            unset HLM360_KAFKA_EXTERNAL_USERNAME HLM360_KAFKA_EXTERNAL_PASSWORD
            command=("$PY" -m console console serve)
        fi
        # setsid: the service leads its own process group, so stop can signal the whole group.
        exec setsid "${command[@]}"
    ) </dev/null >>"$(logfile "$n")" 2>&1 9>&- &  # 9>&-: the service must not hold the script's lock
    pid=$!
    echo "$pid" >"$(pidfile "$n")"
}

wait_healthy() { # wait_healthy NAME
    local n=$1 deadline pid
    deadline=$(( $(now) + START_TIMEOUT ))
    pid=$(<"$(pidfile "$n")")
    until healthy "$n"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$(pidfile "$n")"
            echo "---- last 40 lines of $(logfile "$n") ----" >&2
            tail -n 40 "$(logfile "$n")" >&2 || true
            die "$n exited during startup (log: $(logfile "$n"))"
        fi
        if (( $(now) >= deadline )); then
            echo "---- last 40 lines of $(logfile "$n") ----" >&2
            tail -n 40 "$(logfile "$n")" >&2 || true
            stop_one "$n" >/dev/null 2>&1 || true
            die "$n: http://127.0.0.1:${PORTS[$n]}/healthz not 200 after ${START_TIMEOUT}s (process stopped; log: $(logfile "$n"))"
        fi
        sleep 0.25
    done
    log "$n: healthy on 127.0.0.1:${PORTS[$n]} (pid $pid)"
}

start_many() { # spawn all, then wait for each (they start in parallel)
    local n waiting=()
    for n in "$@"; do
        target_on "$n"
        if alive "$n" && healthy "$n"; then
            log "$n: already running and healthy (pid $(<"$(pidfile "$n")"))"
        else
            spawn "$n"
            waiting+=("$n")
        fi
    done
    for n in ${waiting[@]+"${waiting[@]}"}; do
        wait_healthy "$n"
    done
}

signal_group() { # signal_group SIG PID: the process group if it leads one, else the process
    kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

stop_many() { # SIGTERM all, wait up to STOP_TIMEOUT, then SIGKILL the stragglers
    local n pid deadline left
    declare -A pids=()
    for n in "$@"; do
        rm -f "$TARGETS_DIR/$n.json" # stopped on purpose: no longer a scrape target
        if alive "$n"; then
            pid=$(<"$(pidfile "$n")")
            pids[$n]=$pid
            log "$n: stopping (pid $pid)"
            signal_group TERM "$pid"
        else
            rm -f "$(pidfile "$n")"
            log "$n: not running"
        fi
    done
    ((${#pids[@]})) || return 0
    deadline=$(( $(now) + STOP_TIMEOUT ))
    while :; do
        left=()
        for n in "${!pids[@]}"; do
            kill -0 "${pids[$n]}" 2>/dev/null && left+=("$n")
        done
        ((${#left[@]})) || break
        if (( $(now) >= deadline )); then
            for n in "${left[@]}"; do
                log "$n: still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
                signal_group KILL "${pids[$n]}"
            done
            sleep 0.3
            break
        fi
        sleep 0.2
    done
    for n in "${!pids[@]}"; do
        rm -f "$(pidfile "$n")"
        log "$n: stopped"
    done
}

stop_one() { stop_many "$1"; }

status() {
    local n rc=0
    for n in "${NAMES[@]}"; do
        if alive "$n"; then
            if healthy "$n"; then
                printf '%-12s running  healthy    127.0.0.1:%s  pid=%s\n' "$n" "${PORTS[$n]}" "$(<"$(pidfile "$n")")"
            else
                printf '%-12s running  UNHEALTHY  127.0.0.1:%s  pid=%s\n' "$n" "${PORTS[$n]}" "$(<"$(pidfile "$n")")"
                rc=3
            fi
        else
            printf '%-12s stopped\n' "$n"
            rc=3
        fi
    done
    return $rc
}

usage() {
    echo "usage: $0 up|down|status|start [name]|stop [name]|restart [name]   (names: ${NAMES[*]})" >&2
    exit 2
}

main() {
    (($#)) || usage
    local cmd=$1 rc=0
    shift
    local targets=("${NAMES[@]}")
    if (($#)); then
        [[ $cmd == start || $cmd == stop || $cmd == restart ]] || usage
        (($# == 1)) || usage
        check_name "$1"
        targets=("$1")
    fi
    if [[ $cmd != status ]]; then
        # One change at a time: two concurrent `restart`s would each spawn a process and overwrite the
        # other's pid file. The lock is released when this script exits.
        mkdir -p "$RUN_DIR"
        exec 9>"$RUN_DIR/services.lock"
        flock -w 300 9 || die "another services.sh is still changing services (lock: $RUN_DIR/services.lock)"
    fi
    case $cmd in
        up | start) start_many "${targets[@]}" ;;
        down | stop) stop_many "${targets[@]}" ;;
        restart) stop_many "${targets[@]}"; start_many "${targets[@]}" ;;
        status) status || rc=$?; exit $rc ;;
        *) usage ;;
    esac
}

main "$@"
