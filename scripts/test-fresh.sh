#!/usr/bin/env bash
# Runs the README's test command as a new user would: in a fresh clone of this
# checkout's HEAD (no build folders, no test environment), with `python3` on
# PATH replaced by a bare virtual environment made --without-pip, so that the
# suite cannot lean on packages (numpy, wheel, setuptools, pip) that the
# ambient interpreter happens to have. Builds everything from scratch: it takes
# as long as CI (about 10 minutes on 2 cores).
#
# Usage: scripts/test-fresh.sh [--demo]
#   --demo   run scripts/demo.sh in the fresh clone instead of scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=scripts/test.sh
case "${1:-}" in
    "") ;;
    --demo) cmd=scripts/demo.sh ;;
    *) echo "usage: $0 [--demo]" >&2; exit 2 ;;
esac
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: scripts/install-deps.sh --test" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git clone -q . "$scratch/clone"
# A bare interpreter: a venv with no pip and no site packages of its own.
python3 -m venv --without-pip "$scratch/bare"
if "$scratch/bare/bin/python3" -c 'import numpy' 2>/dev/null || "$scratch/bare/bin/python3" -m pip --version >/dev/null 2>&1; then
    echo "the bare interpreter is not bare" >&2; exit 1
fi
mkdir "$scratch/bin"
ln -s "$scratch/bare/bin/python3" "$scratch/bin/python3"
ln -s "$scratch/bare/bin/python3" "$scratch/bin/python"
# No pip on PATH either: whatever is installed comes from the suite's own venv.
printf '#!/bin/sh\necho "pip on PATH was called: the scripts must use their own venv" >&2\nexit 97\n' > "$scratch/bin/pip"
chmod +x "$scratch/bin/pip"; cp "$scratch/bin/pip" "$scratch/bin/pip3"
echo "== fresh clone in $scratch/clone, python3 = $(PATH="$scratch/bin:$PATH" command -v python3) (no pip, no packages)"
start=$(date +%s)
(cd "$scratch/clone" && PATH="$scratch/bin:$PATH" $cmd)
echo "== $cmd passed in a fresh clone with a bare python3 in $(( $(date +%s) - start )) s"
