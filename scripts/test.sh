#!/usr/bin/env bash
# The whole test suite: the C-ABI library from Python (ctypes, no Swift runtime
# on the library path), the C ABI check program and the Python binding against the
# fixtures (again under a second OpenBLAS kernel and under clipcore's baseline
# row kernels), every Swift test target (optimised), the Swift example package
# (examples/swift, checking its results), then a training run killed with SIGKILL
# and resumed, seed 003's sample training commands, and a short smoke of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# Every Python step runs in the suite's own virtual environment (.build-venv/).
python=$(scripts/python-env.sh)
export CLIPCORE_TEST_PYTHON="$python"
scripts/build-lib.sh
# Run Python with an empty environment: nothing points the loader at a Swift runtime.
env -i "$python" Tests/python/test_ctypes.py "$(pwd)/.build-lib/release/libclipcore.so"
scripts/test-capi.sh
# The same checks of numbers under another OpenBLAS kernel that every x86-64 CPU runs (SSE3), under
# clipcore's baseline (non-AVX2) row kernels and, where the CPU has AVX2, under OpenBLAS's AVX2 kernel
# (the one AVX2-only EPYCs run; its edge rows round differently from AVX-512's): a check that holds on
# one kernel only fails here, whatever CPU this machine has.
variants=(OPENBLAS_CORETYPE=Prescott CLIPCORE_KERNELS=baseline)
grep -qw avx2 /proc/cpuinfo && variants+=(OPENBLAS_CORETYPE=Haswell)
for variant in "${variants[@]}"; do
    echo "== C-ABI checks with $variant"
    env "$variant" scripts/test-capi.sh --variant
done
swift test -c release
scripts/test-swift-example.sh
scripts/test-kill-resume.sh
scripts/test-seed003.sh
# Every libFuzzer target (docs/RELIABILITY.md) for about 40 s in all, in its own ASan build (.build-fuzz).
scripts/fuzz.sh --smoke 40
