#!/usr/bin/env bash
# Local monitoring: Prometheus and Alertmanager from the Debian packages, run by this script with the
# project's configuration (deploy/monitoring/), never by the packages' own services.
#
#   bash deploy/local/monitoring.sh install   # apt packages prometheus, prometheus-alertmanager (promtool, amtool)
#   bash deploy/local/monitoring.sh up        # install, render the config, start both (idempotent; reloads config)
#   bash deploy/local/monitoring.sh down      # stop both (idempotent)
#   bash deploy/local/monitoring.sh status    # what is running
#
# deploy/local/stack.sh runs `up` and `down`. Loopback only; all state under <repo>/.local/monitoring:
#   Prometheus    http://127.0.0.1:9090   (HLM360_PROMETHEUS_PORT)   data .local/monitoring/prometheus
#   Alertmanager  http://127.0.0.1:9093   (HLM360_ALERTMANAGER_PORT) data .local/monitoring/alertmanager
# Scrape targets: one file_sd file per running service instance in .local/monitoring/targets, written
# by deploy/local/services.sh. Alerts are emailed from HLM360_ALERTS_FROM to HLM360_OPERATORS_EMAIL
# through the stack's SMTP sink (127.0.0.1:2525, HLM360_MAIL_PORT), which keeps them in .local/mail.
# Logs in .local/logs/{prometheus,alertmanager}.log, pid files in .local/run/.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
mkdir -p "$REPO/.local"
LOCAL="$(cd "$REPO/.local" && pwd -P)" # resolved: a worktree whose .local links to another's finds the same processes
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/logs"
CONFIG_DIR="$REPO/deploy/monitoring"
MON_DIR="$LOCAL/monitoring"
TARGETS_DIR="$MON_DIR/targets"

PROM_PORT=${HLM360_PROMETHEUS_PORT:-9090}
AM_PORT=${HLM360_ALERTMANAGER_PORT:-9093}
MAIL_PORT=${HLM360_MAIL_PORT:-2525}
ALERTS_FROM=${HLM360_ALERTS_FROM:-"HLM 360 alerts <hlm360-alerts@hlm360.example.nhs.uk>"}
OPERATORS_TO=${HLM360_OPERATORS_EMAIL:-hlm360-operators@hlm360.example.nhs.uk}
START_TIMEOUT=${MONITORING_START_TIMEOUT:-60}
STOP_TIMEOUT=${MONITORING_STOP_TIMEOUT:-30}

PROMETHEUS=/usr/bin/prometheus
ALERTMANAGER=/usr/bin/prometheus-alertmanager # the Debian package's name for the alertmanager binary
PROM_CONF="$MON_DIR/prometheus.yml"
AM_CONF="$MON_DIR/alertmanager.yml"
PROM_PID="$RUN_DIR/prometheus.pid"
AM_PID="$RUN_DIR/alertmanager.pid"

trap 'rc=$?; echo "monitoring.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[monitoring] %s\n' "$*" >&2; }
die() { printf 'monitoring.sh: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { # pid_alive PIDFILE PATTERN: the pid file names a live process whose command line has PATTERN
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

ready() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$1/-/ready" 2>/dev/null; }

# ---------------------------------------------------------------- install

installed() { [[ -x $PROMETHEUS && -x /usr/bin/promtool && -x $ALERTMANAGER && -x /usr/bin/amtool ]]; }

cmd_install() {
    if installed; then
        return 0
    fi
    [[ $(id -u) == 0 ]] || die "prometheus and prometheus-alertmanager are not installed: run '$0 install' as root"
    log "apt-get install prometheus prometheus-alertmanager"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager \
        || die "apt-get install prometheus prometheus-alertmanager failed"
    installed || die "packages installed but $PROMETHEUS, promtool, $ALERTMANAGER or amtool is missing"
    quiet_package_daemons
}

quiet_package_daemons() {
    # The packages enable and may start their own daemons (systemd units, or init scripts where there
    # is no systemd) on 9090/9093 with /etc/prometheus: this script runs its own, so stop theirs.
    local name
    for name in prometheus prometheus-alertmanager; do
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now "$name" >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/$name ]]; then
            /etc/init.d/"$name" stop >/dev/null 2>&1 || true
            update-rc.d "$name" disable >/dev/null 2>&1 || true
        fi
    done
}

# ---------------------------------------------------------------- config

