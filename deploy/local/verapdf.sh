#!/usr/bin/env bash
# veraPDF, the PDF/UA-1 validator the tests hold the reports' PDFs to (ADR 25), from Maven Central.
#
#   bash deploy/local/verapdf.sh install      # fetch the pinned CLI jar once (idempotent), print the command
#   bash deploy/local/verapdf.sh path         # print the command line that runs it (no install)
#   bash deploy/local/verapdf.sh run ARGS...  # install if needed, then run it, e.g.
#       bash deploy/local/verapdf.sh run --flavour ua1 --format json a.pdf b.pdf
#
# org.verapdf.apps:greenfield-apps is one self-contained (shaded) jar, so `mvn dependency:copy` of
# that one artifact is the whole install: no version ranges of its poms are ever resolved. The jar's
# sha256 is pinned below and checked on every call (~30 ms), so a warm `install` or `run` costs
# only that. State: <repo>/.local/tools/verapdf-<version>/ (never committed).
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"

VERAPDF_VERSION=1.28.2
VERAPDF_SHA256=687d4d8bcfec48c9f7e931cf78ed061f1eeccfba55d4cdc000ba9b4d8aa46ce6
VERAPDF_ARTIFACT="org.verapdf.apps:greenfield-apps:$VERAPDF_VERSION:jar"
VERAPDF_MAIN=org.verapdf.apps.GreenfieldCliWrapper # the jar's Main-Class is the GUI
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
TOOL_DIR="$REPO/.local/tools/verapdf-$VERAPDF_VERSION"
JAR="$TOOL_DIR/greenfield-apps-$VERAPDF_VERSION.jar"
LOG_FILE="$REPO/.local/logs/mvn-verapdf.log"
# A few small PDFs: start-up dominates, so the C1 compiler alone and the serial GC halve the run (~4 s, not ~9 s).
JAVA_OPTS=(-XX:+UseSerialGC -XX:TieredStopAtLevel=1)

trap 'rc=$?; echo "verapdf.sh: error: command failed (exit $rc) at line $LINENO: $BASH_COMMAND" >&2' ERR

log() { printf '[verapdf] %s\n' "$*" >&2; }
die() { printf 'verapdf.sh: error: %s\n' "$*" >&2; exit 1; }

installed() { [[ -f $JAR ]] && [[ $(sha256sum "$JAR" | cut -d' ' -f1) == "$VERAPDF_SHA256" ]]; }

command_line() { printf 'java %s -cp %q %s\n' "${JAVA_OPTS[*]}" "$JAR" "$VERAPDF_MAIN"; }

install_java_maven() {
    # As deploy/local/stack.sh does: Debian's JDK and maven when either is missing.
    local pkgs=()
    command -v java >/dev/null 2>&1 || pkgs+=(default-jdk-headless)
    command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
    if ((${#pkgs[@]})); then
        log "apt-get install ${pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >&2 || die "apt-get update failed"
        apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2 || die "apt-get install ${pkgs[*]} failed"
    fi
}

cmd_install() {
    if installed; then
        return 0
    fi
    install_java_maven
    log "fetching $VERAPDF_ARTIFACT with maven"
    mkdir -p "$(dirname "$LOG_FILE")"
    local tmp="$TOOL_DIR.tmp"
    rm -rf "$tmp"
    if ! mvn -q -B "$DEPENDENCY_PLUGIN:copy" -Dartifact="$VERAPDF_ARTIFACT" -DoutputDirectory="$tmp" \
        >"$LOG_FILE" 2>&1; then
        tail -n 40 "$LOG_FILE" >&2
        die "maven could not fetch $VERAPDF_ARTIFACT (full log: $LOG_FILE)"
    fi
    local got
    got=$(sha256sum "$tmp/greenfield-apps-$VERAPDF_VERSION.jar" | cut -d' ' -f1)
    [[ $got == "$VERAPDF_SHA256" ]] || die "greenfield-apps $VERAPDF_VERSION has sha256 $got, expected $VERAPDF_SHA256"
    rm -rf "$TOOL_DIR"
    mv "$tmp" "$TOOL_DIR"
    log "veraPDF $VERAPDF_VERSION in $TOOL_DIR"
}

case "${1:-}" in
    install)
        cmd_install
        command_line
        ;;
    path)
        installed || die "veraPDF $VERAPDF_VERSION is not installed: bash deploy/local/verapdf.sh install"
        command_line
        ;;
    run)
        shift
        cmd_install
        exec java "${JAVA_OPTS[@]}" -cp "$JAR" "$VERAPDF_MAIN" "$@"
        ;;
    -h | --help | help)
        echo "usage: $0 install|path|run [veraPDF arguments...]"
        ;;
    *)
        echo "usage: $0 install|path|run [veraPDF arguments...]" >&2
        exit 2
        ;;
esac
