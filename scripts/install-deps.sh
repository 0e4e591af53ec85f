#!/usr/bin/env bash
# Installs the system packages clipcore needs, if any are missing (Debian/Ubuntu).
set -euo pipefail
pkgs=(libopenblas-dev libfaiss-dev libpng-dev pkg-config python3-numpy python3-pip python3-setuptools python3-wheel valgrind)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
