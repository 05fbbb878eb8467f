#!/usr/bin/env bash
# Run the four Python services and the operators' console locally, each instance as its own OS
# process (own session/process group), behind the front door (deploy/local/frontdoor.sh).
#
#   bash deploy/local/services.sh up                 # start all (idempotent), wait for /healthz
#   bash deploy/local/services.sh down               # stop all
#   bash deploy/local/services.sh status
#   bash deploy/local/services.sh start|stop|restart [name]   # a service (all its instances) or one instance
#   bash deploy/local/services.sh scale ratings=3 reports=2    # exactly N instances of each named service
#   bash deploy/local/services.sh kill ratings.2     # SIGKILL one instance (a crash; tests use it)
#
# Instance K of a service is named `<service>` (K=1) or `<service>.K` and listens on the service's
# port + 10*(K-1): invitations 8101, ratings 8102, reports 8103, scheduling 8104, console 8105, observations 8106
# (ratings.2 on 8112, ratings.3 on 8122). How many instances each service has is kept in
# .local/run/scale/<service> (1 when absent), so `up` brings back what was scaled. After each change
# the front door's upstreams and Prometheus' targets (.local/monitoring/targets) list the instances.
#
# Needs the infrastructure (deploy/local/stack.sh up) for <repo>/.local/env, which is loaded into
# each service's environment. Instance I runs as `<repo>/.venv/bin/python -m <service>` with cwd =
# repo root; output appended to .local/logs/I.log, pid in .local/run/I.pid.
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

declare -A PORTS=([invitations]=8101 [ratings]=8102 [reports]=8103 [scheduling]=8104 [console]=8105 [observations]=8106)
NAMES=(invitations ratings reports scheduling console observations)
MAX_INSTANCES=9 # ports stay below the next block; Kafka's 12 partitions leave no consumer idle
OPERATOR_ENV_FILE="$LOCAL/operator.env"
SCALE_DIR="$RUN_DIR/scale"
TARGETS_DIR="$LOCAL/monitoring/targets" # Prometheus scrapes each instance listed here (deploy/local/monitoring.sh)

trap 'rc=$?; echo "services.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf 'services.sh: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

service_of() { printf '%s\n' "${1%%.*}"; }                             # ratings.2 -> ratings
index_of() { [[ $1 == *.* ]] && printf '%s\n' "${1##*.}" || echo 1; } # ratings.2 -> 2
port_of() { echo $(( ${PORTS[$(service_of "$1")]} + 10 * ($(index_of "$1") - 1) )); }
instance_name() { (($2 == 1)) && printf '%s\n' "$1" || printf '%s.%s\n' "$1" "$2"; }

pidfile() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }
logfile() { printf '%s/%s.log\n' "$LOG_DIR" "$1"; }

scale_of() { # how many instances the service is meant to have
    local f="$SCALE_DIR/$1" n=1
    [[ -s $f ]] && n=$(<"$f")
    [[ $n =~ ^[1-9]$ ]] || n=1
    echo "$n"
}

instances_of() { # instances_of SERVICE: its instances 1..scale
    local k
    for ((k = 1; k <= $(scale_of "$1"); k++)); do instance_name "$1" "$k"; done
}

running_instances_of() { # instances_of SERVICE with a pid file, whatever the scale says
    local f
    for f in "$RUN_DIR/$1.pid" "$RUN_DIR/$1".[0-9].pid; do
        [[ -e $f ]] && basename "$f" .pid
    done
    return 0
}

targets_on() { # targets_on SERVICE: Prometheus scrapes every instance the service is meant to have
    local i list=()
    for i in $(instances_of "$1"); do list+=("\"127.0.0.1:$(port_of "$i")\""); done
    mkdir -p "$TARGETS_DIR"
    local IFS=,
    printf '[{"targets": [%s]}]\n' "${list[*]}" >"$TARGETS_DIR/$1.json.tmp"
    mv "$TARGETS_DIR/$1.json.tmp" "$TARGETS_DIR/$1.json"
}

