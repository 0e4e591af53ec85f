#!/usr/bin/env bash
# Writes Tests/Fixtures/training/clipcore_checkpoint: the CLIP fixture fine-tuned for one
# epoch by `clip train` on a small generated dataset, as the trainer saves it (HF layout).
# Then `Tools/gen_fixtures.py checkpoint` reloads it with transformers and records the
# embeddings clipcore must reproduce from the same folder.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clip
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.build/release/clip data synth --out "$tmp/data" --n 24 --seed 4 --size 64
.build/release/clip train --model Tests/Fixtures/clip/gelu_vocab --dataset "$tmp/data" --output-dir "$tmp/run" \
    --epochs 1 --train_bs 4 --lr 1e-3
dest=Tests/Fixtures/training/clipcore_checkpoint
rm -rf "$dest"
cp -r "$tmp/run/last" "$dest"
rm -f "$dest/trainer_state.safetensors"
ls -l "$dest"
