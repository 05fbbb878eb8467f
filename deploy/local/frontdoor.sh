#!/usr/bin/env bash
# The local front door: nginx (Debian) on one origin, https://localhost:8443 (http://localhost:8080
# redirects there), in front of every service instance deploy/local/services.sh runs. Paths are
# routed to services (deploy/frontdoor/routes.py); the TLS certificate is issued by a local CA made
# once per machine under .local/frontdoor/tls (its certificate: .local/frontdoor/ca.pem).
# docs/adr/0024-one-front-door.md.
#
#   bash deploy/local/frontdoor.sh install   # nginx and openssl, when missing
#   bash deploy/local/frontdoor.sh cert      # the local CA and the server certificate (idempotent)
#   bash deploy/local/frontdoor.sh env       # print the settings .local/env takes from here
#   bash deploy/local/frontdoor.sh up|reload # write nginx.conf from the running instances; start or reload
#   bash deploy/local/frontdoor.sh down|status
#
# Overrides: HLM360_FRONTDOOR_PORT (8443), HLM360_FRONTDOOR_HTTP_PORT (8080),
# HLM360_FRONTDOOR_RATE and HLM360_FRONTDOOR_BURST: requests per second per client and the burst
# above it. The local stack is the test and benchmark environment, whose load comes from one address:
# it lifts them (1000/s, 2000) as it lifts the public start's limits; compose keeps nginx.py's (20/s,
# 100). The console's sign-in limit is never lifted.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
# the stack's own directory, wherever it is reached from (a git worktree links .local to it): nginx
# replaces its pid file by path on reload, so every caller must name the same one
mkdir -p "$REPO/.local"
LOCAL="$(cd "$REPO/.local" && pwd -P)"
FD_DIR="$LOCAL/frontdoor"
TLS_DIR="$FD_DIR/tls"
CONF="$FD_DIR/nginx.conf"
RUN_DIR="$LOCAL/run"
LOG_DIR="$LOCAL/logs"
PID_FILE="$RUN_DIR/frontdoor.pid"
PY="${HLM360_PYTHON:-$REPO/.venv/bin/python}"
NGINX=/usr/sbin/nginx
HOST=localhost
PORT=${HLM360_FRONTDOOR_PORT:-8443}
HTTP_PORT=${HLM360_FRONTDOOR_HTTP_PORT:-8080}
# The services trust X-Forwarded-* from this source address only (proxy_bind): on loopback every
# other local client connects from 127.0.0.1.
BIND_ADDRESS=127.0.0.2

trap 'rc=$?; echo "frontdoor.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[frontdoor] %s\n' "$*" >&2; }
die() { printf 'frontdoor.sh: error: %s\n' "$*" >&2; exit 1; }