render() { # the templates in deploy/monitoring, with this machine's paths and addresses
    mkdir -p "$MON_DIR/prometheus" "$MON_DIR/alertmanager" "$TARGETS_DIR" "$RUN_DIR" "$LOG_DIR"
    sed -e "s|@RULES_DIR@|$CONFIG_DIR|g" -e "s|@TARGETS_DIR@|$TARGETS_DIR|g" \
        -e "s|@ALERTMANAGER@|127.0.0.1:$AM_PORT|g" "$CONFIG_DIR/prometheus.yml" >"$PROM_CONF.tmp"
    mv "$PROM_CONF.tmp" "$PROM_CONF"
    sed -e "s|@SMTP_SMARTHOST@|127.0.0.1:$MAIL_PORT|g" -e "s|@ALERTS_FROM@|$ALERTS_FROM|g" \
        -e "s|@OPERATORS_TO@|$OPERATORS_TO|g" "$CONFIG_DIR/alertmanager.yml" >"$AM_CONF.tmp"
    mv "$AM_CONF.tmp" "$AM_CONF"
    promtool check config --syntax-only "$PROM_CONF" >"$LOG_DIR/promtool-check.log" 2>&1 \
        || { cat "$LOG_DIR/promtool-check.log" >&2; die "promtool rejects $PROM_CONF"; }
    promtool check rules "$CONFIG_DIR/alerts.yml" >>"$LOG_DIR/promtool-check.log" 2>&1 \
        || { cat "$LOG_DIR/promtool-check.log" >&2; die "promtool rejects $CONFIG_DIR/alerts.yml"; }
    amtool check-config "$AM_CONF" >"$LOG_DIR/amtool-check.log" 2>&1 \
        || { cat "$LOG_DIR/amtool-check.log" >&2; die "amtool rejects $AM_CONF"; }
}

# ---------------------------------------------------------------- processes

start() { # start NAME PORT PIDFILE CONF COMMAND...: start unless running (then reload its config), wait for /-/ready
    local name=$1 port=$2 pidfile=$3 conf=$4 pid deadline
    shift 4
    if pid_alive "$pidfile" "$conf"; then
        if curl -fsS -o /dev/null -m 5 -X POST "http://127.0.0.1:$port/-/reload" 2>/dev/null; then
            log "$name: already running (pid $(<"$pidfile")), configuration reloaded"
        else
            log "$name: already running (pid $(<"$pidfile")) but the reload failed: see $LOG_DIR/$name.log"
        fi
    else
        rm -f "$pidfile"
        if port_open "$port"; then
            die "port $port is in use by a process this script did not start (a package's own $name? try: service $name stop)"
        fi
        log "$name: starting on 127.0.0.1:$port"
        echo "==== $(date -u +%FT%TZ) starting $name" >>"$LOG_DIR/$name.log"
        # setsid: its own process group, not tied to this shell or its terminal
        setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 &
        echo $! >"$pidfile"
    fi
    pid=$(<"$pidfile")
    deadline=$(($(now) + START_TIMEOUT))
    until ready "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$pidfile"
            tail -n 30 "$LOG_DIR/$name.log" >&2 || true
            die "$name exited during startup (log: $LOG_DIR/$name.log)"
        fi
        (($(now) < deadline)) || die "$name not ready on 127.0.0.1:$port after ${START_TIMEOUT}s (log: $LOG_DIR/$name.log)"
        sleep 0.3
    done
    log "$name: ready on http://127.0.0.1:$port (pid $pid)"
}

stop() { # stop NAME PIDFILE CONF: SIGTERM, wait, SIGKILL
    local name=$1 pidfile=$2 conf=$3 pid deadline
    if ! pid_alive "$pidfile" "$conf"; then
        rm -f "$pidfile"
        log "$name: not running"
        return 0
    fi
    pid=$(<"$pidfile")
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(now) + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if (($(now) >= deadline)); then
            log "$name: still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$pidfile"
    log "$name: stopped"
}

cmd_up() {
    cmd_install
    render
    start alertmanager "$AM_PORT" "$AM_PID" "$AM_CONF" "$ALERTMANAGER" \
        --config.file="$AM_CONF" --storage.path="$MON_DIR/alertmanager" \
        --web.listen-address="127.0.0.1:$AM_PORT" --web.external-url="http://127.0.0.1:$AM_PORT/" \
        --cluster.listen-address=
    start prometheus "$PROM_PORT" "$PROM_PID" "$PROM_CONF" "$PROMETHEUS" \
        --config.file="$PROM_CONF" --storage.tsdb.path="$MON_DIR/prometheus" \
        --storage.tsdb.retention.time=15d --web.enable-lifecycle \
        --web.listen-address="127.0.0.1:$PROM_PORT" --web.external-url="http://127.0.0.1:$PROM_PORT/"
}

cmd_down() {
    stop prometheus "$PROM_PID" "$PROM_CONF"
    stop alertmanager "$AM_PID" "$AM_CONF"
}

cmd_status() {
    local rc=0
    if pid_alive "$PROM_PID" "$PROM_CONF" && ready "$PROM_PORT"; then
        echo "prometheus    running   http://127.0.0.1:$PROM_PORT  pid=$(<"$PROM_PID")  targets=$TARGETS_DIR"
    else
        echo "prometheus    stopped"
        rc=3
    fi
    if pid_alive "$AM_PID" "$AM_CONF" && ready "$AM_PORT"; then
        echo "alertmanager  running   http://127.0.0.1:$AM_PORT  pid=$(<"$AM_PID")  mail to $OPERATORS_TO via 127.0.0.1:$MAIL_PORT"
    else
        echo "alertmanager  stopped"
        rc=3
    fi
    return $rc
}

usage() {
    echo "usage: $0 install|up|down|status" >&2
    exit 2
}

main() {
    [[ $# -eq 1 ]] || usage
    case $1 in
        install) cmd_install ;;
        up) cmd_up ;;
        down) cmd_down ;;
        status) local rc=0; cmd_status || rc=$?; exit $rc ;;
        *) usage ;;
    esac
}

main "$@"
