#!/usr/bin/env bash
# Projection-head training, clipcore against PyTorch: an `mlp` head (768 → 1024 → 512, both towers)
# trained with symmetric InfoNCE and AdamW on random pairs, epochs per second with 1 and 2 threads,
# each measurement in its own process (SpeedBench heads-mlp, Benchmarks/heads_ref.py), then one
# table: epochs/s, the ratio, seconds per epoch, peak RSS, the OpenBLAS kernel and the CPU flags.
# Not part of CI.
#
# Usage: Benchmarks/compare-heads.sh [--quick] [--epochs N] [--pairs N] [--breakdown]
#   --quick       one timed epoch per measurement (default 3, the median), after the warm-up epoch
#   --epochs N    timed epochs per measurement
#   --pairs N     random pairs (default 100000; batches of 512, the last partial one dropped)
#   --breakdown   clipcore also prints the share of a step in each phase (forward, backward, step)
# Environment: CLIPCORE_BENCH_VENV (default ~/.cache/clipcore/bench-venv) holds torch (CPU).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the commands here only, so OpenBLAS picks its
# kernel as on a user's machine; the kernel is printed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CLIPCORE_BENCH_VENV:-$HOME/.cache/clipcore/bench-venv}"
epochs=3; pairs=100000; breakdown=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) epochs=1 ;;
    --epochs) [ $# -ge 2 ] && [ "$2" -gt 0 ] 2>/dev/null || { echo "--epochs needs a positive count" >&2; exit 2; }; epochs="$2"; shift ;;
    --pairs) [ $# -ge 2 ] && [ "$2" -ge 512 ] 2>/dev/null || { echo "--pairs needs a count of at least 512" >&2; exit 2; }; pairs="$2"; shift ;;
    --breakdown) breakdown=(--breakdown) ;;
    *) echo "usage: $0 [--quick] [--epochs N] [--pairs N] [--breakdown]" >&2; exit 2 ;;
  esac
  shift
done
py="$venv/bin/python"
"$py" -c "import torch" 2>/dev/null || { echo "no torch in $venv (set CLIPCORE_BENCH_VENV)" >&2; exit 1; }
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }

cd "$root"
. "$root/Benchmarks/measure-load.sh"
build_speedbench
clipcore() { run "$bench" heads-mlp --pairs "$pairs" --epochs "$epochs" --threads "$1" "${breakdown[@]}" | tee -a "$results"; }
pytorch() { run "$py" "$root/Benchmarks/heads_ref.py" --pairs "$pairs" --epochs "$epochs" --threads "$1" | grep '^{' | tee -a "$results"; }

echo "== CPU flags: $(grep -o -w -E 'avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "== $(uptime)"
echo "== $pairs pairs, $epochs timed epoch(s) after one warm-up, results in $results"
for t in 1 2; do
  echo "== $t thread(s)"
  measure "clipcore t$t" clipcore "$t"
  measure "pytorch t$t" pytorch "$t"
done
echo "== $(uptime)"
echo
python3 "$root/Benchmarks/compare/heads_table.py" "$results"
