#!/usr/bin/env bash
# `clip train` killed with SIGKILL in the middle of a run, then restarted with
# --resume, ends with the same weights as an uninterrupted run, and leaves no
# temporary file behind. (Run by scripts/test.sh after the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clip
clip=.build/release/clip
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$clip" data synth --out "$scratch/data" --n 200 --seed 2 --size 64 >/dev/null
args=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 3 --train_bs 4 --lr 1e-3 --checkpoint-every 2)
"$clip" train "${args[@]}" --output-dir "$scratch/a" >/dev/null
"$clip" train "${args[@]}" --output-dir "$scratch/b" >"$scratch/b.log" 2>&1 &
pid=$!
# Kill once the run is in its second epoch (past several checkpoints).
for _ in $(seq 1 3000); do
    if grep -q '"epoch": 2, "update"' "$scratch/b.log" 2>/dev/null; then break; fi
    sleep 0.02
done
kill -9 "$pid" 2>/dev/null || { echo "the run finished before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
echo "killed after: $(grep -o '"update": [0-9]*' "$scratch/b.log" | tail -1)"
"$clip" train "${args[@]}" --output-dir "$scratch/b" --resume | grep resumed
if cmp -s "$scratch/a/last/model.safetensors" "$scratch/b/last/model.safetensors"; then
    echo "kill + resume: final weights identical to the uninterrupted run"
else
    echo "kill + resume: final weights differ from the uninterrupted run"; exit 1
fi
left=$(find "$scratch/b" -name '*.tmp-*' | wc -l)
[ "$left" -eq 0 ] || { echo "temporary files left behind:"; find "$scratch/b" -name '*.tmp-*'; exit 1; }
