#!/usr/bin/env bash
# The evaluation suite, clipcore against scikit-learn, each measurement in its own process, with 1 and
# 2 threads; one table per workload with the ratio, the CPU flags, the kernel and the OpenBLAS kernel.
# Not part of CI.
#
# Linear probe: one LogisticRegression fit at a fixed C (same tolerance, max_iter 1000, from zero) on
# synthetic embedding-like features, 50,000 train / 10,000 test rows × 512 dimensions × 100 classes,
# written once by Benchmarks/linear_probe_ref.py --write and read by both programs (SpeedBench
# linear-probe, Benchmarks/linear_probe_ref.py). scikit-learn gets the float32 features as stored (it keeps
# float32 input as float32) and, unless --quick, float64 ones too; the ratio is against its faster run.
#
# Usage: Benchmarks/compare-eval.sh [--quick] [--c C] [--train N]
#   --quick     scikit-learn on float32 features only
#   --c C       the inverse L2 strength of every fit (default 1)
#   --train N   training rows (default 50000)
# Environment: CLIPCORE_BENCH_VENV (default ~/.cache/clipcore/bench-venv); scikit-learn 1.9.1 (with numpy,
# safetensors) is installed there when missing. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the
# benchmark commands only, so OpenBLAS picks its kernel as on a user's machine; the kernel is printed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CLIPCORE_BENCH_VENV:-$HOME/.cache/clipcore/bench-venv}"
quick=0; c=1; train=50000
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --c) [ $# -ge 2 ] || { echo "--c needs a value" >&2; exit 2; }; c="$2"; shift ;;
    --train) [ $# -ge 2 ] && [ "$2" -ge 1000 ] 2>/dev/null || { echo "--train needs a count of at least 1000" >&2; exit 2; }; train="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--c C] [--train N]" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -c "import sklearn, safetensors, numpy; assert sklearn.__version__ == '1.9.1'" 2>/dev/null \
  || "$py" -m pip install -q scikit-learn==1.9.1 numpy==2.4.6 safetensors==0.8.0
run() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }

cd "$root"
. "$root/Benchmarks/measure-load.sh"
build_speedbench

echo "== CPU flags: $(grep -o -w -E 'avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "== kernel: $(uname -sr); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "== $(uptime)"

# MARK: - linear probe
data="$out/linear_probe.safetensors"
"$py" "$root/Benchmarks/linear_probe_ref.py" --write "$data" --train "$train"
echo "== linear probe: $train train rows, C $c, results in $results"
probe_clipcore() { run "$bench" linear-probe --data "$data" --c "$c" --threads "$1" | tee -a "$results"; }
probe_sklearn() { run "$py" "$root/Benchmarks/linear_probe_ref.py" --data "$data" --c "$c" --threads "$@" | tee -a "$results"; }
for t in 1 2; do
  echo "== $t thread(s)"
  measure "clipcore t$t" probe_clipcore "$t"
  measure "sklearn t$t" probe_sklearn "$t"
  [ "$quick" = 1 ] || measure "sklearn float64 t$t" probe_sklearn "$t" --float64
done
rm -f "$data"
echo "== $(uptime)"
echo
python3 "$root/Benchmarks/compare/linear_probe_table.py" "$results"
