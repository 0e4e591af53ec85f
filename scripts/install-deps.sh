#!/usr/bin/env bash
# Installs the system packages clipcore needs, if any are missing (Debian/Ubuntu).
#   scripts/install-deps.sh          what building and running clipcore needs
#   scripts/install-deps.sh --test   also what the test suite needs (a C compiler,
#                                    binutils, python3 with venv, valgrind, Open MPI for
#                                    scripts/test-mpi.sh: mpirun and libmpi)
# Python packages are not installed here: the test suite makes its own virtual
# environment (scripts/python-env.sh).
set -euo pipefail
pkgs=(libopenblas-dev libfaiss-dev libpng-dev libjpeg62-turbo-dev libsqlite3-dev pkg-config)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(gcc libc6-dev binutils python3 python3-venv valgrind libopenmpi-dev openmpi-bin)
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--test]" >&2; exit 2
fi
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
