#!/usr/bin/env bash
# Jaeger for the local stack: the services export their traces over OTLP to it, admins open them in
# its UI and HTTP API (ADR 17). Built from the Go module proxy, pinned by deploy/local/jaeger/go.mod.
#
#   bash deploy/local/jaeger.sh install   # go build the pinned Jaeger into .local/tools (once; minutes)
#   bash deploy/local/jaeger.sh up        # install, start in the background, wait until healthy
#   bash deploy/local/jaeger.sh down      # stop it (idempotent)
#   bash deploy/local/jaeger.sh status    # running or not, and where
#   bash deploy/local/jaeger.sh env       # the OTEL_* settings the services need (for .local/env)
#
# Loopback only; ports (environment, defaults): JAEGER_OTLP_GRPC_PORT 4317, JAEGER_OTLP_HTTP_PORT 4318,
# JAEGER_UI_PORT 16686 (UI and /api), JAEGER_QUERY_GRPC_PORT 16685, JAEGER_HEALTH_PORT 13133.
# Storage is in memory, at most JAEGER_MAX_TRACES traces (default 20000): a restart forgets them.
# Binary .local/tools/jaeger-<version>/jaeger, log .local/logs/jaeger.log, pid file .local/run/jaeger.pid.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOCAL="$REPO/.local"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/logs"

JAEGER_VERSION=1.76.0
JAEGER_PACKAGE=github.com/jaegertracing/jaeger/cmd/jaeger
MODULE_DIR="$SCRIPT_DIR/jaeger"
CONFIG="$MODULE_DIR/config.yaml"
BIN_DIR="$LOCAL/tools/jaeger-$JAEGER_VERSION"
BIN="$BIN_DIR/jaeger"
PID_FILE="$RUN_DIR/jaeger.pid"
LOG_FILE="$LOG_DIR/jaeger.log"
BUILD_LOG="$LOG_DIR/jaeger-build.log"
GO_MIN_MINOR=24   # jaeger v1.76.0's go.mod: go 1.24.6

export JAEGER_LISTEN_HOST=127.0.0.1   # never another interface, whatever the caller's environment says
export JAEGER_OTLP_GRPC_PORT=${JAEGER_OTLP_GRPC_PORT:-4317}
export JAEGER_OTLP_HTTP_PORT=${JAEGER_OTLP_HTTP_PORT:-4318}
export JAEGER_UI_PORT=${JAEGER_UI_PORT:-16686}
export JAEGER_QUERY_GRPC_PORT=${JAEGER_QUERY_GRPC_PORT:-16685}
export JAEGER_HEALTH_PORT=${JAEGER_HEALTH_PORT:-13133}
export JAEGER_MAX_TRACES=${JAEGER_MAX_TRACES:-20000}
export JAEGER_UI_ASSETS="$MODULE_DIR/ui"   # the Go module carries no Jaeger UI: a viewer over its API
JAEGER_START_TIMEOUT=${JAEGER_START_TIMEOUT:-60}
JAEGER_STOP_TIMEOUT=${JAEGER_STOP_TIMEOUT:-20}

trap 'rc=$?; echo "jaeger.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[jaeger] %s\n' "$*" >&2; }
die() { printf 'jaeger.sh: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_status() { # http_status PORT PATH -> the status code of GET http://127.0.0.1:PORT/PATH, or nothing
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
        IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
        printf '%s\n' "$code"
    ) 2>/dev/null || true
}

healthy() {
    [[ $(http_status "$JAEGER_HEALTH_PORT" /status) == 200 ]] \
        && [[ $(http_status "$JAEGER_UI_PORT" /api/services) == 200 ]] \
        && port_open "$JAEGER_OTLP_HTTP_PORT" && port_open "$JAEGER_OTLP_GRPC_PORT"
}

