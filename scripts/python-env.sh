#!/usr/bin/env bash
# The test suite's own Python: a virtual environment in .build-venv/ (ignored by
# git) with the packages of Tools/requirements-test.txt, made with whatever
# `python3` is on PATH and nothing else from it. Prints the environment's python.
# The environment is reused while the requirements file is unchanged.
# Environment: CLIPCORE_TEST_VENV overrides the folder.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CLIPCORE_TEST_VENV:-$(pwd)/.build-venv}"
req=Tools/requirements-test.txt
command -v python3 >/dev/null 2>&1 || { echo "python3 not found on PATH (scripts/install-deps.sh --test installs it)" >&2; exit 1; }
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$stamp" && "$venv/bin/python" -c 'import numpy, setuptools, wheel, optuna' 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi
rm -rf "$venv"
{
    echo "== creating the test environment $venv"
    # --clear: a fresh environment whatever python3 is (a pyenv build, Debian's, or
    # itself a virtual environment, with or without pip).
    python3 -m venv --clear "$venv" || {
        echo "python3 -m venv failed: on Debian install python3-venv (scripts/install-deps.sh --test)"; exit 1; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
} >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
