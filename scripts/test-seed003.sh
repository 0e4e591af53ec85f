#!/usr/bin/env bash
# Seed 003's three sample commands through `clip train`, with their objective flags as the seed writes
# them (a CLIP from scratch with both towers unlocked; from pretrained weights, unlocked; LiT with a
# locked text tower and a 2-layer head on the image tower), each a short run on generated data that
# must finish with its checkpoint and test metrics; and the contradictory flags refused with a message.
# (Run by scripts/test.sh after the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product clip
clip=.build/release/clip
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
pretrained=Tests/Fixtures/clip/gelu_vocab
"$clip" data synth --out "$scratch/data" --n 40 --seed 3 --size 32 >/dev/null
common=(--dataset "$scratch/data" --epochs 1 --batch-size 8 --lr 5e-4 --wd 0.5 --max-grad-norm 5 --distiller InfoNCE)

run() {
    local name=$1; shift
    "$clip" train "${common[@]}" "$@" --output-dir "$scratch/$name" >"$scratch/$name.log" 2>&1 || {
        echo "seed 003 '$name': clip train failed"; cat "$scratch/$name.log"; exit 1; }
    for f in last/model.safetensors last/trainer_state.safetensors test_metric.json; do
        [ -f "$scratch/$name/$f" ] || { echo "seed 003 '$name': $f missing"; cat "$scratch/$name.log"; exit 1; }
    done
    echo "seed 003 '$name': $(grep -o 'training .*' "$scratch/$name.log" | head -1)"
}
run scratch --model micro --image-size 32 --image-head-n-layers 0 --text-head-n-layers 0 \
    --unlock-image-model --unlock-text-model
run pretrained --model "$pretrained" --image-head-n-layers 0 --text-head-n-layers 0 \
    --unlock-image-model --pretrained-image-model --unlock-text-model --pretrained-text-model
run lit --model "$pretrained" --image-head-n-layers 2 --head-hidden-dim 64 --text-head-n-layers 0 \
    --pretrained-image-model --lock-text-model --pretrained-text-model
[ -f "$scratch/lit/last/objective.safetensors" ] || { echo "seed 003 'lit': the image head was not saved"; exit 1; }
# LiT trains fewer parameters than the unlocked run of the same model.
count() { grep -o '([0-9]* trainable' "$scratch/$1.log" | grep -o '[0-9]*'; }
[ "$(count lit)" -lt "$(count pretrained)" ] || { echo "seed 003 'lit': the text tower was not locked"; exit 1; }

refused() {
    local needle=$1; shift
    if "$clip" train "${common[@]}" "$@" --output-dir "$scratch/refused" >"$scratch/refused.log" 2>&1; then
        echo "accepted: $*"; exit 1
    fi
    grep -q -- "$needle" "$scratch/refused.log" || { echo "no '$needle' in:"; cat "$scratch/refused.log"; exit 1; }
}
refused "is a preset" --model micro --pretrained-image-model
refused "contradict" --model "$pretrained" --lock-text-model --unlock-text-model
refused "unknown distiller" --model "$pretrained" --distiller NoSuchLoss
echo "seed 003 sample commands: all three ran; contradictory flags refused"
