#!/usr/bin/env bash
# Runs clipcore's SpeedBench cases and the reference scripts of ../shared/bench
# (PyTorch eager and ONNX Runtime, same ViT-B/32 shapes, random weights, fp32)
# in one run, then prints one table with the ratios. Not part of CI.
#
# Usage: Benchmarks/compare.sh [--quick] [--mining-scaling] [--int16] [--int8] [--bf16] [--reduced]
#   --quick            fewer repetitions (noisier)
#   --mining-scaling   also times mining of 10k queries against 100k and 400k images
#   --int16, --int8, --bf16
#                      also runs the encode, ELIP and re-rank cases with that opt-in
#                      linear path, and its cosine to float32 embeddings
#   --reduced          all three, each where this CPU has its kernel
# Environment: CLIPCORE_BENCH_VENV (default ~/.cache/clipcore/bench-venv) is the
# virtual environment for the references; it is created with torch, transformers,
# onnx and onnxruntime from pip when those are missing. CLIPCORE_BENCH_REFS
# (default ../shared/bench beside the checkout) holds the reference scripts.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every command here, so
# OpenBLAS picks its kernel as on a user's machine; the kernel is printed.
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
root="$(cd "$(dirname "$0")/.." && pwd)"
refs="${CLIPCORE_BENCH_REFS:-$root/../shared/bench}"
venv="${CLIPCORE_BENCH_VENV:-$HOME/.cache/clipcore/bench-venv}"
reps=5; mining_scaling=0; precisions=()
for a in "$@"; do
  case "$a" in
    --quick) reps=2 ;;
    --mining-scaling) mining_scaling=1 ;;
    --int16|--int8|--bf16) precisions+=("${a#--}") ;;
    --reduced) precisions=(int16 int8 bf16) ;;
    *) echo "usage: $0 [--quick] [--mining-scaling] [--int16] [--int8] [--bf16] [--reduced]" >&2; exit 2 ;;
  esac
done
[ -f "$refs/pytorch_ref.py" ] && [ -f "$refs/onnxruntime_ref.py" ] || { echo "reference scripts not found in $refs (set CLIPCORE_BENCH_REFS)" >&2; exit 1; }

if ! "$venv/bin/python" -c "import torch, transformers, onnx, onnxruntime" 2>/dev/null; then
  echo "== setting up $venv (torch, transformers, onnx, onnxruntime)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu || "$venv/bin/pip" install -q torch
  "$venv/bin/pip" install -q transformers onnx onnxruntime
fi

cd "$root"
swift build -c release --product SpeedBench >/dev/null
bench="$root/.build/release/SpeedBench"
out="$(mktemp -d)"
results="$out/results.jsonl"
echo "== clipcore (results in $results)"
for c in image-encode text-encode elip-step elip-query-step rerank clip-step load; do
  r=$reps; case "$c" in elip-step|rerank|clip-step) r=$(( reps < 3 ? reps : 3 )) ;; elip-query-step) r=2 ;; esac
  "$bench" "$c" --reps "$r" | tee -a "$results"
done
for p in "${precisions[@]}"; do
  if ! "$bench" image-encode --batch 1 --reps 1 "--$p" >/dev/null 2>&1; then
    echo "== $p: this CPU has no kernel for it (skipped)"; continue
  fi
  for c in image-encode text-encode elip-step elip-query-step rerank; do
    r=$reps; case "$c" in elip-step|rerank) r=$(( reps < 3 ? reps : 3 )) ;; elip-query-step) r=2 ;; esac
    "$bench" "$c" --reps "$r" "--$p" | tee -a "$results"
  done
done
if [ "${#precisions[@]}" -gt 0 ]; then "$bench" precision | tee -a "$results"; fi
"$bench" mining --gallery 100000 --reps 1 | tee -a "$results"
if [ "$mining_scaling" = 1 ]; then
  for n in 100000 400000; do "$bench" mining --gallery $n --queries 10000 --reps 1 | tee -a "$results"; done
fi
echo "== PyTorch reference"
"$venv/bin/python" "$refs/pytorch_ref.py" 2 2>/dev/null | grep '^{' | sed 's/^{/{"ref": "pytorch", /' | tee -a "$results"
echo "== ONNX Runtime reference"
"$venv/bin/python" "$refs/onnxruntime_ref.py" 2 2>/dev/null | grep '^{' | sed 's/^{/{"ref": "onnxruntime", /' | tee -a "$results"
echo
python3 "$root/Benchmarks/compare/table.py" "$results"