pid_alive() {
    local pid
    [[ -s $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$BIN" || return 1
}

tail_log() {
    if [[ -f $1 ]]; then
        echo "---- last 40 lines of $1 ----" >&2
        tail -n 40 "$1" >&2 || true
        echo "----" >&2
    fi
}

# ---------------------------------------------------------------- install

install_go() {
    if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
        export PATH="/usr/local/go/bin:$PATH"
    fi
    if ! command -v go >/dev/null 2>&1; then
        log "apt-get install golang-go (no go on PATH)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2 || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends golang-go >&2 || die "apt-get install golang-go failed"
    fi
    local minor
    minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
    # An older go (>= 1.21) fetches the toolchain go.mod asks for from the module proxy by itself.
    [[ -n $minor && $minor -ge 21 ]] || die "go $(go env GOVERSION) is too old to build Jaeger (needs 1.$GO_MIN_MINOR, or >= 1.21 to fetch it)"
    if [[ -z ${HOME:-} ]]; then
        export GOPATH="$LOCAL/go" GOCACHE="$LOCAL/go/cache"
    fi
}

# kustomize, pinned, for tests/unit/test_k8s_manifests.py (it builds deploy/k8s's overlays and
# compares with the project's own build); go installs it from the module proxy (about 30 s cold).
KUSTOMIZE_VERSION=5.5.0
KUSTOMIZE_BIN="$LOCAL/tools/kustomize-$KUSTOMIZE_VERSION/kustomize"

install_kustomize() {
    [[ -x $KUSTOMIZE_BIN ]] && return 0
    install_go
    log "installing kustomize $KUSTOMIZE_VERSION with go install"
    GOBIN="$(dirname "$KUSTOMIZE_BIN")" GOFLAGS= go install "sigs.k8s.io/kustomize/kustomize/v5@v$KUSTOMIZE_VERSION" >&2 \
        || die "go install of kustomize $KUSTOMIZE_VERSION failed"
}

cmd_install() {
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    install_kustomize
    if [[ -x $BIN ]]; then
        return 0
    fi
    install_go
    mkdir -p "$BIN_DIR"
    local t0=$SECONDS
    log "building Jaeger $JAEGER_VERSION with $(go env GOVERSION) (a cold Go cache takes minutes; log: $BUILD_LOG)"
    # -mod=readonly: the committed go.mod/go.sum decide every module version, nothing is re-resolved.
    if ! (cd "$MODULE_DIR" && GOFLAGS=-mod=readonly go build -trimpath \
        -ldflags "-X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
        -o "$BIN.tmp" "$JAEGER_PACKAGE") >"$BUILD_LOG" 2>&1; then
        rm -f "$BIN.tmp"
        tail_log "$BUILD_LOG"
        die "go build of Jaeger failed (full log: $BUILD_LOG)"
    fi
    mv "$BIN.tmp" "$BIN"
    log "built $BIN in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- run

cmd_up() {
    local t0=$SECONDS deadline pid port
    cmd_install
    if pid_alive; then
        if healthy; then
            log "already running (pid $(<"$PID_FILE")), UI http://127.0.0.1:$JAEGER_UI_PORT"
            return 0
        fi
        log "process alive but not healthy yet, waiting for it"
    else
        rm -f "$PID_FILE"
        for port in "$JAEGER_OTLP_GRPC_PORT" "$JAEGER_OTLP_HTTP_PORT" "$JAEGER_UI_PORT" "$JAEGER_QUERY_GRPC_PORT" "$JAEGER_HEALTH_PORT"; do
            port_open "$port" && die "port $port is in use by a process that is not our Jaeger"
        done
        log "starting: OTLP 127.0.0.1:$JAEGER_OTLP_GRPC_PORT (gRPC) and :$JAEGER_OTLP_HTTP_PORT (HTTP), UI :$JAEGER_UI_PORT"
        echo "==== $(date -u +%FT%TZ) starting jaeger $JAEGER_VERSION" >>"$LOG_FILE"
        # setsid: own session and process group, not tied to this shell or its terminal.
        setsid "$BIN" --config "$CONFIG" </dev/null >>"$LOG_FILE" 2>&1 &
        echo $! >"$PID_FILE"
    fi
    pid=$(<"$PID_FILE")
    deadline=$(( $(now) + JAEGER_START_TIMEOUT ))
    until healthy; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            tail_log "$LOG_FILE"
            die "Jaeger exited during startup (log: $LOG_FILE)"
        fi
        if (( $(now) >= deadline )); then
            tail_log "$LOG_FILE"
            die "Jaeger not healthy after ${JAEGER_START_TIMEOUT}s (still running, pid $pid)"
        fi
        sleep 0.2
    done
    log "ready in $((SECONDS - t0))s (pid $pid): UI http://127.0.0.1:$JAEGER_UI_PORT"
}

cmd_down() {
    local pid deadline
    if ! pid_alive; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    pid=$(<"$PID_FILE")
    log "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now) + JAEGER_STOP_TIMEOUT ))
    while kill -0 "$pid" 2>/dev/null; do
        if (( $(now) >= deadline )); then
            log "still alive after ${JAEGER_STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$PID_FILE"
    log "stopped"
}

cmd_status() {
    if pid_alive && healthy; then
        echo "jaeger    running   UI http://127.0.0.1:$JAEGER_UI_PORT  OTLP 127.0.0.1:$JAEGER_OTLP_HTTP_PORT  pid=$(<"$PID_FILE")"
    elif pid_alive; then
        echo "jaeger    starting  pid=$(<"$PID_FILE") (not healthy yet)"; return 3
    else
        echo "jaeger    stopped"; return 3
    fi
}

# What each service process needs to export its spans here (standard OpenTelemetry variables), and
# where the tests and the demo find the UI and its HTTP API.
cmd_env() {
    echo "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT"
    echo "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
    echo "HLM360_JAEGER_URL=http://127.0.0.1:$JAEGER_UI_PORT"
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
        env) cmd_env ;;
        *) usage ;;
    esac
}

main "$@"
