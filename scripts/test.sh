#!/usr/bin/env bash
# The whole test suite: the C-ABI library from Python (ctypes, no Swift runtime
# on the library path), the C ABI check program and the Python binding against the
# fixtures (again under a second OpenBLAS kernel and under clipcore's baseline
# row kernels), every Swift test target (optimised), the Swift example package
# (examples/swift, checking its results), `clip serve` (clip-retrieval's client, headless Chromium), the MPI
# collectives, data-parallel training and sharded encoding/mining under mpirun, then a training run killed with SIGKILL
# and resumed, the training fault checks (a full disk, non-finite steps), seed 003's sample training
# commands, the resource bombs against the clip tool, and a short smoke of every fuzz target.
#
#   scripts/test.sh                      the whole suite (the README's test command)
#   scripts/test.sh --sanitize address   instead: every Swift test and the C programs (the C ABI check,
#                                        the concurrency check, the example) under ASan + UBSan
#                                        (Swift -sanitize=address, C -fsanitize=address,undefined;
#                                        scratch folder .build-asan), stopping at the first finding
#   scripts/test.sh --sanitize thread    instead: the concurrency tests (Swift suite "Concurrency",
#                                        Tests/capi/concurrency.c) under TSan (.build-tsan)
# scripts/test-sanitize.sh runs the sanitizer passes; scripts/sanitizers/*.supp are the suppressions.
set -euo pipefail
cd "$(dirname "$0")/.."

# ---- arguments ----
sanitize=""
while [ $# -gt 0 ]; do
    case "$1" in
        --sanitize) [ $# -ge 2 ] || { echo "--sanitize needs address or thread" >&2; exit 2; }; sanitize=$2; shift 2 ;;
        --sanitize=*) sanitize=${1#--sanitize=}; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "unknown argument: $1 (see $0 --help)" >&2; exit 2 ;;
    esac
done

# ---- a sanitizer pass instead of the suite ----
if [ -n "$sanitize" ]; then
    case "$sanitize" in
        address|thread) scripts/install-deps.sh --test; exec scripts/test-sanitize.sh "$sanitize" ;;
        *) echo "--sanitize takes address or thread, not '$sanitize'" >&2; exit 2 ;;
    esac
fi

# ---- the suite ----
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
# A short soak of the C ABI (SpeedBench soak, docs/TESTING.md): good and bad calls mixed, RSS flat and
# no fd growth after warm-up, or exit status 1. `SpeedBench soak` alone makes 1,000,000 calls.
swift run -c release SpeedBench soak --calls 20000
scripts/test-swift-example.sh
# `clip serve` end to end: clip-retrieval's ClipClient, limits, traversal, the search page in headless Chromium.
scripts/test-serve.sh
# MPI (Open MPI under mpirun, --oversubscribe): the collectives at 2 and 3 ranks, data-parallel training equal to
# one process, no MPI linked into clip or libclipcore.so; then sharded encoding and mining equal to one process.
scripts/test-mpi.sh
scripts/test-mpi-shard.sh
scripts/test-kill-resume.sh
scripts/test-faults.sh
scripts/test-seed003.sh
scripts/test-bombs.sh
# Every libFuzzer target (docs/RELIABILITY.md) for about 40 s in all, in its own ASan build (.build-fuzz).
scripts/fuzz.sh --smoke 40
