#!/usr/bin/env bash
# Installs uv into a venv the Makefile controls (idempotent): <home>/bin/uv at exactly <version>.
# Whatever pip does with scripts on this machine (root, --user, pyenv shims), uv ends up here.
set -euo pipefail
home=${1:?usage: install-uv.sh <home> <version>}
version=${2:?usage: install-uv.sh <home> <version>}
uv="$home/bin/uv"
if [[ -x $uv ]] && [[ "$("$uv" --version 2>/dev/null)" == "uv $version"* ]]; then
    exit 0
fi
python=$(command -v python3.11 || command -v python3) || { echo "install-uv: python3 not found" >&2; exit 1; }
rm -rf "$home"
"$python" -m venv "$home"
"$home/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$version"
[[ -x $uv ]] || { echo "install-uv: $uv missing after pip install" >&2; exit 1; }
"$uv" --version
