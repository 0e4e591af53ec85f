#!/usr/bin/env bash
# `clip train` killed with SIGKILL in the middle of a run, then restarted with
# --resume, ends with the same weights as an uninterrupted run, and leaves no
# temporary file behind. (Run by scripts/test.sh after the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
# One fixed thread count for both runs: the weights are compared bit for bit.
export CLIPCORE_NUM_THREADS=2
swift build -c release --product clip
clip=.build/release/clip
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$clip" data synth --out "$scratch/data" --n 200 --seed 2 --size 64 >/dev/null
args=(--model Tests/Fixtures/clip/gelu_vocab --dataset "$scratch/data" --epochs 4 --train_bs 4 --lr 1e-3 --checkpoint-every 2)
"$clip" train "${args[@]}" --output-dir "$scratch/a" >/dev/null
"$clip" train "${args[@]}" --output-dir "$scratch/b" >"$scratch/b.log" 2>&1 &
pid=$!
# Kill in the middle of the second epoch (updates 41–80; checkpoints every 2, the last at update 46
# or later, not at an epoch's end). The run's own log is written
# line by line (its progress on stdout is throttled when stdout is not a terminal, so a fast run
# could finish before it printed the second epoch there).
for _ in $(seq 1 3000); do
    if grep -q '"update": 47,' "$scratch/b/train_log.jsonl" 2>/dev/null; then break; fi
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null || { echo "the run finished before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
echo "killed after: $(grep -o '"update": [0-9]*' "$scratch/b/train_log.jsonl" | tail -1)"
"$clip" train "${args[@]}" --output-dir "$scratch/b" --resume | grep resumed
if cmp -s "$scratch/a/last/model.safetensors" "$scratch/b/last/model.safetensors"; then
    echo "kill + resume: final weights identical to the uninterrupted run"
else
    echo "kill + resume: final weights differ from the uninterrupted run"; exit 1
fi
left=$(find "$scratch/b" -name '*.tmp-*' | wc -l)
[ "$left" -eq 0 ] || { echo "temporary files left behind:"; find "$scratch/b" -name '*.tmp-*'; exit 1; }

# Projection heads: `clip heads train` killed with SIGKILL after an epoch's checkpoint, then started
# again with the same command, ends with the files of an uninterrupted run (dropout on: its masks are
# seeded per epoch).
"$clip" encode-dataset --model Tests/Fixtures/clip/gelu_vocab --data "$scratch/data/manifest.jsonl" --out "$scratch/enc" \
    --texts --dtype float32 >/dev/null
for run in ha hb; do
    cat > "$scratch/$run.yaml" <<YAML
data: {image_embeddings: $scratch/enc, splits: $scratch/splits}
split: {val_images: 0.2, test_images: 0.2, seed: 1}
model: {type: blip, output_dim: 64, hidden_dim: 256, dropout: 0.1}
loss: {queue_size: 128}
training: {batch_size: 8, learning_rate: 1.0e-3, num_epochs: 12, patience: 0, seed: 3}
output_dir: $scratch/$run
YAML
done
"$clip" heads split "$scratch/ha.yaml" >/dev/null
"$clip" heads train "$scratch/ha.yaml" >/dev/null
"$clip" heads train "$scratch/hb.yaml" >"$scratch/hb.log" 2>&1 &
pid=$!
for _ in $(seq 1 6000); do
    if grep -q '^epoch *3 ' "$scratch/hb.log" 2>/dev/null; then break; fi
    sleep 0.01
done
kill -9 "$pid" 2>/dev/null || { echo "heads: the run finished before it could be killed"; exit 1; }
wait "$pid" 2>/dev/null || true
echo "heads: killed after: $(grep '^epoch' "$scratch/hb.log" | tail -1 | awk '{print "epoch", $2}')"
"$clip" heads train "$scratch/hb.yaml" >/dev/null
for f in best_model.safetensors loss_history.json checkpoint.safetensors; do
    cmp -s "$scratch/ha/$f" "$scratch/hb/$f" || { echo "heads kill + resume: $f differs from the uninterrupted run"; exit 1; }
done
echo "heads kill + resume: best model, history and checkpoint identical to the uninterrupted run"
left=$(find "$scratch/hb" -name '*.tmp-*' | wc -l)
[ "$left" -eq 0 ] || { echo "temporary files left behind:"; find "$scratch/hb" -name '*.tmp-*'; exit 1; }