front_door_follows() { # the front door's upstreams follow the instances (when it runs)
    bash "$SCRIPT_DIR/frontdoor.sh" reload 9>&- # nginx must not hold the script's lock
}

alive() { # alive INSTANCE -> 0 if the pid file points at a live `python -m SERVICE`
    local f pid
    f=$(pidfile "$1")
    [[ -s $f ]] || return 1
    pid=$(<"$f")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-m $(service_of "$1")" || return 1
}

healthy() { # healthy INSTANCE -> 0 if GET /healthz answers 200
    local code
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(port_of "$1")/healthz" 2>/dev/null) || true
    [[ $code == 200 ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_name() { # a service, or one of its instances (service.K, K in 2..MAX_INSTANCES)
    local s
    s=$(service_of "$1")
    [[ -n ${PORTS[$s]:-} ]] || die "unknown service '$1' (known: ${NAMES[*]})"
    [[ $1 == "$s" || $1 =~ ^[a-z]+\.[2-9]$ ]] || die "unknown instance '$1' (instances: $s, $s.2 .. $s.$MAX_INSTANCES)"
}

spawn() { # spawn INSTANCE: start the process unless it is already running
    local n=$1 pid s port
    if alive "$n"; then
        return 0
    fi
    s=$(service_of "$n")
    port=$(port_of "$n")
    rm -f "$(pidfile "$n")"
    # A process that was just killed may hold its port for a moment while its last threads exit.
    local waited=0
    while port_open "$port" && (( waited < 40 )); do
        sleep 0.25; waited=$(( waited + 1 ))
    done
    if port_open "$port"; then
        die "$n: port $port is already in use by a process this script did not start"
    fi
    [[ -f $ENV_FILE ]] || die "$ENV_FILE missing: run 'bash deploy/local/stack.sh up' first"
    [[ -x $PY ]] || die "python interpreter $PY not found (create the workspace venv, e.g. 'uv sync', or set HLM360_PYTHON)"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    log "$n: starting on 127.0.0.1:$port"
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
        command=("$PY" -m "$s")
        if [[ $s == console ]]; then
            # shellcheck disable=SC1090
            set -a && . "$OPERATOR_ENV_FILE" && set +a
            unset HLM360_KAFKA_EXTERNAL_USERNAME HLM360_KAFKA_EXTERNAL_PASSWORD
            command=("$PY" -m console console serve)
        fi
        export "${s^^}_HTTP_PORT=$port" OTEL_RESOURCE_ATTRIBUTES="service.instance.id=$n"
        # setsid: the service leads its own process group, so stop can signal the whole group.
        exec setsid "${command[@]}"
    ) </dev/null >>"$(logfile "$n")" 2>&1 9>&- &  # 9>&-: the service must not hold the script's lock
    pid=$!
    echo "$pid" >"$(pidfile "$n")"
}

wait_healthy() { # wait_healthy INSTANCE
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
            stop_many "$n" >/dev/null 2>&1 || true
            die "$n: http://127.0.0.1:$(port_of "$n")/healthz not 200 after ${START_TIMEOUT}s (process stopped; log: $(logfile "$n"))"
        fi
        sleep 0.25
    done
    log "$n: healthy on 127.0.0.1:$(port_of "$n") (pid $pid)"
}

start_many() { # start_many INSTANCE...: spawn all, then wait for each (they start in parallel)
    local n waiting=()
    for n in "$@"; do
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

stop_many() { # stop_many INSTANCE...: SIGTERM all, wait up to STOP_TIMEOUT, then SIGKILL the stragglers
    local n pid deadline left
    declare -A pids=()
    for n in "$@"; do
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

kill_one() { # a crash: SIGKILL the instance's process group now
    local pid
    alive "$1" || die "$1 is not running"
    pid=$(<"$(pidfile "$1")")
    log "$1: killing (SIGKILL, pid $pid)"
    signal_group KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

scale() { # scale SERVICE=N...: exactly N instances of each
    local arg s n k extra=() start=()
    for arg in "$@"; do
        [[ $arg =~ ^([a-z]+)=([0-9]+)$ ]] || die "scale takes SERVICE=N, not '$arg'"
        s=${BASH_REMATCH[1]}
        n=${BASH_REMATCH[2]}
        [[ -n ${PORTS[$s]:-} ]] || die "unknown service '$s' (known: ${NAMES[*]})"
        ((n >= 1 && n <= MAX_INSTANCES)) || die "$s: from 1 to $MAX_INSTANCES instances, not $n"
        mkdir -p "$SCALE_DIR"
        echo "$n" >"$SCALE_DIR/$s"
        log "$s: scaling to $n instance(s)"
        for ((k = 1; k <= n; k++)); do start+=("$(instance_name "$s" "$k")"); done
        for k in $(running_instances_of "$s"); do
            (($(index_of "$k") > n)) && extra+=("$k")
        done
        targets_on "$s"
    done
    start_many "${start[@]}"
    front_door_follows
    # the front door stops sending to an instance before it stops
    ((${#extra[@]} == 0)) || stop_many "${extra[@]}"
}

expand() { # expand [NAME]: the instances a command acts on (a service: all it has or is meant to have)
    local s i
    if (($# == 0)); then
        for s in "${NAMES[@]}"; do expand "$s"; done
        return 0
    fi
    if [[ $1 == *.* ]]; then
        echo "$1"
        return 0
    fi
    { instances_of "$1"; running_instances_of "$1"; } | awk '!seen[$0]++'
}

status() {
    local s n rc=0
    for s in "${NAMES[@]}"; do
        for n in $(expand "$s"); do
            if alive "$n"; then
                if healthy "$n"; then
                    printf '%-14s running  healthy    127.0.0.1:%s  pid=%s\n' "$n" "$(port_of "$n")" "$(<"$(pidfile "$n")")"
                else
                    printf '%-14s running  UNHEALTHY  127.0.0.1:%s  pid=%s\n' "$n" "$(port_of "$n")" "$(<"$(pidfile "$n")")"
                    rc=3
                fi
            else
                printf '%-14s stopped\n' "$n"
                rc=3
            fi
        done
    done
    return $rc
}

usage() {
    echo "usage: $0 up|down|status|start [name]|stop [name]|restart [name]|scale SERVICE=N...|kill INSTANCE" >&2
    echo "  (services: ${NAMES[*]}; an instance: SERVICE or SERVICE.K)" >&2
    exit 2
}

main() {
    (($#)) || usage
    local cmd=$1 rc=0 s
    shift
    if [[ $cmd == scale ]]; then
        (($#)) || usage
    elif (($#)); then
        [[ $cmd == start || $cmd == stop || $cmd == restart || $cmd == kill ]] || usage
        (($# == 1)) || usage
        check_name "$1"
    fi
    [[ $cmd != kill ]] || (($# == 1)) || usage
    if [[ $cmd != status ]]; then
        # One change at a time: two concurrent `restart`s would each spawn a process and overwrite the
        # other's pid file. The lock is released when this script exits.
        mkdir -p "$RUN_DIR"
        exec 9>"$RUN_DIR/services.lock"
        flock -w 300 9 || die "another services.sh is still changing services (lock: $RUN_DIR/services.lock)"
    fi
    local targets=()
    [[ $cmd == scale ]] || mapfile -t targets < <(expand "$@")
    case $cmd in
        up | start)
            for s in "${NAMES[@]}"; do targets_on "$s"; done
            start_many "${targets[@]}"
            front_door_follows
            ;;
        down | stop)
            # stopped on purpose: no longer a scrape target
            if ((!$#)); then
                bash "$SCRIPT_DIR/frontdoor.sh" down 9>&-
                rm -f "$TARGETS_DIR"/*.json
            fi
            stop_many "${targets[@]}"
            ;;
        restart) stop_many "${targets[@]}"; start_many "${targets[@]}"; front_door_follows ;;
        scale) scale "$@" ;;
        kill) kill_one "$1" ;;
        status) status || rc=$?; exit $rc ;;
        *) usage ;;
    esac
}

main "$@"