install() {
    local pkgs=()
    [[ -x $NGINX ]] || pkgs+=(nginx-light)
    command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
    ((${#pkgs[@]})) || return 0
    log "installing ${pkgs[*]}"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}" >/dev/null
    # Debian starts its own nginx on port 80: this stack runs its own, on its own ports.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
    elif [[ -x /etc/init.d/nginx ]]; then
        /etc/init.d/nginx stop >/dev/null 2>&1 || true
    fi
}

cert() { # a CA made once per machine; a server certificate for localhost and 127.0.0.1 from it
    install
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    if [[ ! -s $TLS_DIR/ca.key || ! -s $TLS_DIR/ca.pem ]]; then
        log "making the local certificate authority"
        (umask 077 && openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
            -subj "/O=hlm360 local/CN=hlm360 local CA" \
            -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.pem" 2>/dev/null)
        rm -f "$TLS_DIR/server.pem"
    fi
    if [[ ! -s $TLS_DIR/server.pem ]] || ! openssl x509 -checkend 604800 -noout -in "$TLS_DIR/server.pem" >/dev/null; then
        log "issuing the server certificate for $HOST"
        (umask 077 && openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" \
            -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null)
        printf 'subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$HOST" \
            >"$TLS_DIR/server.ext"
        openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca.key" \
            -CAcreateserial -days 397 -sha256 -extfile "$TLS_DIR/server.ext" -out "$TLS_DIR/server.pem" 2>/dev/null
        rm -f "$TLS_DIR/server.csr" "$TLS_DIR/server.ext"
    fi
    cp "$TLS_DIR/ca.pem" "$FD_DIR/ca.pem"
    # Clients of this machine (httpx, the tests, the demo) trust the public CAs and this one:
    # SSL_CERT_FILE points here (frontdoor.sh env).
    cat "$("$PY" -c 'import certifi; print(certifi.where())')" "$TLS_DIR/ca.pem" >"$FD_DIR/trust.pem.tmp"
    mv "$FD_DIR/trust.pem.tmp" "$FD_DIR/trust.pem"
    # Chromium (the browser tests) trusts exactly this server key: its SPKI hash.
    openssl x509 -in "$TLS_DIR/server.pem" -pubkey -noout | openssl pkey -pubin -outform der \
        | openssl dgst -sha256 -binary | base64 >"$FD_DIR/spki.txt"
}

env_lines() {
    echo "HLM360_FRONTDOOR_URL=https://$HOST:$PORT"
    echo "HLM360_FRONTDOOR_CA=$FD_DIR/ca.pem"
    echo "SSL_CERT_FILE=$FD_DIR/trust.pem"
}

running() {
    local pid
    [[ -s $PID_FILE ]] || return 1
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "nginx: master"
}

temp_dir() { # nginx's workers write request bodies here: as root they run as nobody
    local dir="$FD_DIR/tmp"
    if ((EUID == 0)); then
        dir="/tmp/hlm360-frontdoor-$(printf '%s' "$LOCAL" | sha256sum | cut -c1-12)"
        mkdir -p "$dir"
        chown nobody "$dir"
        chmod 700 "$dir"
    fi
    mkdir -p "$dir"
    echo "$dir"
}

render() {
    local user=() tmp
    ((EUID == 0)) && user=(--user "nobody nogroup")
    mkdir -p "$FD_DIR" "$RUN_DIR" "$LOG_DIR"
    tmp=$(temp_dir)
    (cd "$REPO" && "$PY" -m deploy.frontdoor.nginx local --local-dir "$LOCAL" --https-port "$PORT" --http-port "$HTTP_PORT" \
        --host "$HOST" --bind-address "$BIND_ADDRESS" --temp-dir "$tmp" "${user[@]}" \
        --per-client-per-second "${HLM360_FRONTDOOR_RATE:-1000}" --per-client-burst "${HLM360_FRONTDOOR_BURST:-2000}" \
        >"$CONF.tmp")
    "$NGINX" -t -q -p "$FD_DIR" -c "$CONF.tmp" -e "$LOG_DIR/frontdoor.log" \
        || die "nginx refused the generated configuration ($CONF.tmp)"
    mv "$CONF.tmp" "$CONF"
}

up() {
    cert
    render
    if running; then
        "$NGINX" -p "$FD_DIR" -c "$CONF" -e "$LOG_DIR/frontdoor.log" -s reload
        log "reloaded: https://$HOST:$PORT"
        return 0
    fi
    "$NGINX" -p "$FD_DIR" -c "$CONF" -e "$LOG_DIR/frontdoor.log"
    local waited=0
    until curl -s -o /dev/null --cacert "$FD_DIR/ca.pem" "https://$HOST:$PORT/healthz"; do
        ((waited++ < 40)) || die "the front door does not answer on https://$HOST:$PORT (log: $LOG_DIR/frontdoor.log)"
        sleep 0.25
    done
    log "running: https://$HOST:$PORT (pid $(<"$PID_FILE"))"
}

down() {
    if running; then
        "$NGINX" -p "$FD_DIR" -c "$CONF" -e "$LOG_DIR/frontdoor.log" -s quit
        local waited=0
        while running && ((waited++ < 40)); do sleep 0.25; done
        log "stopped"
    fi
    rm -f "$PID_FILE"
}

status() {
    if running; then
        echo "frontdoor     running   https://$HOST:$PORT  pid=$(<"$PID_FILE")"
    else
        echo "frontdoor     stopped"
        return 3
    fi
}

case ${1:-} in
    install) install ;;
    cert) cert ;;
    env) env_lines ;;
    up | reload) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 install|cert|env|up|reload|down|status" >&2; exit 2 ;;
esac
