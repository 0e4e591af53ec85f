#!/usr/bin/env bash
# The whole test suite: the C-ABI library from Python (ctypes, no Swift runtime
# on the library path), the C example and the Python binding against the
# fixtures, every Swift test target (optimised), then a training run killed
# with SIGKILL and resumed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build-lib.sh
# Run Python with an empty environment: nothing points the loader at a Swift runtime.
python=$(python3 -c 'import sys; print(sys.executable)')
env -i "$python" Tests/python/test_ctypes.py "$(pwd)/.build-lib/release/libclipcore.so"
scripts/test-capi.sh
swift test -c release
scripts/test-kill-resume.sh
